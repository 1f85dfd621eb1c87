"""The "My handwriting" dock: the Collect and Results tabs over one set of the person's drawings.

The panel owns the set (:class:`~mnist_desktop.core.handwriting.store.HandwritingSet`)
and the latest measurement of the active model on it; JAX work goes through the
worker: measuring is a :meth:`~mnist_desktop.gui.worker.Worker.submit` job, a
fine-tune a run of the shared :class:`~mnist_desktop.gui.run_controller.RunController`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import QFrame, QScrollArea, QTabWidget, QVBoxLayout, QWidget

from mnist_desktop.core.errors import MnistDesktopError
from mnist_desktop.core.handwriting.finetune import (
    FinetuneOptions,
    FinetuneReport,
    measure_job,
    replay_dataset_name,
    trained_on_ids,
)
from mnist_desktop.core.handwriting.readiness import tuning_problems
from mnist_desktop.core.handwriting.store import HandwritingSet
from mnist_desktop.gui.handwriting.collect_tab import CollectTab
from mnist_desktop.gui.handwriting.finetune_run import FinetuneRun
from mnist_desktop.gui.handwriting.results_tab import ResultsTab
from mnist_desktop.gui.handwriting.store_banner import StoreBanner
from mnist_desktop.gui.model_session import ActiveModel, ModelSession
from mnist_desktop.gui.run_controller import RunController

MEASURE_DELAY_MS = 400  # re-measure this long after the last change (a burst of adds measures once)
MIN_SAMPLES_TO_TUNE = 10


def _scrolled(page: QWidget) -> QScrollArea:
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    scroll.setWidget(page)
    return scroll


class HandwritingPanel(QWidget):
    """Collect, measure and fine-tune on the person's own handwriting (see the module docstring)."""

    samplesChanged = Signal()  # the set on disk changed (tests wait on it)
    measured = Signal(dict)  # a measurement of the active model on the set arrived
    finetuneFinished = Signal(object)  # dict: report, path — or {"error": ...}

    def __init__(self, session: ModelSession, runs: RunController, root: str | Path | None = None):
        super().__init__()
        self.session = session
        self.runs = runs
        self.worker: Any = None
        self.banner = StoreBanner()
        self.store = self._load(root)
        self.measurement: dict[str, Any] | None = None
        self._mnist: tuple[float, str] | None = None  # measured MNIST accuracy and its caption
        self.finetune: FinetuneRun | None = None
        self.last_report: FinetuneReport | None = None
        self._measure_timer = QTimer(self, singleShot=True, interval=MEASURE_DELAY_MS)
        self._measure_timer.timeout.connect(lambda: self.measure(include_mnist=False))

        self.collect = CollectTab(self.store, session)
        self.gallery = self.collect.gallery
        self.results = ResultsTab()
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(_scrolled(self.collect), "Collect")
        self.tabs.addTab(_scrolled(self.results), "Results")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.banner)
        layout.addWidget(self.tabs)
        self.banner.repairRequested.connect(self.repair)

        self.collect.added.connect(self._after_change)
        self.gallery.changed.connect(self._after_change)
        self.results.measureRequested.connect(lambda: self.measure(include_mnist=True))
        self.results.tuneRequested.connect(lambda: self.start_finetune())
        self.results.tune_stop.clicked.connect(self.stop_finetune)
        self.results.use_tuned_button.clicked.connect(self.use_tuned_model)
        session.modelChanged.connect(self._on_model_changed)
        session.drawingChanged.connect(self.update_buttons)
        runs.runStarted.connect(lambda _handle: self.update_buttons())
        runs.runEnded.connect(lambda _handle: self.update_buttons())
        self.gallery.refresh()
        self.update_buttons()

    def _load(self, root: str | Path | None) -> HandwritingSet:
        """Open the set; repair what the files can settle, else open read-only with the banner."""
        try:
            store = HandwritingSet.load(root)
        except MnistDesktopError as err:  # the loader reports damage instead of raising; this is a bug net
            store = HandwritingSet(root)
            store.blocked = f"Could not read your drawings: {err}"
        if store.blocked:
            self.banner.show_blocked(store.blocked)
        elif store.needs_repair:
            try:
                self.banner.show_repaired(store.repair())
            except MnistDesktopError as err:
                store.blocked = str(err)
                self.banner.show_blocked(store.blocked)
        else:
            self.banner.hide()
        return store

    def repair(self) -> bool:
        """The banner's Repair: fix the set on disk (nothing is deleted) and make it writable again."""
        try:
            summary = self.store.repair()
        except MnistDesktopError as err:
            self.banner.show_blocked(f"{self.store.blocked or ''}\n\nRepair failed: {err}".strip())
            return False
        self.banner.show_repaired(summary)
        self.gallery.refresh()
        self._after_change()
        return True

    def sizeHint(self) -> QSize:
        return QSize(480, 640)  # room for a 6-wide gallery; the canvas keeps the rest of the window

    def attach_worker(self, worker: Any) -> None:
        """Called by the main window once JAX is up."""
        self.worker = worker
        self.update_buttons()

    def reload(self) -> None:
        """Re-read the set from disk (after another program or a test changed it)."""
        self.store = self._load(self.store.root)
        self.collect.set_store(self.store)
        self.measurement = None
        self.gallery.set_misread({})
        self._show_measurement()

    def _on_model_changed(self, model: ActiveModel) -> None:
        self.results.model_label.setText(f"Active model: {model.name}")
        self._mnist = None
        self.measurement = None
        self._show_measurement()
        self.update_buttons()
        if len(self.store) and self.worker is not None:
            self.measure(include_mnist=self.isVisible() and self.tabs.currentIndex() == 1)

    def _after_change(self) -> None:
        self.samplesChanged.emit()
        self._measure_timer.start()  # debounced: a session's burst of adds measures once
        self.update_buttons()

    # ------------------------------------------------------------------ measuring
    def _digit_model(self) -> bool:
        model = self.session.model
        return model is not None and model.is_digit_model()

    def measure(self, include_mnist: bool = True) -> bool:
        """Ask the worker for the active model's accuracy on the set (and MNIST test)."""
        self._measure_timer.stop()
        model = self.session.model
        if self.worker is None or model is None or model.params is None:
            self.results.handwriting_caption.setText("your drawings — no model loaded yet")
            return False
        job = self.worker.submit(measure_job, handwriting_dir=str(self.store.root),
                                 exclude_ids=trained_on_ids(model.metadata),
                                 mnist=replay_dataset_name() if include_mnist and self._digit_model() else None)
        job.finished.connect(self._on_measured)
        job.failed.connect(self._on_measure_failed)
        self.results.measure_button.setEnabled(False)
        return True

    def _on_measure_failed(self, message: str) -> None:
        self.results.measure_button.setEnabled(True)
        self.results.handwriting_caption.setText(f"could not measure: {message}")

    def _on_measured(self, result: dict) -> None:
        self.results.measure_button.setEnabled(True)
        self.measurement = result
        if result.get("mnist_accuracy") is not None:
            name = "MNIST test" if result["mnist_dataset"] == "mnist" else "MNIST test (bundled subset)"
            self._mnist = (result["mnist_accuracy"], f"{name}, {result['mnist_count']:,} images")
        self._show_measurement()
        self.gallery.set_misread(self._misread_ids())
        self.measured.emit(result)

    def _misread_ids(self) -> dict[str, int]:
        m = self.measurement
        if not m or not len(m.get("ids", [])):
            return {}
        return {sid: int(p) for sid, p, y in zip(m["ids"], m["predictions"], m["labels"]) if int(p) != int(y)}

    def _show_measurement(self) -> None:
        model = self.session.model
        self.results.show_measurement(self.measurement, bool(len(self.store)), self._mnist,
                                      None if model is None else model.test_accuracy)

    # ------------------------------------------------------------------ fine-tuning
    def start_finetune(self, options: FinetuneOptions | None = None) -> bool:
        """Fine-tune the active model on the worker; the result is saved as a new model."""
        status = self.results.tune_status
        if (self.finetune is not None and self.finetune.state != "done") or self.worker is None:
            return False
        if self.runs.busy():
            status.setText("Another training run is in progress; wait for it to finish.")
            return False
        if not self._digit_model():
            status.setText("Fine-tuning on handwriting needs a digit (MNIST) model; open one first.")
            return False
        if len(self.store) < MIN_SAMPLES_TO_TUNE:
            status.setText(f"Add at least {MIN_SAMPLES_TO_TUNE} drawings first (you have {len(self.store)}); "
                           "a guided session is the quickest way.")
            return False
        options = options or self.results.options()
        if not self.results.check_options(options):
            return False
        split = self.store.split(options.held_out, options.seed)
        by_id = {sample.id: sample.label for sample in self.store.samples}
        train_counts = [0] * 10
        for sample_id in split.train_ids:
            train_counts[int(by_id[sample_id])] += 1
        refusals, warnings = tuning_problems(train_counts, len(split.held_out_ids))
        if refusals:
            status.setText("Not started: " + "; ".join(refusals) + ".")
            return False
        self.results.show_warnings(warnings)
        assert self.session.model is not None
        run = FinetuneRun(self.runs, self.worker, self.store, self.session.model, options, parent=self)
        if run.start() is None:
            return False
        self.finetune = run
        run.done.connect(self._on_finetune_done)
        self.results.follow(run)
        self.update_buttons()
        return True

    def stop_finetune(self) -> None:
        if self.finetune is not None and self.finetune.state == "training":
            self.finetune.stop()
            self.results.tune_status.setText("Stopping…")

    def _on_finetune_done(self, result: Any) -> None:
        run = self.finetune
        assert run is not None
        self.last_report = self.results.show_outcome(result, run.options)
        self.update_buttons()
        self.finetuneFinished.emit(result if isinstance(result, dict) and "error" not in result
                                   else {"error": result.get("error") if isinstance(result, dict) else "unknown error"})

    @property
    def tuned_path(self) -> str | None:
        return self.results.tuned_path

    def use_tuned_model(self) -> None:
        path = self.results.tuned_path
        if path:
            self.session.load_model(path)
            self.results.use_tuned_button.setVisible(False)
            self.results.tune_status.setText(f"{Path(path).name} is now the active model. "
                                             "File → Use Default Model goes back.")

    # ------------------------------------------------------------------ state
    def update_buttons(self) -> None:
        self.collect.update_buttons()
        tuning = self.finetune is not None and self.finetune.state in ("training", "finishing")
        other_run = self.runs.busy() and not tuning
        enough = len(self.store) >= MIN_SAMPLES_TO_TUNE
        results = self.results
        results.tune_button.setEnabled(self.worker is not None and not tuning and not other_run
                                       and self._digit_model() and enough)
        results.tune_button.setToolTip("" if enough else f"Add at least {MIN_SAMPLES_TO_TUNE} drawings first")
        results.tune_stop.setEnabled(self.finetune is not None and self.finetune.state == "training")
        model = self.session.model
        results.measure_button.setEnabled(self.worker is not None and model is not None and model.params is not None)
