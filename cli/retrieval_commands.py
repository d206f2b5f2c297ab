"""`madoguchi kb import` and `madoguchi eval retrieval`."""

import json
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from cli.progress import progress_bar
from common.encoders import Encoder, configured_encoder
from common.settings import Settings
from common.storage import create_database_engine

console = Console(stderr=True, soft_wrap=True)


def _progress(label: str) -> Progress:
    return progress_bar(f"[bold]{label}[/bold]", console)


def encoder_for(settings: Settings, name: str | None = None) -> Encoder:
    return configured_encoder(settings, name)


def import_articles(settings: Settings, path: Path, index: bool, json_output: bool) -> int:
    """Import articles into the knowledge base; returns the exit code (1 when rows failed)."""
    from retrieval.importing import ImportProblem, read_articles
    from retrieval.knowledge_base import KnowledgeBase

    problems: list[ImportProblem] = []
    try:
        articles = list(read_articles(path, problems))
    except (OSError, ValueError) as error:
        console.print(f"[red]{error}[/red]")
        return 2
    engine = create_database_engine(settings.database_url)
    try:
        knowledge_base = KnowledgeBase(engine)
        with _progress(f"importing {len(articles)} articles") as progress:
            task = progress.add_task("import", total=len(articles))
            written = knowledge_base.upsert_many(
                articles, on_progress=lambda _count: progress.advance(task)
            )
        indexed = None
        if index and written:
            from retrieval.index import KnowledgeIndex, store_factory_for

            with _progress("indexing") as progress:
                task = progress.add_task("index", total=None)
                search_index = KnowledgeIndex(
                    knowledge_base,
                    encoder_for(settings),
                    settings.index_dir,
                    settings.vector_index_type,
                    store_factory=store_factory_for(settings),
                ).open(
                    progress=lambda done, total: progress.update(task, completed=done, total=total)
                )
            indexed = search_index.describe()["chunks"]
    finally:
        engine.dispose()
    for problem in problems:
        console.print(f"[red]{problem.place}[/red]: {problem.message}")
    console.print(
        f"{written} articles imported"
        + (f", {len(problems)} rows refused (listed above)" if problems else "")
        + (f"; index holds {indexed} chunks" if indexed is not None else "")
    )
    if json_output:
        print(
            json.dumps(
                {
                    "imported": written,
                    "refused": [problem.__dict__ for problem in problems],
                    "indexed_chunks": indexed,
                },
                ensure_ascii=False,
            )
        )
    return 1 if problems else 0


def evaluate_retrieval(
    settings: Settings,
    corpus: Path,
    queries: Path,
    qrels: Path,
    method: str,
    encoder_name: str | None,
    report: Path | None,
) -> dict:
    from retrieval.search import METHODS
    from training.retrieval_evaluation import (
        build_searcher,
        load_retrieval_set,
        plot_precision_coverage,
    )
    from training.retrieval_tuning import tune

    data = load_retrieval_set(corpus, queries, qrels)
    encoder = encoder_for(settings, encoder_name)
    store = None
    if settings.vector_backend == "milvus":  # a collection of its own, never the serving one
        from retrieval.milvus_store import MilvusVectorStore, choose_milvus_index_type

        store = MilvusVectorStore(
            settings.milvus_address,
            encoder.dimension,
            encoder.identity,
            choose_milvus_index_type(settings.milvus_index_type, len(data.corpus)),
            prefix=f"{settings.milvus_collection_prefix}_eval",
            token=settings.milvus_token,
            fresh=True,
        )
    with _progress(f"encoding {len(data.corpus)} documents") as progress:
        task = progress.add_task("encode", total=None)
        searcher = build_searcher(
            data.corpus,
            encoder,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
            store=store,
        )
    with _progress(f"searching {len(data.queries)} queries") as progress:
        task = progress.add_task("search", total=len(data.queries))
        tuning = tune(
            searcher,
            data,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    methods = METHODS if method == "all" else (method,)
    splits = tuning.report["splits"]
    result: dict = {name: splits["all"][name] for name in methods}
    result["held_out"] = {name: splits["held_out"][name] for name in methods}
    result["by_language"] = {
        language: {name: values[name] for name in methods}
        for language, values in splits["all"]["by_language"].items()
    }
    result["fusion"] = tuning.report["chosen_fusion"]
    result["encoder"] = encoder.identity
    result["vector_store"] = (
        store.describe() if store is not None else {"engine": "faiss", "index_type": "flat"}
    )
    result["queries"] = {
        "all": len(data.queries),
        "in_scope": len(data.in_scope),
        "out_of_scope": len(data.out_of_scope),
        "held_out": splits["held_out"]["hybrid"]["queries"],
    }
    if data.out_of_scope:
        result["decision"] = splits["all"]["decision"]
        result["decision"]["target_precision"] = tuning.decision.target_precision
    if report is not None:
        report.mkdir(parents=True, exist_ok=True)
        if data.out_of_scope:
            plot_precision_coverage(
                tuning.report["curve"],
                tuning.decision.threshold,
                report / "precision_coverage.png",
            )
        (report / "retrieval.json").write_text(
            json.dumps({**result, "curve": tuning.report["curve"]}, ensure_ascii=False, indent=2),
            encoding="utf-8",
        )
    _print_table(result, methods)
    return result


def _print_table(result: dict, methods: tuple[str, ...]) -> None:
    table = Table(title="retrieval (all queries; held-out half in brackets)")
    table.add_column("method")
    for metric in ("ndcg@10", "mrr@10", "recall@10", "recall@100"):
        table.add_column(metric, justify="right")
    for name in methods:
        table.add_row(
            name,
            *(
                f"{result[name][metric]:.4f} ({result['held_out'][name][metric]:.4f})"
                for metric in ("ndcg@10", "mrr@10", "recall@10", "recall@100")
            ),
        )
    console.print(table)
    if "decision" in result:
        decision = result["decision"]
        console.print(
            f"answer/handoff at threshold {decision['threshold']:.2f}: precision "
            f"{decision['precision']}, coverage {decision['coverage']} "
            f"(out-of-fold; {decision['out_of_scope_answered']} of "
            f"{decision['out_of_scope']} out-of-scope questions answered)"
        )
