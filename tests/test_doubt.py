"""Issue 16 core: penultimate features, temperature scaling, OOD score, verdicts, doubt in checkpoints."""

from __future__ import annotations

import dataclasses
import json
import zipfile

import numpy as np
import pytest

from mnist_desktop.core.analysis.calibration import expected_calibration_error, fit_temperature, softmax_t
from mnist_desktop.core.analysis.doubt import fit_doubt, ink_centres, score_batch
from mnist_desktop.core.analysis.ood_eval import auroc, ood_report
from mnist_desktop.core.analysis.reading import read_drawing
from mnist_desktop.core.analysis.verdict import decide, is_too_small
from mnist_desktop.core.data.ood_shapes import FAMILIES, make_ood_set
from mnist_desktop.core.data.preprocess import normalise_batch, to_model_input
from mnist_desktop.core.data.strokes import random_drawn_canvas, render_strokes
from mnist_desktop.core.errors import CheckpointError
from mnist_desktop.core.models.checkpoints import load_checkpoint, save_checkpoint
from mnist_desktop.core.models.features import feature_dim, logits_and_features
from mnist_desktop.core.models.networks import init_params, transformed
from mnist_desktop.core.training.data_prep import foreign_outliers, prepare_doubt_data, train_data_from


@pytest.fixture(scope="module")
def fitted(trained_logreg):
    """The session's logistic regression with doubt statistics fitted on the subset's hold-out."""
    params, dataset = trained_logreg
    data = train_data_from(dataset, 0.2, 0)
    stats = fit_doubt("logreg", params, data.train_x, data.train_y, data.val_x, data.val_y)
    return params, dataset, data, stats


def test_penultimate_features_are_the_last_dense_layers_input_for_every_model():
    assert {m: feature_dim(m) for m in ("logreg", "mlp", "cnn")} == {"logreg": 784, "mlp": 100, "cnn": 128}
    x = np.random.default_rng(0).uniform(0, 1, (3, 28, 28, 1)).astype(np.float32)
    for model in ("logreg", "mlp", "cnn"):
        params = init_params(model, 1)
        logits, feats = logits_and_features(model, params, x)
        np.testing.assert_allclose(logits, transformed(model).apply(params, x), rtol=1e-5, atol=1e-5)
        assert feats.shape == (3, feature_dim(model))
    np.testing.assert_allclose(logits_and_features("logreg", init_params("logreg"), x)[1], x.reshape(3, -1))


def test_temperature_scaling_recovers_a_known_temperature_and_lowers_ece():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 3, (4000, 10))
    labels = np.array([rng.choice(10, p=p) for p in softmax_t(true_logits)])
    overconfident = true_logits * 2.5  # a model whose logits are 2.5× too large
    t = fit_temperature(overconfident, labels)
    assert 2.2 < t < 2.8
    before = expected_calibration_error(softmax_t(overconfident), labels)
    after = expected_calibration_error(softmax_t(overconfident, t), labels)
    assert before > 0.1 and after < 0.03
    # a prediction is never changed by a temperature
    assert (softmax_t(overconfident, t).argmax(1) == overconfident.argmax(1)).all()


def test_ece_of_a_perfectly_calibrated_set_is_small_and_empty_is_nan():
    probs = np.tile([0.7] + [0.3 / 9] * 9, (1000, 1))
    labels = np.where(np.arange(1000) < 700, 0, 1)
    assert expected_calibration_error(probs, labels) < 1e-9
    assert np.isnan(expected_calibration_error(np.zeros((0, 10)), np.zeros(0)))


def test_auroc_matches_the_pairwise_definition():
    rng = np.random.default_rng(1)
    neg, pos = rng.normal(0, 1, 200).round(1), rng.normal(1, 1, 150).round(1)
    pairs = (pos[:, None] > neg[None]).mean() + 0.5 * (pos[:, None] == neg[None]).mean()
    assert auroc(neg, pos) == pytest.approx(pairs)


def test_verdict_order_tiny_then_ood_then_confidence():
    sure = np.array([0.02] * 9 + [0.82])
    close = np.array([0, 0, 0, 0, 0.45, 0, 0, 0, 0, 0.55])
    assert decide(sure, 0.1, 1.0).kind == "digit"
    assert decide(sure, 2.0, 1.0).kind == "not_a_digit"
    assert decide(sure, 2.0, 1.0, too_small=True).kind == "too_small"
    v = decide(close, 0.1, 1.0)
    assert v.kind == "unsure" and {v.label, v.runner_up} == {4, 9}
    old = decide(sure, None, None)
    assert old.kind == "digit" and "confidence only" in old.reason and old.ood_score is None
    assert decide(sure, None, None, too_small=True).json_verdict == "not_a_digit"


