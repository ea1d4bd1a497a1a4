"""Where phones used to live: the module is now :mod:`engine.identity.phones` (re-exported here)."""

from engine.identity.phones import (
    DEFAULT_REGION,
    country_code,
    current_region,
    e164,
    known_region,
    phone_region,
    use_region,
)

__all__ = ["DEFAULT_REGION", "country_code", "current_region", "e164", "known_region", "phone_region", "use_region"]
