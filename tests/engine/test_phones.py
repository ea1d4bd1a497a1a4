"""One phone, one spelling: E.164 in the pack's region before anything hashes, counts or lists it."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import phonenumbers
import pytest
from pydantic import ValidationError

from engine.compile.pack import compile_files
from engine.events import Event, derived_fields, phone_segment
from engine.features.keys import KeyBuilder, entity_value, normalize
from engine.features.spec import Entity
from engine.phones import e164, phone_region

SPELLINGS = ["13800138000", "+8613800138000", "+86 138 0013 8000", "008613800138000", "138-0013-8000", "8613800138000"]
PACK = """
pack: {{name: p, timezone: Asia/Hong_Kong{region}}}
rules:
  - {{id: r, code: 1, on: [signup], when: "event.amount > 1", score: 10, reason: {{zh: 规则, en: rule}}}}
tiers:
  - {{id: everyone, default: true}}
seed_lists:
  - {{entity: phone, value: "9123 4567", kind: block, reason: reused}}
"""


def signup(phone: str) -> Event:
    return Event(event_id="e1", type="signup", customer="c1", phone=phone, timestamp=datetime(2026, 5, 1, tzinfo=UTC))


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_every_spelling_of_a_mainland_number_is_one_e164_phone_with_one_keyed_hash(spelling: str) -> None:
    keys = KeyBuilder(b"0123456789abcdef0123")
    event = signup(spelling)
    assert event.phone == "+8613800138000"
    assert keys.pii_hash("t", Entity.PHONE, entity_value(event, Entity.PHONE) or "") == keys.pii_hash(
        "t", Entity.PHONE, normalize(Entity.PHONE, "13800138000")
    )
    assert derived_fields(event)["phone.segment"] == "138"


def test_the_segment_is_the_mainland_carrier_prefix_and_nothing_for_other_countries() -> None:
    assert phone_segment(signup("17012345678").phone) == "170"
    assert phone_segment(signup("+1 703 555 0123").phone) is None  # not a virtual-operator 170 number
    assert phone_segment("17012345678") == "170"  # raw digits, as before


@pytest.mark.parametrize("bad", ["12", "phone", "+86 abc", "1" * 25, "++8613800138000"])
def test_what_is_not_a_phone_number_is_refused_naming_the_field(bad: str) -> None:
    with pytest.raises(ValidationError) as caught:
        signup(bad)
    assert caught.value.errors()[0]["loc"] == ("phone",)


def test_a_number_without_a_country_code_is_read_in_the_region_in_force() -> None:
    assert e164("9123 4567", "HK") == "+85291234567"
    with phone_region("HK"):
        assert signup("9123 4567").phone == "+85291234567"
        assert signup("+86 138 0013 8000").phone == "+8613800138000"  # a country code wins
    assert signup("13800138000").phone == "+8613800138000"  # CN again outside the block


def test_a_pack_declares_its_phone_region_and_seed_phones_are_stored_in_e164() -> None:
    ruleset, diagnostics = compile_files({"pack.yaml": PACK.format(region=", phone_region: HK")})
    assert ruleset is not None, diagnostics
    assert ruleset.phone_region == "HK"
    assert [entry.value for entry in ruleset.seed_lists] == ["+85291234567"]


def test_an_unknown_phone_region_is_a_diagnostic_at_its_place() -> None:
    ruleset, diagnostics = compile_files({"pack.yaml": PACK.format(region=", phone_region: XX")})
    assert ruleset is None
    assert [d.render() for d in diagnostics] == [
        "pack.yaml:2:57 INVALID_VALUE unknown phone region 'XX'; use an ISO 3166 code like CN or HK"
    ]


def _libphonenumber(compact: str, region: str) -> str:
    """The E.164 libphonenumber gives ("refused" when it cannot parse it): what ``e164`` gave before its fast path."""
    try:
        number = phonenumbers.parse(compact, region)
    except phonenumbers.NumberParseException:
        return "refused"
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _ours(sent: str, region: str) -> str:
    try:
        return e164(sent, region)
    except ValueError:
        return "refused"


SPACED = "{0[0]}{0[1]}{0[2]} {0[3]}{0[4]}{0[5]}{0[6]}-{0[7]}{0[8]}{0[9]}{0[10]}"  # 138 0013-8000


@pytest.mark.parametrize("form", ["{}", "+86{}", "0086{}", "+86 {}", SPACED])
def test_the_mainland_mobile_fast_path_gives_what_libphonenumber_gives_for_every_4_digit_prefix(form: str) -> None:
    """``e164`` answers 11-digit mainland mobiles without parsing them: for each prefix 1000-1999 (those it
    answers itself and those it parses), four numbers of it must come out as libphonenumber writes them."""
    rng = random.Random(7)
    for prefix in range(1000, 2000):
        numbers = [f"{prefix}{rng.randrange(10**7):07d}" for _ in range(3)]
        numbers.append(f"{prefix}{rng.randrange(10)}00{rng.randrange(10**4):04d}")  # 1790100...: dialled abroad
        for number in numbers:
            sent = form.format(number)
            compact = sent.replace(" ", "")
            expected = _libphonenumber("+" + compact[2:] if compact.startswith("00") else compact, "CN")
            assert _ours(sent, "CN") == expected, sent


def test_numbers_the_fast_path_must_not_take_are_still_parsed() -> None:
    """A carrier prefix (17951...), a dialled-abroad prefix (1790000...), a landline and a short code keep their
    libphonenumber reading, and garbage is still refused."""
    sent_numbers = ["1795113800138000", "17951 0086 138 0013 8000", "12593 13800138000", "17912001234", "01012345678",
                    "95588", "8613800138000"]  # fmt: skip
    for sent in sent_numbers:
        assert _ours(sent, "CN") == _libphonenumber(sent.replace(" ", ""), "CN"), sent
    for sent in ["1380013800x", "138001380001234567890"]:
        with pytest.raises(ValueError):
            e164(sent, "CN")