def test_tiny_marks_are_judged_on_the_raw_canvas():
    dot = render_strokes([[(140, 140)]], 280, 18)
    tick = render_strokes([[(100, 100), (120, 110)]], 280, 14)
    big_dab = render_strokes([[(140, 140)]], 280, 70)  # one click with the biggest brush
    one = render_strokes([[(140, 60), (140, 200)]], 280, 18)  # a plain 1 is thin but tall: not tiny
    assert is_too_small(dot) and is_too_small(tick) and is_too_small(big_dab)
    assert not is_too_small(one)
    rng = np.random.default_rng(3)
    assert not any(is_too_small(random_drawn_canvas(d % 10, rng)) for d in range(50))


def test_ood_set_is_deterministic_and_has_every_family():
    a, fams, names = make_ood_set(3)
    b, _, _ = make_ood_set(3)
    assert (a == b).all() and list(dict.fromkeys(fams)) == list(FAMILIES)
    assert all(to_model_input(c) is not None for c in a)
    assert not (make_ood_set(3, seed=1)[0] == a).all()


def test_fit_doubt_sets_the_threshold_on_held_out_digits(fitted):
    params, dataset, data, stats = fitted
    assert stats.info["holdout_flag_rate"] <= 0.02 and stats.info["holdout"]["count"] == len(data.val_x)
    assert stats.info["holdout_ece_after"] <= stats.info["holdout_ece_before"] + 1e-9
    probs, scores = score_batch("logreg", params, stats, data.test_x)
    assert (scores > stats.threshold).mean() < 0.06  # new digits of the subset: a few % at most
    canvases, _, _ = make_ood_set(20, families=("scribble", "zigzag"))
    others = np.stack([to_model_input(c) for c in canvases])
    report = ood_report("logreg", params, stats, data.test_x[..., 0], others)
    assert report["auroc"] > 0.75 and report["others"]["flagged"] > report["digits"]["flagged"]


def test_doubt_round_trips_through_a_checkpoint_and_is_validated(fitted, tmp_path):
    params, _, data, stats = fitted
    path = save_checkpoint(tmp_path / "m.ckpt", "logreg", params, {"dataset": "mnist-subset"}, doubt=stats)
    back = load_checkpoint(path)
    assert back.doubt is not None and back.doubt.threshold == pytest.approx(stats.threshold)
    np.testing.assert_array_equal(back.doubt.ink_whitening, stats.ink_whitening)
    # a model saved without doubt statistics loads with none, and any stale 'doubt' metadata is dropped
    plain = load_checkpoint(save_checkpoint(tmp_path / "old.ckpt", "logreg", params, {"doubt": {"version": 1}}))
    assert plain.doubt is None and "doubt" not in plain.metadata

    def rewrite(name, change_meta=None, change_array=None):
        target = tmp_path / name
        with zipfile.ZipFile(path) as src, zipfile.ZipFile(target, "w") as dst:
            for item in src.infolist():
                payload = src.read(item)
                if item.filename == "metadata.json" and change_meta:
                    meta = json.loads(payload)
                    change_meta(meta["doubt"])
                    payload = json.dumps(meta).encode()
                if change_array and item.filename == f"doubt/{change_array[0]}.npy":
                    import io
                    buf = io.BytesIO()
                    np.lib.format.write_array(buf, change_array[1], allow_pickle=False)
                    payload = buf.getvalue()
                dst.writestr(item.filename, payload)
        return target

    for label, kwargs, words in (
        ("temp", {"change_meta": lambda d: d.update(temperature=-1)}, "temperature"),
        ("thr", {"change_meta": lambda d: d.update(threshold="high")}, "threshold"),
        ("ver", {"change_meta": lambda d: d.update(version=99)}, "version"),
        ("norm", {"change_meta": lambda d: d["normalisation"].pop("ink")}, "normalisation"),
        ("shape", {"change_array": ("ink_whitening", np.zeros((3, 3), np.float32))}, "doubt/ink_whitening"),
        ("nan", {"change_array": ("ink_mean", np.full(stats.ink_mean.shape, np.nan, np.float32))}, "NaN"),
        ("k", {"change_meta": lambda d: d.update(ink_clusters=0)}, "ink_clusters"),
        ("kbig", {"change_meta": lambda d: d.update(ink_clusters=3)}, r"doubt/ink_mean .*\(3, 4\)"),
    ):
        with pytest.raises(CheckpointError, match=words):
            load_checkpoint(rewrite(f"{label}.ckpt", **kwargs))

    # a version-1 file (one ink centre stored as (4,), no ink_clusters) still loads and scores the same
    def as_version_one(meta):
        meta.update(version=1)
        meta.pop("ink_clusters")

    one = dataclasses.replace(stats, ink_mean=stats.ink_mean[:1])
    path = save_checkpoint(tmp_path / "one.ckpt", "logreg", params, {"dataset": "mnist-subset"}, doubt=one)
    old = load_checkpoint(rewrite("v1.ckpt", change_meta=as_version_one,
                                  change_array=("ink_mean", one.ink_mean[0].astype(np.float32))))
    assert old.doubt.ink_mean.shape == (1, 4)
    # files fitted with the energy score (before the entropy one) keep scoring with it
    energy = load_checkpoint(rewrite("energy.ckpt", change_meta=lambda d: d["normalisation"].update(
        energy=d["normalisation"].pop("entropy"))))
    from mnist_desktop.core.analysis.doubt import raw_components

    logits, feats = logits_and_features("logreg", params, data.test_x[:5])
    assert set(raw_components(energy.doubt, logits, feats, data.test_x[:5, ..., 0])) == {"energy", "ink"}
    assert set(raw_components(stats, logits, feats, data.test_x[:5, ..., 0])) == {"entropy", "ink"}
    np.testing.assert_allclose(score_batch("logreg", params, old.doubt, data.test_x[:50])[1],
                               score_batch("logreg", params, one, data.test_x[:50])[1], rtol=1e-6)


