"""The scheduler handler closing a group-buy at its deadline (kind ``group_buy_deadline``)."""

from __future__ import annotations

from datetime import datetime

from engine.groupbuy.book import GroupBuyBook
from engine.scheduler.queue import Claimed
from engine.scheduler.worker import Handler


def deadline_handler(book: GroupBuyBook) -> Handler:
    """Close the claimed group once: a second delivery finds it closed and changes nothing."""

    async def handle(item: Claimed, now: datetime) -> bool:
        outcome = await book.close_at_deadline(tenant=str(item.payload["tenant"]), group_id=item.id, now=now)
        return outcome in ("failed", "virtual")

    return handle
