"""Hyperparameter sweeps: one or two swept settings, every combination trained in turn.

A sweep answers "what if the hidden layer had 20 units?" with a picture: the
runs go one after another (the GUI worker forwards their events, so the live
chart overlays them), and the results hold each run's final validation accuracy
against the swept values. Choosing on the *test* set would be peeking, so a
sweep holds out a validation split (10 % unless the base recipe has one).

:func:`plan_sweep` turns axes into checked configs before anything trains (a bad
value fails at once, naming the axis), :class:`Sweep` runs them as a plain
generator like :class:`~mnist_desktop.core.training.trainer.Trainer`, testable
without threads; ``cancel`` stops the current run and the rest, and the finished
runs are kept.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import threading
from dataclasses import dataclass, field
from typing import Any, Iterator

from mnist_desktop.core.errors import ConfigError
from mnist_desktop.core.models.spec import Architecture, Layer, SpecError, architecture_of, check, model_id
from mnist_desktop.core.training.sweep_axes import MAX_RUNS, Axis, parse_axis, parse_values  # noqa: F401 (re-exported)
from mnist_desktop.core.training.trainer import DoneEvent, Event, TrainConfig, TrainData, Trainer

SWEEP_VALIDATION = 0.1

def _weighted_layer(arch: Architecture, layer: int | None) -> int:
    """0-based index of the layer a width axis changes (default: the first dense or conv)."""
    sized = [i for i, l in enumerate(arch.layers) if l.kind in ("dense", "conv")]
    if not sized:
        raise ConfigError("width", "this network has no hidden dense or conv layer to widen; add one or choose a preset")
    if layer is None:
        return sized[0]
    if layer - 1 not in sized:
        raise ConfigError("width", f"layer {layer} is not a dense or conv layer; those are layers "
                                   f"{', '.join(str(i + 1) for i in sized)}")
    return layer - 1


def _with_value(config: TrainConfig, axis: Axis, value: float) -> TrainConfig:
    if axis.name in ("width", "dropout"):
        arch = architecture_of(config.model)[0]
        layers = list(arch.layers)
        if axis.name == "width":
            i = _weighted_layer(arch, axis.layer)
            key = "units" if layers[i].kind == "dense" else "channels"
            layers[i] = _replace(layers[i], key, int(value))
        else:
            drops = [i for i, l in enumerate(layers) if l.kind == "dropout"]
            if not drops:
                raise ConfigError("dropout", "this network has no dropout layer; add one to sweep its rate")
            for i in drops:
                layers[i] = _replace(layers[i], "rate", float(value))
        new = Architecture(tuple(layers))
        try:
            check(new)
        except SpecError as err:
            raise ConfigError(axis.name, f"{_format(value)} makes an invalid network: {err}") from None
        return dataclasses.replace(config, model=model_id(new))
    return dataclasses.replace(config, **{axis.name: value})


def _replace(layer: Layer, key: str, value: Any) -> Layer:
    return Layer(layer.kind, tuple((k, value if k == key else v) for k, v in layer.values))


def _format(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True)
class Point:
    """One run of a sweep: the swept values (axis name → value) and its full config."""

    values: tuple[tuple[str, float], ...]
    config: TrainConfig

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={_format(v)}" for k, v in self.values)


@dataclass(frozen=True)
class Plan:
    axes: tuple[Axis, ...]
    points: tuple[Point, ...]


def plan_sweep(base: TrainConfig, axes: list[Axis] | tuple[Axis, ...], n_train: int | None = None) -> Plan:
    """Every combination of the axes' values as a checked config; raises :class:`ConfigError` naming the axis."""
    axes = tuple(axes)
    if not 1 <= len(axes) <= 2:
        raise ConfigError("vary", f"sweep one or two settings, not {len(axes)}")
    if len(axes) == 2 and axes[0].name == axes[1].name and axes[0].layer == axes[1].layer:
        raise ConfigError("vary", f"{axes[0].name} is swept twice")
    count = math.prod(len(a.values) for a in axes)
    if count > MAX_RUNS:
        raise ConfigError("vary", f"{count} runs is too many for one sweep (at most {MAX_RUNS})")
    if base.validation_split == 0:
        base = dataclasses.replace(base, validation_split=SWEEP_VALIDATION)
    points = []
    for combo in itertools.product(*(a.values for a in axes)):
        config = base
        for axis, value in zip(axes, combo):
            config = _with_value(config, axis, value)
        try:
            config.validate(n_train)
        except ConfigError as err:
            raise ConfigError(err.field, f"{err.reason} (in the sweep point {', '.join(map(_format, combo))})") from None
        points.append(Point(tuple((a.name, v) for a, v in zip(axes, combo)), config))
    return Plan(axes, tuple(points))


@dataclass
class RunResult:
    """What a finished run of a sweep keeps: its point, how it ended, its metrics and weights."""

    index: int
    point: Point
    val_accuracy: float | None  # of the last epoch; None unless the run completed
    done: DoneEvent = field(repr=False)

    @property
    def status(self) -> str:
        return self.done.status

    @property
    def test_accuracy(self) -> float | None:
        return self.done.test_accuracy

    @property
    def train_seconds(self) -> float:
        return self.done.train_seconds

    @property
    def params(self) -> Any:
        return self.done.params

    @property
    def score(self) -> float | None:
        """What the results plot shows and "best" means: final validation accuracy."""
        return self.val_accuracy


@dataclass
class RunStarted:
    index: int
    point: Point
    runs: int


@dataclass
class RunEvent:
    index: int
    event: Event


@dataclass
class RunFinished:
    result: RunResult


@dataclass
class SweepDone:
    status: str  # "completed" or "stopped"
    results: list[RunResult]


SweepEvent = RunStarted | RunEvent | RunFinished | SweepDone


def best_run(results: list[RunResult]) -> RunResult | None:
    """The completed run with the highest validation accuracy (earliest on ties)."""
    scored = [r for r in results if r.status == "completed" and r.score is not None]
    return max(scored, key=lambda r: (r.score, -r.index)) if scored else None


class Sweep:
    """Runs a :class:`Plan` as one generator; ``cancel`` (any thread) stops the run in progress and the rest."""

    def __init__(self, plan: Plan, data: TrainData):
        self.plan, self.data = plan, data
        self.results: list[RunResult] = []
        self.trainer: Trainer | None = None
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()
        if self.trainer is not None:
            self.trainer.cancel()

    def run(self) -> Iterator[SweepEvent]:
        status = "completed"
        for index, point in enumerate(self.plan.points):
            if self._cancel.is_set():
                status = "stopped"
                break
            self.trainer = Trainer(point.config, self.data)
            if self._cancel.is_set():  # cancelled while the trainer was made
                self.trainer.cancel()
            yield RunStarted(index, point, len(self.plan.points))
            done: DoneEvent | None = None
            last_val: float | None = None
            for event in self.trainer.run():
                if getattr(event, "val_accuracy", None) is not None:
                    last_val = event.val_accuracy
                if isinstance(event, DoneEvent):
                    done = event
                yield RunEvent(index, event)
            assert done is not None
            result = RunResult(index, point, last_val if done.status == "completed" else None, done)
            self.results.append(result)
            yield RunFinished(result)
            if done.status == "stopped":
                status = "stopped"
                break
        self.trainer = None
        yield SweepDone(status, list(self.results))
