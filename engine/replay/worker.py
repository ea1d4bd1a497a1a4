"""The judge in a second process: this one records features, that one evaluates rules.

Building each event's feature script and evaluating the rule sets are both Python
and both CPU-bound; on two cores they overlap (with redis-server in between). Events
cross in batches over a pipe, in log order, each with its feature values; the pipe's
buffer is the back-pressure. The child loads the packs from their files (a
durable_rules backend cannot be pickled) and answers with the judge's summary.
"""

from __future__ import annotations

import multiprocessing
from multiprocessing.connection import Connection
from typing import Any

from engine.compile.pack import compile_files
from engine.errors import EngineError, RuleLoadError
from engine.replay.judge import Item, Judge, PackSource
from engine.replay.plans import SharedPlan, shared_plan


class ProcessJudge:
    """Same face as :class:`Judge` (``plan``, ``take``, ``summary``, ``close``), in a child process."""

    def __init__(self, sources: list[PackSource]) -> None:
        rulesets = []
        for source in sources:
            ruleset, diagnostics = compile_files(source.files)
            if ruleset is None:
                raise RuleLoadError(diagnostics)
            rulesets.append(ruleset)
        self.plan: SharedPlan = shared_plan(rulesets)
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, sources), name="yutang-replay-judge", daemon=True)
        self._process.start()
        child.close()

    def take(self, items: list[Item]) -> None:
        self._conn.send(items)

    def summary(self) -> dict[str, Any]:
        self._conn.send(None)
        try:
            answer: Any = self._conn.recv()
        except EOFError as err:
            raise EngineError(f"the replay judge process died (exit code {self._process.exitcode})") from err
        if isinstance(answer, str):
            raise EngineError(f"the replay judge failed: {answer}")
        return dict(answer)

    def close(self) -> None:
        self._conn.close()
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join()


def _serve(conn: Connection, sources: list[PackSource]) -> None:
    """Child: judge every batch until ``None``, then send the summary (or the first error)."""
    judge: Judge | None = None
    failure: str | None = None
    try:
        judge = Judge([source.load() for source in sources])
    except Exception as err:  # reported to the parent at the end, like any other failure
        failure = f"{type(err).__name__}: {err}"
    try:
        while (items := conn.recv()) is not None:
            if failure is None and judge is not None:
                try:
                    judge.take(items)
                except Exception as err:
                    failure = f"{type(err).__name__}: {err}"
        conn.send(failure if failure is not None or judge is None else judge.summary())
    except (EOFError, BrokenPipeError):  # the parent stopped early (its own error, Ctrl-C): it reports why
        pass
    finally:
        if judge is not None:
            judge.close()
        conn.close()
