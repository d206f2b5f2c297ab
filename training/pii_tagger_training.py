"""Train the PII tagger (`common.pii_tagger`) on labelled PII sets and write its folder: the
CRFsuite model and a manifest naming the sets (with their hashes), the parameters and the
features' version. `madoguchi pii train-tagger` passes the sets named in
`cli.pii_commands.TAGGER_TRAINING_SETS`; PF and PI stay out, so that they measure the tagger on
writing it has not seen."""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pycrfsuite

from common.pii import tagger_example
from common.pii_tagger import FEATURES_VERSION, TAGGED_KINDS, TAGGER_FILE
from common.storage import artifact_folder, sha256_of_file, write_manifest
from training.pii_evaluation import read_labelled_pii

TAGGER_KIND = "pii-tagger"
# L1 and L2 penalties and iterations, set once from CRFsuite's usual range and not tuned on
# the held-out set.
DEFAULT_PARAMS = {"c1": 0.1, "c2": 0.05, "max_iterations": 200}


def train_pii_tagger(
    files: Sequence[Path], destination: Path, params: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Train on every text of `files`, replace `destination` atomically, return the manifest."""
    params = {**DEFAULT_PARAMS, **(params or {})}
    trainer = pycrfsuite.Trainer(verbose=False)
    texts = spans = 0
    for path in files:
        for row in read_labelled_pii(path):
            features, labels = tagger_example(row.text, row.spans)
            if features:
                trainer.append(features, labels)
            texts += 1
            spans += sum(span.kind in TAGGED_KINDS for span in row.spans)
    trainer.set_params(params)
    with artifact_folder(destination) as staging:  # readers see the old folder or the new one
        trainer.train(str(staging / TAGGER_FILE))
        manifest = write_manifest(
            staging,
            TAGGER_KIND,
            model_file=TAGGER_FILE,
            features_version=FEATURES_VERSION,
            kinds=list(TAGGED_KINDS),
            params=params,
            trained_on=[{"file": path.name, "sha256": sha256_of_file(path)} for path in files],
            texts=texts,
            labelled_spans=spans,
            final_loss=trainer.logparser.last_iteration.get("loss"),
        )
    return manifest
