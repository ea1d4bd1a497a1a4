"""The ``yutang`` command as a shell sees it: its version, one-line errors, documented exit codes, progress.

Each runs the real console entry point in a child process (``python -m engine.cli``):
what matters is what reaches the terminal and ``$?``.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from engine.cli import main
from engine.progress import tracked

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures" / "diagnostics"


def yutang(*args: str, cwd: Path = ROOT, stdout: int | None = subprocess.PIPE) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args], cwd=cwd, env=env, stdout=stdout, stderr=subprocess.PIPE,
        text=True, timeout=120,
    )  # fmt: skip


def run(capfd: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``main(args)`` in this process: its status and what reached fds 1 and 2 (a child process's too)."""
    try:
        status = main(list(args))
    except SystemExit as stop:  # argparse: --version, a bad argument
        status = int(stop.code or 0)
    out, err = capfd.readouterr()
    return status, out, err


def test_version_is_the_installed_package_version(capfd: pytest.CaptureFixture[str]) -> None:
    assert run(capfd, "--version")[:2] == (0, f"yutang {version('yutang')}\n")


def test_a_missing_file_is_one_line_and_exit_2(capfd: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    for args in (
        ("check", str(tmp_path / "no-such-pack")),
        ("test", str(tmp_path / "no-such-pack")),
        ("replay", str(tmp_path / "missing.jsonl"), "--rules", str(ROOT / "rules")),  # no judge process traceback
        ("replay", str(tmp_path), "--rules", str(tmp_path / "no-rules")),
    ):
        status, _, err = run(capfd, *args)
        assert status == 2 and err.count("\n") == 1 and "no such file or directory" in err, (args, err)
    status, _, err = run(capfd, "simulate", "--out", str(tmp_path / "no-dir" / "e.jsonl"), "--events", "10")
    assert status == 2 and err.count("\n") == 1 and "e.jsonl" in err and "Traceback" not in err


def test_a_bad_argument_is_the_usage_and_exit_2(capfd: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capfd, "check", "--backend", "nope")
    assert status == 2 and "invalid choice: 'nope'" in err and "Traceback" not in err


def test_a_bad_log_format_setting_is_one_line_and_exit_2(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YUTANG_LOG_FORMAT", "xml")
    status, _, err = run(capfd, "serve", "--rules", str(ROOT / "rules"))  # refused before anything starts
    assert status == 2 and err == "yutang serve: YUTANG_LOG_FORMAT must be json or text, not 'xml'\n"


def test_a_closed_pipe_ends_quietly_with_141() -> None:
    """``yutang check --json | head``: the reader has gone before the diagnostics are written."""
    read, write = os.pipe()
    os.close(read)  # like head after its lines: every write now fails with EPIPE
    try:
        done = yutang("check", "--json", "--backend", "python", "unknown_name.yaml", cwd=FIXTURES, stdout=write)
    finally:
        os.close(write)
    assert done.returncode == 141, done.stderr
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr


def test_problems_found_are_exit_1(capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(FIXTURES)
    assert run(capfd, "check", "--backend", "python", "unknown_name.yaml")[0] == 1


def test_simulate_writes_a_plain_progress_line_when_stderr_is_not_a_terminal(
    capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, _, err = run(capfd, "simulate", "--out", str(tmp_path / "e.jsonl"), "--events", "3000")
    assert status == 0, err
    assert "simulate: 3,000 / 3,000 events (100%)" in err and "\r" not in err


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_bar_and_a_file_gets_periodic_lines() -> None:
    screen = Terminal()
    assert list(tracked(range(1000), label="replay", total=1000, stream=screen)) == list(range(1000))
    assert "replay" in screen.getvalue() and "1000/1000" in screen.getvalue()
    log = io.StringIO()
    assert sum(tracked(range(2048), label="replay", total=4096, stream=log, every_s=0)) == sum(range(2048))
    lines = log.getvalue().splitlines()
    assert len(lines) == 2048 // 256 + 1  # one per stride (every_s=0), then the last
    assert lines[0].startswith("replay: 256 / 4,096 events (6%)") and "s left" in lines[0]
    assert lines[-1].startswith("replay: 2,048 / 4,096 events (50%)") and " in " in lines[-1]
