"""The drawings store repairs itself from its files (issue 14, defects 1, 2, 6, 8), core level.

The same cases driven through the panel's Add button are in test_store_gui.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from mnist_desktop.core.errors import DatasetError
from mnist_desktop.core.handwriting.store import HandwritingSet
from store_helpers import DAMAGE_KINDS, a_drawing, damage, index_rows, make_store, strip_metadata


@pytest.mark.parametrize("kind", DAMAGE_KINDS)
def test_damaged_index_keeps_every_drawing_and_the_next_add_grows_the_set(tmp_path, kind):
    root = tmp_path / "personal"
    before = make_store(root)
    labels = {s.id: s.label for s in before.samples}
    damage(root, kind)
    ds = HandwritingSet.load(root)
    assert {s.id: s.label for s in ds.samples} == labels, ds.problems
    assert ds.needs_repair and not ds.blocked
    ds.add(a_drawing(4, np.random.default_rng(9)), 4)
    rows = index_rows(root)
    assert len(rows) == 13 and {r["id"] for r in rows} >= set(labels)
    again = HandwritingSet.load(root)
    assert len(again) == 13 and not again.needs_repair, (again.damage, again.fixes)
    if kind not in ("missing-npy", "orphans", "bom"):
        assert list(root.glob("labels.damaged-*.csv")), "the damaged index is kept"
    for sample_id in labels:
        assert again.input_path(sample_id).exists()


def test_index_is_backed_up_on_every_write(tmp_path):
    root = tmp_path / "personal"
    ds = make_store(root, 3)
    previous = (root / "labels.csv").read_bytes()
    ds.relabel("d0-001", 7)
    assert (root / "labels.csv.bak").read_bytes() == previous
    assert HandwritingSet.load(root).get("d0-001").label == 7


def test_index_can_be_rebuilt_from_the_samples_alone(tmp_path):
    root = tmp_path / "personal"
    ds = make_store(root, 5)
    ds.relabel("d0-003", 9)
    (root / "labels.csv").unlink()
    (root / "labels.csv.bak").unlink()
    again = HandwritingSet.load(root)
    assert {s.id: s.label for s in again.samples} == {s.id: s.label for s in ds.samples}
    again.repair()
    assert len(index_rows(root)) == 5


def test_an_add_never_writes_a_smaller_index(tmp_path):
    root = tmp_path / "personal"
    ds = make_store(root, 4)
    ds.samples = ds.samples[:1]  # a bug elsewhere that lost the set in memory
    with pytest.raises(DatasetError, match="refusing to write an index of 2 drawings over one of 4"):
        ds.add(a_drawing(1, np.random.default_rng(1)), 1)
    assert len(index_rows(root)) == 4


@pytest.mark.parametrize("kind", ["non-utf8-id", "truncated"])
def test_older_files_without_labels_open_read_only_until_repair(tmp_path, kind):
    root = tmp_path / "personal"
    make_store(root)
    strip_metadata(root)
    damage(root, kind)
    with_backup = HandwritingSet.load(root)  # labels.csv.bak still knows (nearly) every label ...
    (root / "labels.csv.bak").unlink()  # ... without it, some drawings have no label anywhere
    ds = HandwritingSet.load(root)
    assert len(with_backup) > len(ds)
    assert ds.blocked and ds.unlabelled and "Repair" in ds.blocked
    with pytest.raises(DatasetError, match="read-only"):
        ds.add(a_drawing(1, np.random.default_rng(1)), 1)
    assert len(list((root / "samples").glob("*.png"))) == 12  # nothing touched
    lost = list(ds.unlabelled)
    summary = ds.repair()
    assert "moved to" in summary and not ds.blocked
    assert all((root / "unlabelled" / f"{i}.png").exists() for i in lost)
    ds.add(a_drawing(1, np.random.default_rng(1)), 1)
    assert len(index_rows(root)) == 12 - len(lost) + 1


def test_oversized_field_does_not_stop_the_load(tmp_path):
    root = tmp_path / "personal"
    make_store(root, 3)
    damage(root, "oversized-field")
    ds = HandwritingSet.load(root)  # csv's field-size error used to escape here
    assert len(ds) == 3 and any("200,0" in d or "characters long" in d for d in ds.damage)


def test_samples_being_a_file_is_a_clear_read_only_state(tmp_path):
    root = tmp_path / "personal"
    root.mkdir()
    (root / "samples").write_text("not a folder")
    ds = HandwritingSet.load(root)
    assert ds.blocked and "is a file" in ds.blocked
    with pytest.raises(DatasetError, match="read-only.*is a file"):
        ds.add(a_drawing(2, np.random.default_rng(2)), 2)
    ds.repair()
    assert (root / "samples").is_dir() and list(root.glob("samples.not-a-folder-*"))
    ds.add(a_drawing(2, np.random.default_rng(2)), 2)
    assert len(HandwritingSet.load(root)) == 1


def test_import_zip_entry_lying_about_its_size_is_bounded(tmp_path):
    import io
    import struct
    import tracemalloc
    import zipfile

    big = tmp_path / "lie.zip"
    with zipfile.ZipFile(big, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("labels.csv", "file,label\na.png,1\n")
        zf.writestr("a.png", b"\x89PNG\r\n\x1a\n" + bytes(40 << 20))
    data = bytearray(big.read_bytes())
    for sig, offset, name_at, head in ((b"PK\x03\x04", 22, 26, 30), (b"PK\x01\x02", 24, 28, 46)):
        pos = 0
        while (pos := data.find(sig, pos)) >= 0:
            n = struct.unpack_from("<H", data, pos + name_at)[0]
            if data[pos + head:pos + head + n] == b"a.png":
                struct.pack_into("<I", data, pos + offset, 1000)
            pos += 4
    big.write_bytes(bytes(data))
    ds = HandwritingSet(tmp_path / "personal")
    tracemalloc.start()
    report = ds.import_zip(big)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert not report.added and report.skipped and peak < 16 << 20
    del io
