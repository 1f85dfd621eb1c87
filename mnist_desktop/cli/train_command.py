"""``mnist-desktop train``: check the target, train with a progress bar, save honestly.

The order is the point (issue 14):

1. every argument and the save target are checked *before* any training
   (a missing or read-only folder, a device, a symlink, a read-only file, a
   full disk or an over-long name used to be found after the work was done);
2. Ctrl-C (see :mod:`.interrupt`) stops the trainer at its next step and what
   was trained so far is saved *beside* the target as ``NAME.interrupted.ckpt``;
3. a run that diverged never replaces a file: the target stays as it was;
4. a save that still fails (disk filled up during training) falls back to the
   user data folder rather than discarding the model.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from mnist_desktop.cli import interrupt
from mnist_desktop.core.errors import CheckpointError, ConfigError
from mnist_desktop.core.fileio import sweep_stale_temps
from mnist_desktop.core.honest_output import strict_json
from mnist_desktop.core.safe_io import PathProblem, check_save_target

#: Synthetic drawn digits per class: 5,000 (50,000 images, ~160 MB) is plenty;
#: a billion was a MemoryError.
MAX_SYNTHETIC_DRAWN = 5000
INTERRUPTED_SUFFIX = ".interrupted"


def interrupted_path(out: Path) -> Path:
    """``model.ckpt`` → ``model.interrupted.ckpt`` (beside it, never over it)."""
    return out.with_name(f"{out.stem}{INTERRUPTED_SUFFIX}{out.suffix or '.ckpt'}")


def _estimated_size(model: str) -> int:
    from mnist_desktop.core.models.networks import param_shapes

    total = 0
    for group in param_shapes(model).values():
        for shape, dtype in group.values():
            total += int(np.prod(shape)) * np.dtype(dtype).itemsize
    return total + (64 << 10)


def check_target(out: Path, model: str, *, explicit: bool, force: bool) -> Path:
    """Refuse a target the model could not be saved to, before training (ConfigError 'out')."""
    try:
        target = check_save_target(out, "model", allow_special=force, create_parent=not explicit)
        if force and target.is_symlink():
            target = target.resolve()  # the person asked: write through the link
            check_save_target(target, "model")
        check_save_target(interrupted_path(target), "model")
    except PathProblem as err:
        hint = "" if explicit else (" (this is the default place for models: set MNIST_DESKTOP_HOME to a "
                                    "writable folder, or pass --out)")
        raise ConfigError("out", f"{err}{hint}") from None
    need = _estimated_size(model)
    free = shutil.disk_usage(target.parent).free
    if free < 2 * need:
        raise ConfigError("out", f"only {free:,} bytes free in {target.parent}; the model needs about "
                                 f"{need:,}. Free some space or choose another folder")
    sweep_stale_temps(target)
    return target


def check_counts(args: argparse.Namespace) -> None:
    if not 0 <= args.drawn_style <= 1:
        raise ConfigError("drawn_style", f"must be a fraction in [0, 1], got {args.drawn_style}")
    if not 0 <= args.synthetic_drawn <= MAX_SYNTHETIC_DRAWN:
        raise ConfigError("synthetic_drawn", f"must be a whole number from 0 to {MAX_SYNTHETIC_DRAWN:,} per class, "
                                             f"got {args.synthetic_drawn:,}")
    if args.pendigits is not None:
        from mnist_desktop.core.data.pendigits import load_pendigits

        if args.pen_copies < 1:
            raise ConfigError("pen_copies", f"must be at least 1, got {args.pen_copies}")
        load_pendigits(args.pendigits)  # a bad pen file fails now, not after loading MNIST
    source = getattr(args, "outliers_from", None)
    if source is not None:
        if source == args.dataset:
            raise ConfigError("outliers_from", f"{source} is the dataset being learnt; its pictures cannot also be outliers")
        if args.outlier_exposure == 0:
            raise ConfigError("outliers_from", "needs outlier exposure: drop --outlier-exposure 0 or --outliers-from")


def _save_with_fallback(out: Path, model: str, params, meta: dict, err, doubt=None) -> Path:
    """Save to ``out``; if that fails now (disk filled during training), keep the model elsewhere."""
    from mnist_desktop.core.models.checkpoints import save_checkpoint
    from mnist_desktop.core.paths import user_data_dir

    try:
        return save_checkpoint(out, model, params, meta, doubt=doubt)
    except CheckpointError as first:
        rescue = user_data_dir() / "models" / f"rescued-{out.name}"
        try:
            rescue.parent.mkdir(parents=True, exist_ok=True)
            save_checkpoint(rescue, model, params, meta, doubt=doubt)
        except (CheckpointError, OSError):
            raise first from None
        print(f"warning: {first}", file=err)
        print(f"The trained model was kept at {rescue} instead.", file=err)
        return rescue


def _foreign_outliers(args: argparse.Namespace, seed: int) -> np.ndarray | None:
    """``--outliers-from``: that dataset's training pictures, prepared for outlier exposure (None without it)."""
    source = getattr(args, "outliers_from", None)
    if source is None:
        return None
    from mnist_desktop.cli.main import _load
    from mnist_desktop.core.training.data_prep import foreign_outliers

    return foreign_outliers(_load(source, args.data_dir, args.download).train_images, seed=seed)


