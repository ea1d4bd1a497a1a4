"""The shared back end of a farm: where its many clean-looking accounts meet at checkout.

Each account alone looks like a parent; what the accounts share is the wallet or card
they pay with (``payment``, and the payment provider's count of accounts on it in
``pay_account_customers``) and the place the prints are sent to: one flat or parcel
locker, typed a different way by each account. That link appears *after* the rewards
(the trial granted at sign-up, the newcomer coupon), which is why farms bother with it.
"""

from __future__ import annotations

from engine.simulate.context import Sim
from engine.simulate.places import Place
from engine.simulate.timeline import MINUTE
from engine.simulate.units import Unit
from engine.simulate.world import PAY_ACCOUNT_CUSTOMERS, SECONDS_SINCE_SIGNUP, Person


def newcomer_claim(sim: Sim, unit: Unit, account: Person, t: float, signed_up: float, **attributes: object) -> float:
    """The newcomer gift claimed at ``t``; returns ``t``."""
    unit.add(
        t,
        "coupon_claim",
        account,
        campaign="newcomer_gift",
        amount=30.0,
        coupon=sim.ids.token("cp"),
        attributes={**attributes, SECONDS_SINCE_SIGNUP: int(t - signed_up)},
    )
    return t


def farm_checkout(
    sim: Sim,
    unit: Unit,
    account: Person,
    t: float,
    place: Place,
    wallet: str,
    *,
    amount: float = 69.0,
    campaign: str | None = "trial_99",
    attributes: dict[str, object] | None = None,
) -> None:
    """The trial paid with the newcomer coupon, sent to the farm's place typed this account's way."""
    account.address = place.render(sim.rng)
    account.payment = wallet
    unit.add(
        t,
        "order",
        account,
        amount=amount,
        campaign=campaign,
        address=account.address,
        attributes={**(attributes or {}), PAY_ACCOUNT_CUSTOMERS: 1},  # the wallet's real count is filled in later
    )
    unit.add(t + sim.rng.uniform(0.3, 5) * MINUTE, "order_paid", account, amount=amount, campaign=campaign)
