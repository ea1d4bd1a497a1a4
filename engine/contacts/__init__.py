"""Contact frequency caps and quiet hours: customers leave when pushed too often."""

from engine.contacts.gate import ContactAnswer, ContactGate, ContactRecord, PlatformLimit
from engine.contacts.platform import Quota, WeComMonthly
from engine.contacts.quiet import quiet_until

__all__ = ["ContactAnswer", "ContactGate", "ContactRecord", "PlatformLimit", "Quota", "WeComMonthly", "quiet_until"]
