"""scripts/second_judge.py: the judges the course does not ship differ from the course's in
network and split, train deterministically, and read samples against their own real data."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from ganlab import data, metrics

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def sj():
    spec = importlib.util.spec_from_file_location("second_judge", ROOT / "scripts/second_judge.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_its_digit_split_holds_out_what_the_course_judge_trains_on(sj) -> None:
    labels = data.mnist5k().labels
    train, held = sj.digit_split(labels)
    course_train, course_held = metrics.mnist5k_split(labels)
    assert len(held) == 1000 and len(train) + len(held) == len(labels)
    assert not set(held.tolist()) & set(train.tolist())
    assert set(held.tolist()) <= set(course_train.tolist())  # a different split
    assert not set(held.tolist()) & set(course_held.tolist())
    assert torch.bincount(labels[held], minlength=10).tolist() == [100] * 10


def test_its_networks_differ_from_the_course_judges(sj) -> None:
    kinds = {type(m) for m in sj.LeNetDigits().modules()}
    assert torch.nn.MaxPool2d in kinds and metrics.DigitJudge not in kinds
    assert sj.LeNetDigits()(torch.zeros(3, 1, 32, 32)).shape == (3, 11)
    assert sj.PooledShapes()(torch.zeros(3, 3, 64, 64)).shape == (3, 4)
    assert torch.nn.AdaptiveAvgPool2d in {type(m) for m in sj.PooledShapes().modules()}


def test_training_is_deterministic_and_leaves_the_global_rng_alone(sj) -> None:
    torch.manual_seed(0)
    before = torch.rand(1)
    torch.manual_seed(0)
    a = sj.train_digit_judge(steps=3, seed=4)
    after = torch.rand(1)
    b = sj.train_digit_judge(steps=3, seed=4)
    c = sj.train_digit_judge(steps=3, seed=5)
    assert before == after
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(va, vb), k
    assert any(not torch.equal(va, vc) for va, vc in zip(a.state_dict().values(),
                                                         c.state_dict().values()))


def test_a_trained_second_shape_judge_reads_real_shapes_not_noise_and_is_cached(
        sj, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("GANLAB_CACHE", str(tmp_path))
    monkeypatch.setattr(sj, "_JUDGES", {})
    train = sj.train_shape_judge
    monkeypatch.setattr(sj, "train_shape_judge", lambda: train(steps=300, n=4096))
    fresh = data.shapes(32, 300, seed=5).data
    vs = sj.second_opinion(fresh, "shapes")
    noise = torch.rand(300, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    assert vs.real_share > 0.5 and vs.of_real > 0.8, vs
    assert sj.second_opinion(noise, "shapes").share < 0.05
    assert (tmp_path / f"second_judge_v{sj.VERSION}_shapes.pt").is_file()
    monkeypatch.setattr(sj, "_JUDGES", {})

    def no_training():
        raise AssertionError("the cached judge should have been loaded")

    monkeypatch.setattr(sj, "train_shape_judge", no_training)
    assert sj.second_opinion(fresh, "shapes").share == vs.share
