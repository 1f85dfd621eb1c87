"""“Save the model?” when quitting would lose a trained model or cut a run short.

Trained weights live only in memory until File → Save Model… writes them (the
run history keeps numbers, not weights), so closing the window used to lose a
run's model without a word. :class:`QuitGuard` asks first — Save / Discard /
Cancel — and during a run stops it cleanly (the worker finishes its step and
hands back the weights so far) before saving or quitting. Cancel keeps the app
open and the run going.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QMessageBox, QWidget

from mnist_desktop.core.formatting import format_fraction
from mnist_desktop.gui.model_session import ActiveModel
from mnist_desktop.gui.run_history import RunRecord

SAVEABLE_STATUSES = ("completed", "stopped")


@dataclass
class UnsavedModel:
    """A trained model that exists only in memory: what to call it, and what saving needs."""

    title: str
    model: ActiveModel


def unsaved_models(active: ActiveModel | None, runs: Sequence[RunRecord], saved_runs: set[int]) -> list[UnsavedModel]:
    """The models quitting now would lose: a trained active model never written to a file,
    and the latest run's model unless it is that active model or was saved (``saved_runs``:
    numbers of runs whose model was written this session)."""
    out: list[UnsavedModel] = []
    if active is not None and active.params is not None and not active.path:
        out.append(UnsavedModel(f"the active model “{active.name}” (trained, not saved)", active))
    finished = [r for r in runs if r.status in SAVEABLE_STATUSES and r.params is not None]
    if finished:
        latest = finished[-1]
        if latest.number not in saved_runs and (active is None or active.run_number != latest.number):
            model = ActiveModel.from_info(dict(latest.model_info(), model_name=latest.model, params=latest.params))
            out.append(UnsavedModel(f"the model of run #{latest.number} ({latest.model}, test accuracy "
                                    f"{format_fraction(latest.test_accuracy, 2)})", model))
    return out


def prompt_text(running: str, models: Sequence[UnsavedModel]) -> tuple[str, str]:
    """(question, details) for the message box."""
    if running:
        question = f"{running} is still training. Stop it and save its model before quitting?"
    elif len(models) == 1:
        question = f"Save {models[0].title} before quitting?"
    else:
        question = "Save the trained models before quitting?"
    lines = [f"• {m.title}" for m in models] if len(models) > 1 or (running and models) else []
    quit_button = "Stop and Quit ends the run and" if running else "Quit without Saving"
    details = "\n".join(lines + [f"{quit_button} closes the app; the runs table keeps every run's numbers, "
                                 "not its weights."])
    return question, details


class QuitGuard(QObject):
    """Decides whether the window may close now; may stop a run and close it later.

    It reads the active model from ``session``, the run in progress from
    ``runs`` (a RunController) and the listed runs from ``listed_runs()``;
    ``saved_runs`` holds the numbers of runs whose model was written.
    ``save(model)`` asks where to save one (False if the person cancelled or it
    failed); ``close()`` closes the window for good, without asking again.
    """

    def __init__(self, parent: QWidget, *, session: Any, runs: Any, listed_runs: Callable[[], Sequence[RunRecord]],
                 saved_runs: set[int], save: Callable[[UnsavedModel], bool], close: Callable[[], None]) -> None:
        super().__init__(parent)
        self._parent = parent
        self._session, self._runs, self._listed_runs, self._saved_runs = session, runs, listed_runs, saved_runs
        self._save, self._close = save, close
        self._then_save: bool | None = None  # set while waiting for a stopped run: save after it ends?
        runs.runEnded.connect(self._on_run_ended)

    def _running(self) -> str:
        """Which run is in progress ("" when none)."""
        handle = self._runs.active()
        if handle is None:
            return ""
        record = handle.record
        return f"Run #{record.number} ({record.model})" if record in self._listed_runs() else "A fine-tuning run"

    def _stop_run(self) -> None:
        handle = self._runs.active()
        if handle is not None:
            handle.stop()

    def _models(self) -> list[UnsavedModel]:
        return unsaved_models(self._session.model, self._listed_runs(), self._saved_runs)

    @property
    def waiting(self) -> bool:
        """True while a run is being stopped before the window closes."""
        return self._then_save is not None

    def may_close(self) -> bool:
        """Ask if needed; True means close now, False means stay (or close later by itself)."""
        if self.waiting:
            return False  # already stopping the run to quit
        running, models = self._running(), self._models()
        if not running and not models:
            return True
        choice = self._ask(running, models)
        if choice == QMessageBox.StandardButton.Discard:
            return True  # closing stops a run cleanly (shutdown_worker) and quits
        if choice != QMessageBox.StandardButton.Save:
            return False  # Cancel, or the box was closed some other way: nothing is lost
        if running:  # the run's weights arrive when it has stopped: save them then
            self._then_save = True
            self._stop_run()
            return False
        return self._save_all(models)

    def _ask(self, running: str, models: list[UnsavedModel]) -> QMessageBox.StandardButton:
        question, details = prompt_text(running, models)
        box = QMessageBox(QMessageBox.Icon.Question, "Quit MNIST Desktop", question,
                          QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                          | QMessageBox.StandardButton.Cancel, self._parent)
        box.setObjectName("quit-prompt")
        box.setInformativeText(details)
        box.setDefaultButton(QMessageBox.StandardButton.Save)
        box.setEscapeButton(QMessageBox.StandardButton.Cancel)
        if running:
            box.button(QMessageBox.StandardButton.Save).setText("Stop and Save…")
            box.button(QMessageBox.StandardButton.Discard).setText("Stop and Quit")
        elif models:
            box.button(QMessageBox.StandardButton.Save).setText("Save…")
            box.button(QMessageBox.StandardButton.Discard).setText("Quit without Saving")
        return QMessageBox.StandardButton(box.exec())

    def _save_all(self, models: list[UnsavedModel]) -> bool:
        return all(self._save(model) for model in models)  # stops at the first cancelled dialog

    def _on_run_ended(self, *_args: Any) -> None:
        if self._then_save is None:
            return
        # after every other slot of the signal (the training panel records the run's weights first)
        QTimer.singleShot(0, self._finish_quit)

    def _finish_quit(self) -> None:
        if self._then_save is None:
            return
        if self._running():  # the worker thread is still leaving the run
            QTimer.singleShot(20, self._finish_quit)
            return
        then_save, self._then_save = self._then_save, None
        if then_save and not self._save_all(self._models()):
            return  # the person cancelled a save dialog: stay open
        self._close()
