"""``bench`` turns its measurements into ratios and a table; the timings themselves are never tested."""

from __future__ import annotations

import pytest

from mnist_desktop.bench import suite as bench


def torch_epochs(rates, accuracies=None, wall=1.0):
    accuracies = accuracies or [0.98] * len(rates)
    return [{"samples_per_s": r, "test_accuracy": a, "wall_s": wall * (i + 1)} for i, (r, a) in enumerate(zip(rates, accuracies))]


@pytest.fixture
def report():
    run = lambda model, seed, train_s, process_s, rates: {
        "model": model, "seed": seed, "epochs": 2, "test_accuracy": 0.99, "train_seconds": train_s,
        "process_seconds": process_s, "peak_rss_mb": 800.0, "samples_per_s": 1000, "epoch_samples_per_s": rates}
    return {
        "machine": {"device": "CPU", "cpus": 2, "python": "3.11"},
        "train": {"dataset": "mnist", "runs": [
            run("cnn", 0, 8.0, 10.0, [20_000, 22_000]), run("cnn", 1, 10.0, 12.0, [20_000, 21_000]),
            run("mlp", 0, 6.0, 8.0, [60_000, 100_000, 90_000]),
        ]},
        "torch": {
            "cnn": {"epochs": torch_epochs([10_000, 10_000, 10_000], [0.97, 0.985, 0.991], wall=7.0), "process_seconds": 24.0},
            "mlp": {"epochs": torch_epochs([50_000, 40_000, 60_000]), "process_seconds": 5.0},
            "mlp_pairs": [
                {"ours": [30_000, 100_000, 90_000], "torch": [50_000, 40_000, 60_000]},  # best 1.67, median 1.8
                {"ours": [30_000, 80_000, 70_000], "torch": [60_000, 64_000, 62_000]},  # best 1.25, median 1.13
                {"ours": [30_000, 90_000, 90_000], "torch": [40_000, 45_000, 45_000]},  # best 2.0, median 2.0
            ],
        },
    }


@pytest.fixture
def report_same_work(report):
    """The pairs as today's bench records them: also our run without outlier exposure."""
    for pair, same in zip(report["torch"]["mlp_pairs"], ([30_000, 120_000], [30_000, 96_000], [30_000, 99_000])):
        pair["ours_same_work"] = same  # 2.0×, 1.5×, 2.2× the pair's torch best
    return report


def test_same_work_pairs_get_their_own_ratio_and_line(report_same_work, capsys):
    ratios = bench._ratios(report_same_work)
    key = "mlp same work as the reference (no outlier exposure), best epoch, median of 3 pairs"
    assert ratios[key] == pytest.approx(2.0)
    report_same_work["ratios"] = ratios
    bench._print_table(report_same_work)
    out = capsys.readouterr().out
    assert ("mlp pair 2: ours best epoch 80,000 samples/s, torch best epoch 64,000 → 1.25×; without outlier "
            "exposure (the reference's work) 96,000 → 1.50×") in out


def test_ratios_compare_our_slowest_cnn_seed_and_mlp_pairs_by_their_median(report):
    ratios = bench._ratios(report)
    assert ratios["cnn time to 99 % (torch wall / our slowest train s)"] == pytest.approx(21.0 / 10.0)
    assert ratios["cnn whole process (torch / our slowest)"] == pytest.approx(24.0 / 12.0)
    assert ratios["mlp epoch samples/s, best epoch (ours / torch), median of 3 pairs"] == pytest.approx(100_000 / 60_000)
    assert ratios["mlp epoch samples/s, best epoch, lowest pair"] == pytest.approx(80_000 / 64_000)
    assert ratios["mlp epoch samples/s, median epoch, median of pairs"] == pytest.approx(90_000 / 50_000)


def test_cnn_ratio_names_the_accuracy_torch_reached_when_short_of_99(report):
    report["torch"]["cnn"]["epochs"][-1]["test_accuracy"] = 0.9875
    assert "cnn time to 98.75% (torch wall / our slowest train s)" in bench._ratios(report)


