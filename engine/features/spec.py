"""Compiled feature declarations: what the rule pack asks the feature store to compute.

These are the contract between the rule-pack compiler (which builds them from the
``features:`` section) and the Redis feature store (which records events and reads
the values). Values are numbers (counts, sums, ages in the declared unit, shares)
or booleans (list membership, ring detection); a value that cannot be computed
(no such entity on the event, no history) is ``None``: "missing".
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from engine.identity.coupons import canonical_code


class Entity(StrEnum):
    """What a feature is keyed by; each maps to an event field or a value derived from one."""

    CUSTOMER = "customer"
    DEVICE = "device"
    IP = "ip"
    SUBNET = "subnet"
    PHONE = "phone"
    PHONE_SEGMENT = "phone_segment"
    PHONE_BLOCK = "phone_block"  # the number's 7-digit block: a code platform's SIMs come in batches of one
    EMAIL_DOMAIN = "email_domain"
    REFERRER = "referrer"
    GROUP = "group"
    CAMPAIGN = "campaign"
    COUPON = "coupon"
    ADDRESS = "address"  # the canonical key of engine.identity.addresses, never the raw text
    EMAIL = "email"  # canonical per provider (engine.identity.emails)
    PAYMENT = "payment"  # a wallet or card token from the payment provider (engine.identity.payments)
    # the province (or, abroad, the country) of the event's IPv4 address, offline (engine/geo.py): a
    # dial-up pool (秒拨) hands one account a new province per request; a parent's phone stays in one
    IP_REGION = "ip_region"
    # the event's phone when its number is from another province than the line it came in on (or from
    # none: a virtual segment): a code platform's rented SIMs on a farmer's home line (slow drip, geo.py)
    FOREIGN_NUMBER = "foreign_number"
    # the Android model and OS build the SDK's user agent names (engine/identity/device_models.py): a rack
    # of one cheap model, or a cloud-phone provider's image, behind many device ids
    DEVICE_MODEL = "device_model"
    # the line and the phone model together (``<ip> <model build>``): a slow drip's one to three
    # physical phones get a new device id per account, but each stays one model on the farmer's
    # home line (rules/risk/shared_backend.yaml, 1248); none without an Android model or an ip
    LINE_MODEL = "line_model"
    # the network (IPv4 /24, IPv6 /48) and the handset its user agent names (Android model and build,
    # or iPhone and iOS version, with the WeChat version: engine/identity/handsets.py): a slow drip's
    # phone keeps it whatever device id it reports and whichever address its line or 4G draws
    # (rules/risk/shared_backend.yaml, 1249); none without an ip or a handset
    SUBNET_HANDSET = "subnet_handset"
    # the branch of a merchant with several stores, as the storefront names it in ``attributes.branch``
    # (docs/api.md, "Branches"): a person taking every branch's newcomer offer under branch-local ids
    BRANCH = "branch"
    # the phone's platform the SDK's user agent names: ``android`` (an Android model and build) or ``ios``
    # (iPhone, iPad); none otherwise. One key per tenant and platform: a cloud-phone rack's script clock
    # shows across all of its images and exits, on the platform every cloud phone runs (Android)
    PLATFORM = "platform"


#: Entities that carry personal data: stored only as keyed hashes (HMAC).
PII_ENTITIES: frozenset[Entity] = frozenset(
    {
        Entity.IP,
        Entity.SUBNET,
        Entity.PHONE,
        Entity.PHONE_SEGMENT,
        Entity.PHONE_BLOCK,
        Entity.EMAIL_DOMAIN,
        Entity.ADDRESS,
        Entity.EMAIL,
        Entity.PAYMENT,
        Entity.FOREIGN_NUMBER,
        Entity.LINE_MODEL,
        Entity.SUBNET_HANDSET,
    }
)


class Aggregate(StrEnum):
    COUNT = "count"
    SUM = "sum"
    DISTINCT = "distinct"
    FIRST_SEEN = "first_seen"
    LAST_SEEN = "last_seen"
    # the longest machine-regular run of sightings ending at the event (engine/features/cadence.py):
    # kept in the same stream as a ``distinct`` of the same entity, field and event types
    CADENCE = "cadence"


class ReferralMetric(StrEnum):
    """Referral-graph features, always keyed by the event's referrer."""

    INVITEES = "invitees"  # invitees in window
    INVITEE_DEVICES = "invitee_devices"  # distinct devices among invitees in window
    INVITEE_IPS = "invitee_ips"
    INVITEE_SUBNETS = "invitee_subnets"
    INVITEES_ON_REFERRER_DEVICE = "invitees_on_referrer_device"
    INVITEES_ON_REFERRER_IP = "invitees_on_referrer_ip"
    PAID_SHARE = "paid_share"  # share of window's invitees with a paid order within `within`
    # invitees and paid_share take `older_than`: only invitees old enough to have bought
    DEPTH = "depth"  # length of the referral chain above the invitee
    RING = "ring"  # the new edge closes a cycle of at most `hops` edges (bool)
    REFERRER_PAID = "referrer_paid"  # the referrer itself has ever had a paid order (bool, all history)
    CHAIN_PAID = "chain_paid"  # paying customers among the referrer and its upline (referral_graph.py)
    # the referrer's whole tree (invitees, their invitees... up to 8 levels down)
    SUBTREE = "subtree"  # customers in the referrer's subtree referred in window
    SUBTREE_DEPTH = "subtree_depth"  # the deepest level below the referrer (all history)
    SUBTREE_PAID_SHARE = "subtree_paid_share"  # paid_share over the subtree (window, within, older_than)
    # where the invitees are: phone region (else IP region) against pack.service_area
    INVITEE_REGIONS = "invitee_regions"  # distinct regions of the window's invitees
    OUTSIDE_SHARE = "outside_share"  # share of the window's invitees from a known region outside the area
    # late evidence (刷单): invitees whose first paid order was refunded (or charged back) within `within` of it
    REFUNDED_INVITEES = "refunded_invitees"  # the window's invitees refunded in time
    REFUND_SHARE = "refund_share"  # of the window's invitees who paid, the share refunded in time
    # is the referrer itself a customer (刷单's referrer accounts never pay): referrer_paid.py
    DAYS_SINCE_PAID = "days_since_paid"  # age in days of the referrer's own latest paid order (missing: never)
    # the event's customer, not its referrer: hours since it joined through a referrer that had never paid
    UNPAID_REFERRAL_HOURS = "unpaid_referral_hours"


