"""The small generators that ship with ganlab: list, load and export them.

Each ``<name>.pt`` in this folder holds one generator's weights (float16) and the ``RunConfig``
that built it; ``manifest.json`` records, for each, the exact ``ganlab train`` command, steps,
size and SHA-256 (see README.md here). :func:`load_pretrained` reads a file with
``torch.load(weights_only=True)``, which runs no pickled code; :func:`export_pretrained` writes
one from a run directory (``scripts/train_pretrained.sh`` re-creates them all).

Why it lives here: the registry and the files it describes belong together, and loading a
generator needs neither widgets nor latent-space mathematics.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

__all__ = [
    "MANIFEST_NAME",
    "PRETRAINED_DIR",
    "PRETRAINED_FORMAT",
    "PRETRAINED_VERSION",
    "Pretrained",
    "export_pretrained",
    "load_pretrained",
    "pretrained_names",
]

PRETRAINED_DIR = Path(__file__).resolve().parent
MANIFEST_NAME = "manifest.json"
PRETRAINED_FORMAT = "ganlab-pretrained"
PRETRAINED_VERSION = 1


@dataclass
class Pretrained:
    """A generator shipped with ganlab: its name, config, G (float32, eval mode) and manifest."""

    name: str
    config: Any
    G: nn.Module
    info: dict[str, Any] = field(default_factory=dict)


def _manifest(directory: Path = PRETRAINED_DIR) -> dict[str, Any]:
    path = directory / MANIFEST_NAME
    if not path.is_file():
        return {"models": {}}
    return json.loads(path.read_text())


def pretrained_names(directory: str | os.PathLike | None = None) -> list[str]:
    """Names of the generators in ``ganlab/pretrained`` (see its README.md)."""
    return sorted(_manifest(Path(directory) if directory else PRETRAINED_DIR)["models"])


def load_pretrained(name: str, device: str | torch.device = "cpu",
                    directory: str | os.PathLike | None = None) -> Pretrained:
    """Load a shipped generator with ``torch.load(weights_only=True)``; weights become float32."""
    from ganlab.checkpoint import CheckpointError
    from ganlab.config import RunConfig
    from ganlab.models import build_generator

    directory = Path(directory) if directory else PRETRAINED_DIR
    models = _manifest(directory)["models"]
    if name not in models:
        raise ValueError(f"no pretrained generator {name!r}; available: "
                         f"{', '.join(sorted(models)) or 'none'} (scripts/train_pretrained.sh "
                         "makes them)")
    info = models[name]
    path = directory / info["file"]
    if not path.is_file():
        raise CheckpointError(f"{path} is missing: the manifest lists it for {name!r}; restore "
                              "the file (git checkout ganlab/pretrained) or re-create it with "
                              "scripts/train_pretrained.sh")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - a file that will not unpickle as weights is unusable
        detail = (str(err).splitlines() or ["no detail"])[0][:120]
        raise CheckpointError(f"{path} cannot be read as a ganlab pretrained generator "
                              f"({type(err).__name__}: {detail}); it is corrupt or not what "
                              "its name says (files that ask to run code are refused): "
                              "restore it or re-create it with "
                              "scripts/train_pretrained.sh") from None
    if not isinstance(state, dict) or state.get("format") != PRETRAINED_FORMAT:
        raise CheckpointError(f"{path} is not a ganlab pretrained generator")
    try:
        config = RunConfig.from_dict(state["config"])
        G = build_generator(config.arch)
        weights = {k: v.float() if v.is_floating_point() else v for k, v in state["G"].items()}
        G.load_state_dict(weights)
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as err:
        raise CheckpointError(f"{path} is a ganlab pretrained file with a broken config or weights "
                              f"({type(err).__name__}: {err}); re-create it with "
                              "scripts/train_pretrained.sh") from None
    return Pretrained(name, config, G.to(device).eval().requires_grad_(False), dict(info))


def export_pretrained(run_dir: str | os.PathLike, name: str, command: str,
                      directory: str | os.PathLike | None = None,
                      dtype: torch.dtype = torch.float16, ema: bool = True,
                      **notes: Any) -> Path:
    """Write G's weights (the EMA copy when the run kept one and ``ema``) and the run's config
    as ``<name>.pt``, and record it with the command that trained it in ``manifest.json``.

    Only the generator is kept, in ``dtype`` (float16 halves the files); no optimiser, no D.
    """
    from ganlab import checkpoint as ckpt

    directory = Path(directory) if directory else PRETRAINED_DIR
    directory.mkdir(parents=True, exist_ok=True)
    state = ckpt.load_checkpoint(Path(run_dir))
    ema = ema and state.get("G_ema") is not None
    g_state = state["G_ema"] if ema else state["G"]
    weights = {k: v.to(dtype) if v.is_floating_point() else v for k, v in g_state.items()}
    out = {"format": PRETRAINED_FORMAT, "version": PRETRAINED_VERSION,
           "config": state["config"], "G": weights, "step": int(state["step"]),
           "images_seen": int(state["images_seen"])}
    path = directory / f"{name}.pt"
    buffer = io.BytesIO()  # not a named file: torch.save would record its name in the archive
    torch.save(out, buffer)
    ckpt.atomic_write_bytes(path, buffer.getvalue())
    arch = state["config"]["arch"]
    manifest = _manifest(directory)
    manifest["models"][name] = {
        "file": path.name,
        "model": state["config"]["model"],
        "data": state["config"]["data"]["name"],
        "resolution": arch["resolution"] if "resolution" in arch else None,
        "latent_dim": arch["latent_dim"],
        "stored_values": sum(v.numel() for v in g_state.values() if v.is_floating_point()),
        "weights": "G_ema" if ema else "G",
        "dtype": str(dtype).replace("torch.", ""),
        "step": int(state["step"]),
        "images_seen": int(state["images_seen"]),
        "train_seconds": round(float(state.get("elapsed", 0.0)), 1),
        "command": command,
        "bytes": path.stat().st_size,
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "torch": torch.__version__.split("+")[0],
        **notes,
    }
    manifest["models"] = dict(sorted(manifest["models"].items()))
    ckpt.atomic_write_bytes(directory / MANIFEST_NAME,
                            (json.dumps(manifest, indent=2) + "\n").encode())
    return path

