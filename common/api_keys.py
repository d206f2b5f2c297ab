"""API keys: created and revoked with `madoguchi keys`, stored hashed. A key is shown once, when
it is created: `mdg_<id>_<secret>`; the database keeps the id and the secret's SHA-256 only.

Scopes are ordered: `widget` (what a public chat widget may do: suggest, the customer's own
feedback, hand over to a person) < `read` (classify, look things up, the console and dashboard)
< `write` (articles, feedback, resolved tickets) < `admin` (train, promote, roll back); a key
holds its scope and every one below it. A widget key sits in a public page's source, so it opens
nothing that shows other customers' tickets.

Every key belongs to one tenant (`default` unless created with `--tenant`): what it reads and
writes is that tenant's alone. Tenants are registered here too, beside the keys."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import JSON, DateTime, Engine, String, select
from sqlalchemy.orm import Mapped, mapped_column

from common.settings import DEFAULT_TENANT, check_tenant_name
from common.storage import Base, create_session_factory, migrate_database

SCOPES = ("widget", "read", "write", "admin")
PREFIX = "mdg"


class ApiKeyRecord(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    secret_sha256: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    tenant: Mapped[str] = mapped_column(String(32), index=True, server_default=DEFAULT_TENANT)


class TenantRecord(Base):
    __tablename__ = "tenants"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True)
class Tenant:
    name: str
    display_name: str
    created_at: datetime | None


class UnknownTenantError(ValueError):
    pass


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    scope: str  # the highest scope it holds
    created_at: datetime
    revoked_at: datetime | None
    tenant: str = DEFAULT_TENANT

    def allows(self, scope: str) -> bool:
        return SCOPES.index(self.scope) >= SCOPES.index(scope)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _key(record: ApiKeyRecord) -> ApiKey:
    scope = max(record.scopes, key=SCOPES.index)
    return ApiKey(
        record.id, record.name, scope, record.created_at, record.revoked_at, record.tenant
    )


class KeyStore:
    def __init__(self, engine: Engine) -> None:
        migrate_database(engine)
        self._sessions = create_session_factory(engine)

    def create(self, name: str, scope: str, tenant: str = DEFAULT_TENANT) -> tuple[ApiKey, str]:
        """The new key and its token (shown to the caller once, never stored)."""
        if scope not in SCOPES:
            raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
        if not self.tenant_exists(tenant):
            raise UnknownTenantError(
                f"no tenant {tenant!r}; create it first with `madoguchi tenants create {tenant}`"
            )
        key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        record = ApiKeyRecord(
            id=key_id,
            name=name,
            secret_sha256=_digest(secret),
            scopes=[scope],
            created_at=datetime.now(UTC),
            revoked_at=None,
            tenant=tenant,
        )
        with self._sessions.begin() as session:
            session.add(record)
        return _key(record), f"{PREFIX}_{key_id}_{secret}"

    def verify(self, token: str) -> ApiKey | None:
        """The live key this token belongs to, or None (unknown, malformed or revoked)."""
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != PREFIX:
            return None
        with self._sessions() as session:
            record = session.get(ApiKeyRecord, parts[1])
            if record is None or record.revoked_at is not None:
                return None
            if not hmac.compare_digest(record.secret_sha256, _digest(parts[2])):
                return None
            return _key(record)

    def revoke(self, key_id: str) -> bool:
        with self._sessions.begin() as session:
            record = session.get(ApiKeyRecord, key_id)
            if record is None or record.revoked_at is not None:
                return False
            record.revoked_at = datetime.now(UTC)
            return True

    def list(self) -> list[ApiKey]:
        with self._sessions() as session:
            query = select(ApiKeyRecord).order_by(ApiKeyRecord.created_at)
            return [_key(record) for record in session.scalars(query)]

    # --- tenants ----------------------------------------------------------------------------

    def create_tenant(self, name: str, display_name: str = "") -> Tenant:
        check_tenant_name(name)
        with self._sessions.begin() as session:
            if name == DEFAULT_TENANT or session.get(TenantRecord, name) is not None:
                raise ValueError(f"tenant {name!r} exists already")
            record = TenantRecord(
                name=name, display_name=display_name or name, created_at=datetime.now(UTC)
            )
            session.add(record)
        return Tenant(record.name, record.display_name, record.created_at)

    def tenant_exists(self, name: str) -> bool:
        if name == DEFAULT_TENANT:
            return True
        with self._sessions() as session:
            return session.get(TenantRecord, name) is not None

    def tenants(self) -> "list[Tenant]":
        """The default tenant, then every tenant created, by name."""
        with self._sessions() as session:
            records = session.scalars(select(TenantRecord).order_by(TenantRecord.name))
            created = [Tenant(r.name, r.display_name, r.created_at) for r in records]
        return [Tenant(DEFAULT_TENANT, "default", None), *created]
