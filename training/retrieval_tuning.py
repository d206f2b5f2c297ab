"""Choosing the fusion of dense and keyword search and fitting the answer-or-hand-over decision
on dev queries. Queries are split in two by a hash of their id: everything is chosen on the
tuning half and reported on the held-out half as well, so the figures are not the ones tuned."""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from retrieval.decision import AnswerDecision
from retrieval.search import METHODS, Fusion, HybridSearcher
from training.retrieval_evaluation import (
    QueryRun,
    RetrievalSet,
    answer_labels,
    decision_quality,
    precision_coverage_curve,
    ranking_metrics,
    rerank_hybrid,
    run_queries,
    split_queries,
)

FUSION_CANDIDATES = tuple(Fusion("rrf", weight) for weight in (0.3, 0.4, 0.5, 0.6, 0.7)) + tuple(
    Fusion("mix", weight) for weight in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
)
MIN_ANSWERS = 20  # a threshold is only trusted when it lets at least this many answers through


@dataclass
class Tuning:
    fusion: Fusion
    decision: AnswerDecision
    runs: dict[str, QueryRun]
    labels: np.ndarray
    report: dict


def choose_threshold(confidences: np.ndarray, correct: np.ndarray, target: float) -> float:
    """The lowest threshold whose answers reach the target precision with enough of them, so
    coverage is as high as that precision allows; 1.0 (hand everything over) when none does."""
    for threshold in np.round(np.arange(0.0, 1.0, 0.01), 2):
        answered = confidences >= threshold
        if answered.sum() >= MIN_ANSWERS and correct[answered].mean() >= target:
            return float(threshold)
    return 1.0


def _logistic(features: np.ndarray, labels: np.ndarray) -> AnswerDecision:
    mean = features.mean(axis=0)
    scale = features.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=1.0, max_iter=1000)
    model.fit((features - mean) / scale, labels)
    return AnswerDecision(
        coefficients=[float(value) for value in model.coef_[0]],
        intercept=float(model.intercept_[0]),
        threshold=1.0,
        mean=[float(value) for value in mean],
        scale=[float(value) for value in scale],
    )


def out_of_fold_confidences(features: np.ndarray, labels: np.ndarray, folds: int = 5) -> np.ndarray:
    """Each query's confidence from a calibrator that never saw it."""
    confidences = np.zeros(len(labels))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=20261123)
    for train, held_out in splitter.split(features, labels):
        decision = _logistic(features[train], labels[train])
        confidences[held_out] = [decision.confidence(row) for row in features[held_out]]
    return confidences


def fit_decision(
    features: np.ndarray, labels: np.ndarray, target_precision: float, safety_margin: float
) -> tuple[AnswerDecision, np.ndarray]:
    """The calibrator fitted on all dev queries, with the threshold chosen on out-of-fold
    confidences (so the threshold's precision is measured on queries the calibrator did not
    learn from); returns the decision and those out-of-fold confidences."""
    confidences = out_of_fold_confidences(features, labels)
    decision = _logistic(features, labels)
    decision.target_precision = target_precision
    decision.threshold = choose_threshold(
        confidences, labels, min(0.99, target_precision + safety_margin)
    )
    return decision, confidences


def language_breakdown(runs: dict[str, QueryRun], qrels: dict, ids: list[str]) -> dict:
    """Metrics per query language: the Japanese questions and the cross-lingual ones."""
    breakdown = {}
    for language in sorted({runs[query_id].language for query_id in ids}):
        chosen = [query_id for query_id in ids if runs[query_id].language == language]
        breakdown[language] = {
            method: ranking_metrics({q: runs[q].rankings[method] for q in chosen}, qrels)
            for method in METHODS
        }
    return breakdown


def tune(
    searcher: HybridSearcher,
    data: RetrievalSet,
    target_precision: float = 0.9,
    safety_margin: float = 0.0,
    progress: Callable[[int, int], None] | None = None,
) -> Tuning:
    tuning_ids, held_out_ids = split_queries(list(data.queries))
    runs = run_queries(searcher, data.queries, progress=progress)
    tuning_runs = {query_id: runs[query_id] for query_id in tuning_ids}
    fusion_scores = {}
    for fusion in FUSION_CANDIDATES:
        rankings = rerank_hybrid(searcher, tuning_runs, data.queries, fusion)
        fusion_scores[fusion] = ranking_metrics(rankings, data.qrels)["ndcg@10"] or 0.0
    best = max(FUSION_CANDIDATES, key=lambda fusion: fusion_scores[fusion])
    searcher.fusion = best
    hybrid_runs = run_queries(searcher, data.queries, methods=("hybrid",))
    for query_id, run in hybrid_runs.items():
        runs[query_id].rankings["hybrid"] = run.rankings["hybrid"]
        runs[query_id].features = run.features
    labels = answer_labels(runs, data.qrels)
    ids = list(runs)
    features = np.vstack([runs[query_id].features for query_id in ids])
    decision, out_of_fold = fit_decision(features, labels, target_precision, safety_margin)
    in_scope = set(data.in_scope)
    held_out_set = set(held_out_ids)

    def subset(chosen: set[str]) -> tuple[dict[str, QueryRun], np.ndarray, np.ndarray]:
        mask = np.asarray([query_id in chosen for query_id in ids])
        return {q: runs[q] for q in ids if q in chosen}, labels[mask], out_of_fold[mask]

    report = {
        "fusion_candidates": {
            f"{fusion.method}:{fusion.dense_weight}": score
            for fusion, score in fusion_scores.items()
        },
        "chosen_fusion": best.to_dict(),
        "splits": {},
    }
    for name, chosen in (
        ("tuning", set(tuning_ids)),
        ("held_out", held_out_set),
        ("all", set(ids)),
    ):
        split_runs, split_labels, split_confidences = subset(chosen)
        report["splits"][name] = {
            **{
                method: ranking_metrics(
                    {q: run.rankings[method] for q, run in split_runs.items()}, data.qrels
                )
                for method in METHODS
            },
            "decision": decision_quality(
                decision.threshold, split_confidences, split_runs, split_labels, in_scope
            ),
            "by_language": language_breakdown(runs, data.qrels, [q for q in ids if q in chosen]),
        }
    report["curve"] = precision_coverage_curve(out_of_fold, labels)
    decision.fitted_on = {
        "queries": len(ids),
        "method": "5-fold out-of-fold confidences for the threshold, then fitted on all",
        "out_of_fold": report["splits"]["all"]["decision"],
    }
    return Tuning(best, decision, runs, labels, report)
