"""Train from the GUI: settings, Start/Pause/Stop, progress, live chart and run history.

The panel only collects intent and renders events. The run itself happens in
the :class:`~.worker.Worker`: Start asks the shared
:class:`~.run_controller.RunController` for a run and listens to the
:class:`~.handles.RunHandle` it returns (started / step / epoch / finished /
failed / downloadProgress), so the window stays responsive and the canvas keeps
predicting with the newest weights while a model learns. The settings form is :mod:`.training_form`, the
chart :mod:`.training_chart`, the run list :mod:`.run_history`.

States: ``waiting`` (JAX not loaded) → ``idle`` ⇄ ``preparing`` (data,
download, compile) → ``running`` ⇄ ``paused`` → (``stopping``) → ``idle``.
"""

from __future__ import annotations

import json
import time
from typing import Any

import shiboken6
from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QProgressDialog,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from mnist_desktop.gui.arch_editor import ArchEditor
from mnist_desktop.gui.sweep_box import SweepBox
from mnist_desktop.core.formatting import format_duration, format_fraction
from mnist_desktop.gui.settings_access import read_setting
from mnist_desktop.gui.handles import RunHandle
from mnist_desktop.gui.model_session import ModelSession
from mnist_desktop.gui.run_controller import RunController
from mnist_desktop.gui.run_history import RunHistory, RunRecord
from mnist_desktop.gui.training_chart import TrainingChart
from mnist_desktop.gui.training_form import DATASET_SHORT, ERROR_COLOUR, TrainingForm

SETTINGS_KEY = "training/config"  # the last started run's settings, restored next session
LIVE_PREDICTION_S = 0.25  # while training, re-read the drawing this often so the answer visibly improves


class _FitContent(QWidget):
    """Scroll-area content that fills the viewport: without this, the word-wrapped labels
    make the scroll area size it by height-for-width (its *preferred* height) and it
    scrolls even when everything fits."""

    def heightForWidth(self, width: int) -> int:  # noqa: N802 (Qt override)
        return -1  # "no preference": the scroll area then uses the minimum size, as for any widget


