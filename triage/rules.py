"""Rules that overrule the triage model: a ticket that reads like an outage, a security incident
or lost data is critical whatever the model thinks (seed 000: システム全停止・セキュリティ事故・
データ消失 are handled at once). The rules live in triage/config/rules.yaml.

A rule looks at one sentence at a time (or a few, with `window`): every condition group must
match there, and none of the rule's negation cues may (hypotheticals like 「もし停止したら」,
questions, 「復旧しました」, talk about a past incident). Sentences keep a rule precise: 「全員」 in
the greeting and 「ログインできない」 three paragraphs later are not an outage.
"""

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from common.labels import LabelSet
from common.text import normalize

DEFAULT_RULES_FILE = Path(__file__).resolve().parent / "config" / "rules.yaml"
NO_RULES_FILE = Path(__file__).resolve().parent / "config" / "no_rules.yaml"
# Sentence ends: Japanese and Latin full stops, question and exclamation marks, line breaks and
# list bullets (phone memos are bullet lists, one fact per bullet).
_SENTENCE_END = re.compile(r"(?<=[。．！？!?])|\n|(?=・)|(?<=\. )")


def sentences(text: str) -> list[str]:
    """The sentences of normalised text, stripped, empty ones dropped."""
    return [part.strip() for part in _SENTENCE_END.split(normalize(text)) if part.strip()]


@dataclass(frozen=True)
class Rule:
    """Conditions over one sentence and the label values the rule sets when they hold."""

    id: str
    reason_ja: str
    reason_en: str
    all_of: tuple[re.Pattern[str], ...]  # one alternation per condition group
    unless: tuple[re.Pattern[str], ...]
    sets: dict[str, str] = field(default_factory=dict)
    window: int = 1  # sentences read together

    def evidence(self, text: str) -> str | None:
        """The first sentence (or window of sentences) of `text` on which the rule fires."""
        parts = sentences(text)
        for start in range(len(parts)):
            passage = " ".join(parts[start : start + self.window])
            if all(group.search(passage) for group in self.all_of) and not any(
                cue.search(passage) for cue in self.unless
            ):
                return passage
        return None


@dataclass(frozen=True)
class RuleMatch:
    rule: Rule
    evidence: str  # the sentence that fired the rule

    @property
    def reason(self) -> str:
        return f"{self.rule.reason_ja} / {self.rule.reason_en}: 「{self.evidence[:120]}」"


def rules_file_for(label_set: LabelSet) -> Path:
    """The rules file a taxonomy names (`rules:` in the label file): the packaged rules when it
    names none, an empty book for `none`, else its own file (relative to the label file)."""
    if label_set.rules is None:
        return DEFAULT_RULES_FILE
    if label_set.rules.strip().lower() == "none":
        return NO_RULES_FILE
    path = Path(label_set.rules).expanduser()
    if not path.is_absolute() and label_set.source is not None:
        path = label_set.source.parent / path
    if not path.is_file():
        raise ValueError(f"the label file names the rules file {path}, which does not exist")
    return path


class RuleBook:
    """The rules of one file, checked against the label lists, applied in file order: when two
    rules set the same field, the earlier one decides it."""

    def __init__(self, rules: list[Rule], fingerprint: str) -> None:
        self.rules = rules
        self.fingerprint = fingerprint

    @classmethod
    def from_file(cls, path: Path | None = None, *, label_set: LabelSet) -> "RuleBook":
        path = path or DEFAULT_RULES_FILE
        raw = path.read_bytes()
        try:
            rules = _read_rules(yaml.safe_load(raw), label_set)
        except (ValueError, re.error, yaml.YAMLError) as error:
            raise ValueError(f"{path}: invalid rules file: {error}") from error
        return cls(rules, hashlib.sha256(raw).hexdigest()[:12])

    def matches(self, text: str) -> list[RuleMatch]:
        """Every rule that fires on `text`, in file order."""
        found = []
        for rule in self.rules:
            if (evidence := rule.evidence(text)) is not None:
                found.append(RuleMatch(rule, evidence))
        return found

    def decisions(self, text: str) -> dict[str, RuleMatch]:
        """For each field some rule sets, the first rule that fires and sets it."""
        decided: dict[str, RuleMatch] = {}
        for match in self.matches(text):
            for field_name in match.rule.sets:
                decided.setdefault(field_name, match)
        return decided


def _alternation(patterns: Any, where: str) -> re.Pattern[str]:
    if (
        not isinstance(patterns, list)
        or not patterns
        or not all(isinstance(pattern, str) and pattern for pattern in patterns)
    ):
        raise ValueError(f"{where} must be a non-empty list of regular expressions")
    return re.compile("|".join(f"(?:{pattern})" for pattern in patterns), re.IGNORECASE)


def _read_rules(document: Any, label_set: LabelSet) -> list[Rule]:
    if not isinstance(document, dict) or not isinstance(document.get("rules"), list):
        raise ValueError("the file needs a top-level list `rules:`")
    negations = document.get("negations") or {}
    if not isinstance(negations, dict):
        raise ValueError("`negations` must map a name to a list of cues")
    shared = {name: _alternation(cues, f"negations.{name}") for name, cues in negations.items()}
    rules: list[Rule] = []
    for number, entry in enumerate(document["rules"], start=1):
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            raise ValueError(f"rule {number} needs an `id`")
        rule_id = entry["id"]
        if any(rule.id == rule_id for rule in rules):
            raise ValueError(f"rule id {rule_id!r} appears twice")
        reason = entry.get("reason") or {}
        if not (isinstance(reason, dict) and reason.get("ja") and reason.get("en")):
            raise ValueError(f"rule {rule_id}: `reason` needs both `ja` and `en`")
        groups = entry.get("all_of")
        if not isinstance(groups, list) or not groups:
            raise ValueError(f"rule {rule_id}: `all_of` must list at least one condition group")
        unless: list[re.Pattern[str]] = []
        for cue in entry.get("unless") or []:
            if cue not in shared:
                raise ValueError(
                    f"rule {rule_id}: unknown negation {cue!r}; define it under `negations`"
                )
            unless.append(shared[cue])
        if entry.get("unless_also"):
            unless.append(_alternation(entry["unless_also"], f"rule {rule_id}: unless_also"))
        window = entry.get("window", 1)
        if not isinstance(window, int) or not 1 <= window <= 5:
            raise ValueError(f"rule {rule_id}: `window` must be a whole number from 1 to 5")
        sets = entry.get("set")
        if not isinstance(sets, dict) or not sets:
            raise ValueError(f"rule {rule_id}: `set` must give at least one field and value")
        for field_name, value in sets.items():
            if not label_set.is_valid(field_name, value):
                raise ValueError(
                    f"rule {rule_id}: sets {field_name}={value!r}, which is not in the label "
                    "file; use one of its values"
                )
        rules.append(
            Rule(
                id=rule_id,
                reason_ja=reason["ja"],
                reason_en=reason["en"],
                all_of=tuple(
                    _alternation(group, f"rule {rule_id}: all_of[{index}]")
                    for index, group in enumerate(groups)
                ),
                unless=tuple(unless),
                sets=dict(sets),
                window=window,
            )
        )
    return rules
