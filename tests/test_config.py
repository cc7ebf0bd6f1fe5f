"""Tests for ganlab.config and ganlab.presets: frozen configs, JSON round trips, validation."""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

import pytest

from ganlab.config import (
    DataConfig,
    DCGANConfig,
    LossConfig,
    MLPConfig,
    RunConfig,
    TrainConfig,
)
from ganlab.presets import preset, ring_collapse

MODELS = ("vanilla", "dcgan", "lsgan", "progan", "r3gan")
PROFILES = ("tiny", "default", "full")
PRESETS = [(m, None, p) for m in MODELS for p in PROFILES] + [
    (m, d, p) for m in ("vanilla", "lsgan") for d in ("ring8", "grid25") for p in PROFILES
]


def test_configs_are_frozen() -> None:
    config = preset("dcgan", profile="tiny")
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.model = "vanilla"
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.train.steps = 5
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.arch.resolution = 32
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.loss.name = "wgan_gp"
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.data.name = "digits"


@pytest.mark.parametrize(("model", "data", "prof"), PRESETS,
                         ids=[f"{m}-{d or 'default'}-{p}" for m, d, p in PRESETS])
def test_json_round_trip_for_every_preset(model: str, data: str | None, prof: str) -> None:
    config = preset(model, data, profile=prof)
    text = config.to_json()
    assert json.loads(text)["model"] == model
    again = RunConfig.from_json(text)
    assert again == config
    assert type(again.arch) is type(config.arch)
    # Tuples must come back as tuples (lists would compare unequal and break hashing).
    for part in ("arch", "data", "loss", "train"):
        for f in dataclasses.fields(getattr(config, part)):
            want = getattr(getattr(config, part), f.name)
            got = getattr(getattr(again, part), f.name)
            assert type(got) is type(want), f"{part}.{f.name}: {type(got)} != {type(want)}"
    assert again.to_json() == text


def test_presets_follow_the_requested_profile() -> None:
    tiny, default = preset("dcgan", profile="tiny"), preset("dcgan", profile="default")
    assert tiny.train.steps < default.train.steps
    assert preset("lsgan", "ring8", profile="tiny").arch.data_shape == (2,)
    assert preset("lsgan", profile="tiny").loss.name == "least_squares"
    # ProGAN: the paper's WGAN-GP on a GPU, least squares where images are dear (the CPU profiles).
    assert preset("progan", profile="full").loss == LossConfig("wgan_gp", gp_weight=10.0,
                                                               drift=0.001)
    for prof in ("tiny", "default"):
        assert preset("progan", profile=prof).loss == LossConfig("least_squares", a=0.0, b=1.0,
                                                                 c=1.0)


def test_preset_overrides_nested_fields() -> None:
    config = preset("dcgan", profile="tiny", train__steps=7, arch__g_width=4, loss__name="minimax")
    assert config.train.steps == 7
    assert config.arch.g_width == 4
    assert config.loss.name == "minimax"
    assert preset("dcgan", profile="tiny").train.steps != 7


def test_replace_returns_a_new_config() -> None:
    config = preset("vanilla", profile="tiny")
    changed = config.replace(train__seed=3, train__batch_size=8)
    assert (changed.train.seed, changed.train.batch_size) == (3, 8)
    assert config.train.seed == 0
    assert changed.arch == config.arch


def test_points_cannot_train_with_convolutional_models() -> None:
    with pytest.raises(ValueError, match="ring8"):
        preset("dcgan", "ring8", profile="tiny")


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: TrainConfig(steps=-1), ["steps", "-1"]),
        (lambda: TrainConfig(steps=0), ["steps", "0"]),
        (lambda: TrainConfig(batch_size=0), ["batch_size", "0"]),
        (lambda: TrainConfig(n_critic=0), ["n_critic"]),
        (lambda: TrainConfig(lr_g=-1e-3), ["lr_g"]),
        (lambda: TrainConfig(lr_d=float("nan")), ["lr_d"]),
        (lambda: TrainConfig(betas=(1.0, 0.999)), ["betas"]),
        (lambda: TrainConfig(betas=(0.5, -0.1)), ["betas"]),
        (lambda: TrainConfig(betas=(0.5,)), ["betas"]),
        (lambda: TrainConfig(ema=1.0), ["ema"]),
        (lambda: TrainConfig(reuse_fakes="yes"), ["reuse_fakes", "yes"]),
        (lambda: TrainConfig(amp="fp8"), ["amp", "fp8"]),
        (lambda: TrainConfig(compile="yes"), ["compile", "'yes'", "auto, on, off"]),
        (lambda: TrainConfig(seed=-2), ["seed"]),
        (lambda: LossConfig(name="hinge"), ["hinge", "nonsaturating", "least_squares"]),
        (lambda: DataConfig(name="imagenet"), ["imagenet", "digits", "mnist"]),
        (lambda: DataConfig(resolution=0), ["resolution"]),
        (lambda: DCGANConfig(resolution=48), ["48", "16", "32", "64"]),
        (lambda: DCGANConfig(channels=2), ["channels"]),
        (lambda: MLPConfig(data_shape=(1, 16)), ["data_shape"]),
        (lambda: MLPConfig(d_dropout=1.0), ["d_dropout"]),
        (lambda: RunConfig(model="stylegan", arch=DCGANConfig()), ["stylegan", "dcgan"]),
        (lambda: RunConfig(model="vanilla", arch=DCGANConfig()), ["vanilla", "mlp"]),
    ],
)
def test_invalid_values_are_rejected_with_a_clear_message(make, words: list[str]) -> None:
    with pytest.raises(ValueError) as info:
        make()
    for word in words:
        assert word in str(info.value)


