"""Data-parallel training over several devices gives the same model as one device."""

from __future__ import annotations

import json
import os
import subprocess
import sys

CODE = """
import json, sys
import jax, numpy as np
from mnist_desktop.core.training.data_prep import train_data_from
from mnist_desktop.core.data.datasets import load_dataset
from mnist_desktop.core.training.trainer import Trainer, default_config
data = train_data_from(load_dataset("mnist-subset"))
data.train_x, data.train_y = data.train_x[:2048], data.train_y[:2048]
trainer = Trainer(default_config("cnn", epochs=1, batch_size=128, log_every=8), data)
done = list(trainer.run())[-1]
leaves = [np.asarray(l).ravel() for l in jax.tree_util.tree_leaves(done.params)]
# a diverging run falls back to a finite snapshot of the sharded weights too
import mnist_desktop.core.training.trainer as training
training.SNAPSHOT_EVERY = 1
bad = list(Trainer(default_config("mlp", optimizer="sgd", learning_rate=100.0, schedule="constant", epochs=1,
                                  batch_size=128), data).run())[-1]
print(json.dumps({"devices": trainer.devices, "n_jax": len(jax.devices()), "acc": done.test_accuracy,
                  "params": np.concatenate(leaves)[::97].tolist(), "diverged": bad.status, "message": bad.message,
                  "finite": all(bool(np.isfinite(l).all()) for l in jax.tree_util.tree_leaves(bad.params))}))
"""


def run(devices: int) -> dict:
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}", JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_two_cpu_devices_match_one_device():
    import numpy as np

    one, two = run(1), run(2)
    assert one["devices"] == 1 and two["devices"] == 2 and two["n_jax"] == 2
    assert abs(one["acc"] - two["acc"]) <= 0.01
    np.testing.assert_allclose(two["params"], one["params"], rtol=2e-3, atol=2e-4)
    for result in (one, two):
        assert result["diverged"] == "diverged" and result["finite"]
        assert "kept the weights saved at step 0" not in result["message"], result["message"]  # a later snapshot
