"""Latent-space exploration: pure rendering functions, and thin ipywidgets views over them.

The pure part (torch and Pillow only) turns latents into pictures and paths through latent space:
:func:`render_png` is ``(G, z) -> PNG bytes`` with one batched forward pass in eval mode and no
autograd; :func:`lerp`, :func:`slerp` and :func:`interpolate` build walks; :func:`vector_arithmetic`
is the DCGAN paper's ``A - B + C`` (Radford et al., 2016, Sec. 6.3); :func:`principal_directions`
finds directions worth walking along (GANSpace, Härkönen et al., 2020). A sample is identified by
its seed: seed ``s`` is ``ganlab.training.sample_z(1, latent_dim, seed=s)``.

:class:`LatentExplorer` is the interactive view. Every control is an ipywidget whose observer
recomputes a latent batch and shows :func:`render_png` of it in an ``ipywidgets.Image``, so the
pieces can be driven and tested from Python by setting ``.value``. ipywidgets is imported only
when an explorer is built.

Small pretrained generators ship in ``ganlab/pretrained/`` (:func:`load_pretrained`,
:func:`pretrained_names`); ``scripts/train_pretrained.sh`` re-creates them with ``ganlab train``.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import json
import math
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganlab.training import sample_z

__all__ = [
    "ArithmeticResult",
    "Directions",
    "LatentExplorer",
    "Pretrained",
    "export_pretrained",
    "generate",
    "interpolate",
    "lerp",
    "load_pretrained",
    "path_through",
    "png_grid",
    "pretrained_names",
    "principal_directions",
    "render_png",
    "seeds_to_z",
    "slerp",
    "vector_arithmetic",
    "walk_gif",
    "walk_strip_png",
]

PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"
MANIFEST_NAME = "manifest.json"
PRETRAINED_FORMAT = "ganlab-pretrained"
PRETRAINED_VERSION = 1
MODES = ("lerp", "slerp")


# ------------------------------------------------------------------------------ latent paths
def _t_tensor(t: float | Sequence[float] | torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(t, dtype=like.dtype, device=like.device)


def _check_pair(z0: torch.Tensor, z1: torch.Tensor) -> None:
    if not isinstance(z0, torch.Tensor) or not isinstance(z1, torch.Tensor):
        raise TypeError("z0 and z1 must be tensors")
    if z0.shape != z1.shape or z0.ndim == 0:
        raise ValueError(f"z0 and z1 must be latents of the same shape (D,) or (B, D), got "
                         f"{tuple(z0.shape)} and {tuple(z1.shape)}")


def lerp(z0: torch.Tensor, z1: torch.Tensor,
         t: float | Sequence[float] | torch.Tensor) -> torch.Tensor:
    """Linear interpolation ``(1 - t) z0 + t z1``.

    ``z0``, ``z1``: ``(D,)`` or ``(B, D)``. A scalar ``t`` gives the shape of ``z0``; ``T``
    values of ``t`` give ``(T, *z0.shape)``.
    """
    _check_pair(z0, z1)
    tt = _t_tensor(t, z0)
    if tt.ndim == 1:
        tt = tt.view(-1, *([1] * z0.ndim))  # (T, 1, ...) broadcasts over z's shape
    return z0 + tt * (z1 - z0)


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: float | Sequence[float] | torch.Tensor,
          eps: float = 1e-5) -> torch.Tensor:
    """Spherical interpolation along the great circle from ``z0`` to ``z1`` (Shoemake, 1985).

    ``sin((1 - t) omega) / sin(omega) z0 + sin(t omega) / sin(omega) z1`` with ``omega`` the angle
    between them, as proposed for GAN latents by White (2016, "Sampling generative networks").
    A Gaussian latent in D dimensions has norm close to ``sqrt(D)``; lerp's midpoint is shorter
    (``sqrt(D / 2)`` for orthogonal endpoints), a region G never saw in training, while slerp
    keeps the norm. For (nearly) parallel or opposite vectors, ``1 - |cos omega| < eps``, the
    great circle is numerically ill-defined (float32 resolves cos only to about 6e-8) and lerp
    is returned instead. Shapes as in :func:`lerp`.
    """
    _check_pair(z0, z1)
    tt = _t_tensor(t, z0)
    if tt.ndim == 1:
        tt = tt.view(-1, *([1] * z0.ndim))  # (T, 1, ...)
    u0 = z0 / z0.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    u1 = z1 / z1.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    cos = (u0 * u1).sum(-1, keepdim=True).clamp(-1.0, 1.0)  # (..., 1)
    omega = torch.acos(cos)
    sin = torch.sin(omega)
    degenerate = (1 - cos.abs()) < eps
    safe = torch.where(degenerate, torch.ones_like(sin), sin)
    w0 = torch.sin((1 - tt) * omega) / safe
    w1 = torch.sin(tt * omega) / safe
    spherical = w0 * z0 + w1 * z1
    return torch.where(degenerate, lerp(z0, z1, t), spherical)


def interpolate(z0: torch.Tensor, z1: torch.Tensor, steps: int,
                mode: str = "slerp") -> torch.Tensor:
    """``steps`` latents from ``z0`` to ``z1`` inclusive, ``(steps, *z0.shape)``."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
        raise ValueError(f"steps must be an integer >= 2 (both endpoints), got {steps!r}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    t = torch.linspace(0.0, 1.0, steps, dtype=z0.dtype)
    return (slerp if mode == "slerp" else lerp)(z0, z1, t)


def path_through(keyframes: torch.Tensor, steps: int, mode: str = "slerp") -> torch.Tensor:
    """A walk through ``K >= 2`` latents ``(K, D)``: ``steps`` frames per leg, joints shared.

    Returns ``((K - 1) * (steps - 1) + 1, D)``; the first and last frames are the first and last
    keyframes exactly.
    """
    if keyframes.ndim != 2 or keyframes.shape[0] < 2:
        raise ValueError(f"expected at least two keyframes of shape (K, D), got "
                         f"{tuple(keyframes.shape)}")
    legs = [interpolate(keyframes[i], keyframes[i + 1], steps, mode)
            for i in range(keyframes.shape[0] - 1)]
    frames = [legs[0]] + [leg[1:] for leg in legs[1:]]
    return torch.cat(frames)  # (F, D)


def seeds_to_z(seeds: Iterable[int], latent_dim: int) -> torch.Tensor:
    """One latent per seed, ``(len(seeds), latent_dim)``: row i is ``sample_z(1, D, seeds[i])``."""
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("need at least one seed")
    if any(s < 0 for s in seeds):
        raise ValueError(f"seeds must be integers >= 0, got {seeds}")
    return torch.cat([sample_z(1, latent_dim, seed=s) for s in seeds])


# ------------------------------------------------------------------------------ rendering
def _device_of(G: nn.Module) -> torch.device:
    p = next(G.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def _target_resolution(G: nn.Module) -> int | None:
    return getattr(getattr(G, "config", None), "resolution", None)


def generate(G: nn.Module, z: torch.Tensor, **g_kwargs: Any) -> torch.Tensor:
    """Images ``G(z, **g_kwargs)`` on the CPU, float32: eval mode, no autograd, one forward.

    ``g_kwargs`` are ``stage``/``alpha`` for ProGAN; an early stage's small images are
    upsampled (nearest) to the target resolution, so every stage shows at the same size.
    G's train/eval mode is restored afterwards.
    """
    if not isinstance(z, torch.Tensor) or z.ndim != 2:
        got = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
        raise ValueError(f"expected a batch of latents z of shape (B, D), got {got}")
    was_training = G.training
    G.eval()
    try:
        with torch.inference_mode():
            x = G(z.to(_device_of(G)), **g_kwargs).float()  # (B, C, r, r)
    finally:
        G.train(was_training)
    if x.ndim != 4:
        raise ValueError(f"this generator makes tensors of shape {tuple(x.shape)}, not images "
                         "(B, C, H, W); the latent explorer needs an image model")
    res = _target_resolution(G)
    side = x.shape[-1]
    if res is not None and side < res and res % side == 0:
        x = torch.nn.functional.interpolate(x, scale_factor=res // side, mode="nearest")
    return x.cpu()


def png_grid(images: torch.Tensor, nrow: int | None = None, scale: int = 1,
             padding: int = 2) -> bytes:
    """Images in [-1, 1] as a PNG grid (``ganlab.viz.grid``), encoded for speed.

    zlib level 1 instead of Pillow's default 6: for a 4x4 page of 64x64 samples the default took
    about as long as G's forward pass, level 1 a third of that, for a file 10-20% larger.
    """
    from ganlab.viz import png_bytes

    return png_bytes(images, nrow=nrow, scale=scale, padding=padding, compress_level=1)


def render_png(G: nn.Module, z: torch.Tensor, nrow: int | None = None, scale: int = 1,
               padding: int = 2, **g_kwargs: Any) -> bytes:
    """``(G, z) -> PNG bytes`` of the grid of ``G(z)``: the function every widget view shows."""
    return png_grid(generate(G, z, **g_kwargs), nrow=nrow, scale=scale, padding=padding)


def walk_strip_png(G: nn.Module, path: torch.Tensor, scale: int = 1, **g_kwargs: Any) -> bytes:
    """A walk ``(F, D)`` as one PNG row of ``F`` images (for papers, READMEs and GitHub)."""
    return render_png(G, path, nrow=path.shape[0], scale=scale, **g_kwargs)


def walk_gif(G: nn.Module, path: torch.Tensor, scale: int = 2, duration_ms: int = 80,
             bounce: bool = True, **g_kwargs: Any) -> bytes:
    """A walk ``(F, D)`` as an animated GIF, one image per frame (there and back if ``bounce``)."""
    from ganlab.viz import gif_bytes

    images = generate(G, path, **g_kwargs)  # (F, C, H, W), one batched forward
    frames = [images[i:i + 1] for i in range(images.shape[0])]
    if bounce and len(frames) > 2:
        frames = frames + frames[-2:0:-1]
    return gif_bytes(frames, nrow=1, scale=scale, duration_ms=duration_ms)


# ------------------------------------------------------------------------------ arithmetic
@dataclass
class ArithmeticResult:
    """``z = mean(A) - mean(B) + mean(C)`` and the neighbours of ``z``.

    ``neighbours`` (N, D) are ``z`` plus uniform noise in ``[-noise, noise]`` per coordinate, as in
    the DCGAN paper's Fig. 7; row 0 is ``z`` itself.
    """

    mean_a: torch.Tensor
    mean_b: torch.Tensor
    mean_c: torch.Tensor
    z: torch.Tensor
    neighbours: torch.Tensor


def _latent_dim(source: Any) -> int:
    if isinstance(source, int) and not isinstance(source, bool):
        return source
    dim = getattr(source, "latent_dim", None)
    if dim is None:
        raise TypeError(f"expected a latent dimension or a generator with .latent_dim, got "
                        f"{type(source).__name__}")
    return int(dim)


def vector_arithmetic(source: int | nn.Module, seeds_a: Sequence[int], seeds_b: Sequence[int],
                      seeds_c: Sequence[int], neighbours: int = 9, noise: float = 0.25,
                      seed: int = 0) -> ArithmeticResult:
    """Latent vector arithmetic (Radford et al., 2016, Sec. 6.3): average each group of seeds.

    Single samples are noisy; the paper averages three samples per concept before computing
    ``A - B + C`` ("smiling woman - neutral woman + neutral man"). ``source`` is the latent
    dimension or a generator.
    """
    dim = _latent_dim(source)
    groups = [seeds_to_z(s, dim).mean(0) for s in (seeds_a, seeds_b, seeds_c)]  # 3 x (D,)
    z = groups[0] - groups[1] + groups[2]
    if neighbours < 1:
        raise ValueError(f"neighbours must be >= 1 (the result itself), got {neighbours}")
    gen = torch.Generator().manual_seed(seed)
    jitter = (torch.rand(neighbours - 1, dim, generator=gen) * 2 - 1) * noise
    near = torch.cat([z[None], z[None] + jitter])  # (N, D), row 0 is z
    return ArithmeticResult(*groups, z=z, neighbours=near)


# ------------------------------------------------------------------------------ directions
@dataclass
class Directions:
    """Unit directions in latent space, ``vectors`` (K, D), best first.

    ``explained`` is the fraction of the variance (of the features, or of z for ``"latent"``)
    along each principal axis; ``space`` says where the PCA was done.
    """

    vectors: torch.Tensor
    explained: torch.Tensor
    space: str
    layer: str | None = None


def _default_feature_layer(G: nn.Module) -> tuple[str, nn.Module]:
    """The first block's output: DCGAN's 4x4 feature maps, ProGAN's ``blocks["4x4"]``."""
    if hasattr(G, "blocks") and "4x4" in getattr(G, "blocks", {}):
        return 'blocks["4x4"]', G.blocks["4x4"]
    net = getattr(G, "net", None)
    if isinstance(net, nn.Sequential):
        for i, m in enumerate(net):
            if isinstance(m, (nn.ReLU, nn.LeakyReLU)):
                return f"net[{i}]", m
    raise ValueError(f"don't know which layer of {type(G).__name__} to use for features; "
                     "pass layer=<a submodule of G>")


class _StopForward(Exception):
    pass


def principal_directions(G: nn.Module, k: int = 4, space: str = "feature", n: int = 256,
                         seed: int = 0, layer: nn.Module | None = None) -> Directions:
    """The top ``k`` principal directions, as unit vectors in latent space.

    ``space="latent"``: PCA of ``n`` latents themselves. For z ~ N(0, I) every direction has the
    same variance, so these axes are arbitrary: a lesson, not a tool.

    ``space="feature"`` (GANSpace, Härkönen et al., 2020, Sec. 3.1 for BigGAN): PCA of G's
    features at ``layer`` (default: the first block), where the variance is far from isotropic;
    each principal axis is transferred to latent space by regressing z on the PCA coordinates,
    ``min_V sum ||V x_i - z_i||^2``, and the columns of V (normalised) are the directions.
    """
    if space not in ("feature", "latent"):
        raise ValueError(f"space must be 'feature' or 'latent', got {space!r}")
    dim = _latent_dim(G)
    if not 1 <= k <= dim:
        raise ValueError(f"k must be in [1, {dim}], got {k}")
    z = sample_z(n, dim, seed=seed)  # (n, D)
    if space == "latent":
        zc = z - z.mean(0)
        _, s, vh = torch.linalg.svd(zc, full_matrices=False)
        var = s**2
        return Directions(vh[:k].contiguous(), (var / var.sum())[:k], "latent")

    name = None
    if layer is None:
        name, layer = _default_feature_layer(G)
    captured: list[torch.Tensor] = []

    def hook(module: nn.Module, inputs: Any, out: torch.Tensor) -> None:
        captured.append(out.detach().float().cpu())
        raise _StopForward  # the layers after this one are not needed

    handle = layer.register_forward_hook(hook)
    try:
        generate(G, z)
    except _StopForward:
        pass
    finally:
        handle.remove()
    if not captured:
        raise ValueError("the feature layer was not used by G's forward pass")
    y = captured[0].flatten(1).double()  # (n, F)
    yc = y - y.mean(0)
    x, var = _pca_coordinates(yc, k)  # (n, k), (k,)
    v = torch.linalg.lstsq(x, z.double()).solution  # (k, D): z ~ x @ v
    v = v / v.norm(dim=1, keepdim=True).clamp_min(1e-12)
    explained = var / yc.pow(2).sum()
    return Directions(v.float().contiguous(), explained.float(), "feature", name)


def _pca_coordinates(yc: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-``k`` PCA coordinates ``(n, k)`` of centred rows ``yc`` (n, F) and their variances.

    Through the smaller of the two Gram matrices (``yc yc^T`` when n <= F, else ``yc^T yc``):
    the same numbers as an SVD of ``yc``, for much less work when F is large.
    """
    n, f = yc.shape
    if n <= f:
        evals, evecs = torch.linalg.eigh(yc @ yc.T)  # ascending; yc = U S V^T, yc yc^T = U S^2 U^T
        top = evals.flip(0)[:k].clamp_min(0)
        x = evecs.flip(1)[:, :k] * top.sqrt()  # U S
    else:
        evals, evecs = torch.linalg.eigh(yc.T @ yc)  # V S^2 V^T
        top = evals.flip(0)[:k].clamp_min(0)
        x = yc @ evecs.flip(1)[:, :k]  # yc V
    return x, top


# ------------------------------------------------------------------------------ pretrained
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
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or state.get("format") != PRETRAINED_FORMAT:
        raise ValueError(f"{path} is not a ganlab pretrained generator")
    config = RunConfig.from_dict(state["config"])
    G = build_generator(config.arch)
    weights = {k: v.float() if v.is_floating_point() else v for k, v in state["G"].items()}
    G.load_state_dict(weights)
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


# ------------------------------------------------------------------------------ the explorer
def _parse_seeds(text: str) -> list[int]:
    """``"1, 2, 3"`` or ``"1 2 3"`` -> ``[1, 2, 3]``; ValueError with the offending part."""
    seeds = []
    for part in text.replace(",", " ").split():
        if not part.isdigit():
            raise ValueError(f"seeds are integers >= 0 separated by commas; {part!r} is not one")
        seeds.append(int(part))
    return seeds


def _resolve_source(source: Any) -> tuple[nn.Module, Any, str]:
    """(G, config or None, description) for a run dir, pretrained name, LoadedRun, Trainer or G."""
    from ganlab.training import LoadedRun, Trainer, load_run

    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.exists():
            run = load_run(path)
            return run.G, run.config, f"run {path} (step {run.step})"
        if str(source) in pretrained_names():
            p = load_pretrained(str(source))
            return p.G, p.config, f"pretrained {p.name}"
        raise ValueError(f"{source!r} is neither a run directory nor a pretrained generator "
                         f"({', '.join(pretrained_names())})")
    if isinstance(source, Pretrained):
        return source.G, source.config, f"pretrained {source.name}"
    if isinstance(source, LoadedRun):
        return source.G, source.config, f"run at step {source.step}"
    if isinstance(source, Trainer):
        G = source.ema.model if source.ema is not None else source.G
        return G, source.config, f"trainer at step {source.step}"
    if isinstance(source, nn.Module):
        if not hasattr(source, "latent_dim"):
            raise TypeError(f"{type(source).__name__} has no .latent_dim; pass a ganlab "
                            "generator")
        return source, None, type(source).__name__
    raise TypeError(f"cannot explore a {type(source).__name__}: pass a run directory, a "
                    "pretrained name, a LoadedRun, a Trainer or a generator")


@contextlib.contextmanager
def _torch_threads(n: int | None):
    """Run torch's CPU kernels on ``n`` threads inside the block (None: leave it alone)."""
    previous = torch.get_num_threads()
    if n is None or n == previous:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _render_copy(G: nn.Module) -> nn.Module:
    """A frozen eval-mode copy of G for rendering: a snapshot that training cannot disturb.

    Transposed convolutions run faster on the CPU in channels-last layout (about 15% for the
    64x64 DCGAN here); the numbers it computes are the same model's.
    """
    G = copy.deepcopy(G).eval().requires_grad_(False)
    if any(isinstance(m, nn.ConvTranspose2d) for m in G.modules()):
        G = G.to(memory_format=torch.channels_last)
    return G


class LatentExplorer:
    """Interactive latent-space walks over a ganlab generator (thin views over ``render_png``).

    ``source``: a run directory, a pretrained name (:func:`pretrained_names`), a
    ``LoadedRun``, a ``Trainer`` (its EMA generator if it has one) or a generator module. The
    explorer renders a frozen copy, ``explorer.G``: a snapshot of a run still training.

    Tabs: *Samples* (a page of seeds; toggle two or more to walk between), *Walk* (lerp/slerp,
    steps, a frame slider with a Play button, PNG/GIF export), *Directions* (single latent
    coordinates and principal directions, applied to the whole page), *Arithmetic* (A - B + C
    over groups of seeds) and, for ProGAN, *Growth* (stage and alpha). Each control's
    observer sets the matching ``ipywidgets.Image`` to ``render_png`` of the latents shown by
    the methods ``page_z()``, ``walk_z()``, ``frame_z()``, ``directions_z()``, ``arithmetic()``
    (with ``growth_kwargs()`` for ProGAN). Pictures on a hidden tab are rendered when it is
    opened (``explorer.tabs.selected_index``), so a slider move costs one batched forward pass.

    ``render_threads``: torch threads while rendering (None: torch's own setting). One thread
    is the default because a page of 16 small images is too little work to share: on the
    2-core CPU this was written on, a 4x4 page of 64x64 DCGAN samples re-rendered in a median
    24 ms on one thread and 22 ms on two when the machine was quiet, but 53 ms and 141 ms while
    other programs kept both cores busy.
    """

    def __init__(self, source: Any, first_seed: int = 0, nrow: int = 4,
                 chosen: Sequence[int] = (0, 1), steps: int = 8, mode: str = "slerp",
                 n_dims: int = 3, n_directions: int = 3,
                 direction_space: str = "feature", scale: int | None = None,
                 out_dir: str | os.PathLike = ".", render_threads: int | None = 1) -> None:
        G, self.config, self.description = _resolve_source(source)
        self.G = _render_copy(G)
        self.latent_dim = int(self.G.latent_dim)
        self.render_threads = render_threads
        self.nrow = nrow
        self.out_dir = Path(out_dir)
        res = _target_resolution(self.G) or 64
        self.scale = scale if scale is not None else max(1, 64 // res)
        self.frame_scale = 3 * self.scale  # the Walk tab's current frame, shown large
        gconf = getattr(self.G, "config", None)
        self.is_progan = getattr(gconf, "family", None) == "progan"
        self.num_stages = gconf.num_stages if self.is_progan else None
        self.directions = principal_directions(self.G, k=n_directions, space=direction_space)
        self.n_dims = n_dims
        self.last_render_ms: dict[str, float] = {}
        self._build(first_seed, list(chosen), steps, mode)

    # ---------------------------------------------------------------- latents (pure views)
    def page_seeds(self) -> list[int]:
        first = self.first_seed.value
        return list(range(first, first + self.nrow * self.nrow))

    def page_z(self) -> torch.Tensor:
        return seeds_to_z(self.page_seeds(), self.latent_dim)  # (nrow^2, D)

    def chosen_seeds(self) -> list[int]:
        return _parse_seeds(self.chosen.value)

    def walk_z(self) -> torch.Tensor:
        """The whole walk through the chosen seeds, ``(F, D)``."""
        seeds = self.chosen_seeds()
        if len(seeds) < 2:
            raise ValueError("choose at least two seeds to walk between")
        keys = seeds_to_z(seeds, self.latent_dim)
        return path_through(keys, self.steps.value, self.mode.value)

    def frame_z(self) -> torch.Tensor:
        return self.walk_z()[self.frame.value][None]  # (1, D)

    def offset(self) -> torch.Tensor:
        """The latent offset the Directions sliders add, ``(D,)``."""
        delta = torch.zeros(self.latent_dim)
        for d, s in zip(range(self.n_dims), self.dim_sliders):
            delta[d] += s.value
        for v, s in zip(self.directions.vectors, self.dir_sliders):
            delta += s.value * v
        return delta

    def directions_z(self) -> torch.Tensor:
        return self.page_z() + self.offset()  # (nrow^2, D)

    def arithmetic(self) -> ArithmeticResult:
        return vector_arithmetic(self.latent_dim, *(_parse_seeds(w.value) for w in self.groups))

    def growth_kwargs(self) -> dict[str, Any]:
        return {"stage": self.stage.value, "alpha": self.alpha.value} if self.is_progan else {}

    # ---------------------------------------------------------------- rendering
    def _render(self, key: str, z: torch.Tensor, nrow: int | None = None,
                scale: int | None = None, **g_kwargs: Any) -> bytes:
        start = time.perf_counter()
        with _torch_threads(self.render_threads):
            png = render_png(self.G, z, nrow=nrow, scale=scale or self.scale, **g_kwargs)
        self.last_render_ms[key] = (time.perf_counter() - start) * 1000
        return png

    def walk_png(self) -> bytes:
        """The current walk as a PNG strip."""
        return walk_strip_png(self.G, self.walk_z(), scale=self.scale)

    def walk_gif(self, duration_ms: int = 80) -> bytes:
        """The current walk as an animated GIF."""
        return walk_gif(self.G, self.walk_z(), scale=max(2, self.scale), duration_ms=duration_ms)

    def save_walk(self, stem: str | os.PathLike = "latent_walk") -> tuple[Path, Path]:
        """Write ``<stem>.png`` (strip) and ``<stem>.gif`` under ``out_dir``; returns the paths."""
        base = self.out_dir / Path(stem)
        base.parent.mkdir(parents=True, exist_ok=True)
        png, gif = base.with_suffix(".png"), base.with_suffix(".gif")
        png.write_bytes(self.walk_png())
        gif.write_bytes(self.walk_gif())
        return png, gif

    # ---------------------------------------------------------------- widgets
    def _build(self, first_seed: int, chosen: list[int], steps: int, mode: str) -> None:
        import ipywidgets as W

        slow = dict(continuous_update=False)  # grids re-render once, when the slider is let go

        def picture() -> W.Image:  # shown at its own size, not stretched to the tab's width
            return W.Image(format="png", layout=W.Layout(align_self="flex-start"))

        self.status = W.HTML()

        # Samples: a page of seeds, toggles to choose the walk's keyframes.
        self.first_seed = W.BoundedIntText(value=first_seed, min=0, max=2**31 - 1,
                                           description="first seed", **slow)
        self.page_image = picture()
        self.toggles = [W.ToggleButton(layout=W.Layout(width="auto")) for _ in
                        range(self.nrow * self.nrow)]
        self.chosen = W.Text(value=", ".join(map(str, chosen)), description="walk seeds",
                             continuous_update=False)
        toggle_grid = W.GridBox(self.toggles, layout=W.Layout(
            grid_template_columns=f"repeat({self.nrow}, 1fr)", width="280px"))
        samples = W.VBox([W.HBox([self.first_seed, self.chosen]),
                          W.HBox([self.page_image, toggle_grid])])

        # Walk: lerp / slerp between the chosen seeds, a frame slider driven by Play.
        self.mode = W.ToggleButtons(options=MODES, value=mode, description="mode")
        self.steps = W.IntSlider(value=steps, min=2, max=64, description="steps", **slow)
        # One image per frame is cheap: the frame follows the slider while it moves.
        self.frame = W.IntSlider(value=0, min=0, max=1, description="frame")
        self.play = W.Play(value=0, min=0, max=1, interval=120, description="play")
        W.link((self.play, "value"), (self.frame, "value"))
        W.link((self.play, "max"), (self.frame, "max"))
        self.frame_image = picture()
        self.strip_image = picture()
        self.export_stem = W.Text(value="latent_walk", description="file stem")
        self.export_button = W.Button(description="export PNG + GIF", icon="download",
                                      layout=W.Layout(width="auto"))
        self.export_button.on_click(lambda _: self._export())
        walk = W.VBox([W.HBox([self.mode, self.steps]), W.HBox([self.play, self.frame]),
                       self.frame_image, self.strip_image,
                       W.HBox([self.export_stem, self.export_button])])

        # Directions: a few latent coordinates and the top principal directions.
        self.dim_sliders = [W.FloatSlider(value=0.0, min=-3.0, max=3.0, step=0.25,
                                          description=f"z[{d}] +", **slow)
                            for d in range(min(self.n_dims, self.latent_dim))]
        pct = self.directions.explained.tolist()
        self.dir_sliders = [W.FloatSlider(value=0.0, min=-4.0, max=4.0, step=0.25,
                                          description=f"PC{i + 1} ({p:.0%})", **slow)
                            for i, p in enumerate(pct)]
        self.directions_image = picture()
        self.reset_button = W.Button(description="reset")
        self.reset_button.on_click(lambda _: self._reset_directions())
        directions = W.HBox([self.directions_image,
                             W.VBox([W.HTML("<b>latent coordinates</b>"), *self.dim_sliders,
                                     W.HTML(f"<b>principal directions</b> ({self.directions.space}"
                                            " space)"), *self.dir_sliders, self.reset_button])])

        # Arithmetic: A - B + C over groups of three seeds.
        self.groups = [W.Text(value=v, description=label, continuous_update=False)
                       for v, label in (("0, 1, 2", "A"), ("3, 4, 5", "B"), ("6, 7, 8", "C"))]
        self.arith_image = picture()
        self.neighbours_image = picture()
        arithmetic = W.VBox([W.HBox(self.groups),
                             W.HTML("mean(A), mean(B), mean(C) and A &minus; B + C"),
                             self.arith_image, W.HTML("A &minus; B + C and its neighbours"),
                             self.neighbours_image])

        tabs = [samples, walk, directions, arithmetic]
        titles = ["Samples", "Walk", "Directions", "Arithmetic"]
        if self.is_progan:
            last = self.num_stages - 1
            self.stage = W.IntSlider(value=last, min=0, max=last, description="stage", **slow)
            self.alpha = W.FloatSlider(value=1.0, min=0.0, max=1.0, step=0.05,
                                       description="alpha", **slow)
            self.stage_label = W.HTML()
            self.growth_image = picture()
            tabs.append(W.VBox([W.HBox([self.stage, self.alpha, self.stage_label]),
                                self.growth_image]))
            titles.append("Growth")
        self.tabs = W.Tab(children=tabs, titles=titles)
        header = W.HTML(f"<b>LatentExplorer</b>: {self.description}, z in "
                        f"R<sup>{self.latent_dim}</sup>")
        self.widget = W.VBox([header, self.tabs, self.status])
        # CSS classes name the parts for browser tests and custom styles.
        self.widget.add_class("ganlab-explorer")
        for name in ("page_image", "frame_image", "strip_image", "directions_image",
                     "arith_image", "neighbours_image", "frame", "steps", "play"):
            getattr(self, name).add_class(f"ganlab-{name.replace('_', '-')}")
        for s in self.dim_sliders:
            s.add_class("ganlab-dim-slider")
        for s in self.dir_sliders:
            s.add_class("ganlab-pc-slider")
        if self.is_progan:
            for name in ("stage", "alpha", "growth_image"):
                getattr(self, name).add_class(f"ganlab-{name.replace('_', '-')}")

        # Observers. A control re-renders the pictures that depend on it; pictures on a tab that
        # is not shown are marked stale and rendered when the tab is opened.
        self._titles = titles
        self._updaters = {"Samples": self.update_page, "Walk": self.update_walk,
                          "Directions": self.update_directions,
                          "Arithmetic": self.update_arithmetic, "Growth": self.update_growth}
        self._stale: set[str] = set()
        self.first_seed.observe(lambda _: self.update_page(), names="value")
        self.chosen.observe(lambda _: self._on_chosen(), names="value")
        for i, tb in enumerate(self.toggles):
            tb.observe(lambda ch, i=i: self._on_toggle(i, ch["new"]), names="value")
        for w in (self.mode, self.steps):
            w.observe(lambda _: self.update_walk(), names="value")
        self.frame.observe(lambda _: self.update_frame(), names="value")
        for s in (*self.dim_sliders, *self.dir_sliders):
            s.observe(lambda _: self.update_directions(), names="value")
        for g in self.groups:
            g.observe(lambda _: self.update_arithmetic(), names="value")
        if self.is_progan:
            for w in (self.stage, self.alpha):
                w.observe(lambda _: self.update_growth(), names="value")
        self.tabs.observe(lambda _: self._on_tab(), names="selected_index")

        self._stale = set(titles)
        self._on_tab()  # render the tab that is shown
        self._set_walk_length()

    def _shown(self) -> str:
        index = self.tabs.selected_index
        return self._titles[index] if index is not None else ""

    def _refresh(self, title: str) -> None:
        """Render a tab's pictures now if it is shown, else when it is opened."""
        if self._shown() == title:
            self._updaters[title]()
        else:
            self._stale.add(title)

    def _on_tab(self) -> None:
        title = self._shown()
        if title in self._stale:
            self._updaters[title]()

    def _on_chosen(self) -> None:
        self._sync_toggles()
        self._set_walk_length()
        self._refresh("Walk")

    def close(self) -> None:
        """Close every widget of the explorer (they disappear from the page and the kernel)."""
        seen: set[int] = set()
        stack = [self.widget, self.play, *self.toggles]
        while stack:
            w = stack.pop()
            if id(w) in seen:
                continue
            seen.add(id(w))
            stack.extend(getattr(w, "children", ()))
            stack.extend(x for x in (getattr(w, "layout", None), getattr(w, "style", None))
                         if x is not None)
            w.close()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def _error(self, err: Exception) -> None:
        self.status.value = f"<span style='color:#b00'>{err}</span>"

    def update_page(self) -> None:
        """Samples tab (the Directions and Growth tabs show the same page of seeds)."""
        self._stale.discard("Samples")
        seeds = self.page_seeds()
        self._updating_toggles = True
        for tb, s in zip(self.toggles, seeds):
            tb.description = str(s)
        self._updating_toggles = False
        self._sync_toggles()
        self.page_image.value = self._render("page", self.page_z(), self.nrow)
        self._refresh("Directions")
        if self.is_progan:
            self._refresh("Growth")

    def _sync_toggles(self) -> None:
        try:
            chosen = set(self.chosen_seeds())
        except ValueError as err:
            self._error(err)
            return
        self._updating_toggles = True
        try:
            for tb, s in zip(self.toggles, self.page_seeds()):
                tb.value = s in chosen
        finally:
            self._updating_toggles = False

    def _on_toggle(self, i: int, on: bool) -> None:
        if getattr(self, "_updating_toggles", False):
            return
        seed = self.page_seeds()[i]
        try:
            seeds = self.chosen_seeds()
        except ValueError:
            seeds = []
        if on and seed not in seeds:
            seeds.append(seed)
        elif not on:
            seeds = [s for s in seeds if s != seed]
        self.chosen.value = ", ".join(map(str, seeds))

    def _set_walk_length(self) -> None:
        try:
            n = self.walk_z().shape[0]
        except ValueError as err:
            self._error(err)
            return
        self.status.value = ""
        self.play.max = n - 1  # linked: also the frame slider's max

    def update_walk(self) -> None:
        """Walk tab: the strip of the whole walk, then the current frame."""
        self._stale.discard("Walk")
        try:
            path = self.walk_z()
        except ValueError as err:
            self._error(err)
            return
        self.status.value = ""
        n = path.shape[0]
        self.play.max = n - 1  # linked: also the frame slider's max
        self.strip_image.value = self._render("strip", path, nrow=n)
        self.update_frame()

    def update_frame(self) -> None:
        if "Walk" in self._stale:  # the strip is out of date too
            self.update_walk()
            return
        try:
            z = self.frame_z()
        except (ValueError, IndexError) as err:
            self._error(err)
            return
        self.frame_image.value = self._render("frame", z, nrow=1, scale=self.frame_scale)

    def update_directions(self) -> None:
        self._stale.discard("Directions")
        self.directions_image.value = self._render("directions", self.directions_z(), self.nrow)

    def _reset_directions(self) -> None:
        for s in (*self.dim_sliders, *self.dir_sliders):
            s.value = 0.0

    def update_arithmetic(self) -> None:
        self._stale.discard("Arithmetic")
        try:
            r = self.arithmetic()
        except ValueError as err:
            self._error(err)
            return
        self.status.value = ""
        self.arith_image.value = self._render(
            "arithmetic", torch.stack([r.mean_a, r.mean_b, r.mean_c, r.z]), nrow=4)
        nrow = math.ceil(math.sqrt(r.neighbours.shape[0]))
        self.neighbours_image.value = self._render("neighbours", r.neighbours, nrow=nrow)

    def update_growth(self) -> None:
        self._stale.discard("Growth")
        kw = self.growth_kwargs()
        res = 4 * 2 ** kw["stage"]
        fading = kw["stage"] > 0 and kw["alpha"] < 1
        self.stage_label.value = (f"{res}x{res}" + (f", fading in from {res // 2}x{res // 2}"
                                                   if fading else ""))
        self.growth_image.value = self._render("growth", self.page_z(), self.nrow, **kw)

    def _export(self) -> None:
        try:
            png, gif = self.save_walk(self.export_stem.value or "latent_walk")
        except (ValueError, OSError) as err:
            self._error(err)
            return
        self.status.value = f"wrote {png} and {gif}"
