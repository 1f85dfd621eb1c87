"""Whether a person's drawings are enough to fine-tune on and to measure the result with.

A fine-tune on 11 drawings "measured" on the one drawing held out gives a
before/after of 0 % → 100 % that means nothing; the app ran it without a word.
The rules here refuse what cannot be measured at all and warn about what can
only be measured roughly, saying how many drawings would make it meaningful.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

MIN_HELD_OUT = 5  # fewer held-out drawings: the before/after is refused (one drawing is 0 % or 100 %)
GOOD_HELD_OUT = 30  # fewer: it runs, with a warning about how rough the measurement is
MIN_PER_DIGIT = 3  # training drawings per digit below which that digit is warned about


def tuning_problems(train_counts: Sequence[int], n_held_out: int) -> tuple[list[str], list[str]]:
    """(refusals, warnings) for a fine-tune on ``train_counts[d]`` drawings of each digit ``d``,
    measured on ``n_held_out`` held-out drawings. Empty lists: go ahead."""
    refusals: list[str] = []
    warnings: list[str] = []
    if n_held_out < MIN_HELD_OUT:
        refusals.append(f"only {n_held_out} drawing{'s' * (n_held_out != 1)} would be held out to measure the "
                        f"result; add drawings (or hold out more) until at least {MIN_HELD_OUT} are")
    elif n_held_out < GOOD_HELD_OUT:
        margin = 100 * 1.96 * math.sqrt(0.25 / n_held_out)
        warnings.append(f"the before/after is measured on {n_held_out} drawings, so it is only good to about "
                        f"±{margin:.0f} points; {GOOD_HELD_OUT}+ held-out drawings make it meaningful")
    few = [str(digit) for digit, count in enumerate(train_counts) if count < MIN_PER_DIGIT]
    if few:
        warnings.append(f"fewer than {MIN_PER_DIGIT} drawings to learn from for digit{'s' * (len(few) > 1)} "
                        f"{', '.join(few)}: the model can hardly adapt to them")
    return refusals, warnings
