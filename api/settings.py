"""Service settings, read from the environment when the app is created (never at import)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.egress.policy import DEFAULT_SECRET_PREFIX, PolicyError, WebhookPolicy
from engine.wecom.config import WecomConfigError, parse_callbacks
from engine.wecom.crypto import CallbackKeys


class Settings(BaseModel):
    """Everything the service is configured with; see docs/api.md for the variables."""

    model_config = ConfigDict(frozen=True)

    rules_path: Path = Path("rules")
    backend: str = "durable"
    tenant_backend: str = "python"  # tenants' own packs (durable_rules cannot hold 1,000 of them: README, Benchmarks)
    redis_url: str | None = None
    redis_cluster: bool = False
    redis_max_connections: int = Field(default=512, gt=0)
    data_dir: Path = Path("data")
    secret: str | None = None
    api_keys: str = ""
    api_keys_file: Path | None = None
    redis_timeout_s: float = Field(default=0.5, gt=0)
    max_body_bytes: int = Field(default=64 * 1024, gt=0)
    idempotency_ttl_s: int = Field(default=86400, gt=0)
    claim_wait_s: float = Field(default=2.0, ge=0)  # a concurrent copy of an event waits this long for its answer
    event_time_skew_s: int = Field(default=300, ge=0)  # /v1/score refuses event times further off the clock
    trust_event_time: bool = False  # take event times as sent (backfills, simulations): never on a live deployment
    rules_poll_s: float = Field(default=2.0, gt=0)
    breaker_s: float = Field(default=0.5, ge=0)
    recent_decisions: int = Field(default=20, ge=0)
    hot_route: bool = True  # POST /v1/score answered below FastAPI (api/scoring/hot.py); 0: by the FastAPI route
    watch_rules: bool = True  # reload when a file under rules_path changes (polled every rules_poll_s)
    record_events: bool = False  # keep answered events, pseudonymized, for GET /v1/events/export
    record_max_events: int = Field(default=100_000, gt=0)  # per tenant; the oldest go first
    embedded_redis_state: Path | None = None  # set by `yutang serve` when it supervises an embedded Redis
    # an uploaded pack compiles in a child process within these (engine/compile/isolated.py)
    compile_timeout_s: float = Field(default=30.0, gt=0)
    compile_memory_mb: int = Field(default=1024, gt=0)
    audit_retention_days: float = Field(default=365, gt=0)  # audit entries older than this are trimmed

    webhook_hosts: str = "*"  # where webhooks may go by default: any public host (engine/egress/policy.py)
    webhook_tenant_hosts: str = ""  # "tenant=entry entry;tenant2=entry": replaces the default for that tenant
    webhook_secret_prefix: str = DEFAULT_SECRET_PREFIX  # the only variables a pack's secret_env may name
    # WeCom callback receivers: "tenant=corp_id:token:encoding_aes_key;..." (engine/wecom/config.py)
    wecom_callbacks: str = ""
    wecom_callbacks_file: Path | None = None

    @model_validator(mode="after")
    def _webhook_policy_parses(self) -> Settings:
        try:
            self.webhook_policy()
        except PolicyError as err:
            raise ValueError(str(err)) from None
        return self

    @model_validator(mode="after")
    def _wecom_callbacks_parse(self) -> Settings:
        try:
            self.wecom_keys()
        except (WecomConfigError, OSError) as err:
            raise ValueError(str(err)) from None
        return self

    def wecom_keys(self) -> dict[str, CallbackKeys]:
        """Each tenant's WeCom callback keys (docs/integrations.md)."""
        keys = parse_callbacks(self.wecom_callbacks)
        if self.wecom_callbacks_file is not None:
            path = self.wecom_callbacks_file
            keys |= parse_callbacks(path.read_text(encoding="utf-8"), source=str(path))
        return keys

    def webhook_policy(self) -> WebhookPolicy:
        """Who may be posted to, per tenant, and which variables may sign (see docs/api.md)."""
        return WebhookPolicy.parse(
            hosts=self.webhook_hosts, tenant_hosts=self.webhook_tenant_hosts, secret_prefix=self.webhook_secret_prefix
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Build settings from ``YUTANG_*`` / ``REDIS_URL`` variables, then ``overrides``."""
        env = os.environ if env is None else env
        found: dict[str, object] = {}
        for field, variable in _VARIABLES.items():
            if env.get(variable):
                found[field] = env[variable]
        if "YUTANG_WEBHOOK_HOSTS" in env:  # set but empty: webhooks go nowhere (not "unset: the default")
            found["webhook_hosts"] = env["YUTANG_WEBHOOK_HOSTS"]
        if env.get("YUTANG_REDIS_TIMEOUT_MS"):
            found["redis_timeout_s"] = float(env["YUTANG_REDIS_TIMEOUT_MS"]) / 1000
        found.update(overrides)
        return cls.model_validate(found)


_VARIABLES = {
    "rules_path": "YUTANG_RULES",
    "backend": "YUTANG_BACKEND",
    "tenant_backend": "YUTANG_TENANT_BACKEND",
    "redis_url": "REDIS_URL",
    "redis_cluster": "REDIS_CLUSTER",
    "redis_max_connections": "YUTANG_REDIS_MAX_CONNECTIONS",
    "data_dir": "YUTANG_DATA_DIR",
    "secret": "YUTANG_SECRET",
    "api_keys": "YUTANG_API_KEYS",
    "api_keys_file": "YUTANG_API_KEYS_FILE",
    "max_body_bytes": "YUTANG_MAX_BODY_BYTES",
    "idempotency_ttl_s": "YUTANG_IDEMPOTENCY_TTL_S",
    "claim_wait_s": "YUTANG_CLAIM_WAIT_S",
    "event_time_skew_s": "YUTANG_EVENT_TIME_SKEW_S",
    "trust_event_time": "YUTANG_TRUST_EVENT_TIME",
    "rules_poll_s": "YUTANG_RULES_POLL_S",
    "breaker_s": "YUTANG_REDIS_BREAKER_S",
    "recent_decisions": "YUTANG_RECENT_DECISIONS",
    "watch_rules": "YUTANG_WATCH_RULES",
    "hot_route": "YUTANG_HOT_ROUTE",
    "record_events": "YUTANG_RECORD_EVENTS",
    "record_max_events": "YUTANG_RECORD_MAX_EVENTS",
    "embedded_redis_state": "YUTANG_EMBEDDED_REDIS_STATE",
    "webhook_hosts": "YUTANG_WEBHOOK_HOSTS",
    "webhook_tenant_hosts": "YUTANG_WEBHOOK_TENANT_HOSTS",
    "webhook_secret_prefix": "YUTANG_WEBHOOK_SECRET_PREFIX",
    "compile_timeout_s": "YUTANG_COMPILE_TIMEOUT_S",
    "compile_memory_mb": "YUTANG_COMPILE_MEMORY_MB",
    "wecom_callbacks": "YUTANG_WECOM_CALLBACKS",
    "wecom_callbacks_file": "YUTANG_WECOM_CALLBACKS_FILE",
    "audit_retention_days": "YUTANG_AUDIT_RETENTION_DAYS",
}