class GroupMetric(StrEnum):
    """Group-buy features, keyed by the event's group."""

    MEMBERS = "members"
    SHARED_DEVICE = "shared_device"  # other members on this event's device
    SHARED_IP = "shared_ip"
    SHARED_ADDRESS = "shared_address"


class LinkMetric(StrEnum):
    """Linked-account features: the customers who share a strong identity with the event's customer."""

    ACCOUNTS = "accounts"  # other customers linked in the window (the group is them plus the customer)
    NEW_SHARE = "new_share"  # share of the group first seen less than `within` ago
    PAID_SHARE = "paid_share"  # share of the group with a paid order
    RETURNING_SHARE = "returning_share"  # share of the group seen again at least `within` after first sight
    REWARDS = "rewards"  # offers granted (or held) to the other members in the window
    IDENTITIES = "identities"  # distinct strong identities the group used in the window
    HUBS = "hubs"  # the event's identities shared by more customers than the fan-out (not linked through)
    LINK_AGE = "link_age"  # age, in `unit`, of the oldest link in the window (a household's stability)


class ListKind(StrEnum):
    BLOCK = "block"
    ALLOW = "allow"
    WATCH = "watch"
    STORE = "store"  # a merchant's own counter device (devices only: /v1/devices)


class TimeUnit(StrEnum):
    SECONDS = "seconds"
    MINUTES = "minutes"
    HOURS = "hours"
    DAYS = "days"


