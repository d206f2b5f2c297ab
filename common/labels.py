"""The label lists read from one YAML file, with display names: the default file holds type,
urgency, impact and queue; a deployment may define its own fields and values (its own ticket
types, queues, priorities, in any language) and say how the priority follows from them."""

import hashlib
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ValidationError, model_validator

SLA_LEVELS = ("P1", "P2", "P3", "P4")  # the rows of the SLA policies, most urgent first
MATRIX_FIELDS = ("urgency", "impact")  # the default taxonomy's priority inputs


class LabelValue(BaseModel):
    display_name: str
    description: str = ""


class LabelField(BaseModel):
    display_name: str
    values: dict[str, LabelValue]


class PriorityField(BaseModel):
    """A taxonomy whose priority is a predicted field: `field` names it (its values listed most
    urgent first), `sla_levels` maps each value to the SLA policy row (P1-P4) its clocks run
    on; a value without one gets no SLA deadlines."""

    field: str
    sla_levels: dict[str, Literal["P1", "P2", "P3", "P4"]] = {}


class LabelSet(BaseModel):
    """Every labelled field and its allowed values, in the order the file lists them."""

    version: int
    fields: dict[str, LabelField]
    priority: PriorityField | None = None
    # the rules that may overrule the model: None, the packaged ones (triage/config/rules.yaml,
    # for the default taxonomy); "none"; or a rules file, relative to this file
    rules: str | None = None
    fingerprint: str = ""
    source: Path | None = None  # the file it was read from

    @model_validator(mode="after")
    def _priority_names_known_values(self) -> "LabelSet":
        if self.priority is None:
            return self
        name = self.priority.field
        if name not in self.fields:
            raise ValueError(
                f"priority.field {name!r} is not one of the fields ({', '.join(self.fields)})"
            )
        unknown = sorted(set(self.priority.sla_levels) - set(self.fields[name].values))
        if unknown:
            raise ValueError(
                f"priority.sla_levels names {unknown}, which are not values of {name} "
                f"({', '.join(self.fields[name].values)})"
            )
        return self

    @classmethod
    def from_file(cls, path: Path) -> "LabelSet":
        raw = path.read_bytes()
        try:
            label_set = cls.model_validate(yaml.safe_load(raw))
        except ValidationError as error:
            raise ValueError(f"{path}: not a valid label file: {error}") from error
        label_set.fingerprint = hashlib.sha256(raw).hexdigest()[:12]
        label_set.source = path
        return label_set

    @property
    def field_names(self) -> list[str]:
        """The fields the triage model predicts, in file order."""
        return list(self.fields)

    @property
    def priority_mode(self) -> Literal["matrix", "field"] | None:
        """How the priority is found: `field` (a predicted field, see `priority`), `matrix`
        (urgency × impact, the default taxonomy) or None (no priority, no SLA)."""
        if self.priority is not None:
            return "field"
        if all(name in self.fields for name in MATRIX_FIELDS):
            return "matrix"
        return None

    def values(self, field: str) -> list[str]:
        return list(self.fields[field].values)

    def is_valid(self, field: str, value: str) -> bool:
        return field in self.fields and value in self.fields[field].values

    def display_name(self, field: str, value: str) -> str:
        return self.fields[field].values[value].display_name
