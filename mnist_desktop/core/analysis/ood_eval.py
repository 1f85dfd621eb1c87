"""Measuring the OOD score: AUROC and flag rates on digits against another set.

``evaluate --ood`` and the report behind issue 16 use this. "Flagged" means the
verdict is "doesn't look like a digit" (or "keep drawing" for a tiny mark);
"not fooled" also counts "not sure", because a non-digit answered with "4 or
9?" has not fooled the person either.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from mnist_desktop.core.analysis.doubt import score_batch
from mnist_desktop.core.analysis.verdict import decide
from mnist_desktop.core.models.doubt_stats import DoubtStats


def auroc(negatives: np.ndarray, positives: np.ndarray) -> float:
    """Area under the ROC curve for "positives score higher" (Mann-Whitney U, ties count half)."""
    neg, pos = np.asarray(negatives, np.float64), np.asarray(positives, np.float64)
    if len(neg) == 0 or len(pos) == 0:
        return float("nan")
    values = np.concatenate([neg, pos])
    order = values.argsort(kind="mergesort")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    sorted_vals = values[order]
    # average ranks over ties
    _, first, counts = np.unique(sorted_vals, return_index=True, return_counts=True)
    for start, count in zip(first[counts > 1], counts[counts > 1]):
        ranks[order[start:start + count]] = start + (count + 1) / 2
    u = ranks[len(neg):].sum() - len(pos) * (len(pos) + 1) / 2
    return float(u / (len(neg) * len(pos)))


def verdict_kinds(probabilities: np.ndarray, scores: np.ndarray | None, stats: DoubtStats | None,
                  too_small: Sequence[bool] | None = None) -> np.ndarray:
    """The verdict kind of every row (as :func:`~mnist_desktop.core.analysis.verdict.decide`)."""
    threshold = None if stats is None else stats.threshold
    small = np.zeros(len(probabilities), bool) if too_small is None else np.asarray(too_small, bool)
    return np.array([decide(p, None if scores is None else scores[i], threshold, bool(small[i])).kind
                     for i, p in enumerate(probabilities)])


def rates(kinds: np.ndarray) -> dict[str, float]:
    n = max(len(kinds), 1)
    flagged = np.isin(kinds, ("not_a_digit", "too_small"))
    return {"flagged": float(flagged.sum() / n), "unsure": float((kinds == "unsure").sum() / n),
            "not_fooled": float((flagged | (kinds == "unsure")).sum() / n), "count": int(len(kinds))}


def ood_report(model_name: str, params: Any, stats: DoubtStats | None, digits: np.ndarray, others: np.ndarray,
               *, others_too_small: Sequence[bool] | None = None, others_groups: Sequence[str] | None = None) -> dict[str, Any]:
    """Flag rates on ``digits`` and ``others`` ((N, 28, 28) model inputs), AUROC of the score, per group.

    Tiny marks (``others_too_small``) are flagged by the verdict's rule before any
    score, so they count as flagged and enter the AUROC with the highest score.
    """
    probs_d, score_d = score_batch(model_name, params, stats, digits)
    probs_o, score_o = score_batch(model_name, params, stats, others)
    kinds_d = verdict_kinds(probs_d, score_d, stats)
    kinds_o = verdict_kinds(probs_o, score_o, stats, others_too_small)
    # without a score, rank by doubt in the top class (what the issue measured first)
    rank_d = -probs_d.max(axis=1) if score_d is None else score_d
    rank_o = -probs_o.max(axis=1) if score_o is None else score_o.copy()
    if others_too_small is not None:
        rank_o = np.where(np.asarray(others_too_small, bool), np.inf, rank_o)
    report: dict[str, Any] = {
        "score": "ood_score" if stats is not None else "1 - confidence (this model has no OOD score)",
        "auroc": auroc(rank_d, rank_o), "digits": rates(kinds_d), "others": rates(kinds_o),
    }
    if others_groups is not None:
        groups = np.asarray(others_groups)
        report["groups"] = {
            str(g): dict(rates(kinds_o[groups == g]), auroc=auroc(rank_d, rank_o[groups == g])) for g in dict.fromkeys(groups)
        }
    return report
