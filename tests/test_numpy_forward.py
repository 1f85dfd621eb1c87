"""The NumPy forward that answers the first strokes while JAX loads equals the JAX forward."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from mnist_desktop.core.analysis.insight import predict_one as jax_predict_one
from mnist_desktop.core.errors import CheckpointError
from mnist_desktop.core.models import numpy_forward
from mnist_desktop.core.models.checkpoints import load_checkpoint, save_checkpoint
from mnist_desktop.core.models.networks import MODELS, init_params, param_shapes, transformed
from mnist_desktop.core.paths import bundled_model_path


@pytest.mark.parametrize("name", list(numpy_forward.PARAM_SHAPES))
def test_numpy_parameter_table_matches_the_haiku_networks(name):
    assert numpy_forward.PARAM_SHAPES[name] == param_shapes(name)


@pytest.mark.parametrize("name", list(numpy_forward.PARAM_SHAPES))
def test_numpy_logits_equal_jax_logits(name):
    params = {m: {k: np.asarray(v) for k, v in g.items()} for m, g in init_params(name, seed=3).items()}
    x = np.random.default_rng(0).random((5, 28, 28, 1), dtype=np.float32)
    expected = np.asarray(transformed(name).apply(params, x))
    got = numpy_forward.FORWARDS[name](params, x)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_bundled_model_probabilities_equal_the_live_jax_path():
    ckpt = load_checkpoint(bundled_model_path())
    rng = np.random.default_rng(1)
    for image in [np.zeros((28, 28), np.float32), rng.random((28, 28), dtype=np.float32)]:
        np.testing.assert_allclose(numpy_forward.predict_one(ckpt.model_name, ckpt.params, image),
                                   np.asarray(jax_predict_one(ckpt.model_name, ckpt.params, image)), atol=1e-5)


def test_a_checkpoint_is_read_and_checked_without_importing_jax():
    code = ("import sys; from mnist_desktop.core.models.checkpoints import load_checkpoint;"
            "from mnist_desktop.core.models.numpy_forward import PARAM_SHAPES;"
            "from mnist_desktop.core.paths import bundled_model_path;"
            "c = load_checkpoint(bundled_model_path(), PARAM_SHAPES); print(c.model_name, 'jax' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["cnn", "False"]


def test_the_numpy_table_still_refuses_a_model_with_wrong_shapes(tmp_path):
    params = {m: {k: np.asarray(v) for k, v in g.items()} for m, g in init_params("mlp").items()}
    params["hidden1"]["w"] = params["hidden1"]["w"][:, :299]
    path = save_checkpoint(tmp_path / "bad.ckpt", "mlp", params)
    with pytest.raises(CheckpointError, match="hidden1/w has shape"):
        load_checkpoint(path, numpy_forward.PARAM_SHAPES)


def test_the_numpy_table_covers_the_models_the_app_ships_and_trains_by_default():
    """Other presets and custom networks wait for JAX (the quick start only serves these)."""
    assert {"logreg", "mlp", "cnn"} <= set(numpy_forward.PARAM_SHAPES) <= set(MODELS)