def test_from_dict_rejects_unknown_nested_keys() -> None:
    d = preset("dcgan", profile="tiny").to_dict()
    d["train"]["stepz"] = 3
    with pytest.raises(ValueError, match="stepz"):
        RunConfig.from_dict(d)
    d = preset("dcgan", profile="tiny").to_dict()
    d["arch"]["depth"] = 3
    with pytest.raises(ValueError, match="depth"):
        RunConfig.from_dict(d)


def test_from_dict_rejects_unknown_top_level_keys() -> None:
    # A misspelt section ("trian") must not silently fall back to the default TrainConfig.
    d = preset("dcgan", profile="tiny").to_dict()
    d["trian"] = d.pop("train")
    with pytest.raises(ValueError, match="trian"):
        RunConfig.from_dict(d)


def test_from_dict_rejects_foreign_data() -> None:
    with pytest.raises(ValueError, match="model"):
        RunConfig.from_dict({"a": 1})
    d = preset("dcgan", profile="tiny").to_dict()
    d["arch"]["family"] = "stylegan"
    with pytest.raises(ValueError, match="stylegan"):
        RunConfig.from_dict(d)


def test_invalid_values_in_json_are_rejected() -> None:
    d = preset("dcgan", profile="tiny").to_dict()
    d["train"]["batch_size"] = 0
    with pytest.raises(ValueError, match="batch_size"):
        RunConfig.from_json(json.dumps(d))


# ---------------------------------------------------------------- hostile or damaged JSON
@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", ["not valid JSON"]),
        ("{\"model\": ", ["not valid JSON"]),
        (b"\xff\xfe garbage", ["not valid JSON"]),
        ("null", ["expected an object"]),
        ("[\"model\", \"arch\"]", ["expected an object"]),
        ('{"model": "dcgan", "arch": [1, 2]}', ["'arch' must be an object", "list"]),
        ('{"model": "dcgan", "arch": {"family": "dcgan"}, "data": "shapes"}',
         ["'data' must be an object"]),
        ('{"model": "dcgan", "arch": {"family": ["dcgan"]}}', ["unknown architecture family"]),
        ('{"model": "dcgan", "arch": {"family": "dcgan"}, "train": {"betas": 5}}',
         ["TrainConfig", "betas"]),
        ('{"model": "dcgan", "arch": {"family": "dcgan"}, "data": {"name": 5}}',
         ["data set name must be a string"]),
        ('{"version": "1", "model": "dcgan", "arch": {"family": "dcgan"}}', ["invalid config "
                                                                               "version"]),
    ],
)
def test_damaged_json_is_a_one_line_value_error(text, words: list[str]) -> None:
    with pytest.raises(ValueError) as info:
        RunConfig.from_json(text)
    message = str(info.value)
    assert "\n" not in message
    for word in words:
        assert word in message


def test_a_config_from_a_newer_ganlab_is_refused_by_version() -> None:
    from ganlab.config import CONFIG_VERSION

    d = preset("dcgan", profile="tiny").to_dict()
    assert d["version"] == CONFIG_VERSION
    d["version"] = CONFIG_VERSION + 1
    d["train"]["new_knob"] = 1  # a newer ganlab may add fields: the version is named, not them
    with pytest.raises(ValueError, match=f"newer ganlab \\(config version {CONFIG_VERSION + 1}"):
        RunConfig.from_dict(d)


def test_configs_written_before_the_version_field_still_load() -> None:
    config = preset("dcgan", profile="tiny")
    d = config.to_dict()
    del d["version"]
    assert RunConfig.from_dict(d) == config


def test_from_json_needs_text() -> None:
    with pytest.raises(TypeError, match="expects the JSON text"):
        RunConfig.from_json(None)


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"train__stepz": 3}, ["train__stepz", "train__steps"]),
        ({"arch__depth": 3}, ["arch__depth", "arch__g_width"]),
        ({"optim__lr": 1.0}, ["optim", "train"]),
        ({"modell": "dcgan"}, ["modell", "model"]),
    ],
)
def test_preset_overrides_with_unknown_names(overrides: dict, words: list[str]) -> None:
    with pytest.raises(ValueError) as info:
        preset("dcgan", profile="tiny", **overrides)
    for word in words:
        assert word in str(info.value)


