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


def assert_exit_2_one_line(args: list[str], capsys, expected: str, folder) -> None:
    """``reliant *args`` fails with exit 2 and one stderr line containing ``expected``, and
    leaves neither ``folder/out`` nor a half-written ``.out*`` temp dir behind."""
    code = run_main(args)
    err = capsys.readouterr().err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1, err
    assert expected in lines[0], lines[0]
    assert not (folder / "out").exists()
    assert not [p for p in folder.iterdir() if p.name.startswith(".out")]
