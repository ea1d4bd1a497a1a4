"""The event-log file format shared by ``yutang simulate`` and ``yutang replay``.

One JSON object per line: exactly the event JSON ``POST /v1/score`` and
``POST /v1/events`` take, plus two optional keys, ``family`` and ``truth``, the ground
truth a simulator (or an analyst labelling an export) attached:

    {"event_id": "sim7-0000042", "type": "referral", "customer": "u3f...", ...,
     "family": "fake_referral_burst", "truth": "fake_referral_burst"}

``truth`` is ``"honest"`` or the name of an abuse kind; a line without it is
unlabelled and takes no part in precision and recall. ``family`` names the story the
event belongs to: the attack family, or which honest look-alike (``family_tablet``,
``office_lunch_wave``...); without it the family is the truth. Replay strips both
before ``Event.model_validate``, so the event part is checked exactly as the API
checks it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError

from engine.errors import EngineError
from engine.events import Event

TRUTH_KEY = "truth"
FAMILY_KEY = "family"
HONEST = "honest"


class LogFormatError(EngineError):
    """A line of an event log is not an event the API would accept."""


@dataclass(frozen=True, slots=True)
class Record:
    event: Event
    truth: str | None  # None: unlabelled
    family: str | None = None  # None: the truth is the family

    @property
    def abusive(self) -> bool | None:
        return None if self.truth is None else self.truth != HONEST


#: The simulator writes ``family`` and ``truth`` last: such a line is validated straight from its JSON text.
_TRAILING_TRUTH = re.compile(r'(?:,"family":"([A-Za-z0-9_]+)")?,"truth":"([A-Za-z0-9_]+)"}\s*$')


def parse_line(line: str, where: str = "") -> Record:
    """One log line -> the validated event, its ground truth and its family."""
    trailing = _TRAILING_TRUTH.search(line)
    if trailing is not None:
        try:
            event = Event.model_validate_json(line[: trailing.start()] + "}")
            return Record(event, trailing.group(2), trailing.group(1))
        except ValidationError:
            pass  # the general path below names the problem
    try:
        data = json.loads(line)
    except json.JSONDecodeError as err:
        raise LogFormatError(f"{where}: not JSON: {err}") from err
    if not isinstance(data, dict):
        raise LogFormatError(f"{where}: expected a JSON object")
    truth = data.pop(TRUTH_KEY, None)
    family = data.pop(FAMILY_KEY, None)
    for key, value in ((TRUTH_KEY, truth), (FAMILY_KEY, family)):
        if value is not None and not isinstance(value, str):
            raise LogFormatError(f"{where}: {key} must be a string, got {value!r}")
    try:
        return Record(Event.model_validate(data), truth, family)
    except ValidationError as err:
        first = err.errors()[0]
        at = ".".join(str(part) for part in first["loc"])
        raise LogFormatError(f"{where}: {at}: {first['msg']}") from err


def read_log(path: str | Path) -> Iterator[Record]:
    """Records of a log file, in file order; errors name the file and line."""
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                yield parse_line(line, f"{path}:{number}")


def dump_record(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def write_log(records: Iterable[dict[str, Any]], out: TextIO) -> int:
    """Write records one per line; return how many."""
    count = 0
    for record in records:
        out.write(dump_record(record))
        out.write("\n")
        count += 1
    return count
