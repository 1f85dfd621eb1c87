"""Fine-tuning is refused when its result could not be measured, and warns when only roughly."""

from mnist_desktop.core.handwriting.readiness import GOOD_HELD_OUT, MIN_HELD_OUT, tuning_problems


def test_eleven_drawings_measured_on_one_is_refused():
    refusals, _ = tuning_problems([1] * 10, n_held_out=1)
    assert refusals and "only 1 drawing would be held out" in refusals[0]


def test_few_held_out_or_few_per_digit_warn():
    refusals, warnings = tuning_problems([4] * 9 + [1], n_held_out=MIN_HELD_OUT + 5)
    assert not refusals
    assert any("±" in w and "points" in w for w in warnings)
    assert any("digit 9" in w for w in warnings)


def test_enough_drawings_go_ahead_silently():
    assert tuning_problems([10] * 10, n_held_out=GOOD_HELD_OUT) == ([], [])
