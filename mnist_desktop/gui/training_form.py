"""The training settings form: dataset, model, optimizer and the numbers, validated live.

Validation is the core's: the form turns its texts into a ``TrainConfig`` and
``TrainConfig.validate()`` names the bad field, which the form highlights with
the reason beside it — the GUI never duplicates the rules the CLI also enforces.

Nothing here imports JAX at construction (the window shows before JAX loads);
:meth:`TrainingForm.populate` fills the model/optimizer lists from the core
once JAX is up.
"""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QCheckBox, QComboBox, QGridLayout, QGroupBox, QLabel, QLineEdit, QVBoxLayout, QWidget

from mnist_desktop.core.data.datasets import DATASETS, dataset_status, get_spec

DATASET_LABELS = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST", "mnist-subset": "MNIST bundled subset (offline)"}
DATASET_SHORT = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST", "mnist-subset": "MNIST subset"}
OPTIMIZER_LABELS = {"sgd": "SGD", "momentum": "SGD + momentum", "adam": "Adam"}
SCHEDULE_LABELS = {"constant": "constant", "cosine": "cosine decay", "onecycle": "one-cycle"}
MAX_LOG_EVERY = 10  # the first chart point must come quickly, even on a slow CPU
POINTS_PER_RUN = 30  # short runs log more often so they still draw a curve
DEFAULT_VALIDATION_SPLIT = 0.1  # the GUI shows validation accuracy per epoch, so hold some data out
ERROR_COLOUR = "#c62828"
INVALID_STYLE = f"QLineEdit {{ border: 2px solid {ERROR_COLOUR}; border-radius: 3px; padding: 1px; }}"
# form field -> parser of its text (the core validates the parsed value)
NUMBER_FIELDS = {"learning_rate": float, "batch_size": int, "epochs": float, "validation_split": float, "seed": int}
PARSE_HINTS = {float: "a number such as 0.003 or 3e-3", int: "a whole number"}
# recipe keys that are about the data, not the model: picking a model leaves them alone
DATA_KEYS = ("dataset", "validation_split", "seed", "log_every")


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


def status_sentence(status: str) -> str:
    if status == "bundled":
        return "Bundled with the app (6,000 images): works offline."
    if status.startswith("found at "):
        return f"Available: {status.removeprefix('found at ')}"
    return "Not downloaded yet: Start downloads it first (you can cancel)."