class TrainingPanel(QWidget):
    """The training dock; see the module docstring."""

    runFinished = Signal(object)  # RunRecord, for other panels and tests

    def __init__(self, session: ModelSession, runs: RunController):
        super().__init__()
        self.session = session
        self.runs = runs
        self.worker: Any = None
        self.state = "waiting"
        self.run: RunRecord | None = None
        self.handle: RunHandle | None = None  # this panel's run, while it lasts
        self.error_box: QMessageBox | None = None
        self.download_dialog: QProgressDialog | None = None
        self._last_live_prediction = 0.0
        self.setObjectName("training-panel")
        self._build()
        self._set_state("waiting")
        runs.runStarted.connect(lambda _handle: self._update_buttons())
        runs.runEnded.connect(lambda _handle: self._update_buttons())

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.form = TrainingForm()
        self.form.changed.connect(self._update_buttons)
        self.arch_editor = ArchEditor()  # the model list and the editor follow each other
        self.arch_editor.changed.connect(
            lambda: self.form.set_architecture(self.arch_editor.model_name, self.arch_editor.error))
        self.form.model_combo.currentIndexChanged.connect(
            lambda: self.form.model_combo.currentData() and self.arch_editor.set_model(self.form.model_combo.currentData()))
        self.sweep_box = SweepBox(self)  # runs its points through start_values, one after another
        # the model list's custom entry can change in place (no index change): follow the form's value
        self.form.changed.connect(lambda: self.sweep_box.refresh_choices(self.form.model_combo.currentData()))

        self.start_button = QPushButton("Start")
        self.start_button.setObjectName("start-training")
        self.start_button.setDefault(True)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setObjectName("pause-training")
        self.pause_button.setToolTip("Hold the run; Resume continues where it stopped")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("stop-training")
        self.stop_button.setToolTip("End the run now; the model so far is kept and tested")
        self.start_button.clicked.connect(self.start)
        self.pause_button.clicked.connect(self.toggle_pause)
        self.stop_button.clicked.connect(self.stop)
        buttons = QHBoxLayout()
        for button in (self.start_button, self.pause_button, self.stop_button):
            buttons.addWidget(button)

        self.progress = QProgressBar()
        self.progress.setObjectName("training-progress")
        self.progress.setTextVisible(True)
        self.progress.setFormat("")
        self.rate_label = QLabel("")
        self.rate_label.setObjectName("training-rate")
        self.result_label = QLabel("")
        self.result_label.setObjectName("training-result")
        self.result_label.setWordWrap(True)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.result_label.hide()
        self.use_model_button = QPushButton("Use this model")
        self.use_model_button.setObjectName("use-run-model")
        self.use_model_button.setToolTip("Let this run's model read the canvas; File → Save Model… then keeps it")
        self.use_model_button.clicked.connect(lambda: self.run is not None and self.use_model(self.run))
        self.use_model_button.hide()
        result_row = QHBoxLayout()
        result_row.addWidget(self.result_label, 1)
        result_row.addWidget(self.use_model_button, 0, Qt.AlignmentFlag.AlignTop)

        self.chart = TrainingChart()
        self.sweep_box.attach_tabs(self.chart.tabs)
        self.history = RunHistory()
        self.history.selectionChanged.connect(lambda records: self.chart.show_runs(self.run, records))
        self.history.useSettingsRequested.connect(self.use_settings)
        self.history.useModelRequested.connect(self.use_model)
        # the runs get a tab of their own beside the curves: stacked under the chart in a 720-pixel
        # window they had room for one or two rows, and the dock needed a scrollbar
        self.chart.add_tab(self.history, "Runs")

        content = _FitContent()
        layout = QVBoxLayout(content)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.form)
        layout.addWidget(self.arch_editor)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.rate_label)
        layout.addLayout(result_row)
        layout.addWidget(self.sweep_box)
        layout.addWidget(self.chart, 1)
        # scrolls only when the window is too short: the dock must not force a tall window
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)

    def _set_result(self, html: str) -> None:
        self.result_label.setText(html)
        self.result_label.setVisible(bool(html))

    # ------------------------------------------------------------------ worker
    def attach_worker(self, worker: Any) -> None:
        """Fill the JAX-backed parts of the form and listen to the worker (JAX is loaded now)."""
        self.worker = worker
        self.form.populate()
        self._set_state("idle")
        self._restore_form()

    def _restore_form(self) -> None:
        """Last session's settings if they still validate, else the recommended recipe."""
        values = read_setting(QSettings(), SETTINGS_KEY)  # validated: size, depth, a JSON object
        if isinstance(values, dict):
            self.form.fill(values)
            if not self.form.errors:
                return
        self.form.fill_default()

    # ------------------------------------------------------------------ actions
    def start(self) -> None:
        """Start a run with the form's settings (Start button)."""
        if self.state != "idle" or self.worker is None or self._foreign_run():
            return
        values, _errors = self.form.values()
        if values is None:
            self.form.revalidate()
            return
        self.start_values(values)

    def start_values(self, values: dict[str, Any], overlay: list[RunRecord] | None = None,
                     remember: bool = True) -> RunHandle | None:
        """Start a run with complete, valid settings (Start, or each run of a sweep); ``overlay``
        are the runs drawn under it (default: those selected in the history); ``remember`` makes
        them next session's settings (a sweep's points are not). None if busy."""
        if self.state != "idle" or self.worker is None or self._foreign_run():
            return None
        record = RunRecord(number=self.history.next_number(), config=values,
                           dataset_title=DATASET_SHORT.get(values["dataset"], values["dataset"]))
        handle = self.runs.start(record, values)
        if handle is None:
            return None
        if remember:
            QSettings().setValue(SETTINGS_KEY, json.dumps(values))
        handle.started.connect(self._on_started)
        handle.step.connect(self._on_step)
        handle.epoch.connect(self._on_epoch)
        handle.finished.connect(self._on_ended)
        handle.failed.connect(self._on_ended)
        handle.downloadProgress.connect(self._on_download_progress)
        self.run, self.handle = record, handle
        self.history.add_run(record)
        others = overlay if overlay is not None else self.history.selected_runs()
        self._overlay = [r for r in others if r is not record]
        self.chart.show_runs(record, self._overlay)
        self._set_result("")
        self.use_model_button.hide()
        self.rate_label.setText("")
        self._set_state("preparing")
        return handle

    def chart_overlay(self) -> list[RunRecord]:
        """The finished runs the live chart draws under the current one."""
        return list(getattr(self, "_overlay", []))

    def toggle_pause(self) -> None:
        if self.handle is None:
            return
        if self.state == "running":
            self.handle.pause()
            self._set_state("paused")
        elif self.state == "paused":
            self.handle.resume()
            self._set_state("running")

    def stop(self) -> None:
        """Stop the run (or cancel its download); the worker sees it before its next step."""
        if self.state not in ("preparing", "running", "paused") or self.handle is None:
            return
        self.handle.stop()
        self._set_state("stopping")

    def use_settings(self, record: RunRecord) -> None:
        if self.state == "idle":  # the form is locked while a run uses it
            self.form.fill(record.config)

    def use_model(self, record: RunRecord) -> None:
        """Make ``record``'s model the one that reads the canvas (and that File → Save saves)."""
        if self.worker is None or record.params is None:
            return
        self.session.activate(record.model, record.params, record.model_info())
        self._set_result(f"Run #{record.number} now reads the canvas — File → Save Model… keeps it.")
        self.use_model_button.hide()

    # ------------------------------------------------------------------ run events (this panel's handle only)
    def _foreign_run(self) -> bool:
        """Another panel's run occupies the worker (one run at a time)."""
        return self.runs.busy() and self.runs.active() is not self.handle

    def _on_started(self, info: dict[str, Any]) -> None:
        record = self.run
        if record is None or not self._worker_alive():
            return
        self._close_download_dialog()
        self.progress.setRange(0, record.total_steps)
        self.progress.setValue(0)
        self.progress.setFormat(f"Epoch 1/{info['epochs']} · step 0/{record.total_steps} · compiling…")
        self.rate_label.setText(f"{info['train_size']:,} training · {info['val_size']:,} validation · "
                                f"{info['test_size']:,} test images")
        # the canvas is now read by the model being trained: label its classes and say so
        self.session.set_reading_class_names(info.get("class_names"))
        self._show_live_model(record)
        if self.state == "preparing":
            self._set_state("running")
        self.history.update_run(record)

    def _on_step(self, event: dict[str, Any]) -> None:
        record = self.run
        if record is None or not self._worker_alive():
            return
        self.chart.live_changed()
        step, total = int(event["step"]), int(event["total_steps"])
        self.progress.setValue(step)
        prefix = "Paused · " if self.state == "paused" else ""
        self.progress.setFormat(f"{prefix}Epoch {event['epoch']}/{event['epochs']} · step {step:,}/{total:,}")
        self.rate_label.setText(f"ETA {format_duration(event['eta'])} · {event['samples_per_sec']:,.0f} samples/s · "
                                f"elapsed {format_duration(event['elapsed'])}")  # accuracy and loss: the chart
        self.history.update_run(record)
        now = time.monotonic()
        if self.session.model_input is not None and now - self._last_live_prediction >= LIVE_PREDICTION_S:
            self._last_live_prediction = now
            self.session.request_prediction()  # answered between steps, newest weights

    def _on_epoch(self, _event: dict[str, Any]) -> None:
        if self.run is None:
            return
        self.chart.live_changed()
        self.history.update_run(self.run)

    def _on_download_progress(self, done: int, total: int) -> None:
        if self.run is None or self.state not in ("preparing", "stopping") or not self._worker_alive():
            return
        dialog = self.download_dialog or self._make_download_dialog()
        megabytes = f"{done / 1e6:.1f} of {total / 1e6:.1f} MB" if total else f"{done / 1e6:.1f} MB"
        dialog.setLabelText(f"Downloading {self.run.dataset_title}… {megabytes}")
        if total > 0:
            dialog.setMaximum(total)
            dialog.setValue(min(done, total))
        else:
            dialog.setMaximum(0)  # busy indicator when the size is unknown
            dialog.setValue(0)

    def _make_download_dialog(self) -> QProgressDialog:
        dialog = QProgressDialog("Downloading…", "Cancel", 0, 0, self.window())
        dialog.setObjectName("download-dialog")
        dialog.setWindowTitle("Downloading dataset")
        dialog.setWindowModality(Qt.WindowModality.NonModal)  # modal would make setValue re-enter the event loop
        dialog.setAttribute(Qt.WidgetAttribute.WA_QuitOnClose, False)  # closing the window must still quit
        dialog.setMinimumDuration(0)
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.canceled.connect(self.stop)
        dialog.show()
        self.download_dialog = dialog
        return dialog

    def _close_download_dialog(self) -> None:
        dialog, self.download_dialog = self.download_dialog, None
        if dialog is not None:
            dialog.canceled.disconnect(self.stop)  # its close would otherwise count as Cancel
            dialog.hide()
            dialog.deleteLater()

    def _on_ended(self, _result: Any = None) -> None:
        """The run finished or failed (the handle has already updated the record)."""
        record = self.run
        if record is None:
            return
        self.handle = None
        self._close_download_dialog()
        if not self._worker_alive():  # the window closed mid-run; this is the run's last word
            self._set_state("idle")
            return
        self.session.set_reading_class_names(None)  # the active model reads the canvas again
        self.chart.flush()
        self.history.update_run(record)
        self._set_state("idle")
        self.form.refresh_dataset_status()  # a download may have made a dataset available
        self.rate_label.setText("")
        self._report(record)
        self.use_model_button.setVisible(record.params is not None)
        self.runFinished.emit(record)

    def _report(self, record: RunRecord) -> None:
        seconds = format_duration(record.train_seconds)
        if record.status in ("completed", "stopped", "diverged"):
            lead = {"completed": "Finished", "stopped": "Stopped", "diverged": "Diverged"}[record.status]
            parts = [f"<b>{lead}: test accuracy {format_fraction(record.test_accuracy, 2)}</b>"]
            if record.best_val_accuracy is not None:
                parts.append(f"best validation {format_fraction(record.best_val_accuracy, 2)}")
            parts.append(f"{record.step:,} steps in {seconds}")
            text = " · ".join(parts)
            if record.status == "diverged":
                text += f"<br>{record.message}"
            text += "<br>“Use this model” lets it read the canvas."
            self._set_result(text)
            self.progress.setFormat(f"{lead} · step {record.step:,}/{record.total_steps:,}")
        elif record.status == "cancelled":
            self._set_result("Cancelled.")
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
            self.progress.setFormat("Cancelled")
        else:
            self._set_result(f"<span style='color:{ERROR_COLOUR}'>Run #{record.number} failed: "
                                      f"{record.message.splitlines()[0] if record.message else 'unknown error'}</span>")
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
            self.progress.setFormat("Failed")
            self._show_error(record.message)

    def _worker_alive(self) -> bool:
        """False once the window is closing: the worker thread is gone, and with it the worker."""
        return self.worker is not None and not self.runs.closed and shiboken6.isValid(self.worker)

    def _show_error(self, message: str) -> None:
        """A non-blocking message box: the failure is in the person's face, the app keeps running."""
        if not self._worker_alive():
            return
        if self.error_box is not None:
            self.error_box.close()
        box = QMessageBox(QMessageBox.Icon.Warning, "Training failed", message or "The training run failed.",
                          QMessageBox.StandardButton.Ok, self.window())
        box.setObjectName("training-error")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(lambda _result: setattr(self, "error_box", None))
        box.open()
        self.error_box = box

    def _show_live_model(self, record: RunRecord) -> None:
        """Say which model answers while a run trains (the worker's idle signal clears it)."""
        self.session.statusMessage.emit(
            f"Training run #{record.number} ({record.model}, {record.dataset_title}): it reads the canvas as it "
            f"learns; the active model answers again when the run ends")

    # ------------------------------------------------------------------ state
    def _set_state(self, state: str) -> None:
        self.state = state
        if state == "preparing":
            self.progress.setRange(0, 0)  # busy: loading data / compiling
            self.progress.setFormat("Preparing data and compiling…")
        elif state == "stopping":
            self.progress.setFormat(("Cancelling…" if self.download_dialog else "Stopping…"))
        elif state == "paused":
            self.progress.setFormat("Paused · " + self.progress.format())
        elif state == "running":
            self.progress.setFormat(self.progress.format().removeprefix("Paused · "))
        self._update_buttons()

    def _update_buttons(self) -> None:
        state = self.state
        foreign = self._foreign_run()
        idle = state == "idle" and not foreign
        errors = self.form.errors
        self.form.setEnabled(idle)
        self.arch_editor.setEnabled(idle)
        self.start_button.setEnabled(idle and not errors)
        self.start_button.setToolTip("Fix the highlighted settings first" if errors else
                                     "Another training run is in progress" if foreign else
                                     "Train a new model with these settings")
        self.pause_button.setEnabled(state in ("running", "paused"))
        self.pause_button.setText("Resume" if state == "paused" else "Pause")
        self.stop_button.setEnabled(state in ("preparing", "running", "paused"))
        if state == "waiting":
            self._set_result("Loading JAX…")
        elif self.result_label.text() == "Loading JAX…":
            self._set_result("")
