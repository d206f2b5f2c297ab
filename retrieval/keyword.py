"""The Japanese keyword side of search: terms from fugashi lemmas (content words only) plus
product terms from a configurable dictionary, and a BM25 index on scipy sparse matrices that
takes additions and deletions without a rebuild."""

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from scipy import sparse

from common.text import content_words, normalize, pipeline_versions

DEFAULT_TERMS_FILE = Path(__file__).resolve().parent / "config" / "terms.yaml"
_ASCII_SUFFIXES = r"(?:s|es|d|ed|ing)?"


class TermDictionary:
    """Product terms and their variants. A variant found in a text as a phrase adds the
    canonical term, so 「シングルサインオン」 and "SSO" meet, and a term fugashi splits in two
    (文字起こし -> 文字 + 起こし) is still one term."""

    def __init__(self, terms: dict[str, list[str]], fingerprint: str = "") -> None:
        self.terms = terms
        self.fingerprint = fingerprint
        self._patterns: list[tuple[str, re.Pattern[str]]] = []
        for canonical, variants in terms.items():
            alternatives = []
            for variant in sorted({canonical, *variants}, key=len, reverse=True):
                escaped = re.escape(normalize(str(variant)).lower())
                if re.fullmatch(r"[\x00-\x7f]+", variant):
                    # Latin variants match whole words only: "mic" is not in "microsoft".
                    escaped = rf"(?<![a-z0-9]){escaped}{_ASCII_SUFFIXES}(?![a-z0-9])"
                alternatives.append(escaped)
            self._patterns.append((f"⟨{canonical.lower()}⟩", re.compile("|".join(alternatives))))

    @classmethod
    def from_file(cls, path: Path | None = None) -> "TermDictionary":
        path = path or DEFAULT_TERMS_FILE
        raw = path.read_bytes()
        content = yaml.safe_load(raw) or {}
        terms = content.get("terms") or {}
        if not isinstance(terms, dict) or not all(
            isinstance(variants, list) and all(isinstance(v, str | int) for v in variants)
            for variants in terms.values()
        ):
            raise ValueError(
                f"{path}: `terms` must map each canonical term to a list of variants, "
                "e.g. `sso: [SSO, シングルサインオン]`"
            )
        return cls(
            {str(k): [str(v) for v in vs] for k, vs in terms.items()},
            hashlib.sha256(raw).hexdigest()[:12],
        )

    def canonical_terms(self, text: str) -> list[str]:
        folded = normalize(text).lower()
        return [token for token, pattern in self._patterns if pattern.search(folded)]


class KeywordAnalyzer:
    """Text -> keyword terms: lower-cased content-word lemmas plus canonical product terms."""

    def __init__(self, dictionary: TermDictionary | None = None) -> None:
        self.dictionary = dictionary or TermDictionary.from_file()
        versions = pipeline_versions()
        self.fingerprint = hashlib.sha256(
            f"{versions['fugashi']}|{versions['unidic-lite']}|{self.dictionary.fingerprint}|v1".encode()
        ).hexdigest()[:12]

    def terms(self, text: str) -> list[str]:
        return [lemma.lower() for lemma in content_words(text)] + self.dictionary.canonical_terms(
            text
        )


@dataclass(frozen=True)
class KeywordHit:
    doc_id: int
    score: float


class BM25Index:
    """BM25 (Lucene's idf, k1=1.2, b=0.75 as bm25s uses) over a sparse term-frequency matrix.

    Documents are rows; a deleted row is masked, not removed, until a compaction. Scoring reads
    only the columns of the query's terms, so a query costs the postings of its terms, not the
    corpus size."""

    def __init__(self, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self._vocabulary: dict[str, int] = {}
        self._frequencies = sparse.csc_matrix((0, 0), dtype=np.float32)
        self._lengths = np.zeros(0, dtype=np.float32)
        self._alive = np.zeros(0, dtype=bool)
        self._doc_ids = np.zeros(0, dtype=np.int64)
        self._row_of: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self._row_of)

    def add(self, doc_ids: list[int], documents: list[list[str]]) -> None:
        """Add (or replace) documents given as term lists."""
        self.remove([doc_id for doc_id in doc_ids if doc_id in self._row_of])
        rows, columns, counts = [], [], []
        for row, terms in enumerate(documents):
            unique, frequency = np.unique(
                [self._vocabulary.setdefault(term, len(self._vocabulary)) for term in terms],
                return_counts=True,
            )
            rows.extend([row] * len(unique))
            columns.extend(unique.tolist())
            counts.extend(frequency.tolist())
        added = sparse.csc_matrix(
            (np.asarray(counts, dtype=np.float32), (rows, columns)),
            shape=(len(documents), len(self._vocabulary)),
        )
        existing = self._frequencies
        existing.resize((existing.shape[0], len(self._vocabulary)))
        self._frequencies = sparse.vstack([existing, added], format="csc")
        first_row = len(self._alive)
        self._lengths = np.concatenate(
            [self._lengths, np.asarray([len(terms) for terms in documents], dtype=np.float32)]
        )
        self._alive = np.concatenate([self._alive, np.ones(len(documents), dtype=bool)])
        self._doc_ids = np.concatenate([self._doc_ids, np.asarray(doc_ids, dtype=np.int64)])
        for offset, doc_id in enumerate(doc_ids):
            self._row_of[doc_id] = first_row + offset

    def remove(self, doc_ids: list[int]) -> None:
        for doc_id in doc_ids:
            row = self._row_of.pop(doc_id, None)
            if row is not None:
                self._alive[row] = False
        dead = len(self._alive) - len(self._row_of)
        if dead > 1000 and dead > 0.25 * len(self._alive):
            self._compact()

    def _compact(self) -> None:
        keep = np.flatnonzero(self._alive)
        self._frequencies = self._frequencies[keep]
        self._lengths = self._lengths[keep]
        self._doc_ids = self._doc_ids[keep]
        self._alive = np.ones(len(keep), dtype=bool)
        self._row_of = {int(doc_id): row for row, doc_id in enumerate(self._doc_ids)}

    def scores(self, query_terms: list[str]) -> np.ndarray:
        """BM25 score of every row (dead rows score 0)."""
        scores = np.zeros(len(self._alive), dtype=np.float32)
        alive_count = len(self._row_of)
        if not alive_count:
            return scores
        average_length = float(self._lengths[self._alive].mean()) or 1.0
        indptr, indices, data = (
            self._frequencies.indptr,
            self._frequencies.indices,
            self._frequencies.data,
        )
        for term in set(query_terms):
            column = self._vocabulary.get(term)
            if column is None:
                continue
            rows = indices[indptr[column] : indptr[column + 1]]
            frequency = data[indptr[column] : indptr[column + 1]]
            alive = self._alive[rows]
            rows, frequency = rows[alive], frequency[alive]
            if not len(rows):
                continue
            document_frequency = len(rows)
            idf = np.log(1 + (alive_count - document_frequency + 0.5) / (document_frequency + 0.5))
            norm = self.k1 * (1 - self.b + self.b * self._lengths[rows] / average_length)
            scores[rows] += idf * frequency * (self.k1 + 1) / (frequency + norm)
        return scores

    def search(self, query_terms: list[str], top_k: int) -> list[KeywordHit]:
        scores = self.scores(query_terms)
        positive = np.flatnonzero(scores > 0)
        if not len(positive):
            return []
        if len(positive) > top_k:
            positive = positive[np.argpartition(-scores[positive], top_k - 1)[:top_k]]
        order = positive[np.argsort(-scores[positive], kind="stable")]
        return [KeywordHit(int(self._doc_ids[row]), float(scores[row])) for row in order]
