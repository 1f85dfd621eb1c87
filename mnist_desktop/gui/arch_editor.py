"""The architecture editor: build the network layer by layer and see what it costs, live.

A table of layers (the automatic output layer last, greyed) with each layer's
output shape, parameters and multiply-adds; buttons to add, remove and move
layers; the selected layer's fields below; presets one click away; the stack as
compact text (the CLI's ``--arch``), which can also be typed. An invalid stack
shows its reason in red on the row that breaks a rule, and :attr:`error` makes
the training form hold Start back.

Shape inference is the core's :func:`~mnist_desktop.core.models.spec.summarize`,
pure Python: nothing here loads JAX, so every edit is answered at once.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView, QComboBox, QDoubleSpinBox, QGridLayout, QGroupBox, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QMenu,
    QPushButton, QSpinBox, QTableWidget, QTableWidgetItem, QToolButton, QVBoxLayout, QWidget,
)

from mnist_desktop.core.models.spec import (
    FIELDS, PADDINGS, PRESET_TITLES, PRESETS, TITLES, Architecture, Layer, SpecError, architecture_of, make_layer, model_id,
    parse_compact, shape_text, summarize,
)

ERROR_COLOUR = "#c62828"
PRESET_BUTTONS = (("logreg", "Logreg"), ("mlp", "LeNet-300-100"), ("cnn", "Fast CNN"), ("flax-cnn", "Flax CNN"))
#: what a newly added layer starts as
NEW_LAYER = {"dense": {"units": 64}, "conv": {"channels": 16, "kernel": 3}}
FIELD_TIPS = {"units": "Outputs of the dense layer", "channels": "Feature maps the conv layer makes",
              "kernel": "Side of the square kernel, in pixels", "stride": "Step between kernel positions",
              "padding": "valid: only where the kernel fits; same: pad so the output is input/stride",
              "size": "Side of the non-overlapping pooling window", "rate": "Fraction of values zeroed while training"}


def count_text(value: int) -> str:
    """12,345 below a million; 1.23 M above (the totals line)."""
    return f"{value / 1e6:.2f} M" if value >= 1_000_000 else f"{value:,}"


def short_count(value: int) -> str:
    """What fits a narrow table cell: 832, 18.5 k, 131 k, 1.23 M (exact in the cell's tooltip)."""
    if value < 10_000:
        return f"{value:,}"
    if value < 1_000_000:
        return f"{value / 1e3:.1f} k" if value < 100_000 else f"{value / 1e3:.0f} k"
    return f"{value / 1e6:.2f} M"


class ArchEditor(QGroupBox):
    """Edit a layer stack; ``changed`` fires after every edit with :attr:`model_name` / :attr:`error` current."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Network", parent)
        self.setObjectName("arch-editor")
        self.layers: list[Layer] = list(PRESETS["cnn"].layers)
        self.summary = summarize(Architecture(tuple(self.layers)))
        self._quiet = False
        self._build()
        self.refresh()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        presets = QHBoxLayout()
        presets.setSpacing(4)
        self.preset_buttons: dict[str, QPushButton] = {}
        for name, title in PRESET_BUTTONS:
            button = QPushButton(title)
            button.setObjectName(f"preset-{name}")
            button.setToolTip(f"Replace the layers with the {PRESET_TITLES[name][0]} preset: {PRESET_TITLES[name][1]}")
            button.clicked.connect(lambda _=False, n=name: self.set_model(n, emit=True))
            presets.addWidget(button)
            self.preset_buttons[name] = button

        self.table = QTableWidget(0, 4)
        self.table.setObjectName("arch-layers")
        self.table.setHorizontalHeaderLabels(["Layer", "Output", "Params", "MACs"])
        for column, tip in enumerate(("Layers in order; the output layer is always added",
                                      "Shape of what the layer outputs for one image",
                                      "Weights and biases the layer learns",
                                      "Multiply-adds the layer needs per image (its compute)")):
            self.table.horizontalHeaderItem(column).setToolTip(tip)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2, 3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        self._row_height = self.fontMetrics().height() + 6
        self.table.itemSelectionChanged.connect(self._on_selection)

        self.add_button = QToolButton(text="Add ▾")
        self.add_button.setObjectName("arch-add")
        self.add_button.setToolTip("Insert a layer after the selected one")
        self.add_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.add_button)
        for kind in FIELDS:
            menu.addAction(TITLES[kind], lambda k=kind: self.add_layer(k))
        self.add_button.setMenu(menu)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setObjectName("arch-remove")
        self.up_button = QPushButton("Up")
        self.up_button.setObjectName("arch-up")
        self.down_button = QPushButton("Down")
        self.down_button.setObjectName("arch-down")
        self.remove_button.clicked.connect(self.remove_selected)
        self.up_button.clicked.connect(lambda: self.move_selected(-1))
        self.down_button.clicked.connect(lambda: self.move_selected(1))
        edit_row = QHBoxLayout()
        edit_row.setSpacing(4)
        for button in (self.add_button, self.remove_button, self.up_button, self.down_button):
            edit_row.addWidget(button)
        edit_row.addStretch(1)

        self.fields_box = QWidget()
        self.fields_box.setObjectName("arch-fields")
        self.fields_layout = QGridLayout(self.fields_box)
        self.fields_layout.setContentsMargins(0, 0, 0, 0)
        self.field_widgets: dict[str, QWidget] = {}

        self.totals_label = QLabel()
        self.totals_label.setObjectName("arch-totals")
        self.error_label = QLabel()
        self.error_label.setObjectName("arch-error")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(f"color: {ERROR_COLOUR};")
        self.compact_edit = QLineEdit()
        self.compact_edit.setObjectName("arch-compact")
        self.compact_edit.setToolTip("The layers as text, as `mnist-desktop train --arch` takes them; type and press "
                                     "Enter to replace the layers (the output layer is added automatically)")
        self.compact_edit.editingFinished.connect(self._on_compact_edited)
        compact_row = QHBoxLayout()
        compact_row.addWidget(QLabel("As text"))
        compact_row.addWidget(self.compact_edit, 1)

        self.body = QWidget()  # folds away (untick the title) to give the chart room
        layout = QVBoxLayout(self.body)
        layout.setContentsMargins(0, 0, 0, 0)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 6, 6, 6)
        outer.addWidget(self.body)
        self.setCheckable(True)
        self.setChecked(True)
        self.toggled.connect(self.body.setVisible)
        layout.addLayout(presets)
        layout.addWidget(self.table)
        layout.addLayout(edit_row)
        layout.addWidget(self.fields_box)
        layout.addWidget(self.totals_label)
        layout.addWidget(self.error_label)
        layout.addLayout(compact_row)

    # ------------------------------------------------------------------ state
    @property
    def architecture(self) -> Architecture:
        return Architecture(tuple(self.layers))

    @property
    def error(self) -> str | None:
        """Why the stack cannot be trained, or None."""
        return None if self.summary.error is None else str(self.summary.error)

    @property
    def model_name(self) -> str | None:
        """The model to train (a preset's name when the layers equal one), or None while invalid."""
        return model_id(self.architecture) if self.summary.valid else None

    def set_model(self, name: str, emit: bool = False) -> None:
        """Show a preset's or a layer list's layers (unknown names leave the editor as it is)."""
        try:
            arch = architecture_of(name)[0]
        except SpecError:
            return
        if arch == self.architecture:  # e.g. the model list echoing this editor's own change
            return
        self.layers = list(arch.layers)
        self.refresh(select=None)
        if emit:
            self.changed.emit()

    def selected_index(self) -> int | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows or rows[0].row() >= len(self.layers):
            return None
        return rows[0].row()

    # ------------------------------------------------------------------ edits
    def add_layer(self, kind: str) -> None:
        at = self.selected_index()
        at = len(self.layers) if at is None else at + 1
        self.layers.insert(at, make_layer(kind, **NEW_LAYER.get(kind, {})))
        self._edited(select=at)

    def remove_selected(self) -> None:
        at = self.selected_index()
        if at is None:
            return
        del self.layers[at]
        self._edited(select=min(at, len(self.layers) - 1) if self.layers else None)

    def move_selected(self, delta: int) -> None:
        at = self.selected_index()
        if at is None or not 0 <= at + delta < len(self.layers):
            return
        self.layers[at], self.layers[at + delta] = self.layers[at + delta], self.layers[at]
        self._edited(select=at + delta)

    def set_field(self, index: int, key: str, value: object) -> None:
        """Change one field of layer ``index`` (the field widgets call this)."""
        layer = self.layers[index]
        values = dict(layer.values)
        values[key] = value
        self.layers[index] = make_layer(layer.kind, **values)
        self._edited(select=index, rebuild_fields=False)

    def _edited(self, select: int | None, rebuild_fields: bool = True) -> None:
        self.refresh(select, rebuild_fields)
        self.changed.emit()

    def _on_compact_edited(self) -> None:
        text = self.compact_edit.text()
        if text == self.architecture.to_compact():
            return
        try:
            arch = parse_compact(text)
        except SpecError as err:
            self.error_label.setText(f"Text not used: {err}")
            self.error_label.show()
            self._fit_error_height()
            return
        self.layers = list(arch.layers)
        self._edited(select=None)

    # ------------------------------------------------------------------ display
    def refresh(self, select: int | None = None, rebuild_fields: bool = True) -> None:
        """Recompute the summary and redraw the table, totals, message and text."""
        self.summary = summarize(self.architecture)
        error = self.summary.error
        bad_row = error.layer if error is not None and error.layer is not None else None
        rows = self.summary.rows
        self._quiet = True
        self.table.setRowCount(len(self.layers) + 1)
        # as tall as the stack (4 to 10 rows), fixed: the dock scrolls rather than squeezing rows under the buttons
        rows_shown = min(max(len(self.layers) + 2, 4), 10)
        self.table.setFixedHeight(rows_shown * self._row_height + self.table.horizontalHeader().sizeHint().height() + 4)
        muted = QBrush(self.palette().color(self.palette().ColorRole.PlaceholderText))
        for i in range(len(self.layers) + 1):
            row = rows[i] if i < len(rows) and (rows[i].index == i or rows[i].index is None) else None
            if i < len(self.layers):
                label = f"{i + 1}. {self.layers[i].describe()}"
            else:
                label = "Output · dense 10 (automatic)"
            cells = [label, shape_text(row.shape) if row else "—", short_count(row.params) if row else "—",
                     short_count(row.macs) if row else "—"]
            tips = [label, "", f"{row.params:,} parameters" if row else "", f"{row.macs:,} multiply-adds" if row else ""]
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(tips[column])
                if column:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if i == len(self.layers):
                    item.setForeground(muted)
                    item.setFlags(Qt.ItemFlag.ItemIsEnabled)
                if i == bad_row:
                    item.setForeground(QBrush(QColor(ERROR_COLOUR)))
                    item.setToolTip(str(error))
                self.table.setItem(i, column, item)
        if select is not None and 0 <= select < len(self.layers):
            self.table.selectRow(select)
        elif select is None:
            self.table.clearSelection()
        self._quiet = False
        if error is None:
            self.totals_label.setText(f"<b>{self.summary.params:,}</b> parameters · <b>{count_text(self.summary.macs)}</b> "
                                      "multiply-adds per image")
            self.error_label.hide()
        else:
            self.totals_label.setText(f"So far: {self.summary.params:,} parameters · "
                                      f"{count_text(self.summary.macs)} multiply-adds per image")
            self.error_label.setText(f"Cannot train this network — {error}")
            self.error_label.show()
        self.compact_edit.setText(self.architecture.to_compact())
        self._fit_error_height()
        self._update_buttons()
        if rebuild_fields:
            self._build_fields()

    def _fit_error_height(self) -> None:
        """Reserve the wrapped message's real height: the dock's scroll area sizes by minimum
        heights, which for a word-wrapped label is one line, and would overlap the rows above."""
        width = max(self.error_label.width(), self.width() - 16, 120)
        self.error_label.setMinimumHeight(self.error_label.heightForWidth(width) if self.error_label.isVisibleTo(self) else 0)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        self._fit_error_height()

    def _update_buttons(self) -> None:
        at = self.selected_index()
        self.remove_button.setEnabled(at is not None)
        self.up_button.setEnabled(at is not None and at > 0)
        self.down_button.setEnabled(at is not None and at < len(self.layers) - 1)
        current = model_id(self.architecture)
        for name, button in self.preset_buttons.items():
            button.setDown(False)
            font = button.font()
            font.setBold(name == current)
            button.setFont(font)

    def _on_selection(self) -> None:
        if self._quiet:
            return
        self._update_buttons()
        self._build_fields()

    def _build_fields(self) -> None:
        """The selected layer's fields as spin boxes / a combo; edits apply at once."""
        while self.fields_layout.count():
            item = self.fields_layout.takeAt(0)
            if item.widget() is not None:
                item.widget().hide()  # gone now; deleted when control returns to the event loop
                item.widget().deleteLater()
        self.field_widgets = {}
        at = self.selected_index()
        if at is None:
            hint = QLabel("Select a layer to change it; Add inserts after the selected layer.")
            hint.setWordWrap(True)
            hint.setStyleSheet("color: palette(placeholder-text);")
            self.fields_layout.addWidget(hint, 0, 0, 1, 4)
            return
        layer = self.layers[at]
        title = QLabel(f"<b>Layer {at + 1} · {TITLES[layer.kind]}</b>" + ("" if FIELDS[layer.kind] else " — no settings"))
        self.fields_layout.addWidget(title, 0, 0, 1, 4)
        for position, (name, kind, low, high, _) in enumerate(FIELDS[layer.kind]):
            value = layer.get(name)
            if kind == "choice":
                widget: QWidget = QComboBox()
                widget.addItems(list(PADDINGS))
                widget.setCurrentText(value)
                widget.currentTextChanged.connect(lambda v, n=name, i=at: self.set_field(i, n, v))
            elif kind == "int":
                widget = QSpinBox()
                widget.setRange(int(low), int(high))
                widget.setValue(int(value))
                widget.setKeyboardTracking(False)  # typing "128" is one edit, not three
                widget.valueChanged.connect(lambda v, n=name, i=at: self.set_field(i, n, int(v)))
            else:
                widget = QDoubleSpinBox()
                widget.setRange(low, high)
                widget.setSingleStep(0.05)
                widget.setDecimals(2)
                widget.setValue(float(value))
                widget.setKeyboardTracking(False)
                widget.valueChanged.connect(lambda v, n=name, i=at: self.set_field(i, n, round(float(v), 4)))
            widget.setObjectName(f"arch-field-{name}")
            widget.setToolTip(FIELD_TIPS.get(name, ""))
            caption = QLabel(name.capitalize())
            caption.setBuddy(widget)
            row, column = 1 + position // 2, 2 * (position % 2)
            self.fields_layout.addWidget(caption, row, column)
            self.fields_layout.addWidget(widget, row, column + 1)
            self.field_widgets[name] = widget
        self.fields_layout.setColumnStretch(1, 1)
        self.fields_layout.setColumnStretch(3, 1)
