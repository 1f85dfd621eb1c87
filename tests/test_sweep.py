"""Sweeps as a plain generator: planning checks every point first; runs go in turn; stop keeps finished runs."""

from __future__ import annotations

import pytest

from mnist_desktop.core.errors import ConfigError
from mnist_desktop.core.training.sweep import (
    RunEvent, RunFinished, RunStarted, Sweep, SweepDone, best_run, parse_axis, parse_values, plan_sweep,
)
from mnist_desktop.core.training.trainer import DoneEvent, default_config


def test_values_lists_and_ranges():
    assert parse_values("10, 30,100", "width") == (10, 30, 100)
    assert parse_values("1e-4:1e-2:3:log", "lr") == pytest.approx((1e-4, 1e-3, 1e-2))
    assert parse_values("0:0.5:3", "dropout") == (0.0, 0.25, 0.5)
    assert parse_values("10:12:5", "width") == (10, 11, 12)  # whole numbers, each once
    for bad, pattern in (("a,b", "cannot read"), ("1:2", "START:STOP:COUNT"), ("0:1:3:log", "positive"),
                         ("1:2:500", "COUNT must be"), ("nan", "finite")):
        with pytest.raises(ConfigError, match=pattern):
            parse_values(bad, "lr")


def test_axes_and_plans():
    axis = parse_axis("width@3=10,30")
    assert axis.name == "width" and axis.layer == 3 and axis.values == (10, 30)
    plan = plan_sweep(default_config("mlp"), [axis, parse_axis("lr=1e-3,3e-3")])
    assert len(plan.points) == 4
    assert [p.config.model for p in plan.points[::2]] == ["dense:300,relu,dense:10,relu", "dense:300,relu,dense:30,relu"]
    assert plan.points[1].config.learning_rate == 3e-3 and plan.points[0].config.validation_split == 0.1
    assert plan_sweep(default_config("mlp"), [parse_axis("width=300")]).points[0].config.model == "mlp"
    for text, pattern in (("depth=3", "cannot sweep 'depth'"), ("width@2=10", "layer 2 is not a dense or conv"),
                          ("dropout=0.1", "no dropout layer"), ("batch_size=0,16", "batch_size"), ("lr", "NAME=VALUES")):
        with pytest.raises(ConfigError, match=pattern):
            plan_sweep(default_config("mlp"), [parse_axis(text)])
    with pytest.raises(ConfigError, match="logreg|no hidden"):
        plan_sweep(default_config("logreg"), [parse_axis("width=10")])
    with pytest.raises(ConfigError, match="too many"):
        plan_sweep(default_config("mlp"), [parse_axis("lr=1e-4:1e-2:10:log"), parse_axis("width=1:100:10")])


def _small_data():
    from mnist_desktop.core.data.datasets import load_dataset
    from mnist_desktop.core.training.data_prep import train_data_from

    return train_data_from(load_dataset("mnist-subset"), 0.1, 0)


def test_runs_go_one_after_another_and_the_best_is_picked():
    base = default_config("dense:16,relu", epochs=1, dataset="mnist-subset", log_every=5, validation_split=0.1)
    plan = plan_sweep(base, [parse_axis("width=4,64")])
    events = list(Sweep(plan, _small_data()).run())
    starts = [e.index for e in events if isinstance(e, RunStarted)]
    finished = [e.result for e in events if isinstance(e, RunFinished)]
    assert starts == [0, 1] and [r.index for r in finished] == [0, 1]
    # every training event belongs to the run started last
    current = None
    for e in events:
        if isinstance(e, RunStarted):
            current = e.index
        elif isinstance(e, RunEvent):
            assert e.index == current
    assert all(r.status == "completed" and 0 < r.val_accuracy <= 1 for r in finished)
    done = events[-1]
    assert isinstance(done, SweepDone) and done.status == "completed" and len(done.results) == 2
    assert best_run(done.results) is max(finished, key=lambda r: r.val_accuracy)
    assert finished[1].val_accuracy > finished[0].val_accuracy  # 64 hidden units beat 4


def test_stop_ends_the_current_run_and_keeps_the_finished_ones():
    base = default_config("dense:16,relu", epochs=1, dataset="mnist-subset", log_every=2)
    sweep = Sweep(plan_sweep(base, [parse_axis("width=8,16,32")]), _small_data())
    events = []
    for event in sweep.run():
        events.append(event)
        if isinstance(event, RunStarted) and event.index == 1:
            sweep.cancel()
    results = events[-1].results
    assert events[-1].status == "stopped"
    assert [r.status for r in results] == ["completed", "stopped"]
    assert results[1].val_accuracy is None and best_run(results) is results[0]
    assert not any(isinstance(e, RunStarted) and e.index == 2 for e in events)
    assert isinstance([e for e in events if isinstance(e, RunEvent)][-1].event, DoneEvent)
