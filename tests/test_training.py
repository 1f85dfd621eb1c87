"""The training engine on the bundled real MNIST subset: learns, is seeded, stops cleanly."""

from __future__ import annotations

import math
import re

import jax
import numpy as np
import pytest

from mnist_desktop.core.training.data_prep import train_data_from
from mnist_desktop.core.data.datasets import load_dataset
from mnist_desktop.core.errors import ConfigError
from mnist_desktop.core.training import trainer as training
from mnist_desktop.core.training.evaluation import evaluate
from mnist_desktop.core.models.networks import MODELS, init_params, param_count
from mnist_desktop.core.training.trainer import DoneEvent, EpochEvent, StepEvent, TrainConfig, Trainer, default_config


@pytest.fixture(scope="module")
def subset():
    return train_data_from(load_dataset("mnist-subset"), validation_split=0.1, seed=0)


def run(trainer: Trainer) -> list:
    return list(trainer.run())


@pytest.mark.parametrize(
    ("model", "epochs", "floor"),
    [("logreg", 2, 0.80), ("mlp", 2, 0.85), ("cnn", 2, 0.90)],
)
def test_each_model_learns_far_beyond_chance(subset, model, epochs, floor):
    events = run(Trainer(default_config(model, epochs=epochs, log_every=10), subset))
    done = events[-1]
    assert isinstance(done, DoneEvent) and done.status == "completed"
    assert done.test_accuracy >= floor, f"{model} reached only {done.test_accuracy:.3f}"
    steps = [e for e in events if isinstance(e, StepEvent)]
    epochs_seen = [e for e in events if isinstance(e, EpochEvent)]
    assert len(epochs_seen) == epochs and epochs_seen[-1].val_accuracy is not None
    assert steps and all(e.samples_per_sec > 0 and e.eta >= 0 for e in steps)
    assert steps[-1].step == done.step


def test_model_registry_shapes():
    assert set(MODELS) == {"logreg", "mlp", "cnn", "flax-cnn"}  # the presets (core/models/spec.py)
    assert param_count(init_params("logreg")) == 784 * 10 + 10
    assert param_count(init_params("mlp")) == 784 * 300 + 300 + 300 * 100 + 100 + 100 * 10 + 10


def test_same_seed_same_result_and_other_seed_differs(subset):
    cfg = default_config("logreg", epochs=0.5, log_every=5)
    a, b = run(Trainer(cfg, subset))[-1], run(Trainer(cfg, subset))[-1]
    c = run(Trainer(default_config("logreg", epochs=0.5, log_every=5, seed=1), subset))[-1]
    leaves = lambda d: jax.tree_util.tree_leaves(d.params)
    assert all(np.array_equal(x, y) for x, y in zip(leaves(a), leaves(b)))
    assert not all(np.array_equal(x, y) for x, y in zip(leaves(a), leaves(c)))


def test_cancel_stops_mid_epoch(subset):
    trainer = Trainer(default_config("logreg", epochs=3, log_every=5), subset)
    events = []
    for event in trainer.run():
        events.append(event)
        if isinstance(event, StepEvent) and event.step >= 10:
            trainer.cancel()
    done = events[-1]
    assert done.status == "stopped" and "stopped" in done.message
    assert 10 <= done.step < trainer.steps_per_epoch
    assert done.test_accuracy is not None  # the stopped model is still evaluated


def test_pause_blocks_until_resume(subset):
    import threading
    import time

    trainer = Trainer(default_config("logreg", epochs=1, log_every=5), subset)
    gen = trainer.run()
    first = next(gen)
    trainer.pause()
    assert trainer.paused
    threading.Timer(0.3, trainer.resume).start()
    t0 = time.perf_counter()
    second = next(gen)
    assert time.perf_counter() - t0 >= 0.25
    assert second.step > first.step
    list(gen)


DIVERGING = dict(model="mlp", optimizer="sgd", learning_rate=100.0, schedule="constant", epochs=1, log_every=5)


def nan_and_kept_steps(message: str) -> tuple[int, int]:
    found = re.fullmatch(r"loss became NaN at step (\d+) \(learning rate too high\?\); kept the weights saved at step (\d+), the newest finite copy", message)
    assert found, message
    return int(found[1]), int(found[2])


