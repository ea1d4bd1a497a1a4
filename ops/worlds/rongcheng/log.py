"""The world's log: events collected per story, then written in time order with ids and SDK counts.

Stories append events in any order with a moment (seconds since the epoch); ``write`` sorts
them (by moment, then by the order they were made, so a seed writes the same bytes), numbers
them, fills what only the whole log knows (``seconds_since_signup`` on claims, the wallet's
``pay_account_customers`` on orders) and renders the timestamps in Beijing time.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from typing import IO, Any

from ops.worlds.rongcheng.city import Line, Phone

BEIJING = timezone(timedelta(hours=8))
SCORED = frozenset({"signup", "referral", "coupon_claim", "group_buy_join", "red_packet_claim", "order"})
CLAIMS = frozenset({"coupon_claim", "red_packet_claim", "group_buy_join"})


def moment(day: datetime, hour: float) -> float:
    """Seconds since the epoch of ``hour`` (fractional) on the Beijing ``day``."""
    return (day + timedelta(hours=hour)).timestamp()


class Log:
    """Events of every story; ``write`` puts them in order."""

    def __init__(self, seed: int, until: float = float("inf")) -> None:
        self.seed = seed
        self.until = until  # the export's end: what a story does later is not in the log
        self.events: list[tuple[float, int, dict[str, Any]]] = []
        self.created: dict[str, float] = {}  # account -> its creation moment (sign-up, or before the window)

    def add(self, t: float, family: str, truth: str, type_: str, customer: str, **fields: Any) -> dict[str, Any]:
        """One event; ``fields`` are the event's own (None values left out)."""
        event: dict[str, Any] = {"type": type_, "customer": customer}
        event.update({k: v for k, v in fields.items() if v is not None})
        event["family"], event["truth"] = family, truth
        self.events.append((round(t, 3), len(self.events), event))
        if type_ in ("signup", "referral") and customer not in self.created:
            self.created[customer] = t
        return event

    def scored(
        self,
        t: float,
        family: str,
        truth: str,
        type_: str,
        customer: str,
        handset: Phone | None,
        line: Line | None,
        rng: Any,
        *,
        net: str = "WIFI",
        flags: dict[str, bool] | None = None,
        ua: str | None = None,
        attributes: dict[str, Any] | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """A scored event as the mini-program's SDK sends it: device, IP, user agent and the five flags."""
        attrs: dict[str, Any] = {}
        if handset is not None or ua is not None:
            attrs["user_agent"] = ua if ua is not None else handset.user_agent(net) if handset else ""
        flag_values = {"emulator": False, "automation": False, "rooted": False, "tampered": False, "proxy": False}
        if flags is not None:
            flag_values.update(flags)
        if flags is not None or handset is not None:
            attrs.update(flag_values)
        attrs.update(attributes or {})
        return self.add(
            t,
            family,
            truth,
            type_,
            customer,
            device=handset.device if handset else None,
            ip=line.address(rng) if line else None,
            attributes=attrs or None,
            **fields,
        )

    def __len__(self) -> int:
        return sum(t < self.until for t, _, _ in self.events)

    def counts(self) -> Counter[str]:
        return Counter(e["family"] for t, _, e in self.events if t < self.until)

    def ordered(self) -> list[dict[str, Any]]:
        """The events in time order with their ids, timestamps and the counts only the log knows."""
        paid_by: dict[str, set[str]] = {}
        out = []
        kept = sorted((item for item in self.events if item[0] < self.until), key=lambda item: (item[0], item[1]))
        for n, (t, _, event) in enumerate(kept):
            kind = event["type"]
            attrs = event.get("attributes")
            if kind in CLAIMS and attrs is not None and event["customer"] in self.created:
                since = t - self.created[event["customer"]]
                if since >= 0:
                    attrs["seconds_since_signup"] = int(since)
            wallet = event.get("payment")
            if wallet is not None and kind == "order" and attrs is not None:
                attrs["pay_account_customers"] = len(paid_by.get(wallet, set()) | {event["customer"]})
            if wallet is not None and kind == "order_paid":
                paid_by.setdefault(wallet, set()).add(event["customer"])
            stamp = datetime.fromtimestamp(t, UTC).astimezone(BEIJING).isoformat(timespec="milliseconds")
            out.append({"event_id": f"rc{self.seed}-{n:06d}", "timestamp": stamp} | event)
        return out

    def write(self, out: IO[str]) -> None:
        for event in self.ordered():
            out.write(json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n")
