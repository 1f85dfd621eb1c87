"""The training settings form: dataset, model, optimizer and the numbers, validated live.

Validation is the core's: the form turns its texts into a ``TrainConfig`` and
``TrainConfig.validate()`` names a bad field; :func:`all_errors` asks again with
that field set to a good value until every bad field is named, so the person sees
all problems at once — the GUI never duplicates the rules the CLI also enforces.
Bad fields get a red frame (same box size as a good one) and their reasons go to
one message area of fixed height under the form: nothing moves while typing.

Picking a model fills in its recommended recipe, but only in the fields the
person has not typed into since the form was last filled; the message area says
which values were kept.

Nothing here imports JAX at construction (the window shows before JAX loads);
:meth:`TrainingForm.populate` fills the model/optimizer lists from the core
once JAX is up.
"""

from __future__ import annotations

import math
import re
from html import escape
from typing import Any

from PySide6.QtCore import QRect, Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QCheckBox, QComboBox, QGridLayout, QGroupBox, QLabel, QLineEdit, QSizePolicy, QWidget

from mnist_desktop.core.data.availability import dataset_availability, dataset_status
from mnist_desktop.core.data.datasets import DATASETS, get_spec

DATASET_LABELS = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST", "mnist-subset": "MNIST bundled subset (offline)"}
DATASET_SHORT = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST", "mnist-subset": "MNIST subset"}
OPTIMIZER_LABELS = {"sgd": "SGD", "momentum": "SGD + momentum", "adam": "Adam"}
SCHEDULE_LABELS = {"constant": "constant", "cosine": "cosine decay", "onecycle": "one-cycle"}
MAX_LOG_EVERY = 10  # the first chart point must come quickly, even on a slow CPU
POINTS_PER_RUN = 30  # short runs log more often so they still draw a curve
DEFAULT_VALIDATION_SPLIT = 0.1  # the GUI shows validation accuracy per epoch, so hold some data out
ERROR_COLOUR = "#c62828"
# the same box (border + padding = 3 px) valid or not, so marking a field never resizes it
VALID_STYLE = "QLineEdit { border: 1px solid palette(mid); border-radius: 3px; padding: 2px; }"
INVALID_STYLE = f"QLineEdit {{ border: 2px solid {ERROR_COLOUR}; border-radius: 3px; padding: 1px; }}"
MESSAGE_LINES = 2  # the message area's fixed height, in lines
FIELD_TITLES = {"dataset": "Dataset", "model": "Model", "optimizer": "Optimizer", "schedule": "Schedule",
                "learning_rate": "Learning rate", "batch_size": "Batch size", "epochs": "Epochs",
                "validation_split": "Validation split", "seed": "Seed", "augment": "Augment"}
# form field -> parser of its text (the core validates the parsed value)
NUMBER_FIELDS = {"learning_rate": float, "batch_size": int, "epochs": float, "validation_split": float, "seed": int}
PARSE_HINTS = {float: "a number such as 0.003 or 3e-3", int: "a whole number"}
# recipe keys that are about the data, not the model: picking a model leaves them alone
DATA_KEYS = ("dataset", "validation_split", "seed", "log_every")


def all_errors(values: dict[str, Any], n_train: int, fallback: dict[str, Any]) -> dict[str, str]:
    """Every field ``TrainConfig.validate`` refuses, with its reason (not just the first).

    The core names one bad field per call; that field is then set to its value in
    ``fallback`` (a valid recipe) and the rest is checked again. The core stays the
    only place the rules live.
    """
    from mnist_desktop.core.errors import ConfigError
    from mnist_desktop.core.training.trainer import TrainConfig

    values = dict(values)
    errors: dict[str, str] = {}
    for _ in range(len(values) + 1):
        try:
            TrainConfig.from_dict(values).validate(n_train=n_train)
        except ConfigError as err:
            if err.field in errors or err.field not in fallback:
                errors.setdefault(err.field, err.reason)
                break
            errors[err.field] = err.reason
            values[err.field] = fallback[err.field]
        else:
            break
    return errors


def train_size(dataset: str) -> int:
    """Training images in ``dataset``, from its spec (no file access): an IDX label
    file is an 8-byte header and one byte per label."""
    return get_spec(dataset).files["train_labels"].size - 8


