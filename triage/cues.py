"""Japanese keyword cues for urgency and impact: 「全員」「本日17時まで」「急ぎではありません」
「回避策がない」「12名」. Each cue becomes features of the classifiers of the fields the cue file
names (a view beside character n-grams, lemmas and the sentence embedding; see
triage.classifier). The cues live in triage/config/cues.yaml; the lexicon is saved inside every
classifier that reads it, so a model folder keeps the cues it was trained with.
"""

import hashlib
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

DEFAULT_CUES_FILE = Path(__file__).resolve().parent / "config" / "cues.yaml"


@dataclass(frozen=True)
class Cue:
    name: str
    patterns: tuple[str, ...] = ()  # any one will do
    count: str | None = None  # a pattern whose first group is a number (「12名」)
    thresholds: tuple[int, ...] = ()


class CueLexicon:
    """The cues of one file, compiled; `matrix(texts)` gives one row of features per text.
    Picklable (it keeps the pattern strings and compiles them again when loaded)."""

    def __init__(
        self, cues: list[Cue], fields: tuple[str, ...], opening_chars: int, fingerprint: str
    ) -> None:
        self.cues = cues
        self.fields = fields
        self.opening_chars = opening_chars
        self.fingerprint = fingerprint
        self._compile()

    def _compile(self) -> None:
        self._compiled = [
            (
                re.compile("|".join(f"(?:{pattern})" for pattern in cue.patterns), re.IGNORECASE)
                if cue.patterns
                else None,
                re.compile(cue.count, re.IGNORECASE) if cue.count else None,
            )
            for cue in self.cues
        ]

    def __getstate__(self) -> dict[str, Any]:
        return {key: value for key, value in self.__dict__.items() if key != "_compiled"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._compile()

    @classmethod
    def from_file(cls, path: Path | None = None) -> "CueLexicon":
        path = path or DEFAULT_CUES_FILE
        raw = path.read_bytes()
        try:
            return cls._read(yaml.safe_load(raw), hashlib.sha256(raw).hexdigest()[:12])
        except (ValueError, TypeError, re.error, yaml.YAMLError) as error:
            raise ValueError(f"{path}: invalid cue file: {error}") from error

    @classmethod
    def _read(cls, document: Any, fingerprint: str) -> "CueLexicon":  # noqa: ANN401 - YAML
        if not isinstance(document, dict) or document.get("version") != 1:
            raise ValueError("expected a mapping with `version: 1`")
        fields = document.get("fields")
        if not isinstance(fields, list) or not all(isinstance(name, str) for name in fields):
            raise ValueError("`fields` must list the label fields whose classifiers read the cues")
        opening_chars = document.get("opening_chars", 200)
        if not isinstance(opening_chars, int) or opening_chars < 1:
            raise ValueError("`opening_chars` must be a positive whole number")
        entries = document.get("cues")
        if not isinstance(entries, dict) or not entries:
            raise ValueError("`cues` must map cue names to patterns")
        cues = [_read_cue(name, entry) for name, entry in entries.items()]
        return cls(cues, tuple(fields), opening_chars, fingerprint)

    @property
    def feature_names(self) -> list[str]:
        names = []
        for cue in self.cues:
            if cue.patterns:
                names += [f"{cue.name}", f"{cue.name}@opening"]
            if cue.count:
                names += [f"{cue.name}>={threshold}" for threshold in cue.thresholds]
                names.append(f"log({cue.name})")
        return names

    def matrix(self, texts: list[str]) -> np.ndarray:
        """(len(texts), len(feature_names)) features of prepared ticket texts."""
        return np.asarray([self._row(text) for text in texts], dtype=np.float32).reshape(
            len(texts), len(self.feature_names)
        )

    def _row(self, text: str) -> list[float]:
        opening = text[: self.opening_chars]
        row: list[float] = []
        for cue, (any_of, count) in zip(self.cues, self._compiled, strict=True):
            if any_of is not None:
                first = any_of.search(text)  # the earliest match: in the opening, if any is
                row += [
                    float(first is not None),
                    float(first is not None and first.start() < len(opening)),
                ]
            if count is not None:
                numbers = [int(match.group(1)) for match in count.finditer(text)]
                largest = max(numbers, default=0)
                row += [float(largest >= threshold) for threshold in cue.thresholds]
                row.append(math.log1p(largest) / 8.0)
        return row


def _read_cue(name: Any, entry: Any) -> Cue:  # noqa: ANN401 - YAML
    if not isinstance(name, str) or not name:
        raise ValueError(f"a cue needs a name, got {name!r}")
    if isinstance(entry, list):
        patterns = tuple(str(pattern) for pattern in entry)
        if not patterns:
            raise ValueError(f"cue {name}: no patterns")
        for pattern in patterns:
            re.compile(pattern)
        return Cue(name, patterns=patterns)
    if isinstance(entry, dict) and "count" in entry:
        pattern = str(entry["count"])
        if re.compile(pattern).groups < 1:
            raise ValueError(f"cue {name}: a count pattern needs a group around the number")
        thresholds = entry.get("thresholds", [])
        if not isinstance(thresholds, list) or not all(
            isinstance(value, int) and value > 0 for value in thresholds
        ):
            raise ValueError(f"cue {name}: `thresholds` must be positive whole numbers")
        return Cue(name, count=pattern, thresholds=tuple(thresholds))
    raise ValueError(f"cue {name}: expected a list of patterns or `count:` with `thresholds:`")
