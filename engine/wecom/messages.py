"""WeCom callback messages read into yutang events.

WeCom reports what the seeds' merchants lose customers to: a customer deleting the
staff member (``change_external_contact`` / ``del_follow_user``), a staff member
deleting the customer (``del_external_contact``), contacts added, and group chats
created, changed (members joining or leaving) or dismissed (``change_external_chat``).
Each becomes an outcome event recorded like one a storefront posts to ``/v1/events``,
so features, the customer's history, journeys and group health see it the same way.

An event's id is derived from the decrypted message, so WeCom's retries of one
callback (it resends until it gets an answer) are one event; a member change naming
several members is one event per member.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from xml.etree.ElementTree import Element

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from engine.events import Event


class MalformedMessage(ValueError):
    """Not a WeCom message we can read (bad XML, a field missing or out of shape)."""


@dataclass(frozen=True, slots=True)
class Envelope:
    """The outer XML of a POSTed callback."""

    to: str
    encrypted: str


@dataclass(frozen=True, slots=True)
class Reading:
    """What one message means: its kind, the events to record and the counters it moves."""

    kind: str  # e.g. change_external_contact/del_follow_user; "ignored/<event>" for ones yutang has no use for
    at: datetime  # the message's CreateTime
    events: list[Event]
    counts: dict[str, int]  # report fields, e.g. "deleted_by_customer|<staff>": 1
    standing: tuple[str, str, str] | None = None  # (customer, staff, state) for a contact change


def message_id(plain: bytes) -> str:
    """One decrypted message's identity: WeCom's retries of a callback carry the same plaintext."""
    return "wecom-" + hashlib.sha256(plain).hexdigest()[:32]


def parse_xml(raw: bytes) -> Element:
    try:
        root: Element = ElementTree.fromstring(raw)
    except (ElementTree.ParseError, DefusedXmlException, ValueError) as err:
        raise MalformedMessage(f"not well-formed XML: {err}") from None
    return root


def envelope(raw: bytes) -> Envelope:
    root = parse_xml(raw)
    encrypted = (root.findtext("Encrypt") or "").strip()
    if not encrypted:
        raise MalformedMessage("the body has no <Encrypt> element")
    return Envelope(to=(root.findtext("ToUserName") or "").strip(), encrypted=encrypted)


def read_message(plain: bytes) -> Reading:
    root = parse_xml(plain)
    fields = {child.tag: (child.text or "").strip() for child in root if len(child) == 0}
    members = [(item.text or "").strip() for item in root.iterfind("MemChangeList/Item") if (item.text or "").strip()]
    event = fields.get("Event", "")
    change = fields.get("ChangeType", "")
    at = _moment(fields.get("CreateTime", ""))
    base_id = message_id(plain)
    if fields.get("MsgType") != "event":
        return Reading(f"ignored/{fields.get('MsgType', '?')}", at, [], {})
    if event == "change_external_contact":
        return _contact(change, fields, at, base_id)
    if event == "change_external_chat":
        return _chat(change, fields, members, at, base_id)
    return Reading(f"ignored/{event or '?'}", at, [], {})


def _contact(change: str, fields: dict[str, str], at: datetime, base_id: str) -> Reading:
    staff, customer = fields.get("UserID", ""), fields.get("ExternalUserID", "")
    kind = f"change_external_contact/{change}"
    if change not in {"add_external_contact", "add_half_external_contact", "del_external_contact", "del_follow_user"}:
        return Reading(f"ignored/{kind}", at, [], {})
    if not staff or not customer:
        raise MalformedMessage(f"{kind} needs UserID and ExternalUserID")
    if change.startswith("add"):
        attributes: dict[str, Any] = {"staff": staff, "channel": fields.get("State", "")[:64]}
        event = _event(base_id, "contact_added", customer, at, attributes)
        return Reading(kind, at, [event], {f"added|{staff}": 1}, (customer, staff, "added"))
    state = "deleted_by_customer" if change == "del_follow_user" else "deleted_by_staff"
    event = _event(base_id, "contact_deleted", customer, at, {"staff": staff, "by": state.rpartition("_")[2]})
    return Reading(kind, at, [event], {f"{state}|{staff}": 1}, (customer, staff, state))


def _chat(change: str, fields: dict[str, str], members: list[str], at: datetime, base_id: str) -> Reading:
    chat = fields.get("ChatId", "")
    detail = fields.get("UpdateDetail", "")
    kind = f"change_external_chat/{change}" + (f"/{detail}" if detail else "")
    if not chat:
        raise MalformedMessage(f"{kind} needs ChatId")
    if change == "create":
        owner = f"chat:{chat}"  # WeCom does not name the owner here; the chat stands in for it
        return Reading(kind, at, [_event(base_id, "group_created", owner, at, {"source": "wecom"}, chat)], {})
    if change == "dismiss":
        return Reading(kind, at, [], {f"dismissed|{chat}": 1})
    if change != "update" or detail not in {"add_member", "del_member"}:
        return Reading(f"ignored/{kind}", at, [], {})
    joined = detail == "add_member"
    scene = fields.get("JoinScene" if joined else "QuitScene", "")
    attributes = {"scene": scene} if scene else {}
    event_type = "member_joined" if joined else "member_left"
    events = [_event(f"{base_id}-{n}", event_type, m, at, attributes, chat) for n, m in enumerate(members)]
    count = len(members) or _int(fields.get("MemChangeCnt", "0"))  # an old callback names no members
    return Reading(kind, at, events, {f"{'joined' if joined else 'left'}|{chat}": count})


def _event(
    event_id: str, kind: str, customer: str, at: datetime, attributes: dict[str, Any], group: str | None = None
) -> Event:
    try:
        return Event.model_validate(
            {"event_id": event_id, "type": kind, "customer": customer, "timestamp": at, "group": group,
             "attributes": attributes}
        )  # fmt: skip
    except ValueError as err:
        raise MalformedMessage(f"{kind}: {err}") from None


def _moment(value: str) -> datetime:
    seconds = _int(value)
    if seconds <= 0:
        raise MalformedMessage("CreateTime must be a positive number of seconds")
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise MalformedMessage("CreateTime is out of range") from None


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise MalformedMessage(f"{value!r} is not a number") from None
