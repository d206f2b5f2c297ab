"""schemathesis over the whole OpenAPI schema, in process: every operation gets generated valid
and invalid requests, and every answer must be no server error and match the schema (status
code, content type, body, headers), and what the schema forbids must be refused. Left out:
positive_data_acceptance, which expects every schema-valid request to succeed, while some are
refused by design with a problem saying what to fix (an unknown category filter, feedback on an
article that does not exist, a resolved-tickets call whose every row is bad). A short run here (MADOGUCHI_FUZZ_EXAMPLES per operation);
`bench/fuzz.py` runs the long one."""

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from api.app import create_app
from common.encoders import RECOVERED_FOLDER_NAME
from common.sample_data import load_articles
from common.settings import Settings
from common.storage import create_database_engine
from retrieval.knowledge_base import KnowledgeBase

EXAMPLES = int(os.environ.get("MADOGUCHI_FUZZ_EXAMPLES", "8"))
# make test replays the same examples every run; bench/fuzz.py draws new ones each time
RANDOM = os.environ.get("MADOGUCHI_FUZZ_RANDOM") == "1"
REPORT = (
    Path(os.environ["MADOGUCHI_FUZZ_REPORT"]) if os.environ.get("MADOGUCHI_FUZZ_REPORT") else None
)
# The app exists at import so schemathesis can read its schema while collecting; its models
# load (the lifespan runs) in the fixture below. Its folders are its own: a fresh database,
# models/ holding only the encoder, and an empty data folder, so a training job the fuzzer
# starts fails at once instead of retraining for minutes, and promote / rollback touch nothing
# real.
ROOT = Path(tempfile.mkdtemp(prefix="madoguchi-fuzz-"))
FUZZ_SETTINGS = Settings(
    state_dir=ROOT / "state", data_dir=ROOT / "empty-data", models_dir=ROOT / "models"
)
APP = create_app(FUZZ_SETTINGS)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module", autouse=True)
def running_app(
    recovered_folder: Path, triage_model_folder: Path, encoder_cache_file: Path
) -> Iterator[None]:
    FUZZ_SETTINGS.models_dir.mkdir(parents=True, exist_ok=True)
    (FUZZ_SETTINGS.models_dir / RECOVERED_FOLDER_NAME).symlink_to(recovered_folder)
    FUZZ_SETTINGS.triage_model = triage_model_folder
    FUZZ_SETTINGS.encoder_cache_file = encoder_cache_file
    engine = create_database_engine(FUZZ_SETTINGS.database_url)
    KnowledgeBase(engine).upsert_many(load_articles(Settings().data_dir))
    engine.dispose()
    with TestClient(APP):  # the lifespan: models and index loaded, as in `madoguchi serve`
        yield
    shutil.rmtree(ROOT, ignore_errors=True)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=not RANDOM,
)
def test_no_server_errors_and_no_schema_violations(case: schemathesis.Case) -> None:
    response = case.call()
    if REPORT:  # bench/fuzz.py counts requests and statuses per operation
        with REPORT.open("a", encoding="utf-8") as report:
            line = {"operation": case.operation.label, "status": response.status_code}
            report.write(json.dumps(line) + "\n")
    excluded = [positive_data_acceptance]
    if response.status_code == 413:
        # A body over the size limit is refused with 413 (documented, with what to fix) before
        # it is read; schemathesis's negative-data check does not count 413 as a refusal.
        excluded.append(negative_data_rejection)
    case.validate_response(response, excluded_checks=excluded)