def test_digit_presets_train_on_mnist5k_offline_and_mnist_in_full() -> None:
    for prof in ("tiny", "default"):
        for model in ("vanilla", "lsgan"):
            config = preset(model, profile=prof)
            assert config.data.name == "mnist-5k" and not config.data.download
        assert preset("vanilla", profile=prof).arch.data_shape == (1, 28, 28)
        dcgan = preset("dcgan", "mnist-5k", profile=prof)
        assert dcgan.arch.channels == 1 and dcgan.data.resolution == dcgan.arch.resolution
    full = preset("vanilla", profile="full")
    assert full.data.name == "mnist" and full.data.download


@pytest.mark.parametrize("prof", PROFILES)
def test_ring_collapse_is_the_stated_setting_and_only_the_loss_differs(prof: str) -> None:
    regular, ls = ring_collapse("vanilla", prof), ring_collapse("lsgan", prof)
    assert regular.arch == MLPConfig(data_shape=(2,), latent_dim=256, g_hidden=(128, 128),
                                     d_hidden=(128,), d_dropout=0.0, negative_slope=0.0,
                                     g_output="linear")
    t = regular.train
    assert (t.lr_g, t.lr_d, t.betas, t.batch_size, t.ema) == (1e-3, 1e-3, (0.5, 0.999), 512, 0.0)
    assert t.steps == (6000 if prof != "tiny" else 60)
    assert regular.data.name == "ring8"
    # Metz et al. (2017), app. A: radius 2, std 0.02, written out here independently.
    assert (regular.data.radius, regular.data.std) == (2.0, 0.02)
    assert regular.data.geometry == (2.0, 0.02)
    assert (regular.loss.name, ls.loss.name) == ("nonsaturating", "least_squares")
    assert (ls.loss.a, ls.loss.b, ls.loss.c) == (0.0, 1.0, 1.0)
    assert ls.replace(model="vanilla", loss=regular.loss) == regular
    assert ring_collapse("lsgan", prof, train__seed=4).train.seed == 4
    with pytest.raises(ValueError, match="vanilla and lsgan"):
        ring_collapse("dcgan", prof)


def test_point_geometry_defaults_and_refusals() -> None:
    assert DataConfig("ring8").geometry == (0.8, 0.008)
    assert DataConfig("grid25").geometry == (0.8, 0.004)
    assert DataConfig("ring8", radius=2.0).geometry == (2.0, 0.008)
    with pytest.raises(ValueError, match="geometry of a 2-D mixture"):
        DataConfig("shapes", radius=1.0)
    with pytest.raises(ValueError, match="positive number"):
        DataConfig("ring8", std=0.0)
    with pytest.raises(ValueError, match="not a 2-D mixture"):
        DataConfig("shapes").geometry  # noqa: B018 - the property raises


def test_tanh_generator_refuses_points_it_cannot_reach() -> None:
    cfg = preset("vanilla", "ring8", profile="tiny")
    with pytest.raises(ValueError, match=r"reaches 2\.06.*g_output='linear'"):
        cfg.replace(data__radius=2.0, data__std=0.02)
    wide = cfg.replace(arch__g_output="linear", data__radius=2.0, data__std=0.02)
    assert wide.arch.g_output == "linear"
    assert RunConfig.from_json(wide.to_json()) == wide
    with pytest.raises(ValueError, match="g_output must be one of tanh, linear"):
        MLPConfig(g_output="relu")


def test_batch_norm_and_optimizer_options_are_checked() -> None:
    assert DCGANConfig().batch_norm == "both" and TrainConfig().optimizer == "adam"
    assert DCGANConfig(batch_norm="none").batch_norm == "none"
    with pytest.raises(ValueError, match="batch_norm must be one of both, g, d, none"):
        DCGANConfig(batch_norm="G")
    with pytest.raises(ValueError, match="optimizer must be one of adam, rmsprop, sgd"):
        TrainConfig(optimizer="adagrad")


# ---------------------------------------------------------------- the bottom layer
def _ganlab_imports(path: Path) -> list[str]:
    """Every ``ganlab`` module a file imports, at its top or inside a function (lazily)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] == "ganlab"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # from . import x
                found.append("." * node.level + (node.module or ""))
            elif node.module and node.module.split(".")[0] == "ganlab":
                found.append(node.module)
    return found


def test_config_imports_no_other_ganlab_module() -> None:
    """STYLE rule 12: config sits at the bottom, so checking a config loads nothing above it."""
    import ganlab.config

    assert _ganlab_imports(Path(ganlab.config.__file__)) == []


def test_data_set_names_and_progan_config_import_from_where_they_did() -> None:
    import ganlab.config as config
    import ganlab.data as data
    import ganlab.models.progan as progan

    for name in ("EMBEDDED", "REAL", "DATASETS", "check_dataset_name"):
        assert getattr(data, name) is getattr(config, name), name
    assert progan.ProGANConfig is config.ProGANConfig
    assert progan.block_name is config.block_name
    assert config.arch_classes()["progan"] is progan.ProGANConfig
    with pytest.raises(ValueError, match="unknown data set 'mnist5k'; choose one of digits"):
        DataConfig(name="mnist5k")