class TrainingForm(QGroupBox):
    """The settings; ``changed`` fires after every edit with the form already re-validated."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Settings", parent)
        self.errors: dict[str, str] = {"model": "loading models…"}
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
        self.error_labels: dict[str, QLabel] = {}
        for key, widget in self.fields.items():
            widget.setObjectName(f"field-{key}")
            label = QLabel()
            label.setObjectName(f"error-{key}")
            label.setWordWrap(True)
            label.setStyleSheet(f"color: {ERROR_COLOUR};")
            label.hide()
            self.error_labels[key] = label
        for edit in self.edits.values():
            edit.textChanged.connect(self.revalidate)
            edit.setMinimumWidth(60)
        self.dataset_combo.currentIndexChanged.connect(self._on_dataset_picked)
        self.model_combo.currentIndexChanged.connect(self._on_model_picked)
        self.optimizer_combo.currentIndexChanged.connect(self.revalidate)
        self.schedule_combo.currentIndexChanged.connect(self.revalidate)
        self.augment_check.toggled.connect(self.revalidate)

        grid = QGridLayout(self)
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(4)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)

        def cell(key: str) -> QWidget:
            """The field with its reason (shown only when invalid) right under it."""
            box = QWidget()
            column = QVBoxLayout(box)
            column.setContentsMargins(0, 0, 0, 0)
            column.setSpacing(1)
            column.addWidget(self.fields[key])
            column.addWidget(self.error_labels[key])
            return box

        def label(text: str, key: str) -> QLabel:
            lab = QLabel(text)
            lab.setBuddy(self.fields[key])
            # level with its field even when a reason shows under the field
            lab.setMinimumHeight(self.fields[key].sizeHint().height())
            lab.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
            return lab

        top = Qt.AlignmentFlag.AlignTop

        grid.addWidget(label("&Dataset", "dataset"), 0, 0, top)
        grid.addWidget(cell("dataset"), 0, 1, 1, 3)
        grid.addWidget(self.dataset_status_label, 1, 1, 1, 3)
        grid.addWidget(label("&Model", "model"), 2, 0, top)
        grid.addWidget(cell("model"), 2, 1, 1, 3)
        pairs = (("&Optimizer", "optimizer", "Sc&hedule", "schedule"),
                 ("&Learning rate", "learning_rate", "&Batch size", "batch_size"),
                 ("&Epochs", "epochs", "&Validation split", "validation_split"))
        for row, (text_a, key_a, text_b, key_b) in enumerate(pairs, start=3):
            grid.addWidget(label(text_a, key_a), row, 0, top)
            grid.addWidget(cell(key_a), row, 1, top)
            grid.addWidget(label(text_b, key_b), row, 2, top)
            grid.addWidget(cell(key_b), row, 3, top)
        grid.addWidget(label("S&eed", "seed"), 6, 0, top)
        grid.addWidget(cell("seed"), 6, 1, top)
        grid.addWidget(cell("augment"), 6, 2, 1, 2, top)
        self.other_error_label = QLabel()  # errors for settings the form does not show
        self.other_error_label.setObjectName("error-other")
        self.other_error_label.setWordWrap(True)
        self.other_error_label.setStyleSheet(f"color: {ERROR_COLOUR};")
        self.other_error_label.hide()
        grid.addWidget(self.other_error_label, 7, 0, 1, 4)

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
        """Show ``config`` as is (no recipe fill for the model it names)."""
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
        for key, kind in NUMBER_FIELDS.items():
            try:
                values[key] = parse_number(self.edits[key].text(), kind)
            except ValueError as err:
                errors[key] = str(err)
        if self._arch_error:
            errors["model"] = "the network below is not valid yet"
        if errors:
            return None, errors
        from mnist_desktop.core.errors import ConfigError
        from mnist_desktop.core.training.trainer import TrainConfig

        n_train = train_size(values["dataset"])
        values["log_every"] = log_every_for(steps_for(values, n_train))
        try:
            config = TrainConfig.from_dict(values)
            config.validate(n_train=n_train)
        except ConfigError as err:
            return None, {err.field: err.reason}
        return config.to_dict(), {}  # complete: the worker's echo of it compares equal

    def revalidate(self) -> None:
        """Highlight each bad field with its reason beside it; then tell the panel."""
        if self._filling or not self._ready:
            return
        _, self.errors = self.values()
        for key, label in self.error_labels.items():
            reason = self.errors.get(key)
            label.setText(reason or "")
            label.setVisible(bool(reason))
            widget = self.fields[key]
            if isinstance(widget, QLineEdit):
                widget.setStyleSheet(INVALID_STYLE if reason else "")
                widget.setToolTip(reason or self._tooltips[key])
        other = {k: v for k, v in self.errors.items() if k not in self.fields}
        self.other_error_label.setText("\n".join(f"{k.replace('_', ' ')}: {v}" for k, v in other.items()))
        self.other_error_label.setVisible(bool(other))
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

    # ------------------------------------------------------------------ reactions
    def _on_model_picked(self) -> None:
        if self._filling or self.model_combo.currentIndex() < 0:
            return
        from mnist_desktop.core.training.trainer import default_config

        recipe = default_config(self.model_combo.currentData()).to_dict()
        for key in DATA_KEYS:  # the recipe is about the model; the data choices stay the person's
            recipe.pop(key)
        self.fill(recipe)

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
            status = dataset_status(name)
            self.dataset_status_label.setText(status_sentence(status))
            self.dataset_status_label.setToolTip(status)
