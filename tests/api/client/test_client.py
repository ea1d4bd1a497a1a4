"""The Python client against a real ``yutang serve``: typed answers, retries that are never a second event,
and the caller's fallback when yutang is unreachable."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from api.client import AsyncYutang, OutcomeEvent, ScoreEvent, Yutang, YutangError
from engine.datastore.embedded import free_port
from tests.api.conftest import ALPHA, ALPHA_SCORE, PACK
from tests.api.serving import yutang_serve


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with yutang_serve(tmp_path_factory.mktemp("client"), rules=PACK) as (base, _):
        yield base


class LoseFirstAnswer(httpx.HTTPTransport):
    """The fault a real network produces but not on demand: the request arrives, its answer is lost."""

    def __init__(self) -> None:
        super().__init__()
        self.sent = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        self.sent += 1
        if self.sent == 1:
            response.read()
            raise httpx.ReadTimeout("answer lost on the way back", request=request)
        return response


def test_a_score_answers_typed_with_the_decision_tier_and_offers(server: str) -> None:
    with Yutang(server, ALPHA) as yutang:
        answer = yutang.score(ScoreEvent(type="signup", customer="client-c1", device="client-d1"))
    assert answer.decision in {"allow", "review", "deny"} and answer.ruleset_version
    assert answer.event_id.startswith("evt-") and not answer.fallback and not answer.replayed


def test_a_retry_after_a_lost_answer_is_the_same_event_answered_once(server: str) -> None:
    transport = LoseFirstAnswer()
    with Yutang(server, ALPHA, transport=transport) as yutang:
        answer = yutang.score(ScoreEvent(type="signup", customer="client-c2", device="client-d2"))
        attempts = transport.sent
        history = yutang.customer("client-c2")
    assert attempts == 2 and answer.replayed, "the second attempt must be the first event's replay"
    assert len(history["recent_decisions"]) == 1


async def test_the_async_client_scores_and_records_outcomes(server: str) -> None:
    async with AsyncYutang(server, ALPHA) as yutang:
        scored = await yutang.score(ScoreEvent(type="order", customer="client-c3", amount=99))
        payment = OutcomeEvent(type="order_paid", customer="client-c3", amount=99)
        paid, again = await yutang.record(payment), await yutang.record(payment)
        with pytest.raises(YutangError) as reused:  # the same id for another event is refused, not merged
            await yutang.record(OutcomeEvent(event_id=payment.event_id, type="order_paid", customer="client-c3"))
    assert scored.decision and paid.type == "order_paid" and not paid.replayed
    assert again.replayed and again.event_id == paid.event_id
    assert (reused.value.status, reused.value.code) == (409, "idempotency_conflict")


@pytest.mark.parametrize("decision", ["allow", "review", "deny"])
def test_an_unreachable_yutang_answers_the_callers_declared_fallback_marked_as_such(decision: str) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    with Yutang(closed, ALPHA, on_unreachable=decision, timeout_s=0.5) as yutang:  # type: ignore[arg-type]
        answer = yutang.score(ScoreEvent(type="signup", customer="client-c4"))
    assert (answer.decision, answer.fallback, answer.degraded, answer.offers) == (decision, True, True, [])
    assert "unreachable" in (answer.degraded_reason or "")


def test_without_a_fallback_an_unreachable_yutang_raises() -> None:
    with Yutang(f"http://127.0.0.1:{free_port()}", ALPHA, timeout_s=0.5) as yutang, pytest.raises(httpx.ConnectError):
        yutang.score(ScoreEvent(type="signup", customer="client-c5"))


def test_a_refusal_raises_with_its_code_and_fields_and_is_not_a_fallback(server: str) -> None:
    with Yutang(server, ALPHA, on_unreachable="allow") as yutang, pytest.raises(YutangError) as refused:
        yutang.score(ScoreEvent(type="signup", customer="client-c6", phone="not a phone"))
    assert refused.value.status == 422 and any(f["field"] == "phone" for f in refused.value.fields)
    with Yutang(server, ALPHA_SCORE) as yutang, pytest.raises(YutangError) as forbidden:
        yutang.record(OutcomeEvent(type="order_paid", customer="client-c6"))
    assert forbidden.value.status == 403
    with Yutang(server, "wrong-key-0123456789") as yutang, pytest.raises(YutangError) as unauthorized:
        yutang.score(ScoreEvent(type="signup", customer="client-c6"))
    assert (unauthorized.value.status, unauthorized.value.code) == (401, "unauthorized")