def cmd_train(args: argparse.Namespace, parse_config) -> int:
    from mnist_desktop.cli.progress import ProgressBar, format_seconds
    from mnist_desktop.core.training.run_metadata import default_model_path, metadata_from_done

    guard = interrupt.current
    config = parse_config(args)
    config.validate()
    check_counts(args)
    out = check_target(args.out or default_model_path(config.model, config.dataset), config.model,
                       explicit=args.out is not None, force=getattr(args, "force", False))
    guard.check()
    from mnist_desktop.core.jax_setup import configure_jax
    from mnist_desktop.core.training.trainer import DoneEvent, EpochEvent, StepEvent, Trainer
    from mnist_desktop.cli.main import _load, build_train_data

    configure_jax()
    guard.check()
    t_load = time.perf_counter()
    dataset = _load(config.dataset, args.data_dir, args.download)
    guard.check()
    # outlier exposure's non-digits and the calibration hold-out come with the data (issue 16)
    data = build_train_data(dataset, config, args.drawn_style, args.synthetic_drawn,
                            args.pendigits, args.pen_style, args.pen_copies, _foreign_outliers(args, config.seed))
    load_seconds = time.perf_counter() - t_load
    guard.check()
    trainer = Trainer(config, data, track_test=args.track_test)
    err = sys.stderr
    rates: list[float] = []
    epoch_rates: list[float] = []  # samples per second of each whole epoch (the first includes compilation)
    last_epoch_end, last_epoch_step = 0.0, 0
    curve: list[dict[str, float]] = []
    held = f", {len(data.holdout_x)} held out for calibration" if len(data.holdout_x) and not len(data.val_x) else ""
    print(f"Training {config.model} on {dataset.title} (from {dataset.source}): {len(data.train_x)} train, "
          f"{len(data.val_x)} validation{held}, {len(data.test_x)} test images; {trainer.epochs} epoch(s) of "
          f"{trainer.steps_per_epoch} steps", file=err)
    bar = None
    done = None

    def epoch_bar(epoch: int) -> ProgressBar:
        print(f"Epoch {epoch}/{trainer.epochs}", file=err)
        return ProgressBar(min(trainer.steps_per_epoch, trainer.total_steps - (epoch - 1) * trainer.steps_per_epoch))

    t0 = time.perf_counter()
    with guard.hook(trainer.cancel):
        for event in trainer.run():
            if isinstance(event, StepEvent):
                if event.step > trainer.config.log_every:
                    rates.append(event.samples_per_sec)  # the first window includes compilation
                if bar is None:
                    bar = epoch_bar(event.epoch)
                in_epoch = event.step - (event.epoch - 1) * event.steps_per_epoch
                bar.update(in_epoch, f"- ETA: {format_seconds(event.eta)} - loss: {event.loss:.4f} - accuracy: "
                                     f"{event.train_accuracy:.4f} - {event.samples_per_sec:,.0f} samples/s")
            elif isinstance(event, EpochEvent):
                if event.test_accuracy is None:  # a tracked epoch's time includes a test-set pass
                    epoch_rates.append((event.step - last_epoch_step) * config.batch_size / max(event.elapsed - last_epoch_end, 1e-9))
                last_epoch_end, last_epoch_step = event.elapsed, event.step
                if event.test_accuracy is not None:
                    curve.append({"epoch": event.epoch, "seconds": round(event.elapsed, 2), "test_accuracy": event.test_accuracy})
                suffix = f"- {format_seconds(event.elapsed)} - loss: {event.train_loss:.4f} - accuracy: {event.train_accuracy:.4f}"
                if event.val_accuracy is not None:
                    suffix += f" - val_loss: {event.val_loss:.4f} - val_accuracy: {event.val_accuracy:.4f}"
                in_epoch = event.step - (event.epoch - 1) * trainer.steps_per_epoch
                (bar or epoch_bar(event.epoch)).finish(in_epoch, suffix)  # no bar yet: an epoch shorter than log_every
                bar = None
            elif isinstance(event, DoneEvent):
                done = event
    assert done is not None
    if bar is not None:
        bar.finish(done.step - (trainer.epochs - 1) * trainer.steps_per_epoch)
    interrupted = guard.interrupted and done.status == "stopped"
    if done.status == "diverged":
        print(f"Training diverged: {done.message}", file=err)
        print(f"Nothing was saved; {'the existing ' + str(out) + ' is unchanged' if out.exists() else str(out) + ' was not written'}. "
              "Try a smaller learning rate (--lr).", file=err)
        return 1
    if done.status != "completed" and not interrupted:
        print(f"Training {done.status}: {done.message}", file=err)
    if done.test is not None:
        print(f"Test accuracy: {done.test.accuracy:.2%} (loss {done.test.loss:.4f}, {len(data.test_x)} images); "
              f"training took {done.train_seconds:.1f} s", file=err)
    meta = metadata_from_done(config, dataset.name, dataset.class_names, done)
    meta["hyperparameters"].update(drawn_style=args.drawn_style, synthetic_drawn=args.synthetic_drawn)
    if getattr(args, "outliers_from", None) is not None:
        meta["hyperparameters"].update(outliers_from=args.outliers_from)
    if args.pendigits is not None:
        meta["hyperparameters"].update(pendigits=args.pendigits.name, pen_style=args.pen_style, pen_copies=args.pen_copies)
    if interrupted:
        if done.step == 0:
            print(f"Interrupted before the first training step; nothing was saved ({out} is unchanged).", file=err)
            return interrupt.EXIT_INTERRUPTED
        meta["status"] = "interrupted"
        saved = _save_with_fallback(interrupted_path(out), config.model, done.params, meta, err)
        print(f"Interrupted at step {done.step} of {trainer.total_steps}: saved the model trained so far to {saved} "
              f"({out} is unchanged).", file=err)
        return interrupt.EXIT_INTERRUPTED
    from mnist_desktop.cli.doubt_commands import fit_after_training

    t_fit = time.perf_counter()
    stats = fit_after_training(config.model, done.params, data, config.seed)
    fit_seconds = time.perf_counter() - t_fit
    t_save = time.perf_counter()
    saved = _save_with_fallback(out, config.model, done.params, meta, err, doubt=stats)
    phases = {"data_loading": round(load_seconds, 3), **done.phases, "calibration": round(fit_seconds, 3),
              "saving": round(time.perf_counter() - t_save, 3)}
    print(f"Saved model to {saved}", file=err)
    print("Time: " + ", ".join(f"{name.replace('_', ' ')} {sec:.2f} s" for name, sec in phases.items()), file=err)
    if args.json:
        print(strict_json({
            "test_accuracy": done.test_accuracy, "test_loss": None if done.test is None else done.test.loss,
            "train_seconds": round(done.train_seconds, 3), "total_seconds": round(time.perf_counter() - t0, 3),
            "epochs": config.epochs, "steps": done.step, "status": done.status, "model": config.model,
            "dataset": config.dataset, "data_folder": dataset.source, "checkpoint": str(saved),
            "hyperparameters": config.to_dict(),
            "samples_per_s": round(float(np.median(rates))) if rates else None,
            "epoch_samples_per_s": [round(r) for r in epoch_rates],
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "curve": curve or None, "phases": phases,
            "doubt": None if stats is None else stats.metadata(),
        }))
    return 0

