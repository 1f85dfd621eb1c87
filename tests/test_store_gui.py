"""The drawings store's damage cases driven through the panel's Add button (issue 14, defects 1, 2, 6, 8).

Each case: a set of 12 drawings on disk is damaged the way the hostile pass did,
the panel opens it, a person draws a digit and clicks Add. Before the fix the
index then held 1 row; now the set has 13 and the banner says what was repaired
-- or, where the repair needs the person's say, the panel is read-only with a
banner, Add is off, and Repair makes it writable without deleting anything.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from gui_helpers import canvas_point, drag, open_main_window, wait_for_worker
from mnist_desktop.core.handwriting.store import HandwritingSet
from store_helpers import DAMAGE_KINDS, damage, index_rows, make_store, strip_metadata

pytestmark = pytest.mark.gui

ONE = [(0.5, 0.15), (0.5, 0.85)]


@pytest.fixture
def window(qtbot, monkeypatch, tmp_path):
    monkeypatch.setenv("MNIST_DESKTOP_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: None)
    win = open_main_window(qtbot, monkeypatch, tmp_path, keep_docks=("handwriting",), size=(1200, 800))
    win.docks["handwriting"].raise_()
    yield win
    win.close()


def open_store(panel, root: Path) -> None:
    """Point the panel at another drawings folder, as a restart with that folder would."""
    panel.store.root = root
    panel.reload()


def add_by_hand(qtbot, window, panel, digit: int = 1) -> None:
    drag(qtbot, window.canvas, [canvas_point(window.canvas, x, y) for x, y in ONE])
    wait_for_worker(qtbot, window.worker)
    qtbot.mouseClick(panel.collect.picker.group.button(digit), Qt.MouseButton.LeftButton)
    assert panel.collect.add_button.isEnabled()
    with qtbot.waitSignal(panel.samplesChanged):
        qtbot.mouseClick(panel.collect.add_button, Qt.MouseButton.LeftButton)


def test_every_damaged_index_keeps_the_drawings_and_add_grows_the_set(qtbot, window, tmp_path):
    panel = window.docks["handwriting"].widget()
    for kind in DAMAGE_KINDS:
        root = tmp_path / kind
        labels = {s.id: s.label for s in make_store(root).samples}
        damage(root, kind)
        open_store(panel, root)
        assert panel.banner.isVisible() and "repaired" in panel.banner.title.text(), kind
        assert panel.gallery.grid.count() == 12, kind
        add_by_hand(qtbot, window, panel)
        rows = index_rows(root)
        assert len(rows) == 13, (kind, len(rows))  # was 1 before the fix
        on_disk = HandwritingSet.load(root)
        assert {i: on_disk.get(i).label for i in labels} == labels and len(on_disk) == 13, kind
        assert panel.gallery.grid.count() == 13 and "13" in panel.gallery.title.text(), kind


def test_read_only_banner_and_repair_for_older_files_without_labels(qtbot, window, tmp_path):
    panel = window.docks["handwriting"].widget()
    root = tmp_path / "older"
    make_store(root)
    strip_metadata(root)
    damage(root, "truncated")
    (root / "labels.csv.bak").unlink()
    open_store(panel, root)
    assert panel.banner.isVisible() and "read-only" in panel.banner.title.text()
    assert panel.banner.repair_button.isVisible() and "unlabelled" in panel.banner.text.text()
    drag(qtbot, window.canvas, [canvas_point(window.canvas, x, y) for x, y in ONE])
    wait_for_worker(qtbot, window.worker)
    qtbot.mouseClick(panel.collect.picker.group.button(1), Qt.MouseButton.LeftButton)
    assert not panel.collect.add_button.isEnabled()  # nothing can be overwritten
    before = (root / "labels.csv").read_bytes()
    with qtbot.waitSignal(panel.samplesChanged):
        qtbot.mouseClick(panel.banner.repair_button, Qt.MouseButton.LeftButton)
    assert "repaired" in panel.banner.title.text() and "moved to" in panel.banner.text.text()
    assert list(root.glob("labels.damaged-*.csv"))[0].read_bytes() == before  # the damaged index is kept
    kept = len(panel.store)
    assert kept + len(list((root / "unlabelled").glob("*.png"))) == 12  # nothing deleted
    assert panel.collect.add_button.isEnabled()
    with qtbot.waitSignal(panel.samplesChanged):
        qtbot.mouseClick(panel.collect.add_button, Qt.MouseButton.LeftButton)
    assert len(index_rows(root)) == kept + 1


def test_samples_being_a_file_says_so_and_repair_fixes_it(qtbot, window, tmp_path):
    panel = window.docks["handwriting"].widget()
    root = tmp_path / "odd"
    root.mkdir()
    (root / "samples").write_text("I am not a folder")
    open_store(panel, root)  # used to end in NotADirectoryError from the Add cleanup, and silence
    assert "read-only" in panel.banner.title.text() and "is a file" in panel.banner.text.text()
    with qtbot.waitSignal(panel.samplesChanged):
        qtbot.mouseClick(panel.banner.repair_button, Qt.MouseButton.LeftButton)
    assert (root / "samples").is_dir() and list(root.glob("samples.not-a-folder-*"))
    add_by_hand(qtbot, window, panel)
    assert len(HandwritingSet.load(root)) == 1


def test_oversized_field_lets_the_app_start(qtbot, monkeypatch, tmp_path):
    """Defect 6: one 200 KB field used to stop the GUI at every launch."""
    home = tmp_path / "home"
    make_store(home / "personal", 3)
    damage(home / "personal", "oversized-field")
    monkeypatch.setenv("MNIST_DESKTOP_HOME", str(home))
    win = open_main_window(qtbot, monkeypatch, tmp_path, keep_docks=("handwriting",))
    try:
        panel = win.docks["handwriting"].widget()
        assert len(panel.store) == 3 and panel.gallery.grid.count() == 3
    finally:
        win.close()
