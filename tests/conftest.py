"""Shared test configuration.

The checkout is put first on ``sys.path`` so the tests import this ``searchkit``
without an install (the virtualenv has no editable install of the project).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
