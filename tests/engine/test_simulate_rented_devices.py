"""The simulator's rented and bought devices (engine/simulate/rented_devices.py), as the trade works them."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from itertools import pairwise
from typing import Any

import pytest

from engine.identity.device_models import device_model
from engine.simulate.generate import SimulationConfig, simulate
from tests.engine.sim_helpers import by_family


@pytest.fixture(scope="module")
def families() -> dict[str, list[dict[str, Any]]]:
    return by_family(list(simulate(SimulationConfig(events=20_000, seed=5))))


def _at(record: dict[str, Any]) -> float:
    return datetime.fromisoformat(record["timestamp"]).timestamp()


def _model(record: dict[str, Any]) -> str | None:
    return device_model(record.get("attributes", {}).get("user_agent"))


def test_cloud_phones_are_many_instances_of_a_few_images_run_at_a_script_s_pace(families: dict[str, Any]) -> None:
    new = [r for r in families["cloud_phones"] if r["type"] in ("signup", "referral")]
    assert len({r["device"] for r in new}) == len(new)  # an instance per account
    assert None not in {_model(r) for r in new}
    sessions: list[list[dict[str, Any]]] = []  # a farm's run: accounts less than 20 minutes apart
    for record in new:
        if sessions and _at(record) - _at(sessions[-1][-1]) < 1200:
            sessions[-1].append(record)
        else:
            sessions.append([record])
    regular = 0
    for run in sessions:
        assert len({_model(r) for r in run}) <= 3  # the provider's images
        gaps = [_at(b) - _at(a) for a, b in pairwise(run)]
        regular += bool(gaps) and max(gaps) - min(gaps) < 10  # one account a period, give or take seconds
    assert regular >= 0.8 * len([run for run in sessions if len(run) > 1])


def test_parents_phones_spread_over_many_models(families: dict[str, Any]) -> None:
    models = Counter(_model(r) for r in families["parents"] if r["type"] == "signup" and _model(r))
    assert len(models) >= 10 and models.most_common(1)[0][1] < 0.25 * sum(models.values())


def test_a_bought_account_changes_device_line_and_number_at_its_first_reward(families: dict[str, Any]) -> None:
    bought = families["bought_accounts"]
    signups = {r["customer"]: r for r in bought if r["type"] == "signup"}
    claims = [r for r in bought if r["type"] == "coupon_claim" and r.get("campaign") == "newcomer_gift"]
    assert claims and all(r["customer"] in signups for r in claims)
    for claim in claims:
        born = signups[claim["customer"]]
        assert _at(claim) - _at(born) > 3 * 86_400  # aged by the seller
        assert (claim["device"], claim["ip"], claim["phone"]) != (born["device"], born["ip"], born["phone"])
        assert claim["device"] != born["device"] and claim["phone"] != born["phone"]
    assert not [r for r in bought if r["type"] == "store_visit"]


def test_a_new_phone_is_an_old_customer_who_goes_on_buying(families: dict[str, Any]) -> None:
    upgrade = families["new_phone_upgrade"]
    assert {r["truth"] for r in upgrade} == {"honest"}
    assert [r for r in upgrade if r["type"] == "order_paid"] and [r for r in upgrade if r["type"] == "store_visit"]
