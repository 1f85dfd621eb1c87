"""``mnist-desktop sweep``: the headless twin of the training panel's sweeps.

One line per run while it trains, a table of the results at the end (the best
run marked), optionally the best run saved as a model and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from mnist_desktop.core.errors import ConfigError


def run_sweep_command(args: argparse.Namespace) -> int:
    from mnist_desktop.cli.main import _config_from_args, _load
    from mnist_desktop.core.training.run_metadata import metadata_from_done
    from mnist_desktop.core.jax_setup import configure_jax
    from mnist_desktop.core.models.checkpoints import save_checkpoint
    from mnist_desktop.core.training.data_prep import train_data_from
    from mnist_desktop.core.training.sweep import RunFinished, RunStarted, Sweep, SweepDone, best_run, parse_axis, plan_sweep

    if len(args.vary) > 2:
        raise ConfigError("vary", f"sweep one or two settings, not {len(args.vary)}")
    axes = [parse_axis(text) for text in args.vary]
    base = _config_from_args(args)
    plan = plan_sweep(base, axes)  # every point checked before anything is loaded or trained
    if args.save_best is not None and args.save_best.is_dir():
        raise ConfigError("save_best", f"{args.save_best} is a folder; give a file name such as {args.save_best / 'best.ckpt'}")
    configure_jax()
    dataset = _load(base.dataset, args.data_dir, args.download)
    config0 = plan.points[0].config
    data = train_data_from(dataset, config0.validation_split, config0.seed)
    for point in plan.points:
        point.config.validate(len(data.train_x) + len(data.val_x))
    err = sys.stderr
    print(f"Sweep of {' × '.join(a.title for a in plan.axes)}: {len(plan.points)} runs on {dataset.title} "
          f"({len(data.train_x)} train, {len(data.val_x)} validation images)", file=err)
    sweep = Sweep(plan, data)
    results = []
    status = "completed"
    for event in sweep.run():
        if isinstance(event, RunStarted):
            print(f"[{event.index + 1}/{event.runs}] {event.point.label} ...", file=err, flush=True)
        elif isinstance(event, RunFinished):
            r = event.result
            val = "—" if r.val_accuracy is None else f"{r.val_accuracy:.2%}"
            test = "—" if r.test_accuracy is None else f"{r.test_accuracy:.2%}"
            print(f"    {r.status}: validation {val}, test {test}, {r.train_seconds:.1f} s", file=err, flush=True)
        elif isinstance(event, SweepDone):
            results, status = event.results, event.status
    best = best_run(results)
    _print_table(plan, results, best)
    if best is not None and args.save_best is not None:
        meta = metadata_from_done(best.point.config, dataset.name, dataset.class_names, best.done)
        meta["sweep"] = {"values": dict(best.point.values), "val_accuracy": best.val_accuracy}
        save_checkpoint(args.save_best, best.point.config.model, best.params, meta)
        print(f"Saved the best run ({best.point.label}) to {args.save_best}", file=err)
    if args.json:
        print(json.dumps({"status": status, "axes": [{"name": a.name, "layer": a.layer, "values": list(a.values)} for a in plan.axes],
                          "runs": [_run_json(r) for r in results],
                          "best": None if best is None else best.index}))
    return 0 if results and status == "completed" else 1


def _run_json(r: Any) -> dict[str, Any]:
    return {"values": dict(r.point.values), "model": r.point.config.model, "status": r.status,
            "val_accuracy": r.val_accuracy, "test_accuracy": r.test_accuracy, "train_seconds": round(r.train_seconds, 2)}


def _print_table(plan: Any, results: list, best: Any) -> None:
    names = [a.name for a in plan.axes]
    print("  ".join(f"{n:>14}" for n in names) + f"  {'validation':>10}  {'test':>8}  {'seconds':>8}")
    for r in results:
        values = dict(r.point.values)
        row = "  ".join(f"{values[n]:>14g}" for n in names)
        val = "—" if r.val_accuracy is None else f"{r.val_accuracy:.2%}"
        test = "—" if r.test_accuracy is None else f"{r.test_accuracy:.2%}"
        print(f"{row}  {val:>10}  {test:>8}  {r.train_seconds:>8.1f}" + ("  ← best" if r is best else ""))
