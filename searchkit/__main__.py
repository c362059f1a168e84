"""``python -m searchkit``: the same command as ``searchkit``."""

from .cli import cli

cli()
