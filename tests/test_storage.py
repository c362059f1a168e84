"""Segments read through maps: ranges behave as files do, and the index reads the same."""

from __future__ import annotations

import io
import mmap

from hypothesis import given, settings
from hypothesis import strategies as st

from searchkit.storage import MappedFile

ops = st.lists(
    st.one_of(
        st.tuples(st.just("read"), st.integers(-1, 40)),
        st.tuples(st.just("readline"), st.integers(-1, 40)),
        st.tuples(st.just("seek"), st.integers(0, 60), st.sampled_from([0, 1, 2])),
        st.tuples(st.just("get"), st.integers(0, 50), st.integers(0, 20)),
    ),
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=50), st.integers(0, 20), st.integers(0, 20), ops)
def test_a_mapped_range_reads_like_a_file(tmp_path_factory, data, before, after, steps):
    path = tmp_path_factory.mktemp("map") / "f.seg"
    path.write_bytes(b"x\n" * before + data + b"y" * after)
    with open(path, "rb") as fh:
        mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    ours = MappedFile(mapped, 0, len(mapped)).subset(2 * before, len(data))
    theirs = io.BytesIO(data)
    for op, *args in steps:
        if op == "seek":
            offset, whence = args
            if whence == 2:
                offset = -min(offset, len(data))
            ours.seek(offset, whence)
            theirs.seek(offset, whence)
        elif op == "get":
            position, length = args
            assert ours.get(position, length) == data[position : position + length]
            continue
        else:
            assert getattr(ours, op)(args[0]) == getattr(theirs, op)(args[0]), (op, args)
        assert ours.tell() == theirs.tell()
