"""The jitted training step: one batch gathered on the device, augmented, and one optimizer update.

Kept apart from the trainer's loop so each file holds one thing: this module is
what XLA compiles (the step's maths: the loss with label smoothing and outlier
exposure, dropout keys only for networks that have dropout), the trainer is the
Python around it (schedule, snapshots, events).
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import optax

from mnist_desktop.core.data.augment import augment_batch
from mnist_desktop.core.models.networks import get_model, training_transformed, transformed


def make_train_step(
    model_name: str,
    tx: optax.GradientTransformation,
    augment: bool,
    label_smoothing: float = 0.0,
    mesh: jax.sharding.Mesh | None = None,
    batch_size: int = 128,
    outlier_weight: float = 0.0,
) -> Callable:
    """Jitted step: gather batch by index, (augment), update; report loss, hits and finiteness.

    The step applies every update; a non-finite loss is flagged in its stats and
    the trainer falls back to a finite snapshot (see the module docstring). With a
    ``mesh`` the batch is sharded across its devices (see :func:`data_parallel_mesh`).
    """
    dropout = get_model(model_name).architecture.has_dropout
    # networks without dropout keep the key-free apply: their compiled step is unchanged
    apply = training_transformed(model_name).apply if dropout else (lambda p, x, key: transformed(model_name).apply(p, x))
    split = None if mesh is None else jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("batch"))

    outlier_batch = max(1, batch_size // 4)

    def step(params, opt_state, images, labels, perm, i, key, outliers):
        index = jax.lax.dynamic_slice_in_dim(perm, i * batch_size, batch_size)
        # images live on the device as uint8 (4× less memory traffic in the gather)
        x = images[index].astype(jnp.float32) * (1.0 / 255.0)
        y = labels[index]
        if split is not None:
            x = jax.lax.with_sharding_constraint(x, split)
            y = jax.lax.with_sharding_constraint(y, split)
        step_key = jax.random.fold_in(key, i)
        if augment:
            x = augment_batch(step_key, x)

        if outlier_weight:
            # a fresh random batch of non-digits each step (a quarter of the digit batch)
            pick = jax.random.randint(jax.random.fold_in(key, -1 - i), (outlier_batch,), 0, outliers.shape[0])
            x_out = outliers[pick].astype(jnp.float32)[..., None] * (1.0 / 255.0)
            if augment:
                x_out = augment_batch(jax.random.fold_in(key, i + (1 << 20)), x_out)
            x_all = jnp.concatenate([x, x_out])
        else:
            x_all = x

        def loss_fn(p):
            logits_all = apply(p, x_all, jax.random.fold_in(step_key, 1))
            logits = logits_all[: x.shape[0]]
            if label_smoothing:
                targets = optax.smooth_labels(jax.nn.one_hot(y, logits.shape[-1]), label_smoothing)
                loss = optax.softmax_cross_entropy(logits, targets).mean()
            else:
                loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
            if outlier_weight:
                # cross-entropy to the uniform answer on the non-digits
                loss = loss - outlier_weight * jax.nn.log_softmax(logits_all[x.shape[0]:]).mean()
            return loss, logits

        (loss, logits), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        updates, new_opt_state = tx.update(grads, opt_state, params)
        correct = jnp.sum(jnp.argmax(logits, -1) == y)
        # one small array, so the host reads a step's results in a single transfer
        stats = jnp.stack([loss, correct.astype(jnp.float32), jnp.isfinite(loss).astype(jnp.float32)])
        return optax.apply_updates(params, updates), new_opt_state, stats

    return jax.jit(step, donate_argnums=(0, 1))
