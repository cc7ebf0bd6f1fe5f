"""Latent-space mathematics and rendering: pure functions, no widgets.

Turns latents into pictures and paths through latent space, with torch and Pillow only:
:func:`render_png` is ``(G, z) -> PNG bytes`` with one batched forward pass in eval mode and no
autograd; :func:`lerp`, :func:`slerp` and :func:`interpolate` build walks; :func:`vector_arithmetic`
is the DCGAN paper's ``A - B + C`` (Radford et al., 2016, Sec. 6.3); :func:`principal_directions`
finds directions worth walking along (GANSpace, Härkönen et al., 2020). A sample is identified by
its seed: seed ``s`` is ``ganlab.training.sample_z(1, latent_dim, seed=s)``.

Why a module of its own: notebooks, scripts and the CLI use these without ipywidgets;
``ganlab.widgets.LatentExplorer`` is a thin interactive view over them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ganlab.training import sample_z

__all__ = [
    "MODES",
    "ArithmeticResult",
    "Directions",
    "generate",
    "interpolate",
    "lerp",
    "path_through",
    "png_grid",
    "principal_directions",
    "render_png",
    "seeds_to_z",
    "slerp",
    "vector_arithmetic",
    "walk_gif",
    "walk_strip_png",
]

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
    """The first block's output: DCGAN's 4x4 feature maps, ProGAN's ``blocks["4x4"]``,
    R3GAN's ``stages["4x4"]`` (its basis and residual blocks)."""
    if hasattr(G, "blocks") and "4x4" in getattr(G, "blocks", {}):
        return 'blocks["4x4"]', G.blocks["4x4"]
    if hasattr(G, "stages") and "4x4" in getattr(G, "stages", {}):
        return 'stages["4x4"]', G.stages["4x4"]
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

