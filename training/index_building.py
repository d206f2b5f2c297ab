"""Building a search index folder for an encoder: encode the knowledge base's chunks, then,
when the knowledge base holds the sample articles, choose the fusion and the answer threshold
on the sample queries. `madoguchi build` does it for the configured encoder; `madoguchi train
--tune-encoder` for the tuned one, beside it, so the service can switch without encoding."""

from collections.abc import Callable
from pathlib import Path

from common.encoders import Encoder
from common.settings import Settings
from common.storage import create_database_engine
from retrieval.index import KnowledgeIndex, store_factory_for
from retrieval.knowledge_base import KnowledgeBase
from training.retrieval_evaluation import sample_retrieval_set
from training.retrieval_tuning import tune

# progress(advance_by, total): total is given once known.
Progress = Callable[[int, int | None], None]


def build_knowledge_index(
    settings: Settings, encoder: Encoder, folder: Path, progress: Progress | None = None
) -> str:
    """Open (encoding what is missing) and tune the index in `folder`; returns a one-line
    summary."""
    report = progress or (lambda _advance, _total: None)
    engine = create_database_engine(settings.database_url)
    try:
        knowledge_base = KnowledgeBase(engine)
        report(0, knowledge_base.chunk_count())
        index = KnowledgeIndex(
            knowledge_base,
            encoder,
            folder,
            settings.vector_index_type,
            store_factory=store_factory_for(settings),
        )
        seen = 0

        def encoded(done: int, _total: int) -> None:
            nonlocal seen
            report(done - seen, None)
            seen = done

        index.open(progress=encoded)
        data = sample_retrieval_set(settings.data_dir)
        judged = {doc for judgements in data.qrels.values() for doc in judgements}
        if not judged <= set(index.searcher.articles):
            index.save()
            return (
                f"{len(index.searcher.store)} chunks indexed; the knowledge base is not the sample "
                "one, so fusion and answer threshold keep their defaults (hand everything over)"
            )
        tuning = tune(index.searcher, data)
        decision = tuning.report["splits"]["all"]["decision"]
        index.set_tuning(
            tuning.fusion,
            tuning.decision,
            {"chosen_on": "sample queries", "held_out": tuning.report["splits"]["held_out"]},
        )
    finally:
        engine.dispose()
    return (
        f"{len(index.searcher.store)} chunks; fusion {tuning.fusion.method} "
        f"{tuning.fusion.dense_weight}; answer threshold {tuning.decision.threshold:.2f}: "
        f"precision {decision['precision']}, coverage {decision['coverage']} (out-of-fold)"
    )
