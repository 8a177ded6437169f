"""Run profiles: ``quick`` (CI, tests, laptops: small sizes, minutes) and ``paper`` (papers' sizes).

The environment variable ``DNC_PROFILE`` is read here and nowhere else. Each experiment module
keeps its own pair of settings and picks one with :func:`choose`.
"""

from __future__ import annotations

import os

PROFILES = ("quick", "paper")
DEFAULT = "quick"


def current(profile: str | None = None) -> str:
    """The active profile: ``profile`` if given, else ``$DNC_PROFILE``, else ``quick``."""
    name = profile if profile is not None else os.environ.get("DNC_PROFILE", DEFAULT)
    name = name.strip().lower()
    if name not in PROFILES:
        raise ValueError(
            f"unknown profile {name!r}: DNC_PROFILE (or profile=) must be one of {PROFILES}"
        )
    return name


def choose(quick, paper, profile: str | None = None):
    """Return ``quick`` or ``paper`` according to the active profile."""
    return paper if current(profile) == "paper" else quick
