"""Progress: bars on a terminal, plain lines in logs, nothing when switched off."""

from __future__ import annotations

import io

import pytest

from reliant.core import progress
from reliant.core.progress import PlainProgress, progress_bar, progress_mode, track


@pytest.mark.parametrize("value, mode", [("0", "off"), ("off", "off"), ("plain", "plain"), ("1", "bar")])
def test_mode_from_environment(monkeypatch, value, mode):
    monkeypatch.setenv("RELIANT_PROGRESS", value)
    assert progress_mode() == mode


def test_not_a_terminal_means_plain_lines(monkeypatch):
    monkeypatch.delenv("RELIANT_PROGRESS", raising=False)
    monkeypatch.setattr(progress.sys, "stderr", io.StringIO())
    assert progress_mode() == "plain"


def test_plain_lines_every_tenth_and_at_both_ends():
    stream = io.StringIO()
    plain = PlainProgress("scoring", total=100, stream=stream, min_interval=0.0)
    for _ in range(100):
        plain.advance(status="loss 0.5")
    plain.close()
    lines = stream.getvalue().splitlines()
    assert lines[0] == "scoring: started (100 steps)"
    assert lines[-1].startswith("scoring: done (100/100 in ")
    middle = lines[1:-1]
    assert len(middle) == 9 and middle[0].startswith("scoring: 10% (10/100") and "loss 0.5" in middle[0]


def test_work_shorter_than_the_interval_prints_nothing():
    # A bad input found inside a loop must still leave its error as the only stderr line.
    stream = io.StringIO()
    plain = PlainProgress("fast", total=1000, stream=stream, min_interval=3600.0)
    for _ in range(1000):
        plain.advance()
    plain.close()
    assert stream.getvalue() == ""


def test_slow_start_is_announced_late(monkeypatch):
    clock = iter([0.0, 0.5, 2.0, 9.0])
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(clock))
    stream = io.StringIO()
    plain = PlainProgress("slow", total=2, stream=stream, min_interval=1.0)
    plain.advance()  # t=0.5: too early to say anything
    assert stream.getvalue() == ""
    plain.advance()  # t=2.0: started
    plain.close()  # t=9.0
    lines = stream.getvalue().splitlines()
    assert lines[0] == "slow: started (2 steps)" and lines[-1].startswith("slow: done (2/2 in 9.0 s)")


def test_track_and_bar_in_plain_mode_write_to_stderr(monkeypatch, capsys):
    monkeypatch.setenv("RELIANT_PROGRESS", "plain")
    original = PlainProgress.__init__
    monkeypatch.setattr(PlainProgress, "__init__",
                        lambda self, d, t, stream=None, min_interval=0.0: original(self, d, t, stream, 0.0))
    assert list(track(range(5), "items")) == list(range(5))
    with progress_bar("steps", total=3) as bar:
        for _ in range(3):
            bar.advance()
    err = capsys.readouterr().err
    assert "items: started (5 steps)" in err and "items: done (5/5" in err
    assert "steps: started (3 steps)" in err and "steps: done (3/3" in err


def test_off_prints_nothing(monkeypatch, capsys):
    monkeypatch.setenv("RELIANT_PROGRESS", "0")
    assert sum(track(range(4), "quiet")) == 6
    assert capsys.readouterr().err == ""