UNIT_SECONDS: dict[TimeUnit, int] = {
    TimeUnit.SECONDS: 1,
    TimeUnit.MINUTES: 60,
    TimeUnit.HOURS: 3600,
    TimeUnit.DAYS: 86400,
}


@dataclass(frozen=True, slots=True)
class WindowedFeature:
    """count / sum / distinct over a sliding window, or first/last-seen age, per entity.

    count, sum and distinct include the current event; first_seen and last_seen are
    the age (in ``unit``) of the earliest / latest *earlier* matching event.
    """

    name: str
    aggregate: Aggregate
    by: Entity
    window_seconds: int | None  # None only for first_seen / last_seen (all history)
    on: frozenset[str]  # event types that feed it; empty = every event type
    field: str | None = None  # sum: "amount" or "attr.<name>"; distinct: an Entity value
    approx: bool = False  # distinct via HyperLogLog
    unit: TimeUnit = TimeUnit.SECONDS
    exact: bool = False  # count / sum: a sorted set of events instead of sub-window buckets (windows.py)

    @property
    def bucketed(self) -> bool:
        """Counted in fixed sub-window buckets (count and sum unless ``exact``)."""
        return self.aggregate in (Aggregate.COUNT, Aggregate.SUM) and not self.exact and self.window_seconds is not None


@dataclass(frozen=True, slots=True)
class ReferralFeature:
    name: str
    metric: ReferralMetric
    window_seconds: int | None = None
    # paid_share: paid this soon after the referral; refunded_invitees / refund_share: refunded this soon after paying
    within_seconds: int | None = None
    hops: int = 4  # ring: longest cycle detected
    older_than_seconds: int | None = None  # invitees / paid_share: only invitees referred at least this long ago
    area: frozenset[str] = frozenset()  # outside_share: the pack's service area (short province names)
    # depth / chain_paid by the event's customer: its own upline (a tree worker's claim after its sign-up)
    by: Entity = Entity.REFERRER
    # paid_share: an invitee whose payments were all refunded (rg:void) still counts as paid
    count_refunded: bool = False


@dataclass(frozen=True, slots=True)
class GroupFeature:
    name: str
    metric: GroupMetric
    window_seconds: int | None = None


@dataclass(frozen=True, slots=True)
class ListFeature:
    """Built-in ``<entity>.blocked`` / ``.allowed`` / ``.watched`` and ``device.is_store``: a live list hit."""

    name: str
    entity: Entity
    kind: ListKind


@dataclass(frozen=True, slots=True)
class LinkFeature:
    """One value of the event customer's linked group (engine/features/links.py has the layout).

    ``via`` (strong identities) and ``weak`` (identity, short window) and ``fanout`` define
    the link graph; every link feature of a pack shares one graph (the compiler checks).
    """

    name: str
    metric: LinkMetric
    window_seconds: int
    via: tuple[Entity, ...]
    weak: tuple[tuple[Entity, int], ...] = ()
    fanout: int = 8
    within_seconds: int | None = None  # new_share / returning_share
    unit: TimeUnit = TimeUnit.DAYS


@dataclass(frozen=True, slots=True)
class CouponBinding:
    """Codes given out in one WeChat group or one campaign (the pack's ``coupon_bindings``)."""

    group: str | None = None
    campaign: str | None = None
    codes: frozenset[str] = frozenset()
    prefix: str | None = None  # every code starting with it (codes minted per group: ``P09-``)

    def __post_init__(self) -> None:
        # codes compare in their canonical form (case, width): engine/identity/coupons.py
        object.__setattr__(self, "codes", frozenset(canonical_code(code) for code in self.codes))
        if self.prefix is not None:
            object.__setattr__(self, "prefix", canonical_code(self.prefix))

    def covers(self, code: str) -> bool:
        code = canonical_code(code)
        return code in self.codes or (self.prefix is not None and code.startswith(self.prefix))


