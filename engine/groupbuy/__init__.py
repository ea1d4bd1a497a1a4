"""Group-buy (拼团) as a state machine in Redis."""

from engine.groupbuy.book import DEADLINE_KIND, GroupBuyBook, GroupState, JoinResult

__all__ = ["DEADLINE_KIND", "GroupBuyBook", "GroupState", "JoinResult"]
