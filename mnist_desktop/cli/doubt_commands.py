"""CLI pieces of issue 16: ``calibrate``, ``evaluate --ood`` and the doubt fields of ``predict``/``train``.

Kept apart from cli/main.py so each stays small; every number comes from the
core (core/analysis/doubt.py, ood_eval.py, verdict.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from mnist_desktop.core.errors import ConfigError

OOD_SETS = ("fashion-mnist", "shapes")


def add_arguments(sub: Any, data_args: Any) -> None:
    """The ``calibrate`` command (``evaluate --ood`` is added by :func:`add_evaluate_arguments`)."""
    cal = sub.add_parser("calibrate", help="fit calibration and the OOD score onto an existing model file")
    data_args(cal)
    cal.add_argument("--model", type=Path, default=None, help="model file (default: the bundled model)")
    cal.add_argument("--out", type=Path, required=True, help="where to write the calibrated copy")
    cal.add_argument("--pendigits", type=Path, default=None, metavar="PATH",
                     help="the pen-digit file the model was trained with (train --pendigits), so its hold-out "
                          "is rebuilt exactly")


def add_evaluate_arguments(evaluate: argparse.ArgumentParser) -> None:
    evaluate.add_argument("--ood", choices=OOD_SETS, default=None, metavar="DATASET",
                          help="also measure the OOD score against fashion-mnist or the generated "
                               "scribble/letter/shape set ('shapes'): AUROC and flag rates")


def describe_fit(stats: Any) -> str:
    info = stats.info
    return (f"Calibration: temperature {stats.temperature:.3f}, ECE on the hold-out "
            f"{info['holdout_ece_before']:.4f} → {info['holdout_ece_after']:.4f}; OOD threshold flags "
            f"{info['holdout_flag_rate']:.2%} of {info['holdout']['count']} held-out digits ({info['holdout']['source']})")


def fit_after_training(model_name: str, params: Any, data: Any, seed: int) -> Any:
    """The end-of-``train`` fit, with its one-line summary on stderr; None if there was nothing to fit on."""
    from mnist_desktop.core.analysis.doubt import fit_for_run

    print("Fitting calibration and the OOD score…", file=sys.stderr)
    stats = fit_for_run(model_name, params, data, seed)
    print(describe_fit(stats) if stats is not None else
          "Not enough held-out digits to fit the OOD score: saved without one (verdicts use confidence only)", file=sys.stderr)
    return stats


def cmd_calibrate(args: argparse.Namespace, load_model: Any, load_data: Any, build_train_data: Any) -> int:
    """Fit the doubt statistics onto a copy of an existing model.

    Held-out digits: a model from this version of ``train`` (its hyperparameters
    name ``outlier_exposure``) gets its own hold-out back, by rebuilding its
    training data from the recorded recipe and seed. An older model gets its
    validation split, or -- trained on every digit -- seeded training digits,
    and the report says the threshold was then fitted on digits the model has
    seen (it may flag a little more than 2 % of new digits).
    """
    from mnist_desktop.core.analysis.doubt import fit_doubt
    from mnist_desktop.core.jax_setup import configure_jax
    from mnist_desktop.core.models.checkpoints import save_checkpoint
    from mnist_desktop.core.training.trainer import TrainConfig

    if args.out.exists() and args.out.is_dir():
        raise ConfigError("out", f"{args.out} is a folder; give a file name such as {args.out / 'model.ckpt'}")
    if not args.out.resolve().parent.is_dir():
        raise ConfigError("out", f"the folder {args.out.parent} does not exist; create it or choose another --out")
    configure_jax()
    ckpt = load_model(args.model)
    dataset = load_data(ckpt.dataset if ckpt.dataset in ("mnist", "fashion-mnist") else args.dataset, args.data_dir, args.download)
    hyper = dict(ckpt.metadata.get("hyperparameters") or {})
    recipe = {k: v for k, v in hyper.items() if k in TrainConfig.__dataclass_fields__}
    config = TrainConfig.from_dict(dict(recipe, model=ckpt.model_name, outlier_exposure=0.0))
    pen, trained_pen = getattr(args, "pendigits", None), hyper.get("pendigits")
    exact = pen is not None or not trained_pen
    if trained_pen and pen is None:
        print(f"warning: the model was trained with pen digits ({trained_pen}); without --pendigits its hold-out "
              "cannot be rebuilt, so the threshold is fitted on digits it may have trained on", file=sys.stderr)
    elif pen is not None and not trained_pen:
        raise ConfigError("pendigits", f"{args.model or 'the model'} was not trained with pen digits; drop --pendigits")
    elif pen is not None and pen.name != trained_pen:
        print(f"warning: the model was trained with {trained_pen}, not {pen.name}: its hold-out may differ", file=sys.stderr)
    data = build_train_data(dataset, config, float(hyper.get("drawn_style") or 0.0), int(hyper.get("synthetic_drawn") or 0),
                            pen, str(hyper.get("pen_style") or "faithful"), int(hyper.get("pen_copies") or 1))
    if len(data.val_x):
        source = "the model's validation split"
    elif "outlier_exposure" in hyper and exact:
        source = "the digits its training run held out"
    elif "outlier_exposure" in hyper:  # warned above
        source = "seeded training digits (its hold-out needs the pen-digit file it was trained with)"
    else:  # the same seeded digits, but this model trained on them
        source = "training digits the model saw (it recorded no hold-out)"
        print(f"warning: {source}; the threshold may flag a little more than 2 % of new digits. "
              "Models from `mnist-desktop train` hold digits out for this.", file=sys.stderr)
    stats = fit_doubt(ckpt.model_name, ckpt.params, data.train_x, data.train_y, data.holdout_x, data.holdout_y,
                      seed=config.seed, holdout_source=source)
    meta = dict(ckpt.metadata)
    for key in ("created", "versions"):
        meta.pop(key, None)
    save_checkpoint(args.out, ckpt.model_name, ckpt.params, meta, doubt=stats)
    print(describe_fit(stats), file=sys.stderr)
    print(f"Saved calibrated model to {args.out}", file=sys.stderr)
    return 0


def calibration_report(ckpt: Any, logits: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """ECE (15 bins) on a labelled set before and after the model's temperature."""
    from mnist_desktop.core.analysis.calibration import expected_calibration_error, softmax_t

    before = expected_calibration_error(softmax_t(logits), labels)
    if ckpt.doubt is None:
        return {"ece_before": before, "ece_after": None, "temperature": None}
    after = expected_calibration_error(softmax_t(logits, ckpt.doubt.temperature), labels)
    return {"ece_before": before, "ece_after": after, "temperature": ckpt.doubt.temperature}


