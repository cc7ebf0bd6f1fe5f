"""Tests for ganlab/fieldguide.py and the options it added: ``DCGANConfig.upsample``,
``TrainConfig.d_batches``, ``TrainConfig.optimizer="sgd"`` and the Trainer's vanishing-gradient
warning.

The cases' failures are checked on short runs (a few hundred steps, seed 0, mostly the tiny
profile's networks): vanishing gradients, oscillation, NaN, joint batch norm and memorising; the
checkerboard at initialisation. Notebook 08 runs every case at full length and prints what it
measured. The collapse of the regular GAN on the ring, and LSGAN covering it, is
``tests/test_ring_collapse.py``: here only that the case trains exactly those two
configurations.
"""

from __future__ import annotations

import copy
import json
import math
import warnings

import pytest
import torch
from torch import nn

from ganlab.config import DCGANConfig, LossConfig, MLPConfig, RunConfig, TrainConfig
from ganlab.fieldguide import (
    CASES,
    WARNING_LABELS,
    CaseResult,
    FailureCase,
    RunOutcome,
    case,
    checkerboard_score,
    run_case,
    table,
)
from ganlab.models import build
from ganlab.models.dcgan import dcgan_init_
from ganlab.presets import preset, ring_collapse
from ganlab.training import Trainer, seed_everything


# ---------------------------------------------------------------------------- the new options
def test_new_options_default_to_the_old_behaviour() -> None:
    assert DCGANConfig().upsample == "transpose"
    assert TrainConfig().d_batches == "separate"
    assert TrainConfig().optimizer == "adam"
    # A config written before the options existed reads back with them at their defaults.
    old = preset("dcgan", "shapes", "tiny").to_dict()
    del old["arch"]["upsample"], old["train"]["d_batches"]
    rebuilt = RunConfig.from_dict(json.loads(json.dumps(old)))
    assert rebuilt == preset("dcgan", "shapes", "tiny")


