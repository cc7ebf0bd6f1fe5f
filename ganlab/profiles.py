"""Run profiles: how big every notebook and preset is allowed to be.

``tiny`` is for CI (each notebook in seconds), ``default`` for a 2-core laptop CPU (minutes,
embedded data) and ``full`` for a GPU with the real data sets and the papers' settings. The
active profile comes from the ``GANLAB_PROFILE`` environment variable.
"""

from __future__ import annotations

import os

PROFILES = ("tiny", "default", "full")
ENV_VAR = "GANLAB_PROFILE"


def check_profile(name: str) -> str:
    """Return ``name`` if it is a known profile, else raise a ValueError listing the valid ones."""
    if name not in PROFILES:
        raise ValueError(
            f"unknown profile {name!r}; valid profiles are {', '.join(PROFILES)} "
            f"(set {ENV_VAR} to one of them)"
        )
    return name


def profile() -> str:
    """The active profile: ``$GANLAB_PROFILE`` or ``"default"`` when it is unset or empty."""
    return check_profile(os.environ.get(ENV_VAR, "").strip() or "default")
