"""The installed yutang's version, from its package metadata (pyproject.toml is the one place it is written)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def installed_version() -> str:
    """``0.1.0`` as installed (``pip install -e .`` too); ``0+unknown`` when run from a bare source tree."""
    try:
        return version("yutang")
    except PackageNotFoundError:
        return "0+unknown"


__version__ = installed_version()
