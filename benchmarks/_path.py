"""Lets `python benchmarks/X.py` import the checkout's `explorer` without installing it."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