@dataclass(frozen=True, slots=True)
class BindingFeature:
    """Built-in ``coupon.outside_binding``: the event's coupon is bound and its customer is not inside.

    True when the code is bound to a group the customer never joined (``member_joined``,
    minus ``member_left``) or to a campaign the customer took part in on no *earlier*
    scored event; False when the code is unbound or the customer is inside; missing
    without a coupon. Memberships live in the customer's slot (engine/features/bindings.py).
    """

    name: str
    bindings: tuple[CouponBinding, ...] = ()

    def binding_of(self, code: str) -> CouponBinding | None:
        """The binding that covers ``code`` (in any case or width): an exact code first, then the longest prefix."""
        code = canonical_code(code)
        exact = next((b for b in self.bindings if code in b.codes), None)
        if exact is not None:
            return exact
        prefixed = [b for b in self.bindings if b.prefix is not None and code.startswith(b.prefix)]
        return max(prefixed, key=lambda b: len(b.prefix or ""), default=None)


OUTSIDE_BINDING = "coupon.outside_binding"


class OriginMetric(StrEnum):
    """What a code's learned origin answers (engine/features/code_origin.py)."""

    TIED = "tied"  # the redeemer is tied to the origin of the event's code (bool)
    MEMBERS = "members"  # accounts that taught the origin of the event's code in the window
    ANCHORED = "anchored"  # the redeemer's referrer, groups or linked accounts are in the origin (bool)
    STRANGERS = "strangers"  # accounts that redeemed the series untied and unvouched in the window


@dataclass(frozen=True, slots=True)
class CodeOriginFeature:
    """Built-in ``customer.tied_to_code_origin`` / ``coupon.origin_members_30d``: a code's learned origin.

    Missing without a coupon. The origin of a code series (the code up to its last ``-`` or
    ``_``, or the code itself) is learned from the accounts tied to the pond that redeemed it
    (engine/features/code_origin.py); no binding in the pack is needed.
    """

    name: str
    metric: OriginMetric
    window_seconds: int = 30 * 86_400


TIED_TO_CODE_ORIGIN = "customer.tied_to_code_origin"
ORIGIN_MEMBERS = "coupon.origin_members_30d"
ANCHORED_TO_CODE_ORIGIN = "customer.anchored_to_code_origin"
ORIGIN_STRANGERS = "coupon.origin_strangers_7d"

FeatureSpec = (
    WindowedFeature | ReferralFeature | GroupFeature | ListFeature | LinkFeature | BindingFeature | CodeOriginFeature
)

LIST_SUFFIX: dict[ListKind, str] = {
    ListKind.BLOCK: "blocked",
    ListKind.ALLOW: "allowed",
    ListKind.WATCH: "watched",
    ListKind.STORE: "is_store",
}
#: List kinds that only some entities have: a store device is a device.
KIND_ENTITIES: dict[ListKind, frozenset[Entity]] = {ListKind.STORE: frozenset({Entity.DEVICE})}


def kind_fits(kind: ListKind, entity: Entity) -> bool:
    """Whether ``entity`` values can be on a ``kind`` list (every entity, except for store devices)."""
    allowed = KIND_ENTITIES.get(kind)
    return allowed is None or entity in allowed


def builtin_list_features() -> dict[str, ListFeature]:
    """Every entity's block/allow/watch flag and ``device.is_store``, always declared."""
    features: dict[str, ListFeature] = {}
    for entity in Entity:
        for kind, suffix in LIST_SUFFIX.items():
            if not kind_fits(kind, entity):
                continue
            name = f"{entity.value}.{suffix}"
            features[name] = ListFeature(name=name, entity=entity, kind=kind)
    return features
