"""Answers of the keys, tenants and whoami routes, as a generated client parses them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class KeyOut(BaseModel):
    id: str = Field(description="the key's id: the first hex digits of its digest, safe to log and to revoke by")
    tenant: str
    role: str | None
    scopes: list[str]
    created: float | None = Field(description="epoch seconds; null for a configured key")
    author: str | None = Field(description="the key id that made it; null for a configured key")
    label: str
    source: Literal["api", "config"]


class KeyCreated(KeyOut):
    key: str = Field(description="the secret itself: shown this once, never again")


class KeysOut(BaseModel):
    tenant: str
    keys: list[KeyOut]


class KeyRevoked(BaseModel):
    revoked: str


class TenantRow(BaseModel):
    tenant: str
    source: Literal["api", "config"]


class TenantsOut(BaseModel):
    tenants: list[TenantRow]


class TenantOut(BaseModel):
    tenant: str


class CallerOut(BaseModel):
    tenant: str = Field(description="the tenant this request acts on")
    key_tenant: str = Field(description="the key's own tenant (differs only for a platform key naming another)")
    key_id: str
    role: str
    scopes: list[str]
    abilities: list[str]
    source: str
