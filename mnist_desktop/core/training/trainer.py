"""The training engine: a plain generator of progress events.

``Trainer.run()`` yields :class:`StepEvent` every ``log_every`` steps,
:class:`EpochEvent` after each epoch and one final :class:`DoneEvent`. The CLI
prints them, the GUI worker forwards them as Qt signals, tests iterate them
directly — no threads needed to test the loop.

Speed notes (2-core CPU, measured): the data sit on the device once and each
jitted step gathers its batch by index; the step donates params and optimizer
state; every batch has the same shape (the epoch's remainder is dropped, a new
permutation each epoch covers it); the host reads a step's loss up to
``MAX_IN_FLIGHT`` steps later, in one small transfer, so on an accelerator dispatch
overlaps compute, yet cancel is seen within a step. (XLA:CPU runs each step on
the calling thread, measured: there the loop's own Python work adds to every
step, so it is kept to a few attribute reads.)

Divergence is guarded on the host, not inside the step: selecting between old
and new weights on every step (``jnp.where`` over params and optimizer state)
cost the MLP a quarter of its throughput (72k → 97k samples/s measured). Instead
the trainer copies the weights aside every ``SNAPSHOT_EVERY`` steps, together with
a device-side "all finite" flag, and a run whose loss turns NaN ends on the newest
copy that is finite.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import jax
import jax.numpy as jnp
import numpy as np

from mnist_desktop.core.training.compile_ahead import Background, PhaseClock, abstract, compile_ahead, epoch_keys, learning_rate_table
from mnist_desktop.core.training.train_step import make_train_step
from mnist_desktop.core.training.run_setup import data_parallel_mesh, make_optimizer, to_uint8  # noqa: F401  (re-exported)
from mnist_desktop.core.errors import ConfigError
from mnist_desktop.core.training.evaluation import EVAL_BATCH, EvalResult, batched_logits, metrics_from_logits, pad_to_multiple
from mnist_desktop.core.models.networks import MODELS, get_model, init_params
from mnist_desktop.core.models.spec import SpecError, validate_model_name

OPTIMIZERS = ("sgd", "momentum", "adam")
#: Steps dispatched ahead of the host reading their loss: enough to keep the
#: device busy, few enough that Stop and NaN detection land within ~0.1 s.
MAX_IN_FLIGHT = 8
#: Steps between copies of the weights kept for a diverging run to fall back on:
#: rare enough to cost nothing measurable, and ~100 steps is a fraction of an epoch.
SNAPSHOT_EVERY = 100
SCHEDULES = ("constant", "cosine", "onecycle")


@dataclass
class TrainConfig:
    """Hyperparameters of one run; ``validate`` explains any bad value by field."""

    model: str = "cnn"
    dataset: str = "mnist"
    optimizer: str = "adam"
    learning_rate: float = 3e-3
    batch_size: int = 128
    epochs: float = 2.0
    validation_split: float = 0.0
    seed: int = 0
    weight_decay: float = 0.0
    schedule: str = "onecycle"
    augment: bool = False
    label_smoothing: float = 0.0
    #: Outlier exposure (Hendrycks et al. 2019): weight of a loss that pushes the
    #: model towards a uniform answer on synthetic non-digit strokes
    #: (core/data/ood_shapes.py, a seed stream apart from the measurement set's);
    #: 0 turns it off. It is what lets the OOD score catch scribbles and letters.
    outlier_exposure: float = 0.0
    log_every: int = 50

    def validate(self, n_train: int | None = None) -> None:
        """Raise :class:`ConfigError` naming the first bad field and why."""
        if self.model not in MODELS:
            try:
                validate_model_name(self.model)  # a layer list (see core/models/spec.py)
            except SpecError as err:
                raise ConfigError("model", f"{err}" if isinstance(self.model, str) and (":" in self.model or "," in self.model)
                                  else f"unknown model {str(self.model)[:60]!r}; choose one of {', '.join(MODELS)} "
                                       "or give a layer list such as dense:128,relu") from None
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError("optimizer", f"unknown optimizer {self.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            raise ConfigError("schedule", f"unknown schedule {self.schedule!r}; choose one of {', '.join(SCHEDULES)}")
        lr = self.learning_rate
        if not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0:
            raise ConfigError("learning_rate", f"must be a positive finite number, got {lr}")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ConfigError("batch_size", f"must be a whole number ≥ 1, got {self.batch_size}")
        if self.batch_size > 8192:
            raise ConfigError("batch_size", f"{self.batch_size} is too large (≤ 8192)")
        if not isinstance(self.epochs, (int, float)) or not math.isfinite(self.epochs) or self.epochs <= 0:
            raise ConfigError("epochs", f"must be more than 0, got {self.epochs}")
        if self.epochs > 1000:
            raise ConfigError("epochs", f"{self.epochs} is too many (≤ 1000)")
        vs = self.validation_split
        if not isinstance(vs, (int, float)) or not math.isfinite(vs) or not 0 <= vs < 1:
            raise ConfigError("validation_split", f"must be in [0, 1), got {vs}")
        if vs > 0.5:
            raise ConfigError("validation_split", f"{vs} leaves too little to train on (use ≤ 0.5)")
        wd = self.weight_decay
        if not isinstance(wd, (int, float)) or not math.isfinite(wd) or wd < 0 or wd > 1:
            raise ConfigError("weight_decay", f"must be in [0, 1], got {wd}")
        ls = self.label_smoothing
        if not isinstance(ls, (int, float)) or not math.isfinite(ls) or not 0 <= ls < 1:
            raise ConfigError("label_smoothing", f"must be in [0, 1), got {ls}")
        oe = self.outlier_exposure
        if not isinstance(oe, (int, float)) or not math.isfinite(oe) or not 0 <= oe <= 10:
            raise ConfigError("outlier_exposure", f"must be in [0, 10], got {oe}")
        if not isinstance(self.seed, int) or self.seed < 0 or self.seed >= 2**31:
            raise ConfigError("seed", f"must be a whole number in [0, 2³¹), got {self.seed}")
        if not isinstance(self.log_every, int) or self.log_every < 1:
            raise ConfigError("log_every", f"must be ≥ 1, got {self.log_every}")
        if n_train is not None:
            n_fit = n_train - int(round(n_train * vs))
            if self.batch_size > n_fit:
                raise ConfigError("batch_size", f"{self.batch_size} is larger than the {n_fit} training images; use ≤ {n_fit}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


#: Per-model starting recipes; the GUI and CLI start from these.
DEFAULT_CONFIGS: dict[str, TrainConfig] = {
    "logreg": TrainConfig(model="logreg", optimizer="adam", learning_rate=1e-2, batch_size=128, epochs=5, schedule="cosine",
                          outlier_exposure=0.5),
    "mlp": TrainConfig(model="mlp", optimizer="adam", learning_rate=2e-3, batch_size=128, epochs=8, schedule="onecycle",
                       outlier_exposure=0.5),
    # 2.5 epochs at peak lr 6e-3 with outlier exposure: 99.21 % MNIST test (seed 0). Without outlier exposure
    # 1.5 epochs at 1e-2 reached 99.06–99.08 % (seeds 0–2), but with it 98.97 % (seed 0): not yet the default
    "cnn": TrainConfig(model="cnn", optimizer="adam", learning_rate=6e-3, batch_size=256, epochs=2.5,
                       schedule="onecycle", label_smoothing=0.1, outlier_exposure=0.5),
    # the Flax example trains 10 epochs of SGD; Adam with one-cycle gets there in far fewer
    "flax-cnn": TrainConfig(model="flax-cnn", optimizer="adam", learning_rate=2e-3, batch_size=128, epochs=2,
                            schedule="onecycle"),
}


def default_config(model: str = "cnn", **overrides: Any) -> TrainConfig:
    """The recommended recipe for ``model`` with ``overrides`` applied."""
    if model not in DEFAULT_CONFIGS:
        TrainConfig(model=model).validate()  # names the problem of a bad layer list
        # a custom network starts from the recipe of the preset it most resembles
        base = "cnn" if any(layer.kind == "conv" for layer in get_model(model).architecture.layers) else "mlp"
        return dataclasses.replace(DEFAULT_CONFIGS[base], model=model, **overrides)
    return dataclasses.replace(DEFAULT_CONFIGS[model], **overrides)


@dataclass
class TrainData:
    """Float images (N, 28, 28, 1) in [0, 1] and int labels; val may be empty."""

    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    val_x: np.ndarray = field(default_factory=lambda: np.zeros((0, 28, 28, 1), np.float32))
    val_y: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.int32))
    class_names: tuple[str, ...] = tuple(str(i) for i in range(10))
    dataset: str = "mnist"
    #: uint8 (M, 28, 28) non-digit marks for outlier exposure (empty: none)
    outlier_x: np.ndarray = field(default_factory=lambda: np.zeros((0, 28, 28), np.uint8))
    #: digits held out from training for the end-of-run calibration and OOD threshold
    #: when the run has no validation split (see core/analysis/doubt_fit.py)
    holdout_x: np.ndarray = field(default_factory=lambda: np.zeros((0, 28, 28, 1), np.float32))
    holdout_y: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.int32))


@dataclass
class StepEvent:
    """Progress every ``log_every`` steps; loss/accuracy are means over that window."""

    step: int
    total_steps: int
    epoch: int  # 1-based epoch the step belongs to
    epochs: int
    steps_per_epoch: int
    loss: float
    train_accuracy: float
    learning_rate: float
    samples_per_sec: float
    elapsed: float
    eta: float


@dataclass
class EpochEvent:
    """End of an epoch: the epoch's train metrics and validation metrics (if any)."""

    epoch: int
    epochs: int
    step: int
    train_loss: float
    train_accuracy: float
    val_loss: float | None
    val_accuracy: float | None
    elapsed: float
    test_accuracy: float | None = None  # only when the trainer tracks test accuracy (benchmarks)


