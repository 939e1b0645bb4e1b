"""`python -m explorer`: the command line (explorer.cli.main)."""

import sys

try:
    from .cli.main import main
except ModuleNotFoundError as e:  # a Python without the project's libraries (the system python3, say)
    if not e.name or e.name.split(".")[0] == "explorer":
        raise
    sys.stderr.write(
        f"error: this Python ({sys.executable}) lacks the module {e.name.split('.')[0]!r} that the explorer "
        "needs; run .venv/bin/python -m explorer ... (set up as the README says)\n"
    )
    sys.exit(2)

sys.exit(main())
