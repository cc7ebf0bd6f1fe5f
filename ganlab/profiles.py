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


def choose_profile(gpu: bool | None = None, announce: bool = True) -> str:
    """The profile a notebook's first cell runs with, printed with the reason for it.

    ``$GANLAB_PROFILE`` when it is set; otherwise ``full`` on a machine with a CUDA GPU (Colab,
    a GPU server) and ``default`` on a CPU. The choice is written back to ``$GANLAB_PROFILE`` so
    that every later ``profile()`` and ``preset()`` in the kernel agrees. ``gpu`` overrides the
    detection (torch is imported only when it is needed).
    """
    given = os.environ.get(ENV_VAR, "").strip()
    if given:
        name, why = check_profile(given), f"from ${ENV_VAR}"
    else:
        if gpu is None:
            import torch

            gpu = torch.cuda.is_available()
        name = "full" if gpu else "default"
        why = (f"${ENV_VAR} is unset and {'a CUDA GPU is' if gpu else 'no GPU is'} available"
               + ("; full trains the papers' sizes on real data sets (downloaded on first use)"
                  if gpu else ""))
        os.environ[ENV_VAR] = name
    if announce:
        print(f"profile {name!r} ({why}; set ${ENV_VAR} to {', '.join(PROFILES)} to choose)")
    return name
