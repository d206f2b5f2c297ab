"""A learned second opinion on person names and addresses, beside the rules of `common.pii`.

A linear-chain CRF (CRFsuite) over UniDic tokens labels each token B-/I- person_name, address or
O from what the token is (surface, part of speech, character classes) and what stands around it
(two tokens either side, line breaks). It never sees what the rules found, so it errs where they
do not: `common.pii.find_pii` adds the spans it finds that no rule found. The model is a small
committed folder (`common/pii_model/`: `tagger.crfsuite` and a manifest naming the labelled sets
it was trained on); `madoguchi pii train-tagger` makes it again from those sets.

This module knows nothing of the rules: it is given the width-folded text and its tokens (the
`Token` type lives here for that reason), so `common.pii` imports it and not the other way
round."""

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pycrfsuite

TAGGER_FOLDER = Path(__file__).parent / "pii_model"
TAGGER_FILE = "tagger.crfsuite"
TAGGED_KINDS = ("person_name", "address")
# The feature set's version: a model trained on other features must not be read with these.
FEATURES_VERSION = 1
OUTSIDE = "O"


@dataclass(frozen=True)
class Token:
    """A UniDic token of the width-folded text, with its offsets there (`common.pii` makes
    them; the rules and the tagger read the same tokens)."""

    start: int
    end: int
    surface: str
    pos1: str
    pos2: str
    pos3: str

    @property
    def proper(self) -> bool:
        return self.pos2 == "固有名詞"

    @property
    def person(self) -> bool:
        return self.pos2 == "固有名詞" and self.pos3 == "人名"

    @property
    def katakana(self) -> bool:
        return re.fullmatch(r"[ァ-ヴー]+", self.surface) is not None


_CHARACTER_CLASSES = (
    ("K", re.compile(r"[一-龥々〆ヶ]")),
    ("H", re.compile(r"[ぁ-ん]")),
    ("T", re.compile(r"[ァ-ヴー]")),
    ("U", re.compile(r"[A-Z]")),
    ("L", re.compile(r"[a-z]")),
    ("D", re.compile(r"[0-9]")),
)


@lru_cache(maxsize=65536)
def character_classes(surface: str) -> str:
    """The run of character classes: 田中 -> K, タナカ -> T, Tanaka -> UL, 3F -> DU."""
    runs: list[str] = []
    for character in surface:
        name = next((name for name, pattern in _CHARACTER_CLASSES if pattern.match(character)), "O")
        if not runs or runs[-1] != name:
            runs.append(name)
    return "".join(runs)


def token_features(folded: str, tokens: Sequence[Token]) -> list[dict[str, str | bool]]:
    """One feature dict per token."""
    surfaces = [token.surface for token in tokens]
    parts_of_speech = [token.pos1 + token.pos2 + token.pos3 for token in tokens]
    classes = [character_classes(surface) for surface in surfaces]
    features = []
    for index, token in enumerate(tokens):
        gap = folded[tokens[index - 1].end : token.start] if index else folded[: token.start]
        feature: dict[str, str | bool] = {
            "w": token.surface,
            "p1": token.pos1,
            "p2": token.pos2,
            "p3": token.pos3,
            "ct": classes[index],
            "len": str(min(len(token.surface), 5)),
            "nl": "\n" in gap,
            "sp": bool(gap) and "\n" not in gap,
            "bos": index == 0,
        }
        for step in (-2, -1, 1, 2):
            other = index + step
            if 0 <= other < len(tokens):
                feature[f"{step}w"] = surfaces[other]
                feature[f"{step}p"] = parts_of_speech[other]
                feature[f"{step}ct"] = classes[other]
            else:
                feature[f"{step}w"] = "<pad>"
        feature["-1w|w"] = f"{feature['-1w']}|{token.surface}"
        feature["w|1w"] = f"{token.surface}|{feature['1w']}"
        features.append(feature)
    return features


def token_labels(
    token_offsets: Sequence[tuple[int, int]], spans: Sequence[tuple[str, int, int]]
) -> list[str]:
    """BIO labels of tokens at `token_offsets` from labelled (kind, start, end) spans in the same
    coordinates; kinds other than TAGGED_KINDS are O."""
    labels = []
    for start, end in token_offsets:
        label = OUTSIDE
        for kind, span_start, span_end in spans:
            if kind in TAGGED_KINDS and start < span_end and end > span_start:
                label = ("B-" if start <= span_start else "I-") + kind
                break
        labels.append(label)
    return labels


def labelled_spans(tokens: Sequence[Token], labels: Sequence[str]) -> list[tuple[str, int, int]]:
    """(kind, start, end) runs of tokens labelled B-/I- kind, in folded coordinates."""
    spans: list[list] = []
    current: list | None = None
    for token, label in zip(tokens, labels, strict=True):
        if label == OUTSIDE:
            current = None
            continue
        kind = label[2:]
        if label.startswith("B-") or current is None or current[0] != kind:
            current = [kind, token.start, token.end]
            spans.append(current)
        else:
            current[2] = token.end
    return [(kind, start, end) for kind, start, end in spans]


class PiiTagger:
    """The committed (or a given) CRF model. CRFsuite's tagger is not safe to share between
    threads, so calls take a lock; one ticket takes about a millisecond."""

    def __init__(self, model_file: Path) -> None:
        if not model_file.is_file():
            raise FileNotFoundError(
                f"no PII tagger model at {model_file}: run `madoguchi pii train-tagger`"
            )
        self.model_file = model_file
        self._tagger = pycrfsuite.Tagger()
        self._tagger.open(str(model_file))
        self._lock = threading.Lock()

    def spans(self, folded: str, tokens: Sequence[Token]) -> list[tuple[str, int, int]]:
        if not tokens:
            return []
        features = token_features(folded, tokens)
        with self._lock:
            labels = self._tagger.tag(features)
        return labelled_spans(tokens, labels)


@lru_cache(maxsize=1)
def default_tagger() -> PiiTagger:
    return PiiTagger(TAGGER_FOLDER / TAGGER_FILE)
