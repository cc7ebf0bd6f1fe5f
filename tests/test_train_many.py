"""ganlab.training.train_many: runs side by side in processes, each exactly the run that a
single-threaded Trainer would train, returned in order with their warnings."""

from __future__ import annotations

import warnings

import pytest
import torch

from ganlab.presets import preset, ring_collapse
from ganlab.training import Trainer, train_many


def one_thread_run(config):
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        trainer = Trainer(config, device="cpu", progress=False)
        trainer.fit()
    finally:
        torch.set_num_threads(previous)
    return trainer


def test_parallel_runs_equal_serial_single_threaded_runs_in_order():
    configs = [ring_collapse(model, profile="tiny", train__seed=seed)
               for model, seed in (("vanilla", 0), ("lsgan", 1), ("vanilla", 2))]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainers = train_many(configs, workers=2, progress=False)
    assert [t.config for t in trainers] == configs
    for trainer, config in zip(trainers, configs):
        ref = one_thread_run(config)
        assert trainer.step == ref.step == config.train.steps
        assert len(trainer.samples) == len(ref.samples)
        for (step, seen, x), (ref_step, ref_seen, ref_x) in zip(trainer.samples, ref.samples):
            assert (step, seen) == (ref_step, ref_seen)
            assert torch.equal(x, ref_x)
        assert trainer.warnings_issued == ref.warnings_issued
    expected = [f"run {i} ({t.config.model}, seed {t.config.train.seed}): {m}"
                for i, t in enumerate(trainers) for m in t.warnings_issued]
    assert [str(w.message) for w in caught if "run " in str(w.message)] == expected
    # a returned Trainer is a live one: it can train on
    trainers[0].fit(configs[0].train.steps + 2)
    assert trainers[0].step == configs[0].train.steps + 2


def test_one_worker_trains_in_this_process_and_restores_threads():
    before = torch.get_num_threads()
    (trainer,) = train_many([preset("vanilla", "ring8", profile="tiny")], progress=False)
    assert trainer.step == preset("vanilla", "ring8", profile="tiny").train.steps
    assert torch.get_num_threads() == before
    assert train_many([], progress=False) == []


@pytest.mark.parametrize(("configs", "workers", "error", "message"), [
    ([preset("vanilla", "ring8", profile="tiny"), "ring8"], None, TypeError,
     r"configs\[1\] must be a ganlab.config.RunConfig, got str"),
    ([preset("vanilla", "ring8", profile="tiny")], 0, ValueError,
     "workers must be a positive integer, got 0"),
])
def test_bad_arguments_are_refused(configs, workers, error, message):
    with pytest.raises(error, match=message):
        train_many(configs, workers=workers, progress=False)
