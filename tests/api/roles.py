"""Keys of three tenants (alpha, beta, gamma) in every role, and a platform key, for the role tests."""

from __future__ import annotations

from tests.api.conftest import ALPHA, ALPHA_EVENTS, ALPHA_SCORE, BETA, KEYS

PLATFORM = "ops-platform-key-0123456789"  # tenant ops, role platform
MARKETER = "alpha-marketer-key-0123456"  # tenant alpha, role marketer
REVIEWER = "alpha-reviewer-key-0123456"  # tenant alpha, role reviewer
GAMMA = "gamma-admin-key-0123456789"  # tenant gamma, role admin
ROLE_KEYS = ",".join(
    [
        KEYS,
        f"{PLATFORM}:ops:platform",
        f"{MARKETER}:alpha:marketer",
        f"{REVIEWER}:alpha:reviewer",
        f"{GAMMA}:gamma:admin",
    ]
)

#: who -> (key, tenant): one key per role and data scope, alpha's except platform's
CALLERS = {
    "platform": PLATFORM,
    "admin": ALPHA,  # alpha:score+events+admin, today's format
    "marketer": MARKETER,
    "reviewer": REVIEWER,
    "score": ALPHA_SCORE,
    "events": ALPHA_EVENTS,
}
__all__ = ["ALPHA", "BETA", "CALLERS", "GAMMA", "PLATFORM", "ROLE_KEYS"]