def ood_evaluation(ckpt: Any, name: str, digits: np.ndarray, load_data: Any, data_dir: Path | None, download: bool) -> dict[str, Any]:
    """``evaluate --ood``: the other set prepared as ``predict`` would see it, then the core's report."""
    from mnist_desktop.core.analysis.ood_eval import ood_report
    from mnist_desktop.core.data.preprocess import normalise_batch, to_model_input

    if name == "shapes":
        from mnist_desktop.core.analysis.verdict import is_too_small
        from mnist_desktop.core.data.ood_shapes import make_ood_set

        canvases, families, _ = make_ood_set()
        small = [is_too_small(c) for c in canvases]
        others = np.stack([np.zeros((28, 28), np.float32) if s else to_model_input(c) for c, s in zip(canvases, small)])
        report = ood_report(ckpt.model_name, ckpt.params, ckpt.doubt, digits, others,
                            others_too_small=small, others_groups=families)
    else:
        other = load_data(name, data_dir, download)
        report = ood_report(ckpt.model_name, ckpt.params, ckpt.doubt, digits,
                            normalise_batch(other.test_images.astype(np.float32) / 255.0))
    report["other_set"] = name
    return report


def print_calibration(cal: dict[str, Any]) -> None:
    if cal["ece_after"] is None:
        print(f"calibration: ECE (15 bins) {cal['ece_before']:.4f}; this model has no fitted temperature "
              "(mnist-desktop calibrate adds one)")
    else:
        print(f"calibration: ECE (15 bins) {cal['ece_before']:.4f} before, {cal['ece_after']:.4f} after "
              f"temperature scaling (T = {cal['temperature']:.3f})")


def verdict_suffix(fields: dict[str, Any], label_name: str) -> str:
    """What ``predict`` adds after the answer for a person reading the terminal."""
    if fields.get("reason") == "too small":
        return ", too small to read (keep drawing)"
    return {"digit": "", "unsure": f", not sure: {label_name} or {fields['runner_up']}?",
            "not_a_digit": ", doesn't look like a digit"}[fields["verdict"]]


def print_ood(report: dict[str, Any]) -> None:
    d, o = report["digits"], report["others"]
    print(f"OOD vs {report['other_set']} (score: {report['score']}): AUROC {report['auroc']:.4f}")
    print(f"  digits flagged {d['flagged']:.2%}, unsure {d['unsure']:.2%} ({d['count']} images)")
    print(f"  {report['other_set']} flagged {o['flagged']:.2%}, unsure {o['unsure']:.2%}, "
          f"not fooled {o['not_fooled']:.2%} ({o['count']} images)")
    for group, r in (report.get("groups") or {}).items():
        print(f"    {group:>9}: flagged {r['flagged']:.2%}, not fooled {r['not_fooled']:.2%}, AUROC {r['auroc']:.4f}")


def predict_fields(ckpt: Any, picture: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
    """Calibrated probabilities and the verdict fields of one ``predict`` entry."""
    from mnist_desktop.core.analysis.doubt import score_batch
    from mnist_desktop.core.analysis.verdict import decide, is_too_small

    probs, scores = score_batch(ckpt.model_name, ckpt.params, ckpt.doubt, x[None])
    score = None if scores is None else float(scores[0])
    verdict = decide(probs[0], score, None if ckpt.doubt is None else ckpt.doubt.threshold, is_too_small(picture))
    fields: dict[str, Any] = {"verdict": verdict.json_verdict, "ood_score": score,
                              "runner_up": ckpt.class_names[verdict.runner_up]}
    if verdict.reason:
        fields["reason"] = verdict.reason
    return probs[0], fields
