"""The people, phones and networks a simulated log is made of, drawn from one seeded RNG.

Honest parents each have their own phone (device id), a home broadband address and
sometimes a mobile (carrier-NAT) address, a mainland number on an ordinary carrier
segment and a family address. Farmers share a few devices, sit on one data-centre /24,
and buy numbers on the virtual-operator segments (162/165/167/170/171). Everything is a
pure function of the RNG, so a seed reproduces the same world byte for byte.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from engine.simulate.lines import line_anywhere, line_elsewhere, local_line
from engine.simulate.places import Place, local_phone

#: Attribute names the shipped pack declares under ``attributes:`` (rules/lists.yaml).
CLAIM_MS = "claim_ms"
SECONDS_SINCE_SIGNUP = "seconds_since_signup"
EMULATOR = "emulator"
AUTOMATION = "automation"
ROOTED = "rooted"
PROXY = "proxy"
TAMPERED = "tampered"
USER_AGENT = "user_agent"
PAY_ACCOUNT_CUSTOMERS = "pay_account_customers"
BRANCH = "branch"  # the merchant's branch (engine/simulate/branches.py)
ATTRIBUTES: frozenset[str] = frozenset(
    {CLAIM_MS, SECONDS_SINCE_SIGNUP, EMULATOR, AUTOMATION, ROOTED, TAMPERED, PROXY, USER_AGENT, PAY_ACCOUNT_CUSTOMERS}
    | {BRANCH}
)

WECHAT_UA = "Mozilla/5.0 (Linux; Android 13) MicroMessenger/8.0.47 MiniProgramEnv/android"
IPHONE_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) MicroMessenger/8.0.44"
SCRIPT_UAS = ("okhttp/3.12.1", "python-requests/2.31", "Mozilla/5.0 HeadlessChrome/120.0")

ORDINARY_SEGMENTS = (
    "134",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "157",
    "158",
    "159",
    "182",
    "183",
    "187",
    "188",
    "130",
    "131",
    "132",
    "155",
    "156",
    "185",
    "186",
    "133",
    "153",
    "180",
    "181",
    "189",
    "199",
    "191",
    "177",
)
VIRTUAL_SEGMENTS = ("162", "165", "167", "170", "171")
COMMON_MAIL = ("qq.com", "qq.com", "qq.com", "163.com", "126.com", "foxmail.com", "sina.com", "139.com", "icloud.com")
DISPOSABLE_MAIL = ("mailinator.com", "yopmail.com", "bccto.me", "chacuo.net", "linshiyouxiang.net", "027168.com")
#: Data-centre ranges farms rent exits in (residential lines: engine/simulate/lines.py).
IDC_OCTETS = (47, 103, 118, 139, 150, 154, 156)
STUDIO_DEVICE = "store-ipad-01"  # the allow-listed front-desk iPad
STUDIO_IP = "198.51.100.7"  # the allow-listed studio Wi-Fi


@dataclass(slots=True)
class Person:
    """One account and the identifiers it shows: honest parent or one of a farmer's many."""

    customer: str
    device: str
    ip: str
    phone: str
    email: str | None
    address: str  # as this account types it
    created: float  # epoch seconds of its first event (or of its history)
    groups: list[str] = field(default_factory=list)
    paid: bool = False
    payment: str | None = None  # wallet / card fingerprint it pays with
    place: Place | None = None  # the delivery point ``address`` names


