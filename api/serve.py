"""``yutang serve``: uvicorn workers sharing one Redis, embedded unless ``REDIS_URL`` is set.

The embedded redis-server is started once, here in the parent, and its socket URL
handed to the workers through ``REDIS_URL``; it stops when the server exits. With
several workers, ``PROMETHEUS_MULTIPROC_DIR`` is set so /metrics sums them all.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from api.auth import generate_dev_key
from engine.redis_embedded import EmbeddedRedis


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


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    if not Path(args.rules).exists():
        print(f"yutang serve: no rule pack at {args.rules!r} (use --rules DIR)", file=sys.stderr)
        return 2
    env = os.environ
    # absolute, not resolved: a reload must follow a symlink that was swapped to a new pack
    env["YUTANG_RULES"] = str(Path(args.rules).absolute())
    env["YUTANG_DATA_DIR"] = str(Path(args.data_dir).resolve())
    if args.backend:
        env["YUTANG_BACKEND"] = args.backend
    if not env.get("YUTANG_API_KEYS") and not env.get("YUTANG_API_KEYS_FILE"):
        spec = generate_dev_key()
        env["YUTANG_API_KEYS"] = spec
        key, tenant, scopes = spec.split(":")
        print(
            f"yutang serve: no API keys configured; development key for tenant '{tenant}' ({scopes}):\n\n"
            f"    Authorization: Bearer {key}\n",
            file=sys.stderr,
            flush=True,
        )
    from api.services import ensure_secret_file

    if not env.get("YUTANG_SECRET"):
        ensure_secret_file(Path(env["YUTANG_DATA_DIR"]) / "secret.key")
    embedded = None
    metrics_dir = None
    # uvicorn re-raises SIGTERM after its graceful shutdown; with the default handler the
    # process would die before `finally` stops the embedded Redis (it leaked with one worker).
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        if not env.get("REDIS_URL"):
            embedded = EmbeddedRedis(env["YUTANG_DATA_DIR"]).start()
            env["REDIS_URL"] = embedded.url
            print(
                f"yutang serve: embedded Redis at {embedded.url} (data in {env['YUTANG_DATA_DIR']})",
                file=sys.stderr,
                flush=True,
            )
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
            access_log=False,
            timeout_graceful_shutdown=10,
        )
    finally:
        if embedded is not None:
            embedded.stop()
            env.pop("REDIS_URL", None)
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)
