"""``yutang serve``: uvicorn workers sharing one Redis, embedded unless ``REDIS_URL`` is set.

The embedded redis-server is started once, here in the parent, and its socket URL
handed to the workers through ``REDIS_URL``; the parent also supervises it (restarted
from its AOF when it dies, :mod:`engine.datastore.supervisor`) and stops it for good when
the server exits (SIGTERM, SIGINT). The workers find the supervisor's state through
``YUTANG_EMBEDDED_REDIS_STATE`` (for /readyz and /metrics). With several workers,
``PROMETHEUS_MULTIPROC_DIR`` is set so /metrics sums them all.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from api.auth import DEV_KEY_FILE, generate_dev_key
from engine.datastore.embedded import EmbeddedRedis
from engine.datastore.supervisor import RedisSupervisor
from engine.errors import StoreUnavailable
from engine.logs import FORMATS, log_config
from engine.logs import configure as configure_logs

#: Seconds a worker may take to answer uvicorn's health ping (its default 5 s is shorter than a cold start).
WORKER_HEALTHCHECK_S = int(os.environ.get("YUTANG_WORKER_HEALTHCHECK_S", "60"))
#: The development key (``key:tenant:scopes``) ``yutang serve`` makes when no keys are configured.


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=os.environ.get("YUTANG_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("YUTANG_PORT", "8000")))
    parser.add_argument("--workers", type=int, default=int(os.environ.get("YUTANG_WORKERS", "1")))
    parser.add_argument(
        "--data-dir", default=os.environ.get("YUTANG_DATA_DIR", "data"), help="embedded Redis data (default ./data)"
    )
    parser.add_argument("--rules", default=os.environ.get("YUTANG_RULES", "rules"), help="rule pack directory")
    parser.add_argument("--backend", default=os.environ.get("YUTANG_BACKEND"), help="durable | python")
    parser.add_argument("--log-level", default=os.environ.get("YUTANG_LOG_LEVEL", "info"))
    parser.add_argument(
        "--log-format",
        choices=FORMATS,
        default=os.environ.get("YUTANG_LOG_FORMAT") or None,
        help="json (default unless stderr is a terminal) | text; also YUTANG_LOG_FORMAT",
    )
    parser.add_argument(
        "--redis-restart-max-delay",
        type=float,
        default=float(os.environ.get("YUTANG_REDIS_RESTART_MAX_S", "30")),
        help="longest wait between two restarts of an embedded Redis that keeps dying (seconds, default 30)",
    )


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.head_limit import BoundedHeadProtocol

    log_format = configure_logs(args.log_format, args.log_level)
    if not Path(args.rules).exists():
        print(f"yutang serve: no rule pack at {args.rules!r} (use --rules DIR)", file=sys.stderr)
        return 2
    env = os.environ
    # absolute, not resolved: a reload must follow a symlink that was swapped to a new pack
    env["YUTANG_RULES"] = str(Path(args.rules).absolute())
    env["YUTANG_DATA_DIR"] = str(Path(args.data_dir).resolve())
    if args.backend:
        env["YUTANG_BACKEND"] = args.backend
    from api.services import ensure_secret_file

    if not env.get("YUTANG_API_KEYS") and not env.get("YUTANG_API_KEYS_FILE"):
        # kept in the data directory (0600), so a restart keeps the console's and the scripts' key
        key_file = Path(env["YUTANG_DATA_DIR"]) / DEV_KEY_FILE
        spec = ensure_secret_file(key_file, generate_dev_key)
        env["YUTANG_API_KEYS"] = spec
        key, tenant, scopes = spec.split(":")
        print(
            f"yutang serve: no API keys configured; development key for tenant '{tenant}' ({scopes}),"
            f" kept in {key_file}:\n\n    Authorization: Bearer {key}\n",
            file=sys.stderr,
            flush=True,
        )
    if not env.get("YUTANG_SECRET"):
        ensure_secret_file(Path(env["YUTANG_DATA_DIR"]) / "secret.key")
    supervisor = None
    metrics_dir = None
    # uvicorn re-raises SIGTERM after its graceful shutdown; with the default handler the
    # process would die before `finally` stops the embedded Redis (it leaked with one worker).
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        if not env.get("REDIS_URL"):
            try:
                supervisor = _supervised_redis(Path(env["YUTANG_DATA_DIR"]), max_delay=args.redis_restart_max_delay)
            except StoreUnavailable as err:  # the data dir is taken, the AOF does not load...
                print(f"yutang serve: cannot start the embedded Redis: {err}", file=sys.stderr)
                return 1
            env["REDIS_URL"] = supervisor.server.url
            env["YUTANG_EMBEDDED_REDIS_STATE"] = str(supervisor.state_path)
        if args.workers > 1 and not env.get("PROMETHEUS_MULTIPROC_DIR"):
            metrics_dir = tempfile.mkdtemp(prefix="yutang-metrics-")
            env["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        uvicorn.run(
            "api.app:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level=args.log_level,
            log_config=log_config(log_format, args.log_level),  # applied again in each worker process
            access_log=False,  # ours is api/request_log.py: route templates, request ids, never a client address
            http=BoundedHeadProtocol,  # 431 past 64 KiB of request line and headers (api/head_limit.py)
            timeout_graceful_shutdown=10,
            # a worker must answer uvicorn's health ping within this; a spawned worker answers only once it
            # has imported engine.cli again, which on a loaded 2-core box took longer than uvicorn's 5 s, and
            # the parent then killed and respawned every worker forever
            timeout_worker_healthcheck=WORKER_HEALTHCHECK_S,
        )
    finally:
        if supervisor is not None:
            supervisor.stop()
            env.pop("REDIS_URL", None)
            env.pop("YUTANG_EMBEDDED_REDIS_STATE", None)
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


def _supervised_redis(data_dir: Path, *, max_delay: float) -> RedisSupervisor:
    """Start the embedded Redis under a supervisor (its restarts are logged through engine.logs)."""
    logger = logging.getLogger("yutang.redis")
    supervisor = RedisSupervisor(EmbeddedRedis(data_dir), max_delay=max_delay).start()
    logger.info("embedded Redis at %s (data in %s), supervised", supervisor.server.url, data_dir)
    return supervisor


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)
