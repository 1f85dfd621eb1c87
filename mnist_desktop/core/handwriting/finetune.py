"""Learn my handwriting, part 2: fine-tune the active model on the person's drawings.

The drawings come from :mod:`.handwriting`. Fine-tuning mixes the handwriting
training split (oversampled) with MNIST *replay* so the model learns the
person's style without forgetting MNIST. The result is a weight-space blend of
the original and the tuned weights (Wortsman et al. 2022, "WiSE-FT"): keeping
75 % of the change loses nothing on the person's drawings and cuts the MNIST
cost by more than half (bundled model, synthetic hand of tests/handwriting_helpers.py,
three seeds: held-out 100 % at both 1.0 and 0.75; full MNIST test
-0.19..-0.28 points at 1.0, -0.07..-0.10 at 0.75). A forgetting check on MNIST
training images that were not replayed then blends further back if MNIST still
slipped. The GUI runs the same code in two halves on its worker thread
(:func:`build_finetune_data` for the trainer, :func:`finish_finetune_job`
afterwards); :func:`finetune` runs both for tests and scripts.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from mnist_desktop.core.data.dataset_specs import class_names_for
from mnist_desktop.core.formatting import format_fraction
from mnist_desktop.core.errors import ConfigError, DatasetError, MnistDesktopError
from mnist_desktop.core.handwriting.store import DIGIT_DATASETS, NUM_CLASSES, HandwritingSet, Split
from mnist_desktop.core.paths import user_data_dir


@dataclass
class FinetuneOptions:
    """How to fine-tune on the handwriting set; ``validate`` names any bad field.

    Defaults: about a third of every batch is the person's drawings, the rest
    MNIST replay; three short epochs at a low learning rate with augmentation and
    the bundled model's label smoothing. With 100 drawings this is ~200 steps,
    5-10 s on a 2-core CPU.
    """

    held_out: float = 0.3  # fraction of each digit's drawings kept aside to measure
    seed: int = 0
    replay: int = 3000  # MNIST training images mixed in, so MNIST is not forgotten
    guard: int = 2000  # other MNIST training images, never trained on: the forgetting check
    personal_share: float = 1 / 3  # target fraction of handwriting drawings in the training mix
    epochs: float = 3.0
    learning_rate: float = 1e-3
    batch_size: int = 64
    augment: bool = True
    label_smoothing: float = 0.1  # as the bundled model was trained: a different loss would shift it
    blend: float = 0.75  # share of the weight change kept (WiSE-FT); less if the forgetting check asks
    max_mnist_drop: float = 0.003  # 0.3 percentage points

    def validate(self) -> None:
        def bad(name: str, why: str) -> ConfigError:
            return ConfigError(name, why)

        if not isinstance(self.held_out, (int, float)) or not 0.0 <= self.held_out <= 0.8:
            raise bad("held_out", f"must be between 0 and 0.8, got {self.held_out}")
        if not isinstance(self.seed, int) or not 0 <= self.seed < 2**31:
            raise bad("seed", f"must be a whole number in [0, 2³¹), got {self.seed}")
        for name in ("replay", "guard"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 0 <= value <= 100_000:
                raise bad(name, f"must be a whole number from 0 to 100,000, got {value}")
        if not isinstance(self.personal_share, (int, float)) or not 0.05 <= self.personal_share <= 1.0:
            raise bad("personal_share", f"must be between 0.05 and 1, got {self.personal_share}")
        if not isinstance(self.blend, (int, float)) or not 0.0 < self.blend <= 1.0:
            raise bad("blend", f"must be more than 0 and at most 1, got {self.blend}")
        if not isinstance(self.max_mnist_drop, (int, float)) or not 0.0 <= self.max_mnist_drop <= 1.0:
            raise bad("max_mnist_drop", f"must be between 0 and 1, got {self.max_mnist_drop}")
        # epochs, learning rate and batch size are checked by TrainConfig.validate

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> "FinetuneOptions":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in (values or {}).items() if k in known})


def replay_dataset_name(data_dir: str | None = None) -> str:
    """Full MNIST when it is on disk, otherwise the bundled subset: fine-tuning never downloads."""
    from mnist_desktop.core.data.availability import dataset_status

    return "mnist" if dataset_status("mnist", data_dir).startswith("found") else "mnist-subset"


def finetune_config(model_name: str, dataset_name: str, options: FinetuneOptions | None = None, **overrides: Any):
    """The :class:`~.training.TrainConfig` of a fine-tune run (shared by GUI and tests)."""
    from mnist_desktop.core.training.trainer import TrainConfig

    opts = options or FinetuneOptions()
    config = TrainConfig(model=model_name, dataset=dataset_name, optimizer="adam", learning_rate=opts.learning_rate,
                         batch_size=opts.batch_size, epochs=opts.epochs, validation_split=0.0, seed=opts.seed,
                         schedule="cosine", augment=opts.augment, label_smoothing=opts.label_smoothing, log_every=5)
    return dataclasses.replace(config, **overrides)


def _mnist_partition(n_train: int, options: FinetuneOptions) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint (guard, replay) index sets into the MNIST training images, seeded.

    Small datasets (the bundled subset) are shared out so both stay non-empty.
    """
    order = np.random.default_rng(options.seed).permutation(n_train)
    guard = min(options.guard, n_train // 3)
    replay = min(options.replay, n_train - guard)
    return np.sort(order[:guard]), np.sort(order[guard:guard + replay])


def _check_digit_dataset(dataset: Any) -> None:
    names = tuple(getattr(dataset, "class_names", ()))
    if getattr(dataset, "name", "") not in DIGIT_DATASETS or names != tuple(str(i) for i in range(NUM_CLASSES)):
        raise DatasetError(
            f"fine-tuning on your handwriting needs a digit model and MNIST for replay, not "
            f"{getattr(dataset, 'title', getattr(dataset, 'name', '?'))}; open an MNIST model first")


def finetune_data(handwriting: HandwritingSet, dataset: Any, options: FinetuneOptions | None = None,
                  split: Split | None = None):
    """The trainer's data: handwriting train split oversampled + MNIST replay; val = handwriting held-out; test = MNIST test.

    Oversampling (repeating the person's drawings) gives them about
    ``personal_share`` of every batch; augmentation in the trainer makes each
    repeat a slightly different drawing. ``split`` defaults to ``handwriting.split``.
    """
    from mnist_desktop.core.training.data_prep import model_array_for
    from mnist_desktop.core.training.trainer import TrainData

    opts = options or FinetuneOptions()
    opts.validate()
    _check_digit_dataset(dataset)
    split = split or handwriting.split(opts.held_out, opts.seed)
    if len(split.train_ids) < 1:
        raise DatasetError("your handwriting set has no drawings to train on yet: add a few (Add as example / Correct it)")
    px, py = handwriting.arrays(split.train_ids)
    hx, hy = handwriting.arrays(split.held_out_ids)
    _, replay_idx = _mnist_partition(len(dataset.train_labels), opts)
    n_replay = len(replay_idx)
    share = float(opts.personal_share)
    copies = 1 if share >= 1.0 or n_replay == 0 else max(1, round(share / (1.0 - share) * n_replay / len(px)))
    replay_x = model_array_for(dataset.name, dataset.train_images[replay_idx]) if n_replay else np.zeros((0, 28, 28, 1), np.float32)
    train_x = np.concatenate([np.tile(px[..., None], (copies, 1, 1, 1)), replay_x])
    train_y = np.concatenate([np.tile(py, copies), np.asarray(dataset.train_labels[replay_idx], np.int32)])
    return TrainData(
        train_x=train_x.astype(np.float32), train_y=train_y.astype(np.int32),
        test_x=model_array_for(dataset.name, dataset.test_images), test_y=np.asarray(dataset.test_labels, np.int32),
        val_x=hx[..., None].astype(np.float32), val_y=hy,
        class_names=tuple(dataset.class_names), dataset=dataset.name,
    )


def build_finetune_data(dataset: Any, config: Any, extra: Mapping[str, Any]):
    """The training data of a fine-tune run: ``extra`` carries ``handwriting_dir`` and :class:`FinetuneOptions` fields.

    The GUI's run request calls it as ``build_data(dataset, config)`` (with ``extra`` bound). The trainer's seed wins over ``extra["seed"]`` so the split matches the run. With
    ``train_ids``/``held_out_ids`` (the split the GUI fixed when it started the run)
    drawings added while the data loads cannot slip into either side.
    """
    options = FinetuneOptions.from_dict({**dict(extra), "seed": int(getattr(config, "seed", extra.get("seed", 0)))})
    handwriting = HandwritingSet.load(extra.get("handwriting_dir") or None)
    split = Split.of(handwriting, extra["train_ids"], extra["held_out_ids"]) if "train_ids" in extra else None
    return finetune_data(handwriting, dataset, options, split)


@dataclass
class FinetuneReport:
    """Before/after numbers of a fine-tune: the person's held-out drawings and MNIST test."""

    personal_before: float | None
    personal_after: float | None
    mnist_before: float
    mnist_after: float
    mnist_dataset: str
    mnist_count: int
    n_train: int
    n_held_out: int
    blend: float  # 1.0 = the tuned weights; less = blended back towards the original to protect MNIST
    guard_before: float | None = None
    guard_after: float | None = None
    confusion_before: np.ndarray | None = None  # on the held-out drawings, rows = true digit
    confusion_after: np.ndarray | None = None
    train_ids: list[str] = field(default_factory=list)
    held_out_ids: list[str] = field(default_factory=list)
    status: str = "completed"

    @property
    def mnist_drop(self) -> float:
        """Accuracy lost on MNIST test (positive = worse), as a fraction."""
        return self.mnist_before - self.mnist_after

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        for key in ("confusion_before", "confusion_after"):
            out[key] = None if out[key] is None else np.asarray(out[key]).tolist()
        out["mnist_drop"] = self.mnist_drop
        return out

    def summary(self) -> str:
        lines = [f"your held-out drawings ({self.n_held_out}): {format_fraction(self.personal_before)} → {format_fraction(self.personal_after)}",
                 f"{self.mnist_dataset} test ({self.mnist_count:,}): {self.mnist_before:.2%} → {self.mnist_after:.2%}"]
        lines.append(f"kept {self.blend:.0%} of the weight change (the rest is the original model)")
        return "\n".join(lines)


def _blend(base: Any, tuned: Any, alpha: float) -> Any:
    import jax

    return jax.tree_util.tree_map(lambda a, b: np.asarray((1.0 - alpha) * np.asarray(a) + alpha * np.asarray(b), np.asarray(a).dtype), base, tuned)


GUARD_MARGIN = 0.5
BLEND_STEP = 0.125


def blend_steps(start: float) -> list[float]:
    """``start``, then smaller shares of the change down to 0 (the original model)."""
    steps = [float(start)]
    while steps[-1] > 1e-9:
        steps.append(max(0.0, round(steps[-1] - BLEND_STEP, 6)))
    return steps


def finish_finetune(model_name: str, base_params: Any, tuned_params: Any, handwriting: HandwritingSet, dataset: Any,
                    options: FinetuneOptions | None = None, status: str = "completed",
                    split: Split | None = None) -> tuple[Any, FinetuneReport]:
    """Check for forgetting, blend back if needed, and measure before/after.

    Starts from ``options.blend`` of the weight change and steps back towards
    the original until the forgetting check passes. The check uses MNIST
    *training* images that were not replayed (the guard slice), so the MNIST
    test numbers in the report stay an honest, untouched measurement; it aims
    for half the allowed drop because the guard is a sample too.
    """
    from mnist_desktop.core.training.data_prep import model_array_for
    from mnist_desktop.core.training.evaluation import evaluate

    opts = options or FinetuneOptions()
    split = split or handwriting.split(opts.held_out, opts.seed)
    guard_idx, _ = _mnist_partition(len(dataset.train_labels), opts)
    alpha, guard_before, guard_after = opts.blend, None, None
    final = tuned_params if alpha == 1.0 else _blend(base_params, tuned_params, alpha)
    if len(guard_idx):
        gx = model_array_for(dataset.name, dataset.train_images[guard_idx])
        gy = np.asarray(dataset.train_labels[guard_idx], np.int32)
        guard_before = evaluate(model_name, base_params, gx, gy).accuracy
        # aim for half the allowed drop: the guard is a sample too, and the test set
        # (a different sample) must stay within the full allowance
        target = opts.max_mnist_drop * GUARD_MARGIN
        for alpha in blend_steps(opts.blend):
            final = tuned_params if alpha == 1.0 else _blend(base_params, tuned_params, alpha)
            guard_after = evaluate(model_name, final, gx, gy).accuracy
            if guard_before - guard_after <= target + 1e-12:
                break
    hx, hy = handwriting.arrays(split.held_out_ids)
    before = evaluate(model_name, base_params, hx[..., None], hy) if len(hy) else None
    after = evaluate(model_name, final, hx[..., None], hy) if len(hy) else None
    tx, ty = model_array_for(dataset.name, dataset.test_images), np.asarray(dataset.test_labels, np.int32)
    mnist_before = evaluate(model_name, base_params, tx, ty).accuracy
    mnist_after = evaluate(model_name, final, tx, ty).accuracy
    report = FinetuneReport(
        personal_before=None if before is None else before.accuracy,
        personal_after=None if after is None else after.accuracy,
        mnist_before=mnist_before, mnist_after=mnist_after, mnist_dataset=dataset.name, mnist_count=len(ty),
        n_train=len(split.train_ids), n_held_out=len(split.held_out_ids), blend=alpha,
        guard_before=guard_before, guard_after=guard_after,
        confusion_before=None if before is None else before.confusion,
        confusion_after=None if after is None else after.confusion,
        train_ids=list(split.train_ids), held_out_ids=list(split.held_out_ids), status=status,
    )
    import jax

    return jax.device_get(final), report


def finetune(params: Any, model_name: str, handwriting: HandwritingSet, mnist_dataset: Any,
             options: FinetuneOptions | None = None, *, on_event: Callable[[Any], None] | None = None,
             trainer_ready: Callable[[Any], None] | None = None) -> tuple[Any, FinetuneReport]:
    """Fine-tune ``params`` on the handwriting set with MNIST replay; return (new params, report).

    Pure in the sense that matters: nothing is saved and ``params`` is not
    modified. ``on_event`` sees every trainer event (for a progress display);
    ``trainer_ready`` gets the :class:`~.training.Trainer` (to cancel it).
    """
    from mnist_desktop.core.training.trainer import DoneEvent, Trainer

    opts = options or FinetuneOptions()
    config = finetune_config(model_name, mnist_dataset.name, opts)
    split = handwriting.split(opts.held_out, opts.seed)
    trainer = Trainer(config, finetune_data(handwriting, mnist_dataset, opts, split), initial_params=params)
    if trainer_ready is not None:
        trainer_ready(trainer)
    done = None
    for event in trainer.run():
        if on_event is not None:
            on_event(event)
        if isinstance(event, DoneEvent):
            done = event
    assert done is not None
    if done.status == "diverged":
        raise MnistDesktopError(f"fine-tuning failed: {done.message}; your model is unchanged")
    return finish_finetune(model_name, params, done.params, handwriting, mnist_dataset, opts, status=done.status, split=split)


# =========================================================================== GUI worker jobs
# Run on the worker thread via ``Worker.jobRequested``: called as ``job(active_model_name,
# active_params, **kwargs)``; they return plain dicts (numpy arrays allowed).


def measure_job(active_model: str | None, active_params: Any, *, handwriting_dir: str | None = None,
                exclude_ids: Sequence[str] = (), model_name: str | None = None, params: Any = None,
                mnist: str | None = None) -> dict[str, Any]:
    """Accuracy and confusion of a model on the handwriting set (all samples but ``exclude_ids``).

    ``exclude_ids`` are the drawings a fine-tuned model trained on: measuring on
    them would flatter it. With ``mnist`` (a dataset name) the MNIST test
    accuracy is measured too, for the side-by-side number.
    """
    from mnist_desktop.core.training.evaluation import evaluate

    model_name = model_name or active_model
    params = active_params if params is None else params
    if model_name is None or params is None:
        raise MnistDesktopError("no model is loaded yet")
    handwriting = HandwritingSet.load(handwriting_dir)
    excluded = set(exclude_ids)
    ids = [i for i in handwriting.ids() if i not in excluded]
    x, y = handwriting.arrays(ids)
    out: dict[str, Any] = {"ids": ids, "labels": y, "count": len(ids), "excluded": len(handwriting) - len(ids),
                           "model_name": model_name, "problems": list(handwriting.problems)}
    if len(ids):
        result = evaluate(model_name, params, x[..., None], y)
        out.update(accuracy=result.accuracy, confusion=result.confusion, per_class=result.per_class_accuracy,
                   predictions=result.predictions, confidence=result.probabilities.max(axis=1),
                   correct=int((result.predictions == y).sum()))
    else:
        out.update(accuracy=None, confusion=np.zeros((NUM_CLASSES, NUM_CLASSES), int), per_class=np.full(NUM_CLASSES, np.nan),
                   predictions=np.zeros(0, int), confidence=np.zeros(0, np.float32), correct=0)
    if mnist:
        from mnist_desktop.core.training.data_prep import train_data_from
        from mnist_desktop.core.data.datasets import load_dataset

        data = train_data_from(load_dataset(mnist))
        out["mnist_accuracy"] = evaluate(model_name, params, data.test_x, data.test_y).accuracy
        out["mnist_dataset"] = mnist
        out["mnist_count"] = len(data.test_y)
    return out


def finetuned_model_path(base_name: str, models_dir: str | Path | None = None) -> Path:
    """``<models>/<base>-personal-<stamp>.ckpt``: never the bundled or any existing file."""
    folder = Path(models_dir) if models_dir else user_data_dir() / "models"
    base = re.sub(r"-personal-\d{8}-\d{6}(-\d+)?$", "", base_name or "model") or "model"
    base = re.sub(r"[^A-Za-z0-9_.-]", "_", base)[:60]
    stamp = f"{_dt.datetime.now():%Y%m%d-%H%M%S}"
    path = folder / f"{base}-personal-{stamp}.ckpt"
    n = 1
    while path.exists():
        n += 1
        path = folder / f"{base}-personal-{stamp}-{n}.ckpt"
    return path


def save_finetuned(path: str | Path, model_name: str, params: Any, base_info: Mapping[str, Any],
                   report: FinetuneReport, options: FinetuneOptions, config: Mapping[str, Any] | None = None) -> Path:
    """Save the tuned model with metadata saying where it came from and what it trained on."""
    from mnist_desktop.core.models.checkpoints import save_checkpoint

    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DatasetError(f"cannot create {target.parent}: {err.strerror or err}") from None
    base_meta = dict(base_info.get("metadata") or {})
    for key in ("created", "versions", "format", "format_version", "model", "preprocess_version"):
        base_meta.pop(key, None)
    summary = {k: v for k, v in report.to_dict().items() if not k.startswith("confusion")}
    meta = {
        **base_meta,
        "dataset": base_info.get("dataset", "mnist"),
        "class_names": class_names_for(base_info.get("class_names")),
        "finetuned_from": str(base_info.get("path") or base_info.get("name") or ""),
        "hyperparameters": dict(config or {}),
        "metrics": {"test_accuracy": report.mnist_after, "test_dataset": report.mnist_dataset,
                    "personal_held_out_accuracy": report.personal_after},
        "personal_finetune": {**summary, "options": options.to_dict()},
        "status": report.status,
    }
    return save_checkpoint(target, model_name, params, meta)


def finish_finetune_job(active_model: str | None, active_params: Any, *, model_name: str, base_params: Any,
                        tuned_params: Any, handwriting_dir: str | None, dataset: str, options: Mapping[str, Any],
                        base_info: Mapping[str, Any], config: Mapping[str, Any] | None = None,
                        models_dir: str | None = None, status: str = "completed",
                        train_ids: Sequence[str] | None = None, held_out_ids: Sequence[str] = ()) -> dict[str, Any]:
    """After the worker's fine-tune run: guard + blend, before/after report, save as a new model."""
    from mnist_desktop.core.data.datasets import load_dataset

    opts = FinetuneOptions.from_dict(options)
    handwriting = HandwritingSet.load(handwriting_dir)
    split = None if train_ids is None else Split.of(handwriting, train_ids, held_out_ids)
    mnist = load_dataset(dataset)
    final, report = finish_finetune(model_name, base_params, tuned_params, handwriting, mnist, opts, status=status, split=split)
    path = save_finetuned(finetuned_model_path(str(base_info.get("name") or model_name), models_dir),
                          model_name, final, base_info, report, opts, config)
    return {"report": report, "path": str(path), "params": final, "model_name": model_name}


def trained_on_ids(metadata: Mapping[str, Any] | None) -> list[str]:
    """The handwriting drawings a fine-tuned model trained on (from its checkpoint metadata)."""
    info = (metadata or {}).get("personal_finetune") or {}
    ids = info.get("train_ids") if isinstance(info, Mapping) else None
    return [str(i) for i in ids] if isinstance(ids, list) else []