def test_the_ink_gaussian_has_several_centres_placed_by_a_seeded_k_means():
    rng = np.random.default_rng(3)
    blobs = np.concatenate([rng.normal(c, 0.01, size=(200, 4)) for c in (0.0, 1.0, 2.0)])
    centres, nearest = ink_centres(blobs, 3, seed=0)
    assert sorted(np.round(centres[:, 0]).astype(int)) == [0, 1, 2]  # one centre on each blob
    assert len(set(nearest[:200])) == 1 and len(set(nearest)) == 3
    again, _ = ink_centres(blobs, 3, seed=0)
    np.testing.assert_array_equal(centres, again)
    assert ink_centres(blobs[:2], 8)[0].shape == (2, 4)  # fewer rows than centres: one centre each


def test_old_models_read_with_confidence_only(trained_logreg):
    params, dataset = trained_logreg
    reading = read_drawing("logreg", params, None, dataset.test_images[0] / 255.0, saliency=True)
    assert reading.verdict.ood_score is None and "confidence only" in reading.verdict.reason
    assert reading.saliency.shape == (28, 28) and reading.explained == reading.verdict.label


def test_reading_explains_any_chosen_class(fitted):
    params, dataset, _, stats = fitted
    image = dataset.test_images[0] / 255.0
    own = read_drawing("logreg", params, stats, image, saliency=True)
    other = read_drawing("logreg", params, stats, image, saliency=True, target=(own.verdict.label + 1) % 10)
    assert other.explained == (own.verdict.label + 1) % 10
    assert not np.allclose(own.saliency, other.saliency)
    assert own.verdict.ood_score is not None


def test_doubt_data_holds_digits_out_without_touching_the_original(trained_logreg):
    _, dataset = trained_logreg
    data = train_data_from(dataset)
    n = len(data.train_x)
    prepared = prepare_doubt_data(data, 0.0, seed=0)
    assert len(data.train_x) == n and len(prepared.train_x) + len(prepared.holdout_x) == n
    assert len(prepared.outlier_x) == 0
    with_val = prepare_doubt_data(train_data_from(dataset, 0.1, 0), 0.0, seed=0)
    assert with_val.holdout_x is with_val.val_x


def test_pictures_of_another_dataset_join_the_outlier_pool_preprocessed(trained_logreg):
    _, dataset = trained_logreg
    pictures = np.zeros((30, 28, 28), np.uint8)
    pictures[:, 4:24, 6:20] = 200  # filled boxes, like a garment: boxed and centred as predict would
    extra = foreign_outliers(pictures, count=10, seed=1)
    assert extra.shape == (10, 28, 28) and extra.dtype == np.uint8
    np.testing.assert_array_equal(extra[0], np.rint(normalise_batch(pictures[:1] / 255.0) * 255).astype(np.uint8)[0])
    data = train_data_from(dataset)
    plain, more = prepare_doubt_data(data, 0.5, seed=0), prepare_doubt_data(data, 0.5, seed=0, extra_outliers=extra)
    assert len(more.outlier_x) == len(plain.outlier_x) + 10
    np.testing.assert_array_equal(more.outlier_x[-10:], extra)
    assert len(prepare_doubt_data(data, 0.0, seed=0, extra_outliers=extra).outlier_x) == 0  # no exposure: no pool


def test_saliency_explains_a_chosen_class_why_not(trained_logreg):
    from mnist_desktop.core.analysis.insight import analyse_one

    params, dataset = trained_logreg
    image = dataset.test_images[0] / 255.0
    own = analyse_one("logreg", params, image, "gradient")
    other_class = (int(own.probabilities.argmax()) + 1) % 10
    other = analyse_one("logreg", params, image, "gradient", target=other_class)
    assert own.explained == int(own.probabilities.argmax()) and other.explained == other_class
    # for a linear model the gradient is the class's weight template: a different picture per class
    assert not np.allclose(own.attribution, other.attribution)
