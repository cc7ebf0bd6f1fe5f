"""DiffAugment (ganlab.augment): each transform does what its docstring says, checked against
independent constructions; gradients flow; the Trainer applies it to everything D sees."""

from __future__ import annotations

import pytest
import torch

from ganlab import augment
from ganlab.config import RunConfig, TrainConfig
from ganlab.presets import preset
from ganlab.training import Trainer


def shifted(img: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """img (C, H, W) moved down by dy and right by dx, zeros where nothing moved in."""
    out = torch.zeros_like(img)
    _, h, w = img.shape
    for r in range(h):
        for c in range(w):
            if 0 <= r - dy < h and 0 <= c - dx < w:
                out[:, r, c] = img[:, r - dy, c - dx]
    return out


def test_translation_moves_each_image_by_a_whole_shift_within_an_eighth():
    torch.manual_seed(0)
    x = torch.rand(24, 2, 16, 16) + 0.5  # no zeros: a zero in the output comes from outside
    y = augment.translation(x)
    seen = set()
    for img, out in zip(x, y):
        matches = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                   if torch.equal(shifted(img, dy, dx), out)]
        assert len(matches) == 1, "not a shift of at most 16 / 8 = 2 pixels"
        seen.add(matches[0])
    assert len(seen) > 5, "the shifts should differ from image to image"


def test_cutout_zeroes_one_square_of_half_the_side_clipped_at_the_border():
    torch.manual_seed(1)
    x = torch.rand(64, 3, 12, 12) + 0.5
    y = augment.cutout(x)
    full = 0
    for img, out in zip(x, y):
        zero = (out == 0).all(dim=0)
        assert torch.equal(out[:, ~zero], img[:, ~zero]), "pixels outside the hole must not change"
        rows, cols = zero.any(dim=1).nonzero().view(-1), zero.any(dim=0).nonzero().view(-1)
        assert 1 <= len(rows) <= 6 and 1 <= len(cols) <= 6
        # the zeros form one solid rectangle
        assert int(zero.sum()) == len(rows) * len(cols)
        assert rows.max() - rows.min() + 1 == len(rows) and cols.max() - cols.min() + 1 == len(cols)
        full += len(rows) == len(cols) == 6
    assert full > 10, "most holes lie wholly inside the image"


def test_color_changes_brightness_saturation_and_contrast_per_image():
    torch.manual_seed(2)
    x = torch.rand(16, 3, 8, 8) * 2 - 1
    y = augment.color(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    # Each image is an affine map of its own pixels: one brightness, one saturation, one contrast.
    means = (y - x).mean(dim=(1, 2, 3))
    assert means.std() > 0.05, "the brightness shifts should differ between images"
    torch.manual_seed(2)
    assert torch.equal(torch.rand(16, 3, 8, 8) * 2 - 1, x)  # the same draws as above, then:
    b = torch.rand(16, 1, 1, 1) - 0.5
    s = torch.rand(16, 1, 1, 1) * 2
    c = torch.rand(16, 1, 1, 1) + 0.5
    z = x + b
    z = (z - z.mean(1, keepdim=True)) * s + z.mean(1, keepdim=True)
    z = (z - z.mean((1, 2, 3), keepdim=True)) * c + z.mean((1, 2, 3), keepdim=True)
    torch.testing.assert_close(y, z)


def test_the_policy_is_applied_in_order_and_is_differentiable():
    x = torch.rand(4, 3, 8, 8, dtype=torch.float64, requires_grad=True)

    def f(inp: torch.Tensor) -> torch.Tensor:
        torch.manual_seed(3)  # the same random transforms on every call
        return augment.diff_augment(inp, "color,translation,cutout")

    assert torch.autograd.gradcheck(f, (x,))
    torch.manual_seed(3)
    by_hand = augment.cutout(augment.translation(augment.color(x)))
    torch.testing.assert_close(f(x), by_hand)
    assert augment.diff_augment(x, "") is x


@pytest.mark.parametrize(("policy", "message"), [
    ("translation,flip", "unknown augmentation 'flip': choose from translation, cutout, color"),
    ("cutout,cutout", "names a transform twice"),
    (3, "a string such as 'translation,cutout'"),
])
def test_bad_policies_are_refused_with_the_choices(policy, message):
    with pytest.raises(ValueError, match=message):
        augment.parse_policy(policy)
    with pytest.raises(ValueError, match="TrainConfig.augment"):
        TrainConfig(augment=policy)


def test_trainer_augments_real_and_fake_inputs_of_d(monkeypatch):
    cfg = preset("dcgan", profile="tiny", train__augment="translation,cutout", train__steps=2)
    seen = []
    original = augment.diff_augment

    def spy(x, policy):
        seen.append((tuple(x.shape), x.requires_grad, policy))
        return original(x, policy)

    monkeypatch.setattr("ganlab.training.trainer.diff_augment", spy)
    trainer = Trainer(cfg, progress=False)
    trainer.train_step()
    # D step: the real batch, then the detached fakes; G step: the fakes with their graph.
    assert [grad for _, grad, _ in seen] == [False, False, True]
    assert all(policy == ("translation", "cutout") for *_, policy in seen)
    batch = cfg.train.batch_size
    assert all(shape[0] == batch for shape, *_ in seen)


def test_augmented_training_is_deterministic_and_differs_from_plain():
    base = preset("dcgan", profile="tiny", train__steps=3)
    runs = []
    for policy in ("translation,cutout", "translation,cutout", ""):
        trainer = Trainer(base.replace(train__augment=policy), progress=False)
        trainer.fit()
        runs.append(trainer.generate())
    assert torch.equal(runs[0], runs[1])
    assert not torch.equal(runs[0], runs[2])


def test_point_models_refuse_augmentation():
    cfg = preset("vanilla", "ring8", profile="tiny", train__augment="translation")
    assert isinstance(cfg, RunConfig)
    with pytest.raises(ValueError, match="MLP trains on 2-D points: set train.augment to ''"):
        Trainer(cfg, progress=False)


def test_checking_a_policy_needs_no_torch():
    """A config is validated without importing torch (``import ganlab.config`` stays cheap)."""
    import subprocess
    import sys

    code = ("import sys, ganlab.config as c; c.TrainConfig(augment='translation,cutout'); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
