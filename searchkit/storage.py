"""The index folder as Whoosh reads it: segments memory-mapped, never copied.

Whoosh maps a compound segment file, then opens each part of it as a ``BytesIO``
over the map, which copies the part: opening a reader read the whole index into
memory (2.8 GB and seconds at 300,000 articles) and the mapped pages stayed
resident after it closed. Plain file reads avoid the copy but turn every term
lookup into several seek-and-read calls, a third of a short query's time across
60 segments. Here a segment file is mapped once and its parts are read-only views
of the map: a read copies only the bytes asked for, and only pages read are
loaded.
"""

from __future__ import annotations

import mmap
import os
from typing import Any

from whoosh.filedb.filestore import FileStorage
from whoosh.filedb.structfile import StructFile

SEGMENT_SUFFIX = ".seg"  # Whoosh's compound segment files


class IndexStorage(FileStorage):
    """A Whoosh ``FileStorage`` whose compound segments are read through :class:`MappedFile`.

    ``supports_mmap=False`` keeps Whoosh's own (copying) map path off: Whoosh then
    asks the file for ``subset`` views, which :class:`MappedFile` gives without a copy.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__(os.fspath(path), supports_mmap=False)

    def open_file(self, name: str, **kwargs: Any) -> Any:
        if not name.endswith(SEGMENT_SUFFIX):
            return super().open_file(name, **kwargs)
        with open(self._fpath(name), "rb") as fh:
            mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        return MappedFile(mapped, 0, len(mapped), name=name)


class MappedFile(StructFile):
    """Whoosh's ``StructFile`` over a byte range of a map; ``subset`` is another range.

    The map is closed when the last range of it is released (no explicit unmap:
    ranges of one map are handed to many readers, and a closed map would fail them).
    """

    def __init__(self, mapped: mmap.mmap, base: int, length: int, name: str | None = None):
        super().__init__(_RangeReader(mapped, base, length), name=name)
        self._mapped, self._base, self._length = mapped, base, length

    def subset(self, offset: int, length: int, name: str | None = None) -> MappedFile:
        return MappedFile(self._mapped, self._base + offset, length, name=name or self._name)

    def get(self, position: int, length: int) -> bytes:
        start = self._base + position
        return self._mapped[start : min(start + length, self._base + self._length)]


class _RangeReader:
    """A read-only file object over ``mapped[base:base + length]``, as pickle and arrays use it."""

    def __init__(self, mapped: mmap.mmap, base: int, length: int) -> None:
        self._mapped, self._base, self._end = mapped, base, base + length
        self._pos = base

    def read(self, size: int | None = -1) -> bytes:
        start = self._pos
        end = self._end if size is None or size < 0 else min(self._end, start + size)
        if end <= start:  # at or past the end, as a file: nothing, and no move
            return b""
        self._pos = end
        return self._mapped[start:end]

    def readline(self, size: int | None = -1) -> bytes:
        newline = self._mapped.find(b"\n", self._pos, self._end)
        end = self._end if newline < 0 else newline + 1
        if size is not None and size >= 0:
            end = min(end, self._pos + size)
        return self.read(end - self._pos)

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence == 1:
            offset += self._pos
        elif whence == 2:
            offset += self._end
        else:
            offset += self._base
        self._pos = max(self._base, offset)
        return self._pos - self._base

    def tell(self) -> int:
        return self._pos - self._base

    def close(self) -> None:
        pass