def test_divergence_stops_with_step_and_keeps_finite_params(subset):
    done = run(Trainer(TrainConfig(**DIVERGING), subset))[-1]
    assert done.status == "diverged"
    nan_step, kept = nan_and_kept_steps(done.message)
    assert done.step >= nan_step and kept == 0  # lr 100 blows up long before the first snapshot (step 100)
    assert all(np.all(np.isfinite(leaf)) for leaf in jax.tree_util.tree_leaves(done.params))
    initial = init_params("mlp", 0)
    assert all(np.array_equal(a, b) for a, b in zip(jax.tree_util.tree_leaves(done.params), jax.tree_util.tree_leaves(initial)))
    assert done.test is None


def test_divergence_falls_back_to_the_newest_finite_snapshot(subset, monkeypatch):
    monkeypatch.setattr(training, "SNAPSHOT_EVERY", 1)
    done = run(Trainer(TrainConfig(**DIVERGING), subset))[-1]
    nan_step, kept = nan_and_kept_steps(done.message)
    # the loss of step n is computed from the weights after step n - 1; those may
    # already hold an inf/NaN, in which case the snapshot before them is kept
    assert nan_step - 2 <= kept <= nan_step - 1
    assert all(np.all(np.isfinite(leaf)) for leaf in jax.tree_util.tree_leaves(done.params))


def test_a_blow_up_in_the_very_last_step_is_caught_at_the_end(subset, monkeypatch):
    """The last update's NaN has no later loss to show it; the run's end checks the weights once."""
    import jax.numpy as jnp

    real_step_maker = training.make_train_step
    trainer = Trainer(default_config("logreg", epochs=0.2, log_every=5), subset)

    def poisoned(*args, **kwargs):
        step_fn, calls = real_step_maker(*args, **kwargs), iter(range(1, 10**6))

        def step(*step_args):
            params, opt_state, stats = step_fn(*step_args)
            if next(calls) == trainer.total_steps:
                params = jax.tree_util.tree_map(lambda a: a * jnp.nan, params)
            return params, opt_state, stats
        return step

    monkeypatch.setattr(training, "make_train_step", poisoned)
    monkeypatch.setattr(training, "SNAPSHOT_EVERY", 4)
    done = run(trainer)[-1]
    last_snapshot = (trainer.total_steps - 1) // 4 * 4
    assert done.status == "diverged" and done.test is None
    assert done.message == (f"the weights became NaN at step {trainer.total_steps} (learning rate too high?); "
                            f"kept the weights saved at step {last_snapshot}, the newest finite copy")
    assert all(np.all(np.isfinite(leaf)) for leaf in jax.tree_util.tree_leaves(done.params))


@pytest.mark.parametrize(
    ("field", "value"),
    [("learning_rate", 0.0), ("learning_rate", -1.0), ("learning_rate", math.nan), ("epochs", 0),
     ("validation_split", 1.0), ("batch_size", 0), ("optimizer", "rmsprop"), ("weight_decay", -0.1)],
)
def test_bad_hyperparameters_are_refused_by_field(field, value):
    cfg = default_config("cnn", **{field: value})
    with pytest.raises(ConfigError) as info:
        cfg.validate()
    assert info.value.field == field


def test_batch_larger_than_dataset_is_refused(subset):
    with pytest.raises(ConfigError, match="larger than the"):
        Trainer(default_config("logreg", batch_size=5_500), subset)


def test_evaluation_confusion_matrix_is_consistent(subset):
    done = run(Trainer(default_config("logreg", epochs=1), subset))[-1]
    result = evaluate("logreg", done.params, subset.test_x, subset.test_y)
    assert result.confusion.sum() == len(subset.test_y)
    assert np.trace(result.confusion) == int((result.predictions == subset.test_y).sum())
    assert result.accuracy == pytest.approx(done.test_accuracy)
    assert result.probabilities.shape == (len(subset.test_y), 10)
    assert np.allclose(result.probabilities.sum(axis=1), 1, atol=1e-5)
