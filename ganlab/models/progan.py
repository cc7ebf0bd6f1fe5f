"""ProGAN: progressive growing of GANs (Karras et al., 2018).

G and D start at 4x4 and grow by one resolution at a time (Sec. 2, Fig. 1). When a new
resolution is added it is faded in smoothly (Fig. 2): its output is blended with the upsampled
(G) or downsampled (D) path of the previous resolution, with a weight ``alpha`` that rises
linearly from 0 to 1, and the real images shown to D are blended the same way (:func:`fade_real`).

Design, following the official code (tkarras/progressive_growing_of_gans, ``networks.py``):

- The networks are built **once**, for every resolution up to the target, and never mutated.
  ``G(z, stage, alpha)`` and ``D(x, stage, alpha)`` only choose which blocks to run, so the
  parameter set, the optimiser state and the checkpoint format are the same at every stage.
- Blocks are named by their resolution: ``G.blocks["16x16"]``, ``D.from_rgb["16x16"]``.
- Stage and alpha are a **pure function** of the number of real images shown to D
  (:func:`phase_at`; Appendix A: 800k images per fade and per stabilisation phase), so a run
  resumed from a checkpoint continues exactly where it stopped.

Stage indices: 0 = 4x4, 1 = 8x8, ..., ``config.num_stages - 1`` = the target resolution;
``stage=None`` means the final stage. G's output is linear (no tanh), as in the paper.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

# The config (and the resolutions it allows) lives with the other configs; the schedule's maths
# (phase_at, steps_for_schedule) is here, with the networks that follow it.
from ganlab.config import MIN_RESOLUTION, ProGANConfig, block_name
from ganlab.layers import SQRT2, EqualizedConv2d, EqualizedLinear, MinibatchStdDev, PixelNorm

__all__ = [
    "Phase",
    "ProGANConfig",
    "ProGANDiscriminator",
    "ProGANGenerator",
    "block_name",
    "fade_real",
    "phase_at",
    "steps_for_schedule",
    "total_images",
    "upsample_to",
]

NEGATIVE_SLOPE = 0.2  # LeakyReLU slope used everywhere in the paper (Appendix A)


def _check_alpha(alpha: float) -> float:
    try:
        value = float(alpha)
    except (TypeError, ValueError):
        value = math.nan
    if isinstance(alpha, bool) or not 0.0 <= value <= 1.0:
        raise ValueError(
            f"alpha must be a number in [0, 1] (0 = previous resolution only, 1 = new "
            f"resolution only), got {alpha!r}"
        )
    return value


def _check_images(x: torch.Tensor, channels: int, resolution: int, stage: int) -> None:
    expected = (channels, resolution, resolution)
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or tuple(x.shape[1:]) != expected:
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(
            f"expected images of shape (B, {channels}, {resolution}, {resolution}) for stage "
            f"{stage} ({block_name(resolution)}), got {got}"
        )


def _upsample2x(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2, mode="nearest")


class GeneratorStem(nn.Module):
    """G's 4x4 block (Table 2, top): latent -> 4x4 feature maps.

    PixelNorm on z, a dense layer playing the paper's "conv 4x4" on a 1x1 input (gain
    ``sqrt(2)/4`` as in the official code), then a 3x3 conv; each layer is followed by
    LeakyReLU(0.2) and PixelNorm (Sec. 4.2).
    """

    def __init__(self, latent_dim: int, out_channels: int) -> None:
        super().__init__()
        self.out_channels = out_channels
        self.latent_norm = PixelNorm()
        self.dense = EqualizedLinear(latent_dim, out_channels * 16, gain=SQRT2 / 4)
        self.conv = EqualizedConv2d(out_channels, out_channels, 3)
        self.act = nn.LeakyReLU(NEGATIVE_SLOPE)
        self.norm = PixelNorm()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.dense(self.latent_norm(z)).view(-1, self.out_channels, 4, 4)  # (B, C, 4, 4)
        x = self.norm(self.act(x))
        return self.norm(self.act(self.conv(x)))  # (B, C, 4, 4)


class GeneratorBlock(nn.Module):
    """One G resolution block (Table 2): nearest 2x upsample, then two 3x3 convs.

    Each conv is followed by LeakyReLU(0.2) and PixelNorm (Sec. 4.2).
    ``(B, C_in, r/2, r/2) -> (B, C_out, r, r)``.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv0 = EqualizedConv2d(in_channels, out_channels, 3)
        self.conv1 = EqualizedConv2d(out_channels, out_channels, 3)
        self.act = nn.LeakyReLU(NEGATIVE_SLOPE)
        self.norm = PixelNorm()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _upsample2x(x)  # (B, C_in, r, r)
        x = self.norm(self.act(self.conv0(x)))  # (B, C_out, r, r)
        return self.norm(self.act(self.conv1(x)))


