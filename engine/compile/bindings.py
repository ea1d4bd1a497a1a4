"""Compile the pack's ``coupon_bindings`` into the built-in ``coupon.outside_binding`` feature.

Bindings are declared in the pack, not registered through the API: the binding is then
known when a request is built, so the check is one ZSCORE in the customer's own slot
(engine/features/bindings.py) instead of a read of the code's slot followed by a second
round trip on a cluster; and a binding is versioned, reviewed, shadow-tested and rolled
back with the rules that read it. A code (or prefix) bound twice is a ``DUPLICATE_ID``.
"""

from __future__ import annotations

from engine.diagnostics import Code, Diagnostic
from engine.features.spec import OUTSIDE_BINDING, BindingFeature, CouponBinding
from engine.pack.loader import ValidatedPack


def compile_bindings(pack: ValidatedPack, diagnostics: list[Diagnostic]) -> BindingFeature:
    """The feature with every binding of the pack (none: every coupon is unbound, the value False)."""
    found: list[CouponBinding] = []
    seen: set[str] = set()
    for located in pack.coupon_bindings:
        item = located.item
        for position, code in enumerate(item.codes):
            if code in seen:
                diagnostics.append(
                    Diagnostic(located.location("codes", position), Code.DUPLICATE_ID, f"code '{code}' is bound twice")
                )
            seen.add(code)
        if item.prefix is not None:
            if f"prefix:{item.prefix}" in seen:
                diagnostics.append(
                    Diagnostic(located.location("prefix"), Code.DUPLICATE_ID, f"prefix '{item.prefix}' is bound twice")
                )
            seen.add(f"prefix:{item.prefix}")
        found.append(CouponBinding(item.group, item.campaign, frozenset(item.codes), item.prefix))
    return BindingFeature(OUTSIDE_BINDING, tuple(found))
