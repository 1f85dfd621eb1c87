"""The ``mnist-desktop`` command line: the GUI by default, headless subcommands otherwise.

Every failure a user can cause (missing data, bad file, bad hyperparameter, no
network) ends with exit status 1 and one line ``error: ...`` saying what to do;
tracebacks are for bugs only.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Sequence

from mnist_desktop.cli import interrupt, train_command
from mnist_desktop.core.errors import MnistDesktopError
from mnist_desktop.core.honest_output import strict_json, terminal_safe

DATASET_CHOICES = ("mnist", "fashion-mnist", "mnist-subset")


def _positive_float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def build_parser() -> argparse.ArgumentParser:
    from mnist_desktop.core.models.networks import MODELS
    from mnist_desktop.core.training.trainer import OPTIMIZERS, SCHEDULES

    parser = argparse.ArgumentParser(
        prog="mnist-desktop",
        description="Draw digits and watch a JAX model read them. Without a command, opens the app.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def data_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--dataset", default="mnist", choices=DATASET_CHOICES, help="which dataset (default: mnist)")
        p.add_argument("--data-dir", type=Path, default=None, help="folder with the IDX files (else $MNIST_DESKTOP_DATA, the cache, or download)")
        p.add_argument("--download", action="store_true", help="download the dataset if it is not found locally")

    gui = sub.add_parser("gui", help="open the app (the default)")
    gui.add_argument("--model", type=Path, default=None, help="model file to open instead of the bundled one")

    train = sub.add_parser("train", help="train a model headless with a progress bar")
    data_args(train)
    train.add_argument("--model", default="cnn", choices=list(MODELS), help="architecture (default: cnn)")
    train.add_argument("--optimizer", choices=OPTIMIZERS, default=None)
    train.add_argument("--lr", type=_positive_float, default=None, help="peak learning rate")
    train.add_argument("--batch-size", type=int, default=None)
    train.add_argument("--epochs", type=_positive_float, default=None, help="may be fractional, e.g. 1.5")
    train.add_argument("--val-split", type=_positive_float, default=None, help="fraction held out for validation, in [0, 1)")
    train.add_argument("--seed", type=int, default=None)
    train.add_argument("--weight-decay", type=_positive_float, default=None)
    train.add_argument("--schedule", choices=SCHEDULES, default=None)
    train.add_argument("--label-smoothing", type=_positive_float, default=None, metavar="EPS")
    train.add_argument("--augment", action="store_true", help="random rotation/scale/shear/shift/thickness (for drawn digits)")
    train.add_argument("--drawn-style", type=_positive_float, default=0.0, metavar="FRACTION",
                       help="re-draw this fraction of training digits as uniform mouse-like strokes")
    train.add_argument("--synthetic-drawn", type=int, default=0, metavar="PER_CLASS",
                       help="add this many synthetic mouse-drawn digits per class to the training set")
    train.add_argument("--out", type=Path, default=None, help="where to save the model (default: user data folder); "
                       "checked before training, Ctrl-C saves NAME.interrupted.ckpt beside it")
    train.add_argument("--force", action="store_true", help="allow --out to be a symbolic link (written through it)")
    train.add_argument("--json", action="store_true", help="print one final JSON line with the results")
    train.add_argument("--track-test", action="store_true", help="also measure test accuracy after every epoch (time-to-accuracy curve)")

    evaluate = sub.add_parser("evaluate", help="test accuracy and confusion matrix of a model")
    data_args(evaluate)
    evaluate.add_argument("--model", type=Path, default=None, help="model file (default: the bundled model)")
    evaluate.add_argument("--drawn", action="store_true", help="also evaluate on synthetic mouse-drawn digits")
    evaluate.add_argument("--allow-mismatch", action="store_true",
                          help="evaluate even if the model was trained on another class set (numbers are then meaningless)")
    evaluate.add_argument("--json", action="store_true")

    predict = sub.add_parser("predict", help="read digits from image files")
    predict.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    predict.add_argument("--model", type=Path, default=None, help="model file (default: the bundled model)")
    predict.add_argument("--json", action="store_true", help="one JSON object per image")

    download = sub.add_parser("download", help="download a dataset from the official mirrors and verify it")
    download.add_argument("dataset", choices=("mnist", "fashion-mnist"))
    download.add_argument("--dest", type=Path, default=None, help="folder (default: the user cache)")

    bench = sub.add_parser("bench", help="benchmark training speed, inference latency and memory")
    bench.add_argument("suite", nargs="?", default="all", help="all (default), train, inference, startup, stall, torch, soak")
    bench.add_argument("--data", type=Path, default=None, help="folder with the full datasets")
    bench.add_argument("--json", action="store_true", help="print only the JSON")
    bench.add_argument("--quick", action="store_true", help="fewer repeats (for a smoke test)")
    bench.add_argument("--seeds", default="0,1,2", help="seeds for the cnn recipe (default 0,1,2)")
    bench.add_argument("--torch-python", default=None, metavar="PYTHON",
                       help="a Python with torch installed: also run the PyTorch reference for ratios")
    return parser


# -- train ---------------------------------------------------------------------


def _load(name: str, data_dir: Path | None, download: bool):
    from mnist_desktop.core.data.datasets import load_dataset

    return load_dataset(name, data_dir, download=download, progress=_download_progress())


def _download_progress():
    """A progress callback drawing one bar for the bytes of a download."""
    from mnist_desktop.cli.progress import ProgressBar, format_bytes

    bar = ProgressBar(None)

    def progress(done: int, total: int | None) -> None:
        bar.total = total
        bar.update(done, format_bytes(done))

    progress.bar = bar  # type: ignore[attr-defined]
    return progress


def _config_from_args(args: argparse.Namespace):
    from mnist_desktop.core.training.trainer import default_config

    overrides = {
        k: v for k, v in {
            "optimizer": args.optimizer, "learning_rate": args.lr, "batch_size": args.batch_size,
            "epochs": args.epochs, "validation_split": args.val_split, "seed": args.seed,
            "weight_decay": args.weight_decay, "schedule": args.schedule, "label_smoothing": args.label_smoothing,
        }.items() if v is not None
    }
    if args.augment:
        overrides["augment"] = True
    return default_config(args.model, dataset=args.dataset, **overrides)


def cmd_train(args: argparse.Namespace) -> int:
    return train_command.cmd_train(args, _config_from_args)


# -- evaluate / predict --------------------------------------------------------


def _load_model(path: Path | None):
    from mnist_desktop.core.models.checkpoints import load_checkpoint
    from mnist_desktop.core.paths import bundled_model_path

    return load_checkpoint(path or bundled_model_path())


def cmd_evaluate(args: argparse.Namespace) -> int:
    from mnist_desktop.core.jax_setup import configure_jax
    from mnist_desktop.core.models.describe import class_set_mismatch, dataset_title
    from mnist_desktop.core.training.data_prep import train_data_from
    from mnist_desktop.core.training.evaluation import evaluate

    configure_jax()
    ckpt = _load_model(args.model)
    dataset = _load(args.dataset, args.data_dir, args.download)
    mismatch = class_set_mismatch(ckpt.class_names, ckpt.dataset, dataset.class_names, dataset.title)
    if mismatch and not args.allow_mismatch:
        raise MnistDesktopError(mismatch)
    interrupt.current.check()
    data = train_data_from(dataset)
    result = evaluate(ckpt.model_name, ckpt.params, data.test_x, data.test_y)
    report: dict[str, Any] = {
        "model": ckpt.model_name, "model_dataset": ckpt.dataset, "dataset": dataset.name,
        "data_folder": dataset.source, "test_accuracy": result.accuracy,
        "test_loss": result.loss, "count": result.count,
        "per_class_accuracy": [None if v != v else round(float(v), 4) for v in result.per_class_accuracy],
        "confusion": result.confusion.tolist(),
    }
    if mismatch:
        report["warning"] = mismatch
    if args.drawn:
        from mnist_desktop.core.data.strokes import make_drawn_test_set

        dx, dy = make_drawn_test_set()
        report["drawn_accuracy"] = evaluate(ckpt.model_name, ckpt.params, dx[..., None], dy).accuracy
    if args.json:
        print(strict_json(report))
        return 0
    if mismatch:
        print(f"warning: {mismatch}", file=sys.stderr)
    names = [terminal_safe(n, 40) for n in dataset.class_names]
    print(f"{ckpt.model_name} ({dataset_title(ckpt.dataset)} model) on {dataset.title} test set from "
          f"{terminal_safe(dataset.source, 300)} ({result.count} images): "
          f"accuracy {result.accuracy:.2%}, loss {result.loss:.4f}")
    if "drawn_accuracy" in report:
        print(f"synthetic mouse-drawn digits: accuracy {report['drawn_accuracy']:.2%}")
    width = max(len(n) for n in names)
    print("per-class accuracy (rows named by the test set's classes):" if mismatch else "per-class accuracy:")
    for name, acc in zip(names, result.per_class_accuracy):
        print(f"  {name:>{width}}  {acc:.2%}")
    print("confusion matrix (rows: true, columns: predicted):")
    for name, row in zip(names, result.confusion):
        print(f"  {name:>{width}} " + " ".join(f"{v:5d}" for v in row))
    return 0


def _predict_one(ckpt, path: Path):
    from mnist_desktop.core.data.preprocess import load_image, to_model_input
    from mnist_desktop.core.training.evaluation import predict_proba

    try:
        x = to_model_input(load_image(path))
    except OSError as err:  # e.g. a name too long for the filesystem, a vanished file
        raise MnistDesktopError(f"{str(path)[:120]}: cannot read the image ({err.strerror or err})") from None
    if x is None:
        raise MnistDesktopError(f"{path}: the image is empty (no ink found)")
    return predict_proba(ckpt.model_name, ckpt.params, x[None])[0]


def cmd_predict(args: argparse.Namespace) -> int:
    from mnist_desktop.core.jax_setup import configure_jax
    from mnist_desktop.core.models.describe import answer_text, is_digit_model, not_digit_note

    configure_jax()
    ckpt = _load_model(args.model)
    names = ckpt.class_names
    note = not_digit_note(names, ckpt.dataset)
    if note and not args.json:
        print(note, file=sys.stderr)
    failures = 0
    for path in args.images:
        interrupt.current.check()
        shown = terminal_safe(path, 300)
        try:
            probs = _predict_one(ckpt, path)
        except MnistDesktopError as err:
            failures += 1
            if args.json:
                print(strict_json({"file": str(path), "error": str(err)}))
            else:
                print(f"{shown}: error: {terminal_safe(err, 600)}", file=sys.stderr)
            continue
        label = int(probs.argmax())
        if args.json:
            row = {"file": str(path), "label": label, "class_name": names[label],
                   "confidence": float(probs[label]), "probabilities": [float(p) for p in probs],
                   "model_dataset": ckpt.dataset, "digit_model": is_digit_model(names)}
            if note:
                row["note"] = note
            print(strict_json(row))
        else:
            print(f"{shown}: {answer_text(names, ckpt.dataset, label, float(probs[label]))}")
    return 1 if failures == len(args.images) else 0


def cmd_download(args: argparse.Namespace) -> int:
    from mnist_desktop.core.data.download import download_dataset

    progress = _download_progress()
    folder = download_dataset(args.dataset, args.dest, progress=progress)
    print(f"{args.dataset}: verified files in {folder}")
    return 0


def cmd_gui(args: argparse.Namespace) -> int:
    try:
        from mnist_desktop.gui.app import run_app
    except ImportError as err:  # e.g. Qt's system libraries missing on a server
        raise MnistDesktopError(f"cannot open the window ({err}); the headless commands still work: mnist-desktop --help") from None
    return run_app(getattr(args, "model", None))


def cmd_bench(args: argparse.Namespace) -> int:
    from mnist_desktop.bench.suite import run_bench

    return run_bench(args)


COMMANDS = {
    "train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict,
    "download": cmd_download, "gui": cmd_gui, "bench": cmd_bench,
}


def main(argv: Sequence[str] | None = None, *, early_interrupt: bool = False) -> int:
    """Run one command; Ctrl-C at any moment ends with status 130 and one line, never a traceback."""
    with interrupt.guarded() as guard:
        interrupt.current = guard
        if early_interrupt:
            guard.event.set()
        try:
            parser = build_parser()
            args = parser.parse_args(argv)
            command = args.command or "gui"
            guard.raising = command not in ("train",)  # the trainer stops at its next step instead
            guard.check()
            return COMMANDS[command](args)
        except KeyboardInterrupt:
            print("\ninterrupted; nothing was saved", file=sys.stderr)
            return interrupt.EXIT_INTERRUPTED
        except MnistDesktopError as err:
            print(f"error: {terminal_safe(err, 4000, newlines=True)}", file=sys.stderr)
            return 1
