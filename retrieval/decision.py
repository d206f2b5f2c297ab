"""Answer or hand over: a calibrated probability that the top article answers the question,
from how strongly and how consistently dense and keyword search found it, and a threshold chosen
on dev queries for a target precision. Fitting lives in training; this module only applies."""

import math
from dataclasses import dataclass, field

import numpy as np

from retrieval.search import SearchResult

FEATURE_NAMES = (
    "dense_top",  # cosine of the top article's best chunk
    "dense_margin",  # its lead over the next article's cosine
    "keyword_top",  # log(1 + BM25) of the top article
    "keyword_share",  # share of the question's terms found in that article's best chunk
    "agreement",  # 1 when dense and keyword both rank it first
    "keyword_found",  # 1 when any question term matched the top article
    "fused_top",  # the hybrid score of the top article
    "fused_margin",  # its lead over the second article's hybrid score, relative to it
    "keyword_margin",  # the top article's BM25 lead over the best other article's, relative
)


FEATURE_HITS = 10  # features read the top ten articles, however many the caller shows


def decision_features(result: SearchResult, matched_share: float | None = None) -> np.ndarray:
    hits = result.hits[:FEATURE_HITS]
    if not hits:
        return np.zeros(len(FEATURE_NAMES), dtype=np.float64)
    top = hits[0]
    dense_scores = sorted((hit.dense_score for hit in hits), reverse=True)
    runner_up = dense_scores[1] if len(dense_scores) > 1 else 0.0
    share = matched_share if matched_share is not None else float(top.keyword_score > 0)
    second = hits[1] if len(hits) > 1 else None
    fused_margin = (top.score - second.score) / top.score if second and top.score > 0 else 1.0
    best_other_keyword = max((hit.keyword_score for hit in hits[1:]), default=0.0)
    keyword_margin = (
        (top.keyword_score - best_other_keyword) / top.keyword_score
        if top.keyword_score > 0
        else 0.0
    )
    return np.asarray(
        [
            top.dense_score,
            max(0.0, top.dense_score - runner_up),
            math.log1p(top.keyword_score),
            share,
            float(top.dense_rank == 0 and top.keyword_rank == 0),
            float(top.keyword_score > 0),
            top.score,
            fused_margin,
            keyword_margin,
        ],
        dtype=np.float64,
    )


@dataclass
class AnswerDecision:
    """Logistic calibration over the features, then a threshold on its probability."""

    coefficients: list[float]
    intercept: float
    threshold: float
    target_precision: float = 0.9
    mean: list[float] = field(default_factory=lambda: [0.0] * len(FEATURE_NAMES))
    scale: list[float] = field(default_factory=lambda: [1.0] * len(FEATURE_NAMES))
    fitted_on: dict = field(default_factory=dict)  # what it was chosen on, with its figures

    def confidence(self, features: np.ndarray) -> float:
        standardised = (np.asarray(features) - np.asarray(self.mean)) / np.asarray(self.scale)
        logit = float(standardised @ np.asarray(self.coefficients) + self.intercept)
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, logit))))

    def decide(self, confidence: float, has_results: bool = True) -> tuple[str, str]:
        if not has_results:
            return "handoff", "no article matched the question"
        if confidence >= self.threshold:
            return "answer", (
                f"confidence {confidence:.2f} ≥ threshold {self.threshold:.2f} "
                f"(chosen for precision ≥ {self.target_precision:.2f})"
            )
        return "handoff", (
            f"confidence {confidence:.2f} < threshold {self.threshold:.2f}: "
            "no article is likely enough to answer it; a person should"
        )

    def to_dict(self) -> dict:
        return {
            "features": list(FEATURE_NAMES),
            "coefficients": self.coefficients,
            "intercept": self.intercept,
            "mean": self.mean,
            "scale": self.scale,
            "threshold": self.threshold,
            "target_precision": self.target_precision,
            "fitted_on": self.fitted_on,
        }

    @classmethod
    def from_dict(cls, values: dict) -> "AnswerDecision":
        if list(values.get("features", [])) != list(FEATURE_NAMES):
            raise ValueError("the stored answer decision was fitted on other features; rebuild it")
        return cls(
            coefficients=list(values["coefficients"]),
            intercept=float(values["intercept"]),
            threshold=float(values["threshold"]),
            target_precision=float(values.get("target_precision", 0.9)),
            mean=list(values["mean"]),
            scale=list(values["scale"]),
            fitted_on=dict(values.get("fitted_on", {})),
        )


# Until a decision is fitted on dev queries (madoguchi build), hand everything over: a service
# that answers without evidence of its precision would be worse than none.
UNFITTED = AnswerDecision([0.0] * len(FEATURE_NAMES), -10.0, 1.0, fitted_on={"note": "unfitted"})