class Identities:
    """Draws ids and identifiers; every value comes from the one seeded RNG."""

    def __init__(self, rng: random.Random, hometown_share: float = 0.15, away_share: float = 0.0) -> None:
        self.rng = rng
        self.hometown_share = hometown_share  # parents who kept a number from their home town
        self.away_share = away_share  # newcomers on a line in another province (a relative elsewhere, a move)
        self._mobile_pool = [self.home_ip() for _ in range(4000)]  # the city's carrier NAT exits, shared
        self._remote_mobile_pool = [line_anywhere(rng) for _ in range(2000)]  # the country's

    def token(self, prefix: str, bits: int = 40) -> str:
        return f"{prefix}{self.rng.getrandbits(bits):0{bits // 4}x}"

    def customer_id(self) -> str:
        return self.token("u")

    def device_id(self) -> str:
        return self.token("d", 48)

    def home_ip(self) -> str:
        """A home line in the studio's area (engine/simulate/lines.py)."""
        return local_line(self.rng)

    def remote_ip(self) -> str:
        """A residential line anywhere in the country: a farmer's, a crowd worker's, a hired buyer's."""
        return line_anywhere(self.rng)

    def away_ip(self) -> str:
        """A line in a province outside the studio's area."""
        return line_elsewhere(self.rng)

    def mobile_ip(self, *, anywhere: bool = False) -> str:
        """A carrier-NAT exit of the studio's city, or (``anywhere``) of the country's."""
        return self.rng.choice(self._remote_mobile_pool if anywhere else self._mobile_pool)

    def idc_subnet(self) -> str:
        """A data-centre /24 prefix ("47.92.13") a farm rents its exits from."""
        r = self.rng
        return f"{r.choice(IDC_OCTETS)}.{r.randrange(256)}.{r.randrange(256)}"

    def phone(self, virtual: bool = False) -> str:
        """A number from anywhere in the country (farms buy them from code platforms)."""
        segment = self.rng.choice(VIRTUAL_SEGMENTS if virtual else ORDINARY_SEGMENTS)
        return f"{segment}{self.rng.randrange(10**8):08d}"

    def rented_block(self) -> str:
        """A 7-digit block from anywhere in the country that a code platform bought a batch of SIMs in."""
        return f"{self.rng.choice(ORDINARY_SEGMENTS)}{self.rng.randrange(10**4):04d}"

    def number_in(self, block: str) -> str:
        """A number of ``block`` (a platform's batch: consecutive SIMs of one block)."""
        return f"{block}{self.rng.randrange(10**4):04d}"

    def honest_email(self) -> str | None:
        r = self.rng
        if r.random() < 0.6:
            return None
        name = r.choice(("chen", "wang", "li", "zhang", "liu", "yang", "huang", "zhao", "wu", "zhou"))
        return f"{name}{r.choice(('mama', 'baba', '', 'xx', 'jia'))}{r.randrange(10, 9999)}@{r.choice(COMMON_MAIL)}"

    def farm_email(self, disposable: bool) -> str:
        r = self.rng
        domain = r.choice(DISPOSABLE_MAIL) if disposable else r.choice(COMMON_MAIL)
        letters = "abcdefghjkmnpqrstwxyz"
        return f"{r.choice(letters)}{r.choice(letters)}{r.randrange(10**6, 10**8)}@{domain}"

    def local_phone(self, virtual: bool = False) -> str:
        """A parent's number: mostly from the studio's city, some kept from a home town."""
        return self.phone(virtual) if self.rng.random() < self.hometown_share else local_phone(self.rng, virtual)

    def wallet(self) -> str:
        return self.token("pay-", 48)

    def address(self) -> str:
        return Place.home(self.rng).render()

    def honest_person(self, created: float, *, mvno: bool | None = None) -> Person:
        if mvno is None:
            mvno = self.rng.random() < 0.01  # a few real parents do use a virtual-operator number
        place = Place.home(self.rng)
        away = self.away_share and self.rng.random() < self.away_share
        return Person(
            customer=self.customer_id(),
            device=self.device_id(),
            ip=self.away_ip() if away else self.home_ip(),
            phone=self.local_phone(virtual=mvno),
            email=self.honest_email(),
            address=place.render(),
            created=created,
            payment=self.wallet(),
            place=place,
        )

    def user_agent(self) -> str:
        return WECHAT_UA if self.rng.random() < 0.6 else IPHONE_UA

    def human_claim_ms(self) -> int:
        """Time for a parent to see a red packet, open the chat and tap: ~2.5 s, rarely under 0.8 s."""
        return max(650, int(self.rng.lognormvariate(7.82, 0.4)))

    def bot_claim_ms(self, careful: bool) -> int:
        """A script taps at once; a careful one adds a little jitter, still faster than a person."""
        return self.rng.randint(850, 1400) if careful else self.rng.randint(25, 420)
