"""The GUI process collects cyclic garbage on its own thread only (gui/main_thread_gc.py)."""

from __future__ import annotations

import gc
import threading
import weakref

from PySide6.QtCore import QObject

from mnist_desktop.gui import main_thread_gc
from mnist_desktop.gui.app import make_application


class _Cycle:
    """A reference cycle holding a Qt object, as a closed window's leftovers can."""

    def __init__(self):
        self.me = self
        self.qt = QObject()


def test_the_app_collects_cycles_from_a_gui_thread_timer_not_automatically(qtbot):
    app = make_application([])
    assert main_thread_gc.install(app) is main_thread_gc.install(app)  # once per application
    gc.enable()  # as in a fresh process (the suite itself runs with collection off)
    collector = main_thread_gc.MainThreadCollector(app)
    assert not gc.isenabled()
    collected_on: list[str] = []

    class Watched(_Cycle):
        def __del__(self):
            collected_on.append(threading.current_thread().name)

    ref = weakref.ref(Watched())
    # a worker thread allocating a lot would have run the collection itself; now it cannot
    worker = threading.Thread(target=lambda: [[object()] for _ in range(50_000)], name="busy-worker")
    worker.start()
    worker.join()
    assert ref() is not None  # nothing collected the cycle off the GUI thread
    keep = [[] for _ in range(2 * collector.thresholds[0])]  # enough new objects that a collection is due
    qtbot.waitUntil(lambda: ref() is None, timeout=5_000)  # the timer's collection, within a tick or two
    assert collected_on == [threading.main_thread().name]
    collector.deleteLater()
    del keep


def test_collect_if_due_follows_the_generation_thresholds():
    gc.collect()
    assert main_thread_gc.collect_if_due((10**9, 10, 10)) is None  # nothing due
    junk = [[object()] for _ in range(50)]
    del junk
    assert main_thread_gc.collect_if_due((1, 10**9, 10**9)) == 0
