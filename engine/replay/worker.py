"""The judge in a second process: this one records features, that one evaluates rules.

Building each event's feature script and evaluating the rule sets are both Python
and both CPU-bound; on two cores they overlap (with redis-server in between). Events
cross in batches over a pipe, in log order, each with its feature values; the pipe's
buffer is the back-pressure. The child loads the packs from their files (a
durable_rules backend cannot be pickled) and answers with the judge's summary; when a
feature reads the offer ledger's grants (link ``rewards``), it also answers each batch
with the new set's grants in it: the parent drains what has come before each send (the
answers are small, so neither side blocks on a full pipe while the other waits) and waits
for the rest once a batch is handed over, before it builds the batch after next.
"""

from __future__ import annotations

import multiprocessing
from multiprocessing.connection import Connection
from typing import Any

from engine.compile.pack import compile_files
from engine.errors import EngineError, RuleLoadError
from engine.replay.judge import GrantNote, Item, Judge, PackSource
from engine.replay.plans import SharedPlan, shared_plan

GRANTS = "grants"  # the child's answer to a batch: the new set's grants in it (engine/replay/ledger_feed.py)


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
        self._answers = self.plan.reads_grants  # the child answers every batch with its grants
        self._process = context.Process(
            target=_serve, args=(child, sources, self._answers), name="yutang-replay-judge", daemon=True
        )
        self._process.start()
        child.close()
        self._grants: list[GrantNote] = []
        self._unanswered = 0

    def take(self, items: list[Item]) -> None:
        self._drain(block=False)
        self._conn.send(items)
        self._unanswered += int(self._answers)

    def grants(self) -> list[GrantNote]:
        """The new set's grants of every batch taken so far: waits for the child to have judged them all.

        Waiting keeps replay deterministic (a grant reaches Redis after the same events on
        every run); the child still judges while Redis runs the batch in flight.
        """
        self._drain(block=True)
        out, self._grants = self._grants, []
        return out

    def _drain(self, *, block: bool) -> None:
        while self._unanswered and (block or self._conn.poll()):
            try:
                kind, notes = self._conn.recv()
            except EOFError as err:
                raise EngineError(f"the replay judge process died (exit code {self._process.exitcode})") from err
            assert kind == GRANTS
            self._grants += notes
            self._unanswered -= 1

    def summary(self) -> dict[str, Any]:
        self._drain(block=True)
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


def _serve(conn: Connection, sources: list[PackSource], answers: bool = False) -> None:
    """Child: judge every batch until ``None``, then send the summary (or the first error).

    ``answers``: answer each batch with the new set's grants in it (none after a failure).
    """
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
            if answers:
                conn.send((GRANTS, judge.grants() if failure is None and judge is not None else []))
        conn.send(failure if failure is not None or judge is None else judge.summary())
    except (EOFError, BrokenPipeError):  # the parent stopped early (its own error, Ctrl-C): it reports why
        pass
    finally:
        if judge is not None:
            judge.close()
        conn.close()
