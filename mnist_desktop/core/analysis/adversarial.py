"""Targeted adversarial examples: the smallest change that makes the model answer a chosen digit.

FGSM (Goodfellow et al. 2015) takes one step of size ε against the gradient of
the target's loss; PGD (Madry et al. 2018) takes many small steps and projects
back into the budget after each. Both are targeted here: the loss is the cross
entropy towards the *target* class, so the change pushes the answer to it
rather than merely away from the truth. The budget is a ball around the
drawing — L∞ (no pixel changes by more than ε: a faint haze over the whole
image) or L2 (the change's total length is at most ε: a few strong strokes) —
intersected with the valid pixel range [0, 1]. The whole attack is one jitted
``lax.fori_loop``, so 20 PGD steps on the CNN cost one dispatch.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from mnist_desktop.core.models.networks import transformed

NORMS = ("linf", "l2")
METHODS = ("pgd", "fgsm")


@dataclass
class AttackResult:
    """What the lab shows: the fooled input, the change, and the answers before and after."""

    method: str
    norm: str
    epsilon: float
    target: int
    original: np.ndarray  # (28, 28)
    adversarial: np.ndarray  # (28, 28) in [0, 1]
    probs_before: np.ndarray  # (10,)
    probs_after: np.ndarray  # (10,)
    target_trace: np.ndarray  # (steps + 1,) the target's probability before each step and at the end
    first_success: int  # the first step after which the model answered the target; -1 = never

    @property
    def delta(self) -> np.ndarray:
        return self.adversarial - self.original

    @property
    def success(self) -> bool:
        return int(np.argmax(self.probs_after)) == self.target

    def size(self, norm: str | None = None) -> float:
        """The change's size in ``norm`` (default: the attack's own)."""
        return change_size(self.delta, norm or self.norm)


def change_size(delta: np.ndarray, norm: str) -> float:
    d = np.asarray(delta, np.float64).ravel()
    return float(np.abs(d).max(initial=0.0)) if norm == "linf" else float(np.sqrt((d * d).sum()))


def default_step(epsilon: float, steps: int, method: str) -> float:
    """FGSM: the whole budget at once; PGD: 2.5 ε / steps (Madry et al.'s rule: can cross the ball)."""
    return float(epsilon) if method == "fgsm" else 2.5 * float(epsilon) / max(steps, 1)


def _check(method: str, norm: str, epsilon: float, steps: int, target: int) -> None:
    if method not in METHODS:
        raise ValueError(f"unknown attack {method!r}; choose one of {', '.join(METHODS)}")
    if norm not in NORMS:
        raise ValueError(f"unknown budget norm {norm!r}; choose one of {', '.join(NORMS)}")
    if not (epsilon > 0 and np.isfinite(epsilon)):
        raise ValueError(f"the budget ε must be a positive number, got {epsilon}")
    if steps < 1:
        raise ValueError(f"an attack needs at least one step, got {steps}")
    if not 0 <= target < 10:
        raise ValueError(f"the target must be a class 0–9, got {target}")


@functools.cache
def _attack_fn(model_name: str, norm: str, steps: int) -> Callable:
    apply = transformed(model_name).apply

    def target_loss(params: Any, x: jnp.ndarray, target: jnp.ndarray):
        logits = apply(params, x[None, :, :, None])[0]
        return -jax.nn.log_softmax(logits)[target], jax.nn.softmax(logits)

    grad = jax.grad(target_loss, argnums=1, has_aux=True)

    def direction(g: jnp.ndarray) -> jnp.ndarray:
        if norm == "linf":
            return jnp.sign(g)
        return g / jnp.maximum(jnp.sqrt((g * g).sum()), 1e-12)

    def project(delta: jnp.ndarray, eps: jnp.ndarray) -> jnp.ndarray:
        if norm == "linf":
            return jnp.clip(delta, -eps, eps)
        length = jnp.sqrt((delta * delta).sum())
        return delta * jnp.minimum(1.0, eps / jnp.maximum(length, 1e-12))

    def attack(params: Any, x: jnp.ndarray, target: jnp.ndarray, eps: jnp.ndarray, alpha: jnp.ndarray):
        def body(i, carry):
            delta, trace = carry
            g, probs = grad(params, x + delta, target)
            delta = project(delta - alpha * direction(g), eps)
            delta = jnp.clip(x + delta, 0.0, 1.0) - x  # stays in the ball: clipping only shrinks each pixel's change
            return delta, trace.at[i].set(probs)

        trace0 = jnp.zeros((steps + 1, 10), jnp.float32)
        delta, trace = jax.lax.fori_loop(0, steps, body, (jnp.zeros_like(x), trace0))
        final = jax.nn.softmax(apply(params, (x + delta)[None, :, :, None])[0])
        return x + delta, trace.at[steps].set(final)

    return jax.jit(attack)


def attack(model_name: str, params: Any, image: np.ndarray, target: int, *, method: str = "pgd",
           norm: str = "linf", epsilon: float = 0.2, steps: int = 20, step_size: float | None = None) -> AttackResult:
    """A targeted FGSM or PGD attack on one (28, 28) input within an ``norm`` ball of radius ``epsilon``."""
    steps = 1 if method == "fgsm" else int(steps)
    _check(method, norm, float(epsilon), steps, int(target))
    alpha = default_step(epsilon, steps, method) if step_size is None else float(step_size)
    x = np.asarray(image, np.float32)
    adv, trace = jax.device_get(_attack_fn(model_name, norm, steps)(
        params, x, np.int32(target), np.float32(epsilon), np.float32(alpha)))
    trace = np.asarray(trace)
    hits = np.flatnonzero(trace.argmax(axis=1) == target)
    return AttackResult(method, norm, float(epsilon), int(target), x, np.asarray(adv), trace[0], trace[-1],
                        trace[:, target].copy(), int(hits[0]) if hits.size else -1)


def smallest_budget(model_name: str, params: Any, image: np.ndarray, target: int, *, norm: str = "linf",
                    steps: int = 20, high: float | None = None, rounds: int = 7) -> AttackResult | None:
    """The PGD attack with (about) the smallest ε that still reaches ``target``: bisection on ε.

    ``high`` defaults to the whole pixel range (1 for L∞, 28 for L2); None if
    even that fails. Each round halves the interval, so 7 rounds pin ε to
    1/128 of ``high``.
    """
    high = (1.0 if norm == "linf" else 28.0) if high is None else float(high)
    best = attack(model_name, params, image, target, norm=norm, epsilon=high, steps=steps)
    if not best.success:
        return None
    low = 0.0
    for _ in range(rounds):
        mid = 0.5 * (low + high)
        result = attack(model_name, params, image, target, norm=norm, epsilon=mid, steps=steps)
        if result.success:
            best, high = result, mid
        else:
            low = mid
    return best
