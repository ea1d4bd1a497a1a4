"""Rules from a Kubernetes ConfigMap into yutang: render the ConfigMap, copy it out, reload.

A ConfigMap holds flat keys, and its volume is a tree of hidden, timestamped
directories behind symlinks, which is not a rule pack directory. So the pack lives
in the ConfigMap with ``__`` standing for ``/`` (``risk__coupons.yaml``), and this
script, in the API's own image:

- ``configmap RULES_DIR``: prints the ConfigMap manifest for a rules directory.
- ``sync SOURCE TARGET --once``: (init container) writes the pack out of the mounted
  ConfigMap ``SOURCE`` into a fresh directory and points the symlink ``TARGET`` (the
  API's ``YUTANG_RULES``) at it in one rename.
- ``sync SOURCE TARGET --reload-url URL``: (sidecar) does the same whenever the mounted
  ConfigMap changes (the kubelet updates it within about a minute of
  ``kubectl apply``), then calls ``POST /v1/rules/reload`` with an admin key
  (``YUTANG_RELOAD_KEY``). The API compiles the new pack fully, swaps it in, and
  publishes it to every worker and pod through Redis; a broken pack is refused and
  the running set stays (alert ``YutangRuleReloadFailed``).

Standard library only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

SEPARATOR = "__"
KEEP = 3  # materialized versions kept beside the current one (a reload may still read the previous)


def pack_files(rules: Path) -> dict[str, str]:
    """Every ``*.yaml`` under ``rules`` by ConfigMap key (``risk/a.yaml`` -> ``risk__a.yaml``)."""
    files = {}
    for path in sorted(rules.rglob("*")):
        if path.suffix in (".yaml", ".yml") and path.is_file():
            key = SEPARATOR.join(path.relative_to(rules).parts)
            files[key] = path.read_text(encoding="utf-8")
    return files


def render_configmap(rules: Path, name: str = "yutang-rules") -> str:
    """The ConfigMap manifest (JSON is YAML) holding the pack under ``rules``."""
    manifest = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "labels": {"app.kubernetes.io/name": "yutang", "app.kubernetes.io/component": "rules"},
        },
        "data": pack_files(rules),
    }
    return json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"


def mounted_files(source: Path) -> dict[str, str]:
    """The keys of a mounted ConfigMap (its visible top-level names), with their text."""
    return {
        entry.name: entry.read_text(encoding="utf-8")
        for entry in sorted(source.iterdir())
        if not entry.name.startswith(".") and entry.suffix in (".yaml", ".yml") and entry.is_file()
    }


def digest(files: dict[str, str]) -> str:
    sha = hashlib.sha256()
    for key in sorted(files):
        sha.update(key.encode() + b"\0" + files[key].encode() + b"\0")
    return sha.hexdigest()[:12]


def materialize(source: Path, target: Path) -> str:
    """Write the mounted pack into a new directory beside ``target``; repoint ``target`` at it."""
    files = mounted_files(source)
    version = digest(files)
    home = target.parent
    directory = home / f"pack-{version}"
    if not directory.exists():
        staging = home / f".staging-{version}-{os.getpid()}"
        for key, text in files.items():
            path = staging.joinpath(*key.split(SEPARATOR))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        staging.rename(directory)
    link = home / f".link-{os.getpid()}"
    link.unlink(missing_ok=True)
    link.symlink_to(directory.name)
    os.replace(link, target)  # atomic: a reader sees the old pack or the new one
    _prune(home, keep=directory.name)
    return version


def _prune(home: Path, keep: str) -> None:
    old = sorted((p for p in home.glob("pack-*") if p.name != keep), key=lambda p: p.stat().st_mtime)
    for path in old[:-KEEP] if len(old) > KEEP else []:
        for item in sorted(path.rglob("*"), reverse=True):
            item.rmdir() if item.is_dir() else item.unlink()
        path.rmdir()


def reload(url: str, key: str, timeout: float = 30) -> tuple[int, str]:
    """``POST /v1/rules/reload``; (status, body)."""
    headers = {"Authorization": f"Bearer {key}", "X-Yutang-Source": "sidecar"}  # the audit trail says where from
    request = urllib.request.Request(url, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def sync_once(source: Path, target: Path, url: str | None, key: str) -> tuple[str, int | None]:
    """Materialize, then ask the API to reload; (pack digest, reload status or None)."""
    version = materialize(source, target)
    if not url:
        return version, None
    status, body = reload(url, key)
    print(f"rules_sync: pack {version}: reload -> {status} {body[:2000]}", file=sys.stderr, flush=True)
    return version, status


def follow(source: Path, target: Path, url: str, key: str, interval: float) -> None:
    """Sync whenever the mounted ConfigMap changes; retry a reload the API could not answer."""
    seen = None
    while True:
        try:
            current = digest(mounted_files(source))
            if current != seen:
                _, status = sync_once(source, target, url, key)
                seen = current if status is not None and status < 500 else None
        except (OSError, urllib.error.URLError) as err:
            print(f"rules_sync: {err}; retrying", file=sys.stderr, flush=True)
            seen = None
        time.sleep(interval)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    render = commands.add_parser("configmap", help="print the ConfigMap manifest of a rules directory")
    render.add_argument("rules", type=Path)
    render.add_argument("--name", default="yutang-rules")
    sync = commands.add_parser("sync", help="copy the mounted ConfigMap to the rules path and reload")
    sync.add_argument("source", type=Path, help="where the ConfigMap is mounted")
    sync.add_argument("target", type=Path, help="the API's YUTANG_RULES (a symlink this script owns)")
    sync.add_argument("--once", action="store_true", help="copy once and exit (init container)")
    sync.add_argument("--reload-url", default=None, help="e.g. http://127.0.0.1:8000/v1/rules/reload")
    sync.add_argument("--interval", type=float, default=10.0)
    args = parser.parse_args(argv)
    if args.command == "configmap":
        sys.stdout.write(render_configmap(args.rules, args.name))
        return 0
    key = os.environ.get("YUTANG_RELOAD_KEY", "")
    if args.reload_url and not key:
        parser.error("set YUTANG_RELOAD_KEY to an API key with the admin scope")
    if args.once:
        version, status = sync_once(args.source, args.target, args.reload_url, key)
        print(f"rules_sync: pack {version} at {args.target}", file=sys.stderr)
        return 0 if status is None or status < 400 else 1
    follow(args.source, args.target, args.reload_url, key, args.interval)
    return 0


if __name__ == "__main__":
    sys.exit(main())
