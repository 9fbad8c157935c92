"""The console entry point run in-process, as a user's shell would run it (one-line errors, exit 2)."""

from __future__ import annotations

import sys


def run_main(args: list[str]) -> int:
    """``reliant *args``; returns the exit code."""
    from reliant.cli import main

    argv = sys.argv
    sys.argv = ["reliant", *[str(a) for a in args]]
    try:
        main()
        return 0
    except SystemExit as exc:
        return exc.code or 0
    finally:
        sys.argv = argv
