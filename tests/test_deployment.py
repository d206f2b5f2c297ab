"""The reference deployment (deploy/compose.yaml, deploy/Dockerfile) names only settings that
exist, with values the settings accept: a renamed setting fails here, not in a customer's
cluster. (Docker is not on the test machines; the images themselves are not built here.)"""

import re
from pathlib import Path

import yaml

from common.settings import Settings

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


def _compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))


def test_the_compose_file_runs_milvus_postgresql_and_the_api() -> None:
    services = _compose()["services"]
    assert {"milvus", "postgres", "api", "etcd", "minio"} <= set(services)
    assert services["milvus"]["command"] == ["milvus", "run", "standalone"]
    assert set(services["api"]["depends_on"]) == {"postgres", "milvus"}


def test_every_setting_the_deployment_names_exists_and_is_accepted() -> None:
    environment = dict(_compose()["services"]["api"]["environment"])
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    environment |= dict(re.findall(r"(MADOGUCHI_[A-Z_]+)=(\S+)", dockerfile))
    fields = set(Settings.model_fields)
    unknown = [
        name for name in environment if name.removeprefix("MADOGUCHI_").lower() not in fields
    ]
    assert unknown == []
    values = {
        name.removeprefix("MADOGUCHI_").lower(): value.replace(
            "${MADOGUCHI_POSTGRES_PASSWORD}", "pw"
        )
        for name, value in environment.items()
    }
    settings = Settings(**values)
    assert settings.vector_backend == "milvus" and settings.auth_required
    assert settings.database_url.startswith("postgresql+psycopg://")
    assert settings.milvus_address == "http://milvus:19530"