class ProGANGenerator(nn.Module):
    """ProGAN generator (Sec. 2, Table 2), built once for every resolution up to the target.

    ``blocks[r]`` turns features at r/2 into features at r; ``to_rgb[r]`` is a linear 1x1 conv
    to image space. During a fade-in (Fig. 2b) the output is
    ``alpha * to_rgb[new](block(h)) + (1 - alpha) * upsample(to_rgb[old](h))``.
    """

    def __init__(self, config: ProGANConfig) -> None:
        super().__init__()
        self.config = config
        self.latent_dim = config.latent_dim
        self.blocks = nn.ModuleDict()
        self.to_rgb = nn.ModuleDict()
        for stage in range(config.num_stages):
            res = config.resolution_of(stage)
            out_ch = config.channels_at(res)
            if stage == 0:
                block: nn.Module = GeneratorStem(config.latent_dim, out_ch)
            else:
                block = GeneratorBlock(config.channels_at(res // 2), out_ch)
            self.blocks[block_name(res)] = block
            self.to_rgb[block_name(res)] = EqualizedConv2d(out_ch, config.channels, 1, gain=1.0)

    def forward(
        self, z: torch.Tensor, stage: int | None = None, alpha: float = 1.0
    ) -> torch.Tensor:
        """Images ``(B, channels, r, r)`` at ``r = config.resolution_of(stage)``."""
        cfg = self.config
        if not isinstance(z, torch.Tensor) or z.dim() != 2 or z.shape[1] != self.latent_dim:
            got = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
            raise ValueError(f"expected latents z of shape (B, {self.latent_dim}), got {got}")
        stage = cfg.check_stage(stage)
        alpha = _check_alpha(alpha)

        h = self.blocks[block_name(4)](z)  # (B, C_4, 4, 4)
        for s in range(1, stage):
            h = self.blocks[block_name(cfg.resolution_of(s))](h)
        res = cfg.resolution_of(stage)
        if stage == 0:
            return self.to_rgb[block_name(res)](h)  # (B, channels, 4, 4)

        new = self.to_rgb[block_name(res)](self.blocks[block_name(res)](h))  # (B, ch, r, r)
        if alpha == 1.0:
            return new
        old = _upsample2x(self.to_rgb[block_name(res // 2)](h))  # (B, ch, r, r)
        return alpha * new + (1.0 - alpha) * old


class DiscriminatorBlock(nn.Module):
    """One D resolution block (Table 2): two 3x3 convs with LeakyReLU(0.2), then 2x2 avg pool.

    ``(B, C_r, r, r) -> (B, C_{r/2}, r/2, r/2)``; D has no normalisation (Sec. 4).
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv0 = EqualizedConv2d(in_channels, in_channels, 3)
        self.conv1 = EqualizedConv2d(in_channels, out_channels, 3)
        self.act = nn.LeakyReLU(NEGATIVE_SLOPE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.conv0(x))  # (B, C_in, r, r)
        x = self.act(self.conv1(x))  # (B, C_out, r, r)
        return F.avg_pool2d(x, 2)  # (B, C_out, r/2, r/2)


class DiscriminatorHead(nn.Module):
    """D's 4x4 block (Table 2, bottom): features -> one raw logit per image.

    Minibatch stddev (Sec. 3) adds one feature map, then a 3x3 conv, a 4x4 conv without
    padding (4x4 -> 1x1) and a linear layer (gain 1), LeakyReLU(0.2) between them.
    """

    def __init__(self, channels: int, mbstd_group_size: int) -> None:
        super().__init__()
        if mbstd_group_size > 1:
            self.mbstd: nn.Module = MinibatchStdDev(mbstd_group_size)
            in_channels = channels + 1
        else:
            self.mbstd = nn.Identity()
            in_channels = channels
        self.conv = EqualizedConv2d(in_channels, channels, 3)
        self.conv4x4 = EqualizedConv2d(channels, channels, 4, padding=0)
        self.fc = EqualizedLinear(channels, 1, gain=1.0)
        self.act = nn.LeakyReLU(NEGATIVE_SLOPE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.mbstd(x)  # (B, C + 1, 4, 4)
        x = self.act(self.conv(x))  # (B, C, 4, 4)
        x = self.act(self.conv4x4(x)).flatten(1)  # (B, C)
        return self.fc(x).squeeze(1)  # (B,)


class ProGANDiscriminator(nn.Module):
    """ProGAN discriminator (Sec. 2, Table 2), the mirror image of the generator.

    ``from_rgb[r]`` is a 1x1 conv + LeakyReLU from image space; ``blocks[r]`` halves the
    resolution. During a fade-in (Fig. 2b) the features entering the old network are
    ``alpha * blocks[new](from_rgb[new](x)) + (1 - alpha) * from_rgb[old](avg_pool(x))``.
    Returns raw logits of shape ``(B,)``.
    """

    def __init__(self, config: ProGANConfig) -> None:
        super().__init__()
        self.config = config
        self.from_rgb = nn.ModuleDict()
        self.blocks = nn.ModuleDict()
        for stage in range(config.num_stages):
            res = config.resolution_of(stage)
            ch = config.channels_at(res)
            self.from_rgb[block_name(res)] = nn.Sequential(
                EqualizedConv2d(config.channels, ch, 1), nn.LeakyReLU(NEGATIVE_SLOPE)
            )
            if stage == 0:
                block: nn.Module = DiscriminatorHead(ch, config.mbstd_group_size)
            else:
                block = DiscriminatorBlock(ch, config.channels_at(res // 2))
            self.blocks[block_name(res)] = block

    def forward(
        self, x: torch.Tensor, stage: int | None = None, alpha: float = 1.0
    ) -> torch.Tensor:
        """Logits ``(B,)`` for images ``x`` of shape ``(B, channels, r, r)``."""
        cfg = self.config
        stage = cfg.check_stage(stage)
        alpha = _check_alpha(alpha)
        res = cfg.resolution_of(stage)
        _check_images(x, cfg.channels, res, stage)

        h = self.from_rgb[block_name(res)](x)  # (B, C_r, r, r)
        if stage > 0:
            h = self.blocks[block_name(res)](h)  # (B, C_{r/2}, r/2, r/2)
            if alpha < 1.0:
                old = self.from_rgb[block_name(res // 2)](F.avg_pool2d(x, 2))
                h = alpha * h + (1.0 - alpha) * old
            for s in range(stage - 1, 0, -1):
                h = self.blocks[block_name(cfg.resolution_of(s))](h)
        return self.blocks[block_name(4)](h)  # (B,)


def fade_real(
    x: torch.Tensor, stage: int | None, alpha: float, config: ProGANConfig
) -> torch.Tensor:
    """Real images as D must see them at ``(stage, alpha)`` (Sec. 2, Fig. 2b).

    ``x`` is a batch at the target resolution. It is average-pooled down to the stage's
    resolution; during a fade the result is blended with its own 2x-blurred copy,
    ``alpha * x_s + (1 - alpha) * upsample(avg_pool(x_s, 2))``, so real and generated images
    go through the same crossfade. Forgetting this lets D spot fakes by their sharpness.
    """
    stage = config.check_stage(stage)
    alpha = _check_alpha(alpha)
    _check_images(x, config.channels, config.resolution, config.num_stages - 1)
    res = config.resolution_of(stage)
    factor = config.resolution // res
    x_s = F.avg_pool2d(x, factor) if factor > 1 else x  # (B, C, r, r)
    if stage == 0 or alpha == 1.0:
        return x_s
    blurred = _upsample2x(F.avg_pool2d(x_s, 2))  # (B, C, r, r), the previous stage's image
    return alpha * x_s + (1.0 - alpha) * blurred


def upsample_to(images: torch.Tensor, resolution: int) -> torch.Tensor:
    """Nearest-neighbour upsample square ``images`` to ``resolution`` (e.g. for grids and GIFs).

    Shows an early stage's 8x8 samples as blocky 32x32 images, the way G sees them during a
    fade. ``resolution`` must be a multiple of the images' side length.
    """
    if (
        not isinstance(images, torch.Tensor)
        or images.dim() != 4
        or (images.shape[2] != images.shape[3])
    ):
        got = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"expected square images of shape (B, C, r, r), got {got}")
    side = images.shape[-1]
    if (isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < side
            or resolution % side != 0):
        raise ValueError(
            f"resolution must be a multiple of the image size {side} (nearest upsampling by "
            f"an integer factor), got {resolution!r}"
        )
    if resolution == side:
        return images
    return F.interpolate(images, scale_factor=resolution // side, mode="nearest")


@dataclass(frozen=True)
class Phase:
    """Where the growth schedule is: stage, fade weight alpha, minibatch size, fading or not."""

    stage: int
    alpha: float
    batch_size: int
    fading: bool

    @property
    def resolution(self) -> int:
        return MIN_RESOLUTION * 2**self.stage


def _check_images_seen(images_seen: int) -> int:
    try:
        n = operator.index(images_seen)
    except TypeError:
        n = None
    if isinstance(images_seen, bool) or n is None or n < 0:
        raise ValueError(
            f"images_seen must be an integer >= 0 (real images shown to D so far), "
            f"got {images_seen!r}"
        )
    return n


def total_images(config: ProGANConfig) -> int:
    """Real images until the schedule reaches the final stage's end of stabilisation.

    Stage 0 is stabilised only; every later stage is faded in, then stabilised (Appendix A).
    """
    n = config.num_stages
    return n * config.images_per_stable + (n - 1) * config.images_per_fade


def _phase_bounds(config: ProGANConfig, n: int) -> tuple[int, int]:
    """``[start, end)`` in images of the phase containing ``n`` (end is the schedule's end
    for the open-ended phase after it)."""
    stable, fade = config.images_per_stable, config.images_per_fade
    if n < stable:
        return 0, stable
    total = total_images(config)
    if n >= total:
        return total, total
    m = n - stable
    stage_start = stable + (m // (fade + stable)) * (fade + stable)
    if n < stage_start + fade:
        return stage_start, stage_start + fade
    return stage_start + fade, stage_start + fade + stable


def phase_at(config: ProGANConfig, images_seen: int) -> Phase:
    """The schedule as a pure function of the real images shown to D so far (Appendix A).

    Stage 0 trains with alpha 1 for ``images_per_stable`` images. Every later stage first
    fades in for ``images_per_fade`` images (alpha = images into the fade / images_per_fade,
    from 0 up towards 1), then trains with alpha 1 for ``images_per_stable`` images. After the
    last stage's stable phase the schedule stays at the final stage with alpha 1 forever.
    ``(stage, alpha)`` never decreases as ``images_seen`` grows.
    """
    n = _check_images_seen(images_seen)
    last = config.num_stages - 1
    if n < config.images_per_stable:
        return Phase(stage=0, alpha=1.0, batch_size=config.batch_size_at(0), fading=False)
    if n >= total_images(config):
        return Phase(stage=last, alpha=1.0, batch_size=config.batch_size_at(last), fading=False)
    per_stage = config.images_per_fade + config.images_per_stable
    m = n - config.images_per_stable
    stage = 1 + m // per_stage
    into = m - (stage - 1) * per_stage
    batch = config.batch_size_at(stage)
    if into < config.images_per_fade:
        return Phase(
            stage=stage, alpha=into / config.images_per_fade, batch_size=batch, fading=True
        )
    return Phase(stage=stage, alpha=1.0, batch_size=batch, fading=False)


def steps_for_schedule(config: ProGANConfig) -> int:
    """Training steps needed to complete the schedule (reach :func:`total_images`).

    Each step uses the phase at its start (``phase_at(config, images_seen)``) and consumes that
    phase's ``batch_size`` real images; a step that crosses a phase boundary is not split.
    """
    total = total_images(config)
    seen = steps = 0
    while seen < total:
        batch = phase_at(config, seen).batch_size
        _, end = _phase_bounds(config, seen)
        n = -(-(end - seen) // batch)  # ceil: steps until this phase is used up
        steps += n
        seen += n * batch
    return steps