@dataclass
class DoneEvent:
    """The run ended: why, final params (host numpy) and test metrics."""

    status: str  # "completed", "stopped" or "diverged"
    message: str
    params: Any
    step: int
    elapsed: float
    train_seconds: float
    test: EvalResult | None
    best_val_accuracy: float | None
    #: wall time per phase (setup, compile wait, compile_background, first_step, steps, evaluation)
    phases: dict[str, float] = field(default_factory=dict)

    @property
    def test_accuracy(self) -> float | None:
        return None if self.test is None else self.test.accuracy


Event = StepEvent | EpochEvent | DoneEvent


def _all_finite(tree: Any) -> jnp.ndarray:
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree_util.tree_leaves(tree)]))


@jax.jit
def _snapshot(params: Any) -> tuple[Any, jnp.ndarray]:
    """A device copy of ``params`` (the step donates the original) and whether it is all finite.

    The flag stays on the device; it is read only if the run diverges.
    """
    return jax.tree_util.tree_map(jnp.copy, params), _all_finite(params)


class Trainer:
    """Runs one training run as a generator; thread-safe ``cancel``/``pause``/``resume``.

    The consumer (CLI loop, GUI worker, test) iterates :meth:`run`. ``cancel`` is
    checked every step; ``pause`` blocks the generator between steps until
    ``resume`` or ``cancel``. :meth:`current_params` gives a host copy of the
    latest weights (for live predictions) — call it from the consuming thread.
    """

    def __init__(self, config: TrainConfig, data: TrainData, initial_params: Any | None = None, *, track_test: bool = False):
        config.validate()
        if config.batch_size > len(data.train_x):
            raise ConfigError("batch_size", f"{config.batch_size} is larger than the {len(data.train_x)} training images; use ≤ {len(data.train_x)}")
        self.config = config
        self.data = data
        self._initial_params = initial_params
        self.track_test = track_test  # evaluate the test set after each epoch (time-to-accuracy curves)
        self._cancel = threading.Event()
        self._resume = threading.Event()
        self._resume.set()
        self.params: Any = None
        #: Called after every step on the consuming thread (the GUI worker serves
        #: live predictions here); must be quick.
        self.between_steps: Callable[[], None] | None = None
        self.steps_per_epoch = len(data.train_x) // config.batch_size
        self.total_steps = max(1, int(round(config.epochs * self.steps_per_epoch)))
        self.epochs = max(1, math.ceil(self.total_steps / self.steps_per_epoch))

    # -- control, callable from any thread ---------------------------------
    def cancel(self) -> None:
        self._cancel.set()
        self._resume.set()

    def pause(self) -> None:
        self._resume.clear()

    def resume(self) -> None:
        self._resume.set()

    @property
    def paused(self) -> bool:
        return not self._resume.is_set()

    def current_params(self) -> Any:
        return None if self.params is None else jax.device_get(self.params)

    # -- the loop ------------------------------------------------------------
    def _evaluate(self, x_dev: jnp.ndarray, count: int, labels: np.ndarray) -> EvalResult | None:
        if count == 0:
            return None
        logits = batched_logits(self.config.model, self.params, x_dev, count=count)
        return metrics_from_logits(logits, labels)

    def run(self) -> Iterator[Event]:
        cfg, data = self.config, self.data
        start = time.perf_counter()
        paused_total = 0.0
        rng = np.random.default_rng(cfg.seed)
        clock = PhaseClock()

        params = self._initial_params if self._initial_params is not None else init_params(cfg.model, cfg.seed)
        mesh = data_parallel_mesh(cfg.batch_size)
        self.devices = 1 if mesh is None else mesh.size
        place = jax.device_put if mesh is None else (
            lambda x: jax.device_put(x, jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())))
        tx, schedule = make_optimizer(cfg, self.total_steps)
        use_outliers = bool(cfg.outlier_exposure) and len(data.outlier_x) > 0
        outlier_host = np.asarray(data.outlier_x if use_outliers else np.zeros((1, 28, 28)), np.uint8)
        step_jit = make_train_step(cfg.model, tx, cfg.augment, cfg.label_smoothing, mesh, cfg.batch_size,
                                   cfg.outlier_exposure if use_outliers else 0.0)
        keys = epoch_keys(cfg.seed, self.epochs)
        n = len(data.train_x)
        opt_shapes = jax.eval_shape(tx.init, params)
        example = (abstract(params), opt_shapes, jax.ShapeDtypeStruct((n, *data.train_x.shape[1:]), jnp.uint8),
                   jax.ShapeDtypeStruct((n,), jnp.int32), jax.ShapeDtypeStruct((n,), jnp.int32),
                   jax.ShapeDtypeStruct((), jnp.int32), abstract(keys[0]), abstract(outlier_host))
        # compile the step ahead while the data go to the device (a mesh compiles on first call)
        ahead = Background(lambda: (step_jit if mesh is not None else compile_ahead(step_jit, *example),
                                    learning_rate_table(schedule, self.total_steps)))
        self.params = place(_snapshot(params)[0]) if mesh is not None else _snapshot(params)[0]  # own copy: it gets donated
        opt_state = jax.jit(tx.init)(self.params)
        outliers = place(outlier_host)

        images = place(to_uint8(np.asarray(data.train_x, np.float32)))
        labels = place(np.asarray(data.train_y, np.int32))
        val_dev = jax.device_put(pad_to_multiple(np.asarray(data.val_x, np.float32), EVAL_BATCH)) if len(data.val_x) else None
        test_dev = jax.device_put(pad_to_multiple(np.asarray(data.test_x, np.float32), EVAL_BATCH)) if len(data.test_x) else None
        clock.lap("setup")
        step_fn, lr_at = ahead.result()
        clock.lap("compile")
        clock.add("compile_background", ahead.seconds)

        # (step, weights, all-finite flag): where a diverging run falls back to. Up to
        # MAX_IN_FLIGHT steps run between the weights turning NaN and the host seeing it,
        # so keep enough snapshots that one predates the blow-up.
        snapshots: deque = deque([(0, params, True)], maxlen=2 + MAX_IN_FLIGHT // SNAPSHOT_EVERY)
        window_loss: list[float] = []
        window_correct = 0
        epoch_loss: list[float] = []
        epoch_correct = 0
        pending: deque = deque()
        status, message = "completed", f"finished {self.total_steps} steps"
        best_val: float | None = None
        last_log_time, last_log_step = start, 0
        step = 0

        def fall_back() -> int:
            """Make the newest finite snapshot the trainer's weights; return its step."""
            for snap_step, snap_params, finite in reversed(snapshots):
                if bool(finite):
                    self.params = snap_params
                    return snap_step
            self.params = params  # every kept snapshot went bad: the run's starting weights
            return 0

        def drain(limit: int) -> str | None:
            """Read results of dispatched steps until ≤ limit are in flight."""
            nonlocal window_correct, epoch_correct
            while len(pending) > limit:
                done_step, stats = pending.popleft()
                loss, correct, ok = np.asarray(stats).tolist()
                if not ok:
                    kept = fall_back()
                    return (f"loss became NaN at step {done_step} (learning rate too high?); "
                            f"kept the weights saved at step {kept}, the newest finite copy")
                value = float(loss)
                window_loss.append(value)
                epoch_loss.append(value)
                window_correct += int(correct)
                epoch_correct += int(correct)
            return None

        for epoch in range(1, self.epochs + 1):
            perm_dev = place(rng.permutation(len(data.train_x)).astype(np.int32))
            epoch_key = keys[epoch - 1]
            epoch_loss.clear()
            epoch_correct = 0
            steps_this_epoch = min(self.steps_per_epoch, self.total_steps - step)
            for i in range(steps_this_epoch):
                if not self._resume.is_set():
                    t_pause = time.perf_counter()
                    while not self._resume.wait(0.05):
                        if self.between_steps is not None:  # keep answering the canvas while paused
                            self.between_steps()
                    paused_total += time.perf_counter() - t_pause
                    clock.skip()
                if self._cancel.is_set():
                    status, message = "stopped", f"stopped by the user at step {step} of {self.total_steps}"
                    break
                self.params, opt_state, stats = step_fn(self.params, opt_state, images, labels, perm_dev, np.int32(i), epoch_key, outliers)
                step += 1
                pending.append((step, stats))
                if step == 1:  # the first call also allocates and warms the runtime: timed on its own
                    jax.block_until_ready(stats)
                    clock.lap("first_step")
                if step % SNAPSHOT_EVERY == 0:
                    snapshots.append((step, *_snapshot(self.params)))
                failure = drain(MAX_IN_FLIGHT)
                if self.between_steps is not None:
                    self.between_steps()
                if failure:
                    status, message = "diverged", failure
                    break
                if step % cfg.log_every == 0 or step == self.total_steps:
                    failure = drain(0)
                    if failure:
                        status, message = "diverged", failure
                        break
                    now = time.perf_counter()
                    active = now - start - paused_total
                    n_window = max(len(window_loss), 1)
                    rate = (step - last_log_step) * cfg.batch_size / max(now - last_log_time, 1e-9)
                    yield StepEvent(
                        step=step, total_steps=self.total_steps, epoch=epoch, epochs=self.epochs,
                        steps_per_epoch=self.steps_per_epoch,
                        loss=float(np.mean(window_loss)) if window_loss else float("nan"),
                        train_accuracy=window_correct / (n_window * cfg.batch_size),
                        learning_rate=float(lr_at[step]), samples_per_sec=rate, elapsed=active,
                        eta=(self.total_steps - step) * active / step,
                    )
                    window_loss.clear()
                    window_correct = 0
                    last_log_time, last_log_step = time.perf_counter(), step
            if status == "completed":
                failure = drain(0)
                if failure:
                    status, message = "diverged", failure
            clock.lap("steps")
            if status != "completed":
                break
            val = self._evaluate(val_dev, len(data.val_x), data.val_y) if val_dev is not None else None
            if val is not None:
                best_val = val.accuracy if best_val is None else max(best_val, val.accuracy)
            n_epoch = max(len(epoch_loss), 1)
            tracked = self._evaluate(test_dev, len(data.test_x), data.test_y) if self.track_test and test_dev is not None else None
            clock.lap("evaluation")
            yield EpochEvent(
                epoch=epoch, epochs=self.epochs, step=step,
                train_loss=float(np.mean(epoch_loss)) if epoch_loss else float("nan"),
                train_accuracy=epoch_correct / (n_epoch * cfg.batch_size),
                val_loss=None if val is None else val.loss,
                val_accuracy=None if val is None else val.accuracy,
                elapsed=time.perf_counter() - start - paused_total,
                test_accuracy=None if tracked is None else tracked.accuracy,
            )
        pending.clear()
        clock.lap("steps")
        if status != "diverged" and not bool(_snapshot(self.params)[1]):
            # the last update blew up with no later loss left to show it (checked once per run,
            # with the snapshot function the run has already compiled)
            status, message = "diverged", (f"the weights became NaN at step {step} (learning rate too high?); "
                                           f"kept the weights saved at step {fall_back()}, the newest finite copy")
        train_seconds = time.perf_counter() - start - paused_total
        test = None
        if test_dev is not None and status != "diverged":
            test = self._evaluate(test_dev, len(data.test_x), data.test_y)
        clock.lap("evaluation")
        final = jax.device_get(self.params)
        yield DoneEvent(
            status=status, message=message, params=final, step=step,
            elapsed=time.perf_counter() - start - paused_total, train_seconds=train_seconds,
            test=test, best_val_accuracy=best_val, phases=clock.rounded(),
        )
