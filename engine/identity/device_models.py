"""The phone model and OS build an Android user agent names: what a rack or a cloud-phone image shares.

A WeChat mini-program's user agent on Android names the handset, ``(Linux; Android 14;
PHM110 Build/UKQ1.230924.001; wv)``. A farm's rack is mostly one cheap model, and a
cloud-phone provider's instances report the one to three models and builds of its images,
each instance with a device id of its own: many new accounts on one model and build within
minutes is the rack, whatever the device ids say (rules/risk/device_farms.yaml).

What it trusts: nothing. The user agent is the caller's claim, so the value only ever counts
*against* an event: a farm that writes a random model per account is not seen by it (a
limit), and hiding the user agent gives "missing", never "a rare model". iPhones and iPads
name no model in their user agents (``iPhone; CPU iPhone OS 17_4``: every iPhone of one iOS
version would be one "model"), so they have none: an iPhone wave in one city is never a hub.
"""

from __future__ import annotations

import re
from functools import lru_cache

#: ``Android <version>; [U; ][xx-yy; ]<model> Build/<build>``: the model is everything up to `` Build/``.
_ANDROID = re.compile(
    r"Android [0-9][0-9.]{0,9};(?: U;)?(?: [a-z]{2}[-_][a-zA-Z]{2};)? ([^;()]{1,48}?) Build/([^;()\s]{1,48})"
)


@lru_cache(maxsize=4096)
def device_model(user_agent: str | None) -> str | None:
    """``model build`` of an Android user agent (``PHM110 UKQ1.230924.001``), lower case; None otherwise."""
    if not user_agent:
        return None
    found = _ANDROID.search(user_agent)
    if found is None:
        return None
    model, build = found.group(1).strip(), found.group(2)
    return f"{model} {build}".lower() if model else None