@pytest.mark.parametrize("make, match", [
    (lambda: DCGANConfig(upsample="bilinear"), "DCGANConfig.upsample must be one of transpose, "
                                               "resize"),
    (lambda: TrainConfig(d_batches="mixed"), "TrainConfig.d_batches must be one of separate, "
                                             "joint"),
    (lambda: TrainConfig(optimizer="adagrad"), "TrainConfig.optimizer must be one of adam, "
                                               "rmsprop, sgd"),
])
def test_invalid_options_say_what_is_allowed(make, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make()


def test_default_dcgan_generator_is_the_papers_bit_for_bit() -> None:
    # The DCGAN generator written out by hand (16x16, widths 8): transposed convolutions only,
    # initialised in the same module order; the package's default must equal it exactly.
    config = DCGANConfig(resolution=16, g_width=8, d_width=8, latent_dim=100)
    seed_everything(0)
    G, _ = build(config)
    seed_everything(0)
    by_hand = nn.Sequential(
        nn.ConvTranspose2d(100, 16, 4, 1, 0, bias=False), nn.BatchNorm2d(16), nn.ReLU(True),
        nn.ConvTranspose2d(16, 8, 4, 2, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU(True),
        nn.ConvTranspose2d(8, 3, 4, 2, 1, bias=False), nn.Tanh())
    dcgan_init_(by_hand)
    mine = {f"net.{k}": v for k, v in by_hand.state_dict().items()}
    assert list(G.state_dict()) == list(mine)
    for key, value in G.state_dict().items():
        assert torch.equal(value, mine[key]), key
    z = torch.randn(4, 100)
    torch.testing.assert_close(G.eval()(z), by_hand.eval()(z[:, :, None, None]), rtol=0, atol=0)


@pytest.mark.parametrize("resolution", [16, 32, 64])
def test_resize_convolutions_double_the_size_without_transposed_convs(resolution: int) -> None:
    G, _ = build(DCGANConfig(resolution=resolution, g_width=8, d_width=8, upsample="resize"))
    ups = [m for m in G.modules() if isinstance(m, nn.Upsample)]
    transposed = [m for m in G.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert len(ups) == int(math.log2(resolution // 4))  # 4x4 -> resolution, one per doubling
    assert len(transposed) == 1  # only the 1x1 -> 4x4 projection of z
    assert all(m.mode == "nearest" and m.scale_factor == 2 for m in ups)
    assert G(torch.randn(2, 100)).shape == (2, 3, resolution, resolution)


def test_resize_conv_generator_has_no_checkerboard_at_init() -> None:
    # Odena et al.: a stride-2 transposed conv makes pixels of each parity with other weights,
    # so even an untrained G draws the pattern; nearest upsampling + 3x3 conv does not.
    scores = {}
    for up in ("transpose", "resize"):
        for seed in (0, 1):
            seed_everything(seed)
            G, _ = build(DCGANConfig(resolution=16, g_width=16, d_width=16, upsample=up))
            with torch.no_grad():
                scores[up, seed] = checkerboard_score(G.eval()(torch.randn(64, 100)))
    for seed in (0, 1):
        assert scores["transpose", seed] > 10 * scores["resize", seed], scores


def _d_step_logits(trainer: Trainer, x_real: torch.Tensor, x_fake: torch.Tensor) -> dict:
    phase = trainer.phase()
    return {k: v.item() for k, v in trainer.d_step(x_real, phase, x_fake).items()}


@pytest.mark.parametrize("batch_norm", ["d", "none"])
def test_joint_d_batches_are_one_call_on_real_and_fake(batch_norm: str) -> None:
    config = preset("dcgan", "shapes", "tiny", arch__batch_norm=batch_norm, train__amp="off",
                    train__d_batches="joint")
    trainer = Trainer(config, device="cpu", progress=False)
    x_real = trainer.data.sample(8)
    x_fake = torch.rand(8, *x_real.shape[1:]) * 2 - 1
    D = copy.deepcopy(trainer.D).train()
    with torch.no_grad():  # what one call on the concatenation gives, batch statistics mixed
        logits = D(torch.cat([x_real, x_fake]))
        separate = D(x_real), D(x_fake)
    stats = _d_step_logits(trainer, x_real, x_fake)
    assert stats["D_x"] == pytest.approx(torch.sigmoid(logits[:8]).mean().item(), abs=1e-6)
    assert stats["D_G_z"] == pytest.approx(torch.sigmoid(logits[8:]).mean().item(), abs=1e-6)
    joint_equals_separate = torch.allclose(logits[:8], separate[0], atol=1e-6)
    # Without batch norm a sample's logit does not depend on its batch; with it, it does.
    assert joint_equals_separate == (batch_norm == "none")


def test_sgd_is_the_gan_papers_momentum_sgd() -> None:
    config = preset("vanilla", "ring8", "tiny", train__optimizer="sgd", train__lr_g=0.1,
                    train__lr_d=0.05, train__betas=(0.7, 0.999))
    trainer = Trainer(config, device="cpu", progress=False)
    for opt, lr in ((trainer.opt_G, 0.1), (trainer.opt_D, 0.05)):
        assert isinstance(opt, torch.optim.SGD)
        assert opt.defaults["lr"] == lr and opt.defaults["momentum"] == 0.7


# ---------------------------------------------------------------------------- checkerboard score
def _stride2_share(x: torch.Tensor) -> float:
    """The same quantity from sums over pixels (no FFT): the DFT at (H/2, 0) is sum x (-1)^i, at
    (0, W/2) sum x (-1)^j, at (H/2, W/2) sum x (-1)^(i+j); Parseval gives the total power as
    H W sum (x - mean)^2."""
    x = x.double()
    x = x - x.mean(dim=(-2, -1), keepdim=True)
    H, W = x.shape[-2:]
    sign_i = torch.tensor([(-1.0) ** i for i in range(H)], dtype=torch.float64)[:, None]
    sign_j = torch.tensor([(-1.0) ** j for j in range(W)], dtype=torch.float64)[None, :]
    num = sum(((x * s).sum(dim=(-2, -1)) ** 2).sum() for s in (sign_i, sign_j, sign_i * sign_j))
    return float(num / (H * W * (x ** 2).sum()))


def test_checkerboard_score_of_hand_built_images() -> None:
    i = torch.arange(16.0)[:, None]
    j = torch.arange(16.0)[None, :]
    checkerboard = ((-1.0) ** (i + j)).expand(2, 3, 16, 16)
    stripes = ((-1.0) ** i).expand(16, 16)[None, None]
    assert checkerboard_score(checkerboard) == pytest.approx(1.0)
    assert checkerboard_score(stripes) == pytest.approx(1.0)
    smooth = torch.cos(2 * math.pi * i / 16) * torch.sin(2 * math.pi * j / 16)  # one period
    assert checkerboard_score(smooth[None, None]) == pytest.approx(0.0, abs=1e-12)
    blob = torch.exp(-((i - 7.5) ** 2 + (j - 7.5) ** 2) / 20)[None, None]
    assert checkerboard_score(blob) < 1e-3
    # Half checkerboard, half blob: the share is between the two.
    mixed = blob + 0.1 * checkerboard[:1, :1]
    assert 0.0 < checkerboard_score(mixed) < 1.0
    assert checkerboard_score(mixed) == pytest.approx(_stride2_share(mixed), rel=1e-9)


def test_checkerboard_score_matches_the_formula_on_random_images() -> None:
    x = torch.randn(5, 3, 8, 12, generator=torch.Generator().manual_seed(0))
    assert checkerboard_score(x) == pytest.approx(_stride2_share(x), rel=1e-9)
    # White noise puts about 3 of the H W frequencies' share there.
    noise = torch.randn(400, 1, 16, 16, generator=torch.Generator().manual_seed(1))
    assert checkerboard_score(noise) == pytest.approx(3 / 256, rel=0.15)


@pytest.mark.parametrize("shape", [(3, 16, 16), (2, 3, 15, 16), (2, 3, 16, 9)])
def test_checkerboard_score_needs_even_image_batches(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match=r"\(N, C, H, W\) with H and W even"):
        checkerboard_score(torch.zeros(shape))


# ---------------------------------------------------------------------------- the new warning
def _set_g_grad(trainer: Trainer, norm: float) -> None:
    params = list(trainer.G.parameters())
    for p in params:
        p.grad = torch.ones_like(p)
    total = math.sqrt(sum(p.numel() for p in params))
    for p in params:
        p.grad.mul_(norm / total)


def _log(trainer: Trainer, norms: list[float], d_g_z: float) -> None:
    for norm in norms:
        _set_g_grad(trainer, norm)
        trainer._check_g_gradient({"D_G_z": d_g_z, "D_x": 0.99})


def _trainer(loss: str = "minimax") -> Trainer:
    return Trainer(preset("vanilla", "ring8", "tiny", loss__name=loss), device="cpu",
                   progress=False)


def test_vanishing_gradient_rule_both_ways() -> None:
    trainer = _trainer()
    with pytest.warns(RuntimeWarning, match="G's gradient has vanished"):
        _log(trainer, [2.0, 1.0, 0.015, 0.012, 0.011], d_g_z=0.003)
    assert trainer.warning_keys == ["vanishing_g"]
    assert [n for _, n in trainer.g_grad_norms] == pytest.approx([2.0, 1.0, 0.015, 0.012, 0.011],
                                                                 rel=1e-5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning fails the test
        quiet = _trainer()
        _log(quiet, [2.0, 0.015, 0.012, 0.03, 0.011], d_g_z=0.003)  # never 3 in a row below 1%
        _log(_trainer(), [2.0, 0.01, 0.01, 0.01, 0.01], d_g_z=0.3)  # D does not reject the fakes
        _log(_trainer("least_squares"), [2.0, 0.001, 0.001, 0.001], d_g_z=0.0)
    assert quiet.warning_keys == []


def test_vanishing_gradient_warning_fires_on_the_saturating_loss_only() -> None:
    # The vanishing case (minimax, a D without dropout taking 5 steps per G step), shortened;
    # the non-saturating fix keeps G's gradient and stays silent.
    # The tiny networks, a D twice as fast, and a log every 2 steps: the log sees G's gradient
    # before D has won (the rule needs a fall from its largest value).
    result = run_case("vanishing", "tiny", train__lr_d=2e-3, train__steps=100,
                      train__log_every=2, train__sample_every=100, workers=1)
    assert "vanishing_g" in result.broken.warning_keys
    assert "vanishing_g" not in result.fixed.warning_keys
    assert result.reproduced and result.fix_worked, result.verdict


# ---------------------------------------------------------------------------- the cases
def test_every_case_changes_only_its_fix() -> None:
    for key, fc in CASES.items():
        for profile in ("tiny", "default", "full"):
            broken, fixed = fc.configs(profile)
            changed = {name for name, _, _ in _changes(broken, fixed)}
            expected = {k.replace("__", ".") for k in fc.fix}
            if key == "collapse":  # model and loss: the whole LossConfig counts as its fields
                expected = {"model", "loss.name"}
            assert changed == expected, (key, profile, changed)


def _changes(a: RunConfig, b: RunConfig) -> list:
    from ganlab.config import config_changes

    return config_changes(a, b)


def test_collapse_case_is_notebook_03s_ring_shortened() -> None:
    broken, fixed = case("collapse").configs("default")
    short = dict(train__steps=3000, train__batch_size=256, train__sample_every=500,
                 train__checkpoint_every=3000)
    assert broken == ring_collapse("vanilla", "default", **short)
    assert fixed == ring_collapse("lsgan", "default", **short)


def test_nan_case_diverges_and_its_fix_trains() -> None:
    result = run_case("nan", "tiny", workers=1)
    assert result.broken.error is not None and "NaN/inf" in result.broken.error
    assert result.broken.warning_keys[-1] == "diverged"
    assert result.fixed.error is None and result.fixed.steps == result.fixed.config.train.steps
    assert result.reproduced and result.fix_worked, result.verdict


def test_joint_batches_let_d_win_outright() -> None:
    result = run_case("batchnorm", "tiny", train__steps=400, train__log_every=10,
                      train__sample_every=400, workers=1)
    assert result.reproduced and result.fix_worked, result.verdict
    assert "d_wins" not in result.fixed.warning_keys


def test_beta1_09_keeps_the_samples_moving_and_05_lets_them_settle() -> None:
    result = run_case("oscillation", "default", train__steps=500, train__sample_every=50,
                      workers=1)
    assert result.reproduced and result.fix_worked, result.verdict
    assert result.broken.metrics["D_G_z_swing"] > result.fixed.metrics["D_G_z_swing"]


def test_d_memorises_a_small_data_set_and_diffaugment_stops_it() -> None:
    result = run_case("memorise", "tiny", train__steps=300, data__size=8, train__log_every=10,
                      train__sample_every=300, workers=1)
    assert result.reproduced and result.fix_worked, result.verdict


def test_unknown_case_and_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown failure case 'nope'; choose one of collapse"):
        case("nope")
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        run_case("nan", "tiny", seed=-1)
    with pytest.raises(ValueError, match="workers must be 1 or 2"):
        run_case("nan", "tiny", workers=3)
    with pytest.raises(ValueError, match="profile"):
        run_case("nan", "huge")


def test_failure_case_is_validated() -> None:
    good = dict(key="k", title="t", symptom="s", cause="c", remedy="r",
                broken=lambda p: preset("vanilla", "ring8", p), fix={"train__lr_g": 1e-3},
                measure=lambda t, n: {}, failed=lambda m: False, describe=lambda m: "")
    assert FailureCase(**good).fix["train__lr_g"] == 1e-3
    for change, match in ((dict(key="two words"), "key must be a short identifier"),
                          (dict(cause=""), "cause must be a non-empty string"),
                          (dict(symptom="a | b"), "may not contain '|'"),
                          (dict(fix={}), "fix must be a non-empty mapping"),
                          (dict(measure=None), "measure must be callable")):
        with pytest.raises(ValueError, match=match):
            FailureCase(**{**good, **change})
    with pytest.raises(TypeError):
        FailureCase(**good).fix["train__lr_g"] = 1.0  # read-only, as the dataclass is frozen


# ---------------------------------------------------------------------------- the table
def _outcome(metrics: dict, keys: tuple[str, ...] = ()) -> RunOutcome:
    config = RunConfig("vanilla", MLPConfig(data_shape=(2,)), loss=LossConfig())
    return RunOutcome(config=config, metrics=metrics, history=[], snapshots=[],
                      g_grad_norms=[], warnings=keys, warning_keys=keys, error=None, steps=1,
                      seconds=0.0)


def test_table_is_built_from_the_measurements() -> None:
    collapse = CASES["collapse"]
    results = [
        CaseResult(collapse, "default", 0, _outcome({"modes": 0, "num_modes": 8}, ("collapse",)),
                   _outcome({"modes": 6, "num_modes": 8}), [("model", "vanilla", "lsgan")]),
        CaseResult(collapse, "default", 1, _outcome({"modes": 7, "num_modes": 8}),
                   _outcome({"modes": 8, "num_modes": 8})),
        CaseResult(collapse, "default", 2, _outcome({"modes": 1, "num_modes": 8}),
                   _outcome({"modes": 2, "num_modes": 8}, ("d_wins", "vanishing_g"))),
    ]
    lines = table(results).splitlines()
    assert lines[0].count("|") == 6 and set(lines[1]) <= {"|", "-", " "}
    assert len(lines) == 2 + len(results)
    assert all(line.count("|") == 6 for line in lines)  # no stray '|' inside a cell
    assert "0/8 modes -> 6/8 modes (reproduced and fixed; seed 0, default)" in lines[2]
    assert "| possible mode collapse / nothing |" in lines[2]
    assert "(NOT reproduced; seed 1, default)" in lines[3]
    assert "(reproduced, NOT fixed; seed 2, default)" in lines[4]
    assert f"| nothing / {WARNING_LABELS['d_wins']}, {WARNING_LABELS['vanishing_g']} |" in lines[4]
    assert results[0].verdict.startswith("mode collapse (seed 0, profile default): reproduced")
    assert "the fix (model = 'lsgan') removed it" in results[0].verdict
    with pytest.raises(ValueError, match="at least one CaseResult"):
        table([])
    with pytest.raises(TypeError, match="CaseResults from run_case"):
        table(["a row"])
