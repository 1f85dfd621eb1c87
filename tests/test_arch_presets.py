"""The presets rebuild the hand-written models of earlier versions exactly.

The reference networks below are verbatim copies of the fixed models that
networks.py held before architectures became data; checkpoints saved by those
versions must load, predict and train exactly as before.
"""

from __future__ import annotations

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mnist_desktop.core.models import networks
from mnist_desktop.core.models.checkpoints import load_checkpoint
from mnist_desktop.core.models.spec import PRESETS, check
from mnist_desktop.core.paths import bundled_model_path


def _old_max_pool_2x2(x):
    n, h, w, c = x.shape
    return x.reshape(n, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


def _old_logreg(x, acts=None):
    return hk.Linear(10, name="linear")(hk.Flatten()(x))


def _old_mlp(x, acts=None):
    h = hk.Flatten()(x)
    h = jax.nn.relu(hk.Linear(300, name="hidden1")(h))
    if acts is not None:
        acts["hidden1"] = h
    h = jax.nn.relu(hk.Linear(100, name="hidden2")(h))
    if acts is not None:
        acts["hidden2"] = h
    return hk.Linear(10, name="output")(h)


def _old_cnn(x, acts=None):
    h = jax.nn.relu(hk.Conv2D(32, 5, stride=2, padding="VALID", name="conv1")(x))
    if acts is not None:
        acts["conv1"] = h
    h = _old_max_pool_2x2(h)
    h = jax.nn.relu(hk.Conv2D(64, 3, padding="VALID", name="conv2")(h))
    if acts is not None:
        acts["conv2"] = h
    h = jax.nn.relu(hk.Linear(128, name="dense")(hk.Flatten()(h)))
    if acts is not None:
        acts["dense"] = h
    return hk.Linear(10, name="output")(h)


OLD = {"logreg": _old_logreg, "mlp": _old_mlp, "cnn": _old_cnn}
OLD_PARAM_COUNTS = {"logreg": 7_850, "mlp": 266_610, "cnn": 151_818}  # as the model picker showed them


def _old_transform(name):
    def forward(x):
        acts = {}
        return OLD[name](x, acts), acts

    return hk.without_apply_rng(hk.transform(forward))


@pytest.mark.parametrize("name", sorted(OLD))
def test_preset_matches_the_fixed_model(name):
    """Same parameter tree, count, initial values and forward pass (logits and recorded activations)."""
    x = jax.random.uniform(jax.random.PRNGKey(1), (4, 28, 28, 1))
    old = _old_transform(name)
    old_params = old.init(jax.random.PRNGKey(7), x)
    new_params = networks.transformed(name).init(jax.random.PRNGKey(7), x)
    assert jax.tree_util.tree_structure(old_params) == jax.tree_util.tree_structure(new_params)
    for a, b in zip(jax.tree_util.tree_leaves(old_params), jax.tree_util.tree_leaves(new_params)):
        assert a.shape == b.shape and np.array_equal(a, b)  # same init: training starts from the same point
    assert networks.param_count(new_params) == OLD_PARAM_COUNTS[name] == check(PRESETS[name], name).params
    old_logits, old_acts = old.apply(old_params, x)
    new_logits, new_acts = networks.with_activations(name).apply(old_params, x)
    np.testing.assert_array_equal(np.asarray(old_logits), np.asarray(new_logits))
    assert set(new_acts) - {"input", "logits"} == set(old_acts)
    for key, value in old_acts.items():
        np.testing.assert_array_equal(np.asarray(value), np.asarray(new_acts[key]))


def test_every_preset_builds_with_its_summary_counts():
    x = jnp.zeros((2, 28, 28, 1))
    for name, arch in PRESETS.items():
        summary = check(arch, name)
        params = networks.init_params(name)
        assert networks.param_count(params) == summary.params, name
        assert networks.transformed(name).apply(params, x).shape == (2, 10)
    # the Flax MNIST example's CNN: conv32 → avgpool → conv64 → avgpool → dense256 → 10 (SAME convs)
    assert check(PRESETS["flax-cnn"], "flax-cnn").params == 320 + 18_496 + 3_136 * 256 + 256 + 2_570


def test_bundled_checkpoint_predicts_as_before():
    """The bundled model (saved before specs) loads, and the spec-built CNN gives the reference net's logits."""
    ckpt = load_checkpoint(bundled_model_path())
    assert ckpt.model_name == "cnn" and "architecture" not in ckpt.metadata
    from mnist_desktop.core.data.datasets import load_dataset

    data = load_dataset("mnist-subset")
    x = np.asarray(data.test_images[:200], np.float32)[..., None] / 255.0
    new = np.asarray(networks.transformed("cnn").apply(ckpt.params, x))
    old = np.asarray(_old_transform("cnn").apply(ckpt.params, x)[0])
    np.testing.assert_array_equal(new, old)
    accuracy = float((new.argmax(-1) == np.asarray(data.test_labels[:200])).mean())
    assert accuracy > 0.95


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_preset_trains_the_same_as_the_fixed_model(name, monkeypatch):
    """The accuracy path: a short run of the preset ends on the same weights and test accuracy
    as the same run with the reference network swapped into the trainer and evaluation."""
    from mnist_desktop.core.data.datasets import load_dataset
    from mnist_desktop.core.training import evaluation, train_step, trainer
    from mnist_desktop.core.training.data_prep import train_data_from

    data = train_data_from(load_dataset("mnist-subset"))
    config = trainer.default_config(name, epochs=0.2, dataset="mnist-subset", log_every=1000)

    def run():
        evaluation._logits_fn.cache_clear()
        done = [e for e in trainer.Trainer(config, data).run() if isinstance(e, trainer.DoneEvent)][0]
        evaluation._logits_fn.cache_clear()
        return done

    new = run()
    reference = _old_transform(name)
    plain = hk.without_apply_rng(hk.transform(lambda x: OLD[name](x, None)))
    assert reference.apply is not None
    monkeypatch.setattr(train_step, "transformed", lambda model: plain)  # the jitted step builds the network
    monkeypatch.setattr(evaluation, "transformed", lambda model: plain)
    old = run()
    assert new.step == old.step > 0
    for a, b in zip(jax.tree_util.tree_leaves(new.params), jax.tree_util.tree_leaves(old.params)):
        np.testing.assert_array_equal(a, b)
    assert new.test_accuracy == old.test_accuracy > 0.5
