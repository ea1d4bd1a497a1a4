"""What an admin reads when the compile child dies without an answer (it said "needs more than N MB or crashed")."""

from __future__ import annotations

import signal

import pytest

from engine.compile.isolated import died_message


@pytest.mark.parametrize(
    ("code", "said"),
    [(-signal.SIGKILL, "was killed (SIGKILL)"), (-signal.SIGSEGV, "crashed (SIGSEGV)"), (1, "failed (exit code 1)")],
)
def test_a_compile_that_died_says_how_and_names_the_memory_limit(code: int, said: str) -> None:
    message = died_message(code, 1024)
    assert said in message and "1024 MB" in message
    if code != -signal.SIGKILL:
        assert "running rule set is unchanged" in message and "server log" in message
