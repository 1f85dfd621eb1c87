"""Ahead-of-time compilation and the phase clock (issue 19): counts, not seconds."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from mnist_desktop.core.training.compile_ahead import (
    Background, PhaseClock, abstract, compile_ahead, epoch_keys, learning_rate_table)

REPO = Path(__file__).resolve().parents[1]


def test_background_returns_the_value_and_reraises_the_error_on_the_caller():
    assert Background(lambda: 41 + 1).result() == 42

    def broken():
        raise ValueError("no such shape")

    with pytest.raises(ValueError, match="no such shape"):
        Background(broken).result()


def test_a_compiled_step_keeps_donation_and_refuses_other_shapes():
    step = jax.jit(lambda p, x: (p + x.sum(), x.mean()), donate_argnums=(0,))
    compiled = compile_ahead(step, *abstract((np.zeros(3, np.float32), np.zeros((4, 2), np.float32))))
    p = jnp.ones(3)
    new_p, mean = compiled(p, np.ones((4, 2), np.float32))
    assert np.allclose(new_p, 9.0) and float(mean) == 1.0
    assert p.is_deleted()  # donated, as the jitted step donates params and optimizer state
    with pytest.raises(TypeError):
        compiled(new_p, np.ones((5, 2), np.float32))  # one compilation per run: a new shape is an error


def test_a_plain_function_is_left_to_compile_on_first_call():
    plain = lambda x: x + 1  # noqa: E731  (what a test's wrapped step looks like)
    assert compile_ahead(plain, jax.ShapeDtypeStruct((2,), jnp.float32)) is plain


@pytest.mark.parametrize("schedule", [optax.cosine_onecycle_schedule(40, 1e-2, pct_start=0.25),
                                      optax.cosine_decay_schedule(3e-3, 40, alpha=0.01), optax.constant_schedule(0.1)])
def test_the_learning_rate_table_is_the_schedule_at_every_step(schedule):
    table = learning_rate_table(schedule, 40)
    assert table.shape == (41,)
    assert np.allclose(table, [float(schedule(i)) for i in range(41)], rtol=1e-6)


def test_epoch_keys_are_distinct_and_deterministic_per_seed():
    a, b = epoch_keys(3, 4), epoch_keys(3, 4)
    assert isinstance(a, np.ndarray) and len(a) == 4 and np.array_equal(a, b)
    assert len({row.tobytes() for row in a}) == 4
    assert not np.array_equal(epoch_keys(4, 4), a)


def test_phase_clock_accumulates_laps_in_order_and_skips_what_it_is_told():
    clock = PhaseClock()
    clock.lap("setup")
    clock.lap("steps")
    clock.skip()
    clock.lap("steps")
    clock.add("compile_background", 1.5)
    assert list(clock.seconds) == ["setup", "steps", "compile_background"]
    assert clock.seconds["compile_background"] == 1.5 and all(v >= 0 for v in clock.seconds.values())


def test_a_training_process_compiles_a_handful_of_functions_and_the_step_once(tmp_path):
    """Every jitted function is traced and lowered again in each process, cache or not.

    Before issue 19 a run compiled 56 functions, most of them one-op eager calls
    (parameter copies, PRNG splits, the schedule read per log line, padding); they
    each cost a trace, a lowering and a cache read. Counted here, not timed.
    """
    env = {**os.environ, "JAX_LOG_COMPILES": "1", "MNIST_DESKTOP_JAX_CACHE": str(tmp_path / "cache")}
    proc = subprocess.run(
        [sys.executable, "-m", "mnist_desktop", "train", "--dataset", "mnist-subset", "--model", "cnn", "--epochs", "0.2",
         "--out", str(tmp_path / "m.ckpt"), "--json"], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    compiled = re.findall(r"^Compiling (?:jit\()?([^\s)]+)", proc.stderr, flags=re.M)
    assert compiled.count("step") == 1, compiled
    # init, epoch keys, snapshot, optimizer init, step, schedule, eval logits, to_uint8, and the
    # doubt fit's forward over the held-out digits (issue 16)
    assert len(compiled) <= 9, compiled
    assert json.loads(proc.stdout.strip().splitlines()[-1])["status"] == "completed"
