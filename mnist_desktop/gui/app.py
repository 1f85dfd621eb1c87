"""Application start-up: show the window first, load JAX and the model after.

The window must be visible within ~2 s of launch, so nothing here imports JAX;
the worker (which does) is created on the next event-loop turn, and the status
bar says "loading model…" until the model is ready.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QGuiApplication, QIcon
from PySide6.QtWidgets import QApplication

from mnist_desktop import __version__
from mnist_desktop.core.paths import resources_dir
from mnist_desktop.gui import main_thread_gc


def make_application(argv: list[str] | None = None) -> QApplication:
    """The QApplication with names set, so QSettings lands in the right place."""
    QCoreApplication.setOrganizationName("mnist-desktop")
    QCoreApplication.setApplicationName("mnist-desktop")
    QCoreApplication.setApplicationVersion(__version__)
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv)
    main_thread_gc.install(app)  # Qt objects must never be collected on a worker's thread
    # matches the menu entry `mnist-desktop desktop-entry` writes (Wayland app id, taskbar icon)
    QGuiApplication.setDesktopFileName("mnist-desktop")
    icon = resources_dir() / "icons" / "mnist-desktop.svg"
    if icon.exists():
        app.setWindowIcon(QIcon(str(icon)))
    return app  # type: ignore[return-value]


def run_app(model: Path | None = None) -> int:
    """Open the main window and run the event loop until it closes."""
    app = make_application()
    from mnist_desktop.gui.main_window import MainWindow

    window = MainWindow(initial_model=model)
    window.show()
    window.start_worker_soon()
    return app.exec()
