"""The label lists (type, urgency, impact, queue) read from one YAML file, with display names."""

import hashlib
from pathlib import Path

import yaml
from pydantic import BaseModel


class LabelValue(BaseModel):
    display_name: str
    description: str = ""


class LabelField(BaseModel):
    display_name: str
    values: dict[str, LabelValue]


class LabelSet(BaseModel):
    """Every labelled field and its allowed values, in the order the file lists them."""

    version: int
    fields: dict[str, LabelField]
    fingerprint: str = ""

    @classmethod
    def from_file(cls, path: Path) -> "LabelSet":
        raw = path.read_bytes()
        label_set = cls.model_validate(yaml.safe_load(raw))
        label_set.fingerprint = hashlib.sha256(raw).hexdigest()[:12]
        return label_set

    def values(self, field: str) -> list[str]:
        return list(self.fields[field].values)

    def is_valid(self, field: str, value: str) -> bool:
        return field in self.fields and value in self.fields[field].values

    def display_name(self, field: str, value: str) -> str:
        return self.fields[field].values[value].display_name
