"""The command line (`explorer …` or `python -m explorer …`): one module per command, each a thin shell over the
library that turns every user mistake into one line on stderr and exit status 2."""

from .main import main

__all__ = ["main"]
