"""Pen-trajectory files (UCI pen digits): the reader's errors, the blocks, and the canvas rendering."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_desktop.core.data.pendigits import (
    PEN_STYLES,
    PenStyle,
    catmull_rom,
    load_pendigits,
    parse_pendigits,
    pen_model_inputs,
    render_pen_canvas,
    split_blocks,
    validation_blocks,
)
from mnist_desktop.core.errors import DatasetError

# a 7 (bar, then the diagonal) and a 1 (flag, stem), in the file's units: 0-100, y up
SEVEN = "0,100,30,100,60,100,100,100,80,70,60,40,45,20,30,0"
ONE = "20,70,40,85,55,100,55,70,55,45,55,25,55,10,55,0"


def test_reads_one_hot_and_plain_labels_and_skips_blank_lines():
    pen = parse_pendigits([SEVEN + ",0000000100", "", ONE + ",1", "   "], "x.tra")
    assert pen.labels.tolist() == [7, 1]
    assert pen.points.shape == (2, 8, 2) and pen.points.dtype == np.float32
    assert pen.points[0, 3].tolist() == [100.0, 100.0]


@pytest.mark.parametrize("line, says", [
    (SEVEN, "expected 17 comma-separated fields"),
    (SEVEN + ",7,7", "found 18"),
    (SEVEN.replace("30,100", "30,abc", 1) + ",7", "y2 = 'abc' is not a number from 0 to 100"),
    (SEVEN.replace("0,100", "101,100", 1) + ",7", "x1 = '101'"),
    (SEVEN.replace("0,100", "-3,100", 1) + ",7", "x1 = '-3'"),
    (SEVEN.replace("0,100", "nan,100", 1) + ",7", "x1 = 'nan'"),
    (SEVEN + ",0000000110", "label '0000000110'"),
    (SEVEN + ",12", "label '12' is neither a digit"),
    (SEVEN + ",", "label ''"),
])
def test_a_malformed_line_is_refused_naming_the_file_and_line(line, says):
    with pytest.raises(DatasetError) as err:
        parse_pendigits([ONE + ",1", "", line, ONE + ",1"], "pen.tra")
    assert str(err.value).startswith("pen.tra line 3: ") and says in str(err.value)


def test_file_errors_name_the_file(tmp_path):
    with pytest.raises(DatasetError, match="no such pen-digit file"):
        load_pendigits(tmp_path / "missing.tra")
    empty = tmp_path / "empty.tra"
    empty.write_text("\n\n")
    with pytest.raises(DatasetError, match="empty.tra: no pen digits found"):
        load_pendigits(empty)
    binary = tmp_path / "binary.tra"
    binary.write_bytes(b"\xff\xfe\x00\x81" * 10)
    with pytest.raises(DatasetError, match="binary.tra: not a text file"):
        load_pendigits(binary)
    bad = tmp_path / "bad.tra"
    bad.write_text(f"{ONE},1\n{SEVEN},x\n")
    with pytest.raises(DatasetError, match=r"bad\.tra line 2: label 'x'"):
        load_pendigits(bad)
    good = tmp_path / "folder"
    good.mkdir()
    (good / "pen.tra").write_text(f"{ONE},1\n")
    assert len(load_pendigits(good)) == 1  # a folder holding the .tra file


def test_blocks_are_contiguous_disjoint_and_cover_the_file():
    train, val = split_blocks(7494)
    assert len(np.intersect1d(train, val)) == 0 and len(train) + len(val) == 7494
    blocks = validation_blocks(7494)
    assert len(blocks) == 6 and all(np.all(np.diff(b) == 1) for b in blocks)
    assert blocks[0][0] == 4 * 250 and len(blocks[0]) == 250


def test_catmull_rom_passes_through_every_point():
    pts = np.array([[0, 0], [10, 5], [20, 0], [30, 10]], float)
    curve = catmull_rom(pts, samples=6)
    for p in pts:
        assert np.min(np.hypot(*(curve - p).T)) < 1e-9
    assert len(curve) == 1 + 3 * 6


def test_rendering_is_a_seeded_canvas_picture_in_the_canvas_format():
    pen = parse_pendigits([SEVEN + ",7"], "x")
    a = render_pen_canvas(pen.points[0], np.random.default_rng(1))
    b = render_pen_canvas(pen.points[0], np.random.default_rng(1))
    assert a.dtype == np.uint8 and a.shape == (280, 280) and np.array_equal(a, b)
    assert a.max() == 255 and np.median(a) == 0  # white ink on black, like the canvas
    rows = np.flatnonzero(a.max(axis=1))
    assert rows[0] < 140 < rows[-1]  # y flipped: the bar (y = 100, top of the tablet) is at the top
    top_row = a[rows[0] + 3]
    assert np.count_nonzero(top_row) > np.count_nonzero(a[rows[-1] - 3])  # wide bar above, narrow foot below


def test_the_likeliest_pen_up_join_can_be_omitted():
    # a 4 written as two strokes: the jump from the end of the first to the top of the stem is the longest chord
    four = parse_pendigits(["30,100,22,80,14,60,6,40,30,40,54,40,70,100,70,40,4"], "x")
    drawn = render_pen_canvas(four.points[0], np.random.default_rng(3), PenStyle(width=(30, 30)))
    dropped = render_pen_canvas(four.points[0], np.random.default_rng(3), PenStyle(width=(30, 30), join_drop=1.0))
    assert dropped.sum() < drawn.sum() * 0.9


def test_pen_inputs_go_through_the_live_preprocessing():
    pen = parse_pendigits([SEVEN + ",7", ONE + ",1"], "x")
    x = pen_model_inputs(pen, "canvas", seed=0)
    assert x.shape == (2, 28, 28) and x.dtype == np.float32 and x.max() <= 1.0
    assert all(img.sum() > 10 for img in x)
    assert set(PEN_STYLES) == {"faithful", "varied", "canvas"}
