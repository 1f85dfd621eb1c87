"""The ``mnist-desktop`` command line: the GUI by default, headless subcommands otherwise.

Every failure a user can cause (missing data, bad file, bad hyperparameter, no
network) ends with exit status 1 and one line ``error: ...`` saying what to do;
tracebacks are for bugs only.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from mnist_desktop.cli import doubt_commands, interrupt, train_command
from mnist_desktop.core.errors import MnistDesktopError
from mnist_desktop.core.honest_output import strict_json, terminal_safe

DATASET_CHOICES = ("mnist", "fashion-mnist", "mnist-subset")


def _positive_float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def build_parser() -> argparse.ArgumentParser:
    from mnist_desktop.cli.finetune_cmd import add_evaluate_arguments, add_finetune_parser
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
    train.add_argument("--model", default="cnn", choices=list(MODELS), help="preset architecture (default: cnn)")
    train.add_argument("--arch", default=None, metavar="SPEC",
                       help="your own network instead of a preset: a JSON spec file, or layers such as "
                            "'conv:16:5:2,relu,dense:64,relu' (conv:CHANNELS[:KERNEL[:STRIDE[:valid|same]]], dense:UNITS, "
                            "maxpool[:SIZE], avgpool[:SIZE], flatten, relu, tanh, gelu, dropout[:RATE], layernorm); "
                            "the 10-class output layer is added automatically")
    train.add_argument("--optimizer", choices=OPTIMIZERS, default=None)
    train.add_argument("--lr", type=_positive_float, default=None, help="peak learning rate")
    train.add_argument("--batch-size", type=int, default=None)
    train.add_argument("--epochs", type=_positive_float, default=None, help="may be fractional, e.g. 1.5")
    train.add_argument("--val-split", type=_positive_float, default=None, help="fraction held out for validation, in [0, 1)")
    train.add_argument("--seed", type=int, default=None)
    train.add_argument("--weight-decay", type=_positive_float, default=None)
    train.add_argument("--schedule", choices=SCHEDULES, default=None)
    train.add_argument("--label-smoothing", type=_positive_float, default=None, metavar="EPS")
    train.add_argument("--outlier-exposure", type=_positive_float, default=None, metavar="WEIGHT",
                       help="weight of the uniform-answer loss on generated non-digits (default 0.5; 0 turns it off)")
    train.add_argument("--outliers-from", default=None, choices=("fashion-mnist", "mnist"), metavar="DATASET",
                       help="also expose the model to this dataset's training pictures as non-digits "
                            "(fashion-mnist; its test split stays for evaluate --ood)")
    train.add_argument("--augment", action="store_true", help="random rotation/scale/shear/shift/thickness (for drawn digits)")
    train.add_argument("--drawn-style", type=_positive_float, default=0.0, metavar="FRACTION",
                       help="re-draw this fraction of training digits as uniform mouse-like strokes")
    train.add_argument("--synthetic-drawn", type=int, default=0, metavar="PER_CLASS",
                       help="add this many synthetic mouse-drawn digits per class to the training set")
    train.add_argument("--pendigits", type=Path, default=None, metavar="PATH",
                       help="add real pen digits: the training blocks of a UCI pen-digit file, drawn as canvas strokes")
    train.add_argument("--pen-style", default="canvas", choices=("faithful", "varied", "canvas"),
                       help="how pen digits are drawn (default: canvas = varied brush, corners, pen-up joins thinned or omitted)")
    train.add_argument("--pen-copies", type=int, default=1, metavar="K", help="draw each pen digit K times with different pens (default 1)")
    train.add_argument("--out", type=Path, default=None, help="where to save the model (default: user data folder); "
                       "checked before training, Ctrl-C saves NAME.interrupted.ckpt beside it")
    train.add_argument("--force", action="store_true", help="allow --out to be a symbolic link (written through it)")
    train.add_argument("--json", action="store_true", help="print one final JSON line with the results")
    train.add_argument("--track-test", action="store_true", help="also measure test accuracy after every epoch (time-to-accuracy curve)")

    sweep = sub.add_parser("sweep", help="train one run per value of one or two settings and compare them")
    data_args(sweep)
    sweep.add_argument("--model", default="mlp", choices=list(MODELS), help="preset to start from (default: mlp)")
    sweep.add_argument("--arch", default=None, metavar="SPEC", help="your own network instead (as for train)")
    sweep.add_argument("--vary", action="append", required=True, metavar="NAME=VALUES",
                       help="a swept setting, once or twice: lr, batch_size, epochs, weight_decay, label_smoothing, "
                            "seed, dropout, width[@LAYER]; VALUES is a list (10,30,100) or a range START:STOP:COUNT[:log]")
    sweep.add_argument("--epochs", type=_positive_float, default=None, help="epochs of every run (unless swept)")
    sweep.add_argument("--lr", type=_positive_float, default=None)
    sweep.add_argument("--batch-size", type=int, default=None)
    sweep.add_argument("--seed", type=int, default=None)
    sweep.add_argument("--val-split", type=_positive_float, default=None, help="validation fraction (default 0.1)")
    sweep.add_argument("--save-best", type=Path, default=None, metavar="FILE", help="save the best run's model here")
    sweep.add_argument("--json", action="store_true", help="print one final JSON line with every run")

    evaluate = sub.add_parser("evaluate", help="test accuracy and confusion matrix of a model")
    data_args(evaluate)
    evaluate.add_argument("--model", type=Path, default=None, help="model file (default: the bundled model)")
    evaluate.add_argument("--drawn", action="store_true", help="also evaluate on synthetic mouse-drawn digits")
    evaluate.add_argument("--allow-mismatch", action="store_true",
                          help="evaluate even if the model was trained on another class set (numbers are then meaningless)")
    evaluate.add_argument("--json", action="store_true")
    add_evaluate_arguments(evaluate)
    evaluate.set_defaults(dataset=None)  # --drawings/--pendigits measure MNIST only where it is at hand
    add_finetune_parser(sub)
    doubt_commands.add_evaluate_arguments(evaluate)
    doubt_commands.add_arguments(sub, data_args)

    predict = sub.add_parser("predict", help="read digits from image files")
    predict.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    predict.add_argument("--model", type=Path, default=None, help="model file (default: the bundled model)")
    predict.add_argument("--json", action="store_true", help="one JSON object per image")

    export = sub.add_parser("export", help="write a model as ONNX (graph + weights) or safetensors (weights)")
    export.add_argument("--model", type=Path, default=None, help="model file (default: the bundled model)")
    export.add_argument("--format", choices=("onnx", "safetensors"), default=None,
                        help="default: from the --out suffix (.onnx or .safetensors)")
    export.add_argument("--out", type=Path, required=True, help="file to write")
    export.add_argument("--no-check", action="store_true",
                        help="skip running the ONNX file in onnxruntime on 100 test digits")
    export.add_argument("--json", action="store_true", help="print one JSON line with the result and timings")

    download = sub.add_parser("download", help="download a dataset from the official mirrors and verify it")
    download.add_argument("dataset", choices=("mnist", "fashion-mnist"))
    download.add_argument("--dest", type=Path, default=None, help="folder (default: the user cache)")

    from mnist_desktop.cli import deeper

    deeper.add_parsers(sub)

    runs = sub.add_parser("runs", help="the training runs the app remembers (its Runs table), or export them as CSV")
    runs.add_argument("--csv", type=Path, default=None, metavar="FILE", help="write them as CSV to FILE ('-': standard output)")

    desktop = sub.add_parser("desktop-entry", help="add MNIST Desktop to this user's Linux application menu")
    desktop.add_argument("--remove", action="store_true", help="remove the menu entry and icons again")

    bench = sub.add_parser("bench", help="benchmark training speed, inference latency and memory")
    bench.add_argument("suite", nargs="?", default="all", help="all (default), train, inference, analysis, startup, stall, torch, soak")
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
            "optimizer": getattr(args, "optimizer", None), "learning_rate": args.lr, "batch_size": args.batch_size,
            "epochs": args.epochs, "validation_split": args.val_split, "seed": args.seed,
            "weight_decay": getattr(args, "weight_decay", None), "schedule": getattr(args, "schedule", None),
            "label_smoothing": getattr(args, "label_smoothing", None),
            "outlier_exposure": getattr(args, "outlier_exposure", None),
        }.items() if v is not None
    }
    if getattr(args, "augment", False):
        overrides["augment"] = True
    return default_config(_model_from_args(args), dataset=args.dataset, **overrides)


def _model_from_args(args: argparse.Namespace) -> str:
    """The model name: ``--arch`` (a spec file or layer list, checked) or the ``--model`` preset."""
    if getattr(args, "arch", None) is None:
        return args.model
    from mnist_desktop.core.models.spec import check, model_id, read_architecture

    arch = read_architecture(args.arch)
    check(arch)
    return model_id(arch)


def cmd_train(args: argparse.Namespace) -> int:
    return train_command.cmd_train(args, _config_from_args)


def cmd_sweep(args: argparse.Namespace) -> int:
    from mnist_desktop.cli.sweep_cli import run_sweep_command

    return run_sweep_command(args)


def build_train_data(dataset, config, drawn_style: float = 0.0, synthetic_drawn: int = 0,
                     pendigits: Path | None = None, pen_style: str = "faithful", pen_copies: int = 1,
                     extra_outliers=None):
    """The run's TrainData exactly as ``train`` builds it (deterministic for the config's seed).

    ``calibrate`` rebuilds it to find the digits a run held out for calibration.
    """
    from mnist_desktop.core.training.data_prep import prepare_doubt_data, train_data_from

    data = train_data_from(dataset, config.validation_split, config.seed)
    if drawn_style > 0:
        from mnist_desktop.core.data.drawn_style import restyle_fraction

        data.train_x = restyle_fraction(data.train_x, drawn_style, config.seed)
    if synthetic_drawn:
        from mnist_desktop.core.training.data_prep import add_synthetic_drawn

        add_synthetic_drawn(data, synthetic_drawn, config.seed)
    if pendigits is not None:
        from mnist_desktop.core.training.data_prep import add_pendigits

        print(f"Drawing pen digits from {pendigits} ({pen_style}, x{pen_copies}) ...", file=sys.stderr)
        add_pendigits(data, pendigits, pen_style, pen_copies, config.seed)
    return prepare_doubt_data(data, config.outlier_exposure, config.seed, extra_outliers)


def cmd_calibrate(args: argparse.Namespace) -> int:
    return doubt_commands.cmd_calibrate(args, _load_model, _load, build_train_data)


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

    if args.drawings is not None or args.pendigits is not None:
        from mnist_desktop.cli.finetune_cmd import cmd_evaluate_files

        return cmd_evaluate_files(args)
    configure_jax()
    ckpt = _load_model(args.model)
    dataset = _load(args.dataset or "mnist", args.data_dir, args.download)
    mismatch = class_set_mismatch(ckpt.class_names, ckpt.dataset, dataset.class_names, dataset.title)
    if mismatch and not args.allow_mismatch:
        raise MnistDesktopError(mismatch)
    interrupt.current.check()
    data = train_data_from(dataset)
    result = evaluate(ckpt.model_name, ckpt.params, data.test_x, data.test_y)
    # log-probabilities are the logits up to a per-image constant: enough for temperature scaling
    logits = np.log(np.clip(result.probabilities.astype(np.float64), 1e-300, None))
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
    report["calibration"] = doubt_commands.calibration_report(ckpt, logits, data.test_y)
    if args.ood:
        report["ood"] = doubt_commands.ood_evaluation(ckpt, args.ood, data.test_x, _load, args.data_dir, args.download)
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
    doubt_commands.print_calibration(report["calibration"])
    if "ood" in report:
        doubt_commands.print_ood(report["ood"])
    width = max(len(n) for n in names)
    print("per-class accuracy (rows named by the test set's classes):" if mismatch else "per-class accuracy:")
    for name, acc in zip(names, result.per_class_accuracy):
        print(f"  {name:>{width}}  {acc:.2%}")
    print("confusion matrix (rows: true, columns: predicted):")
    for name, row in zip(names, result.confusion):
        print(f"  {name:>{width}} " + " ".join(f"{v:5d}" for v in row))
    return 0


def _predict_one(ckpt, path: Path):
    from mnist_desktop.core.data.preprocess import to_model_input
    from mnist_desktop.core.data.image_files import load_image

    try:
        picture = load_image(path)
        x = to_model_input(picture)
    except OSError as err:  # e.g. a name too long for the filesystem, a vanished file
        raise MnistDesktopError(f"{str(path)[:120]}: cannot read the image ({err.strerror or err})") from None
    if x is None:
        raise MnistDesktopError(f"{path}: the image is empty (no ink found)")
    return doubt_commands.predict_fields(ckpt, picture, x)


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
            probs, doubt_fields = _predict_one(ckpt, path)
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
                   "model_dataset": ckpt.dataset, "digit_model": is_digit_model(names), **doubt_fields}
            if note:
                row["note"] = note
            print(strict_json(row))
        else:
            print(f"{shown}: {answer_text(names, ckpt.dataset, label, float(probs[label]))}"
                  f"{doubt_commands.verdict_suffix(doubt_fields, names[label])}")
    return 1 if failures == len(args.images) else 0


def cmd_export(args: argparse.Namespace) -> int:
    from mnist_desktop.core.models.export import ExportError, check_target, export_available, export_model

    fmt = args.format or {".onnx": "onnx", ".safetensors": "safetensors"}.get(args.out.suffix.lower())
    if fmt is None:
        raise ExportError(f"cannot tell the format from {args.out.name!r}: give --format onnx|safetensors "
                          "or end --out with .onnx or .safetensors")
    check_target(args.out)
    missing = export_available(fmt)
    if missing:
        raise ExportError(missing)
    ckpt = _load_model(args.model)
    report = export_model(ckpt.model_name, ckpt.params, fmt, args.out, class_names=ckpt.class_names,
                          dataset=ckpt.dataset, check=not args.no_check)
    if args.json:
        print(json.dumps(report))
    else:
        print(f"Wrote {report['format']} of {report['model']} ({report['bytes']:,} bytes) to {report['path']} "
              f"in {report['write_seconds'] * 1000:.0f} ms")
        if report.get("max_abs_difference") is not None:
            print(f"onnxruntime on {report['checked_images']} test digits: max |logit difference| "
                  f"{report['max_abs_difference']:.2e}, same prediction for {report['same_predictions']} "
                  f"({report['check_seconds'] * 1000:.0f} ms)")
        elif report.get("check_skipped"):
            print(f"not checked: {report['check_skipped']}")
    return 0


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


def cmd_runs(args: argparse.Namespace) -> int:
    from mnist_desktop.core.training import run_log

    runs, warning = run_log.load_run_log()
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    if args.csv is not None:
        if str(args.csv) == "-":
            sys.stdout.write(run_log.runs_to_csv(runs))
            return 0
        try:
            run_log.write_csv(runs, args.csv)
        except OSError as err:
            raise MnistDesktopError(f"could not write {args.csv}: {err.strerror or err}") from None
        print(f"{len(runs)} runs written to {args.csv}")
        return 0
    if not runs:
        print(f"no runs saved yet ({run_log.default_log_path()}); train in the app and they are kept here")
        return 0
    for run in runs:
        config = run["config"]
        test = run.get("test_accuracy")
        print(f"#{run['number']:<4} {config.get('model', '?'):7} {config.get('dataset', '?'):14} "
              f"{run.get('status', ''):10} test {'–' if test is None else f'{test:.2%}'}")
    return 0


def cmd_desktop_entry(args: argparse.Namespace) -> int:
    from mnist_desktop.core import desktop_entry

    if args.remove:
        removed = desktop_entry.remove_desktop_entry()
        print("\n".join(f"removed {p}" for p in removed) or "no desktop entry was installed")
        return 0
    files = desktop_entry.install_desktop_entry(desktop_entry.find_launcher())
    print(f"menu entry: {files.entry}\nicons: {files.svg_icon}, {files.png_icon}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from mnist_desktop.bench.suite import run_bench

    return run_bench(args)


def cmd_finetune(args: argparse.Namespace) -> int:
    from mnist_desktop.cli.finetune_cmd import cmd_finetune as run

    return run(args)


COMMANDS = {
    "train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict, "finetune": cmd_finetune,
    "download": cmd_download, "gui": cmd_gui, "bench": cmd_bench, "export": cmd_export, "sweep": cmd_sweep,
    "desktop-entry": cmd_desktop_entry, "runs": cmd_runs, "calibrate": cmd_calibrate,
}


def main(argv: Sequence[str] | None = None, *, early_interrupt: bool = False) -> int:
    """Run one command; Ctrl-C at any moment ends with status 130 and one line, never a traceback."""
    from mnist_desktop.cli.deeper import COMMANDS as DEEPER_COMMANDS

    COMMANDS.update(DEEPER_COMMANDS)
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
