"""The verdict beside the digit: "digit", "not sure", "doesn't look like a digit", "keep drawing".

One pure function decides, so the GUI, the compare strip and ``predict --json``
can never disagree. The order matters: a tiny mark is judged on the raw canvas
*before* preprocessing (which would blow a dot up to fill the 20-px box and make
it look like a fat 0), then the OOD score, then the calibrated confidence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mnist_desktop.core.data.preprocess import find_ink

#: A mark whose ink box's longer side is below this share of the canvas is too small to read.
MIN_EXTENT = 0.15
#: A compact blob (a dab with a big brush) this small is also a dot, not a digit.
BLOB_EXTENT, BLOB_ASPECT, BLOB_FILL = 0.3, 0.5, 0.5
#: "Not sure" below this calibrated top probability ...
MIN_CONFIDENCE = 0.6
#: ... or when the runner-up is this close to the top class.
MIN_MARGIN = 0.3

NO_SCORE_REASON = "this model has no OOD score (saved before mnist-desktop fitted one): the verdict uses confidence only"


@dataclass(frozen=True)
class Verdict:
    """What to tell the person about one reading.

    ``kind`` is "digit", "unsure", "not_a_digit" or "too_small" (the GUI's "keep
    drawing"; ``predict --json`` reports it as "not_a_digit" with reason "too small").
    """

    kind: str
    label: int
    runner_up: int
    confidence: float
    ood_score: float | None
    reason: str = ""

    @property
    def json_verdict(self) -> str:
        return "not_a_digit" if self.kind == "too_small" else self.kind


def is_too_small(picture: np.ndarray) -> bool:
    """Whether the ink of a raw picture (any polarity, as drawn) is a dot or a short tick.

    Measured on the picture as drawn, relative to its size: the canvas, or an
    image file's frame. Blank pictures count as too small.
    """
    picture = np.asarray(picture)
    found = find_ink(picture)
    if found is None:
        return True
    crop = found[1]
    height, width = crop.shape
    side = max(picture.shape[0], picture.shape[1])
    extent = max(height, width) / side
    if extent < MIN_EXTENT:
        return True
    compact = min(height, width) / max(height, width) > BLOB_ASPECT
    return bool(extent < BLOB_EXTENT and compact and (crop > 0.5).mean() > BLOB_FILL)


def decide(probabilities: np.ndarray, ood_score: float | None, threshold: float | None, too_small: bool = False) -> Verdict:
    """The verdict for one reading: calibrated probabilities, its OOD score and the model's threshold.

    ``ood_score``/``threshold`` None (a model without doubt statistics) leaves
    only the confidence rule, and the reason says so.
    """
    probs = np.asarray(probabilities, np.float64)
    order = np.argsort(probs)[::-1]
    top, second = int(order[0]), int(order[1])
    confidence = float(probs[top])
    score = None if ood_score is None else float(ood_score)
    note = NO_SCORE_REASON if score is None or threshold is None else ""
    if too_small:
        return Verdict("too_small", top, second, confidence, score, "too small")
    if score is not None and threshold is not None and score > threshold:
        return Verdict("not_a_digit", top, second, confidence, score, "unlike the digits it was trained on")
    if confidence < MIN_CONFIDENCE or confidence - float(probs[second]) < MIN_MARGIN:
        return Verdict("unsure", top, second, confidence, score, note or "top two are close")
    return Verdict("digit", top, second, confidence, score, note)
