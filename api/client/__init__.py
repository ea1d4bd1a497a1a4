"""A Python client for storefronts: ``Yutang`` (sync) and ``AsyncYutang`` (asyncio), on httpx.

    from api.client import Yutang, ScoreEvent

    with Yutang("https://risk.example", api_key, on_unreachable="review") as yutang:
        answer = yutang.score(ScoreEvent(type="signup", customer="c-1", device="d-9", phone="13800138000"))
        if answer.decision == "allow": ...

Every event gets its id and time before the first attempt, so a retry (after a
timeout, a dropped connection, a 503 or a 409 ``in_progress``) is the same event and
yutang answers it once. When yutang stays unreachable the caller's declared fallback is
returned as an answer with ``fallback=True`` (never mistaken for yutang's own).
"""

from api.client.clients import AsyncYutang, Yutang
from api.client.errors import YutangError
from api.client.models import OutcomeAnswer, OutcomeEvent, ScoreAnswer, ScoreEvent

__all__ = ["AsyncYutang", "OutcomeAnswer", "OutcomeEvent", "ScoreAnswer", "ScoreEvent", "Yutang", "YutangError"]