def test_no_torch_no_ratios(report):
    del report["torch"]
    assert bench._ratios(report) == {}


def test_the_torch_suite_alone_still_compares_the_mlp_pairs(report):
    del report["train"]  # `mnist-desktop bench torch`: the pairs carry our own runs
    assert list(bench._ratios(report)) == ["mlp epoch samples/s, best epoch (ours / torch), median of 3 pairs",
                                           "mlp epoch samples/s, best epoch, lowest pair",
                                           "mlp epoch samples/s, median epoch, median of pairs"]


def test_table_shows_runs_epoch_rates_and_ratios(report, capsys):
    report["ratios"] = bench._ratios(report)
    bench._print_table(report)
    out = capsys.readouterr().out
    assert "mlp seed 0 samples/s per epoch (the first includes compilation): 60k, 100k, 90k" in out
    assert "samples/s per epoch 50k, 40k, 60k" in out
    assert "mlp pair 2: ours best epoch 80,000 samples/s, torch best epoch 64,000 → 1.25×" in out
    assert "ratio mlp epoch samples/s, best epoch (ours / torch), median of 3 pairs: 1.67×" in out
    assert "ratio cnn time to 99 % (torch wall / our slowest train s): 2.10×" in out


def test_inference_suite_runs_and_reports_every_live_path(capsys):
    """A smoke run of the real suite (numbers are not checked: speed lives in the bench, not in tests)."""
    import json

    from mnist_desktop.cli.main import main
    from mnist_desktop.core.analysis.insight import SALIENCY_METHODS

    assert main(["bench", "inference", "--quick", "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    paths = report["inference"]
    assert paths["model"] == "cnn"
    assert set(paths) == {"model", "predict", *(f"+activations+{m} saliency" for m in SALIENCY_METHODS)}
    assert all(0 < paths[k]["p50_ms"] <= paths[k]["p99_ms"] and paths[k]["n"] == 200 for k in paths if k != "model")


def test_compare_suite_reads_with_four_pinned_models(capsys):
    """Smoke run of the compare-strip benchmark (speed is reported, not asserted)."""
    import json

    from mnist_desktop.cli.main import main

    assert main(["bench", "compare", "--quick", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["compare"]
    assert result["models"] == 4 and result["n"] == 100 and 0 < result["p50_ms"] <= result["p99_ms"]


def test_table_shows_the_phase_breakdown_and_both_recipes_curves(report, capsys):
    """Issue 19's must-shows: where a default run's time went, and the new recipe's curve beside the old one's."""
    report["train"]["runs"][0]["phases"] = {"data_loading": 0.5, "setup": 0.3, "compile": 0.4, "compile_background": 0.6,
                                            "first_step": 0.1, "steps": 5.0, "evaluation": 0.2, "saving": 0.1}
    report["train"]["time_to_accuracy"] = [
        {"recipe": "default", "model": "cnn", "seed": 0, "epochs": 1.5, "learning_rate": 0.01,
         "curve": [{"epoch": 1, "seconds": 4.0, "test_accuracy": 0.985}, {"epoch": 2, "seconds": 6.0, "test_accuracy": 0.9906}]},
        {"recipe": "previous", "model": "cnn", "seed": 0, "epochs": 2.5, "learning_rate": 0.006,
         "curve": [{"epoch": 1, "seconds": 4.5, "test_accuracy": 0.982}, {"epoch": 3, "seconds": 11.0, "test_accuracy": 0.992}]},
    ]
    bench._print_table(report)
    out = capsys.readouterr().out
    assert ("where cnn seed 0's process time went (s): data loading 0.50, setup 0.30, compile 0.40, compile background 0.60, "
            "first step 0.10, steps 5.00, evaluation 0.20, saving 0.10; start-up and imports 3.40") in out
    assert "default  (1.5 epochs, peak lr 0.01, seed 0): ep 1:   4.0 s → 98.50%   ep 2:   6.0 s → 99.06%" in out
    assert "previous (2.5 epochs, peak lr 0.006, seed 0): ep 1:   4.5 s → 98.20%   ep 3:  11.0 s → 99.20%" in out
