"""Compile a run's functions ahead of time, off the training thread, and time its phases.

Why: with a warm persistent compilation cache XLA's compile is a cache read, but
every process still *traces* and *lowers* each jitted function (Haiku transform,
``value_and_grad``, the Optax update) before it can look the cache up; counted
with ``JAX_LOG_COMPILES=1`` on a default CNN run that was 56 compilations, 45 of
them tiny eager ops (parameter copies, PRNG splits, the learning-rate schedule
read on the host, padding). The trainer now folds those into a few jitted
functions and lowers + compiles the step with ``jit(...).lower(...).compile()``
in a background thread while the main thread places the data on the device.
Measured: 56 → 7 compilations per ``train`` process. The thread itself gains
little — tracing holds the GIL — in-process A/B (4 alternating pairs, shared
2-core machine) gave setup + compile + first step 0.78 s in the background vs
0.76 s inline (noise); in a CLI run ~0.15 s of setup overlapped the compile.

:class:`PhaseClock` records where a run's wall time goes (compile, first step,
steady-state steps, evaluation, saving) — the breakdown ``train --json`` and
``bench`` print.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Generic, TypeVar

import jax
import jax.numpy as jnp
import numpy as np

T = TypeVar("T")
#: Off, :class:`Background` runs its function inline (for A/B measurements and debugging).
IN_BACKGROUND = True


class Background(Generic[T]):
    """Run ``fn()`` on a daemon thread; :meth:`result` joins and re-raises its error.

    XLA releases the GIL while it compiles or reads its cache, and numpy while it
    converts the data, so the two threads overlap even on a 2-core CPU.
    """

    def __init__(self, fn: Callable[[], T], name: str = "compile-ahead"):
        self.seconds = 0.0  # the thread's own duration, for the phase breakdown
        self._value: Any = None
        self._error: BaseException | None = None

        def target() -> None:
            t0 = time.perf_counter()
            try:
                self._value = fn()
            except BaseException as err:  # re-raised on the consuming thread
                self._error = err
            finally:
                self.seconds = time.perf_counter() - t0

        self._thread = threading.Thread(target=target, name=name, daemon=True)
        if IN_BACKGROUND:
            self._thread.start()
        else:
            target()

    def _join(self) -> None:
        if self._thread.ident is not None:
            self._thread.join()

    def result(self) -> T:
        self._join()
        if self._error is not None:
            raise self._error
        return self._value


def compile_ahead(step: Callable, *example_args: Any) -> Callable:
    """``step`` lowered and compiled for the shapes of ``example_args`` (nothing is executed).

    A callable without ``lower`` (a plain Python function wrapping a step, as tests
    do) is returned unchanged and compiles on first call. The compiled executable
    keeps the jit's donation, and it refuses arguments of another shape instead of
    compiling again — which is what the trainer wants: one compilation per run.
    """
    lower = getattr(step, "lower", None)
    if lower is None:
        return step
    return lower(*example_args).compile()


def abstract(tree: Any) -> Any:
    """Shape/dtype stand-ins of a tree of arrays (what ``lower`` needs, no data)."""
    return jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(np.shape(a), jnp.result_type(a)), tree)


def learning_rate_table(schedule: Callable, total_steps: int) -> np.ndarray:
    """The schedule at every step 0…total, in one compiled call.

    Calling an Optax schedule on the host per log line compiled half a dozen
    one-op functions per process; one vectorised call compiles one.
    """
    return np.asarray(jax.jit(jax.vmap(schedule))(np.arange(total_steps + 1, dtype=np.int32)))


def _epoch_keys(seed: jnp.ndarray, count: int) -> jnp.ndarray:
    return jax.random.split(jax.random.PRNGKey(seed), count)


_epoch_keys_jit = jax.jit(_epoch_keys, static_argnums=1)


def epoch_keys(seed: int, epochs: int) -> np.ndarray:
    """One PRNG key per epoch (rows) from one compiled call, on the host.

    Eager ``PRNGKey``/``split`` compiled ~10 one-op functions per process, and
    indexing a device array compiles another; a host row is passed to the step as is.
    """
    return np.asarray(_epoch_keys_jit(np.int32(seed), int(epochs)))


class PhaseClock:
    """Accumulates named wall-time phases of one run, in the order first seen."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._mark = time.perf_counter()

    def lap(self, phase: str) -> float:
        """Charge the time since the previous lap to ``phase``; returns that time."""
        now = time.perf_counter()
        spent = now - self._mark
        self.seconds[phase] = self.seconds.get(phase, 0.0) + spent
        self._mark = now
        return spent

    def skip(self) -> None:
        """Restart the clock without charging anything (pauses, the consumer's own time)."""
        self._mark = time.perf_counter()

    def add(self, phase: str, seconds: float) -> None:
        self.seconds[phase] = self.seconds.get(phase, 0.0) + seconds

    def rounded(self, digits: int = 3) -> dict[str, float]:
        return {k: round(v, digits) for k, v in self.seconds.items()}