def steps_for(values: dict[str, Any], n_train: int) -> int:
    """Total steps the trainer will run for these settings (mirrors Trainer's arithmetic)."""
    n_fit = n_train - int(round(n_train * values["validation_split"]))
    per_epoch = max(n_fit // max(values["batch_size"], 1), 1)
    return max(1, int(round(values["epochs"] * per_epoch)))


def log_every_for(total_steps: int) -> int:
    """Log often enough for ~POINTS_PER_RUN points, never rarer than every MAX_LOG_EVERY steps."""
    return max(1, min(MAX_LOG_EVERY, total_steps // POINTS_PER_RUN))


def parse_number(text: str, kind: type) -> Any:
    """``float``/``int`` from a form field; ``ValueError`` with a reason a person can act on."""
    text = text.strip().replace(",", "")
    if not text:
        raise ValueError("enter a value")
    try:
        return kind(text)
    except ValueError:
        if kind is int:  # "1e3" or "64.0" is a whole number too
            try:
                as_float = float(text)
            except ValueError:
                pass
            else:
                if math.isfinite(as_float) and as_float == int(as_float):
                    return int(as_float)
        raise ValueError(f"“{text}” is not {PARSE_HINTS[kind]}") from None


def short_status(status: str) -> str:
    """The combo-box suffix for ``dataset_status``'s answer."""
    if status == "bundled":
        return "bundled"
    if status.startswith("found"):
        return "available"
    return "not downloaded"


def status_sentence(status: str, skipped: tuple[str, ...] = ()) -> str:
    """The line under the dataset picker; ``skipped``: folders with the right file names
    whose content is another dataset's or damaged (from :func:`dataset_availability`)."""
    if status == "bundled":
        return "Bundled: 6,000 images, works offline."
    if status.startswith("found at "):
        return f"Available: {status.removeprefix('found at ')}"
    sentence = "Not downloaded yet: Start downloads it first (you can cancel)."
    if skipped:
        folders = ", ".join(reason.split(": ", 1)[0] for reason in skipped)
        sentence += f" Not used: {folders} (other or damaged files; hover for why)."
    return sentence


class TrainingForm(QGroupBox):
    """The settings; ``changed`` fires after every edit with the form already re-validated."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Settings", parent)
        self.errors: dict[str, str] = {"model": "loading models…"}
        self._edited: set[str] = set()  # fields the person changed since the form was last filled
        self._ready = False
        self._filling = False
        self._hidden: dict[str, Any] = {}  # recipe values the form doesn't show (weight decay, label smoothing…)
        self._arch_error: str | None = None  # why the architecture editor's stack cannot be trained
        self._build()
        self.refresh_dataset_status()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.dataset_combo = QComboBox()
        self.dataset_combo.setToolTip("Which images to learn from")
        for name in DATASETS:
            self.dataset_combo.addItem(DATASET_LABELS.get(name, DATASETS[name].title), name)
        self.dataset_status_label = QLabel()
        self.dataset_status_label.setObjectName("dataset-status")
        self.dataset_status_label.setWordWrap(True)
        muted = self.palette().color(QPalette.ColorRole.PlaceholderText).name()
        self.dataset_status_label.setStyleSheet(f"color: {muted};")
        self.model_combo = QComboBox()
        self.model_combo.setToolTip("Picking a model fills in its recommended settings")
        self.optimizer_combo = QComboBox()
        self.schedule_combo = QComboBox()
        self.schedule_combo.setToolTip("How the learning rate changes over the run")
        self.lr_edit = QLineEdit()
        self.lr_edit.setToolTip("Step size of the optimizer, e.g. 0.003 or 3e-3")
        self.batch_edit = QLineEdit()
        self.batch_edit.setToolTip("Images per training step")
        self.epochs_edit = QLineEdit()
        self.epochs_edit.setToolTip("Passes over the training set; fractions such as 0.5 are allowed")
        self.val_edit = QLineEdit()
        self.val_edit.setToolTip("Fraction of the training images held out to measure validation accuracy (0 = none)")
        self.seed_edit = QLineEdit()
        self.seed_edit.setToolTip("Same seed and settings → same run")
        self.augment_check = QCheckBox("Augment images")
        self.augment_check.setToolTip("Randomly shift, rotate and re-stroke training images (slower, more robust)")
        self.fields: dict[str, QWidget] = {
            "dataset": self.dataset_combo, "model": self.model_combo, "optimizer": self.optimizer_combo,
            "schedule": self.schedule_combo, "learning_rate": self.lr_edit, "batch_size": self.batch_edit,
            "epochs": self.epochs_edit, "validation_split": self.val_edit, "seed": self.seed_edit,
            "augment": self.augment_check,
        }
        self.edits: dict[str, QLineEdit] = {key: w for key, w in self.fields.items() if isinstance(w, QLineEdit)}
        self._tooltips = {key: widget.toolTip() for key, widget in self.fields.items()}
        for key, widget in self.fields.items():
            widget.setObjectName(f"field-{key}")
        for key, edit in self.edits.items():
            edit.setStyleSheet(VALID_STYLE)
            edit.textChanged.connect(self.revalidate)
            edit.textEdited.connect(lambda _text, key=key: self._edited.add(key))  # typed by the person
            edit.setMinimumWidth(60)
        self.dataset_combo.currentIndexChanged.connect(self._on_dataset_picked)
        self.model_combo.currentIndexChanged.connect(self._on_model_picked)
        for key in ("optimizer", "schedule"):
            combo = self.fields[key]
            assert isinstance(combo, QComboBox)
            combo.currentIndexChanged.connect(self.revalidate)
            combo.activated.connect(lambda _index, key=key: self._edited.add(key))
        self.augment_check.toggled.connect(self.revalidate)
        self.augment_check.clicked.connect(lambda: self._edited.add("augment"))
        # one message area of fixed height: every problem at once, and nothing above it moves
        self.message_label = QLabel()
        self.message_label.setObjectName("form-message")
        self.message_label.setWordWrap(True)
        self.message_label.setTextFormat(Qt.TextFormat.RichText)
        self.message_label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.message_label.setFixedHeight(MESSAGE_LINES * self.fontMetrics().lineSpacing() + 4)
        self.message_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self._note = ""  # what the last model pick kept of the person's values

        grid = QGridLayout(self)
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(4)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)

        def label(text: str, key: str) -> QLabel:
            lab = QLabel(text)
            lab.setBuddy(self.fields[key])
            return lab

        grid.addWidget(label("&Dataset", "dataset"), 0, 0)
        grid.addWidget(self.dataset_combo, 0, 1, 1, 3)
        grid.addWidget(self.dataset_status_label, 1, 1, 1, 3)
        grid.addWidget(label("&Model", "model"), 2, 0)
        grid.addWidget(self.model_combo, 2, 1, 1, 3)
        pairs = (("&Optimizer", "optimizer", "Sc&hedule", "schedule"),
                 ("&Learning rate", "learning_rate", "&Batch size", "batch_size"),
                 ("&Epochs", "epochs", "&Validation split", "validation_split"))
        for row, (text_a, key_a, text_b, key_b) in enumerate(pairs, start=3):
            grid.addWidget(label(text_a, key_a), row, 0)
            grid.addWidget(self.fields[key_a], row, 1)
            grid.addWidget(label(text_b, key_b), row, 2)
            grid.addWidget(self.fields[key_b], row, 3)
        grid.addWidget(label("S&eed", "seed"), 6, 0)
        grid.addWidget(self.seed_edit, 6, 1)
        grid.addWidget(self.augment_check, 6, 2, 1, 2)
        grid.addWidget(self.message_label, 7, 0, 1, 4)

    def populate(self) -> None:
        """Fill the lists that come from the core's registries (imports JAX: call once it is up)."""
        from mnist_desktop.core.models.networks import MODELS, param_count_of
        from mnist_desktop.core.training.trainer import OPTIMIZERS, SCHEDULES

        self._filling = True
        try:
            for name, spec in MODELS.items():
                self.model_combo.addItem(f"{spec.title} — {param_count_of(name):,} parameters", name)
                self.model_combo.setItemData(self.model_combo.count() - 1, spec.description, Qt.ItemDataRole.ToolTipRole)
            for name in OPTIMIZERS:
                self.optimizer_combo.addItem(OPTIMIZER_LABELS.get(name, name), name)
            for name in SCHEDULES:
                self.schedule_combo.addItem(SCHEDULE_LABELS.get(name, name), name)
        finally:
            self._filling = False
        self._ready = True

    def fill_default(self) -> None:
        """The CNN recipe on MNIST when it is here, else on the bundled subset."""
        from mnist_desktop.core.training.trainer import default_config

        dataset = "mnist" if dataset_status("mnist") != "not downloaded" else "mnist-subset"
        self.fill(default_config("cnn", dataset=dataset, validation_split=DEFAULT_VALIDATION_SPLIT).to_dict())

    # ------------------------------------------------------------------ values
    def fill(self, config: dict[str, Any]) -> None:
        """Show ``config`` as is (no recipe fill for the model it names); it is the new baseline,
        so a later model pick may replace any of its values."""
        self._edited.clear()
        self._note = ""
        self._show(config)

    def _show(self, config: dict[str, Any]) -> None:
        self._filling = True
        try:
            for key in ("dataset", "model", "optimizer", "schedule"):
                combo = self.fields[key]
                assert isinstance(combo, QComboBox)
                index = combo.findData(config.get(key))
                if index < 0 and key == "model" and isinstance(config.get(key), str) and self._ready:
                    index = self._custom_index(config[key])  # a network built in the editor
                    self._arch_error = None
                if index >= 0:
                    combo.setCurrentIndex(index)
            for key, edit in self.edits.items():
                if key in config:
                    value = config[key]
                    edit.setText(f"{value:g}" if isinstance(value, float) else str(value))
            if "augment" in config:
                self.augment_check.setChecked(bool(config["augment"]))
            self._hidden.update({k: v for k, v in config.items() if k not in self.fields})
        finally:
            self._filling = False
        self.refresh_dataset_status()
        self.revalidate()

    def values(self) -> tuple[dict[str, Any] | None, dict[str, str]]:
        """The settings as a complete TrainConfig dict, or ``None`` and ``{field: reason}``."""
        if not self._ready:
            return None, {"model": "loading models…"}
        errors: dict[str, str] = {}
        values: dict[str, Any] = dict(self._hidden)
        values.update({
            "model": self.model_combo.currentData(), "dataset": self.dataset_combo.currentData(),
            "optimizer": self.optimizer_combo.currentData(), "schedule": self.schedule_combo.currentData(),
            "augment": self.augment_check.isChecked(),
        })
        from mnist_desktop.core.models.networks import MODELS
        from mnist_desktop.core.training.trainer import TrainConfig, default_config

        model = values["model"] if values["model"] in MODELS else "cnn"
        fallback = default_config(model, dataset=values["dataset"], validation_split=DEFAULT_VALIDATION_SPLIT).to_dict()
        for key, kind in NUMBER_FIELDS.items():
            try:
                values[key] = parse_number(self.edits[key].text(), kind)
            except ValueError as err:
                errors[key] = str(err)
                values[key] = fallback[key]  # so the other fields are still checked
        if self._arch_error:
            errors["model"] = "the network below is not valid yet"
        n_train = train_size(values["dataset"])
        values["log_every"] = log_every_for(steps_for(values, n_train))
        for key, reason in all_errors(values, n_train, fallback).items():
            errors.setdefault(key, reason)
        if errors:
            return None, errors
        return TrainConfig.from_dict(values).to_dict(), {}  # complete: the worker's echo of it compares equal

    def revalidate(self) -> None:
        """Frame every bad field in red and list all reasons in the message area; then tell the panel."""
        if self._filling or not self._ready:
            return
        values, self.errors = self.values()
        for key, widget in self.fields.items():
            reason = self.errors.get(key)
            if isinstance(widget, QLineEdit):
                widget.setStyleSheet(INVALID_STYLE if reason else VALID_STYLE)
            widget.setToolTip(f"{FIELD_TITLES[key]}: {reason}" if reason else self._tooltips[key])
        self._show_message(values)
        self.changed.emit()

    # ------------------------------------------------------------------ architecture editor
    def set_architecture(self, model: str | None, error: str | None) -> None:
        """Follow the architecture editor: a preset's stack selects that entry, any other the
        "Custom network" entry; an invalid stack holds Start back with the model field's error."""
        self._arch_error = error
        if self._ready:
            self._filling = True
            try:
                index = self.model_combo.findData(model) if model is not None else -1
                self.model_combo.setCurrentIndex(index if index >= 0 else self._custom_index(model))
            finally:
                self._filling = False
        self.revalidate()

    def _custom_index(self, model: str | None) -> int:
        """The one "Custom network" entry of the model list, now holding ``model`` (None: an invalid stack)."""
        from mnist_desktop.core.models.spec import SpecError, architecture_of, check

        try:
            params = "not valid yet" if model is None else f"{check(architecture_of(model)[0]).params:,} parameters"
        except SpecError:
            params = "not valid yet"
        index = self.model_combo.findText("Custom network", Qt.MatchFlag.MatchStartsWith)
        if index < 0:
            self.model_combo.addItem("", model)
            index = self.model_combo.count() - 1
        self.model_combo.setItemText(index, f"Custom network — {params}")
        self.model_combo.setItemData(index, model)
        self.model_combo.setItemData(index, model, Qt.ItemDataRole.ToolTipRole)
        return index

    def message(self) -> str:
        """The message area's text, as plain text (tests)."""
        return self.message_label.toolTip() or self.message_label.text()

    def _fitting(self, parts: list[str], colour: str) -> str:
        """``parts`` joined with " · ", as many as fit in the message area's lines, then "+N more"."""
        width = max(self.message_label.width(), 200)
        metrics = self.message_label.fontMetrics()
        for count in range(len(parts), 0, -1):
            more = f" · +{len(parts) - count} more (hover here or over the red fields)" if count < len(parts) else ""
            html = f"<span style='color:{colour}'>{' · '.join(parts[:count])}{more}</span>"
            plain = re.sub(r"<[^>]+>", "", html)
            needed = metrics.boundingRect(QRect(0, 0, width, 10_000), Qt.TextFlag.TextWordWrap, plain).height()
            if needed <= MESSAGE_LINES * metrics.lineSpacing() + 1 or count == 1:
                return html
        return ""

    def _show_message(self, values: dict[str, Any] | None) -> None:
        if self.errors:
            parts = [f"<b>{FIELD_TITLES.get(k, k.replace('_', ' ').capitalize())}</b> {escape(v)}"
                     for k, v in self.errors.items()]
            head = f"{len(parts)} settings need fixing" if len(parts) > 1 else "Fix this setting"
            self.message_label.setText(self._fitting(parts, ERROR_COLOUR))
            self.message_label.setToolTip(head + ":\n" + "\n".join(
                f"{FIELD_TITLES.get(k, k)}: {v}" for k, v in self.errors.items()))
            return
        self.message_label.setToolTip("")
        muted = self.palette().color(QPalette.ColorRole.PlaceholderText).name()
        summary = ""
        if values is not None:
            n_train = train_size(values["dataset"])
            n_fit = n_train - int(round(n_train * values["validation_split"]))
            summary = f"{steps_for(values, n_train):,} training steps on {n_fit:,} images."
        self.message_label.setText(f"<span style='color:{muted}'>{escape(' '.join(filter(None, (self._note, summary))))}</span>")

    # ------------------------------------------------------------------ reactions
    def _on_model_picked(self) -> None:
        if self._filling or self.model_combo.currentIndex() < 0:
            return
        from mnist_desktop.core.training.trainer import default_config

        model = self.model_combo.currentData()
        recipe = default_config(model).to_dict()
        for key in DATA_KEYS:  # the recipe is about the model; the data choices stay the person's
            recipe.pop(key)
        kept = sorted(self._edited & set(recipe), key=list(self.fields).index)
        for key in kept:  # what the person typed wins over the recipe
            recipe.pop(key)
        self._note = ""
        if kept:
            title = self.model_combo.currentText().split(" — ")[0]
            self._note = (f"Kept your {', '.join(FIELD_TITLES[k].lower() for k in kept)}; "
                          f"the other settings are the {title}'s recommended ones.")
        self._show(recipe)

    def _on_dataset_picked(self) -> None:
        self.refresh_dataset_status()
        self.revalidate()

    def refresh_dataset_status(self) -> None:
        """Show on each dataset whether it is bundled, here, or needs a download (cheap file checks)."""
        for index in range(self.dataset_combo.count()):
            name = self.dataset_combo.itemData(index)
            status = dataset_status(name)
            label = DATASET_LABELS.get(name, DATASETS[name].title)
            self.dataset_combo.setItemText(index, label if status == "bundled" else f"{label} ({short_status(status)})")
            self.dataset_combo.setItemData(index, status, Qt.ItemDataRole.ToolTipRole)
        name = self.dataset_combo.currentData()
        if name:
            found = dataset_availability(name)
            label = self.dataset_status_label
            label.setText(status_sentence(found.status(), found.skipped))
            label.setToolTip("\n".join((found.status(), *found.skipped)))
            self._fit_status_label()

    def _fit_status_label(self) -> None:
        """The scroll area does not give wrapped labels their height-for-width: reserve a second
        line when the sentence cannot fit on one, or it is painted over the fields below."""
        label = self.dataset_status_label
        width = max(self.dataset_combo.width(), 200)
        lines = 2 if label.fontMetrics().horizontalAdvance(label.text()) > width else 1
        label.setMinimumHeight(lines * label.fontMetrics().lineSpacing() + 2)

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        self._fit_status_label()
