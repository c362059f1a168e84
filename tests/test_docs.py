"""Docs: every command is in the README and has help text (after sqlite-utils)."""

from pathlib import Path

import pytest

from searchkit.cli import cli

README = (Path(__file__).resolve().parents[1] / "README.md").read_text("utf-8")


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_command_documented(name):
    assert f"searchkit {name}" in README
    assert (cli.commands[name].help or "").strip()


def test_readme_starts_with_the_two_commands():
    head = README.split("## ", 1)[0]
    assert "make demo" in head and "make test" in head
