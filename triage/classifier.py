"""The one classifier every triage field uses (type, urgency, impact, queue): scikit-learn's
interface (`fit`, `predict`, `predict_proba`, `classes_`), one instance per field.

What it learns from (`TicketFeatures`): the cleaned ticket text as character 2-4-grams, its
Japanese content-word lemmas (fugashi) as words and word pairs, and the sentence embedding of the
same text; the fields a cue file lists also read keyword cues (triage.cues: 「全員」「本日17時まで」
「急ぎではありません」「回避策がない」, in four languages; none by default). Each view gets a
linear SVM; a logistic regression learns how much to trust each view from their out-of-fold
scores (stacking).
Probabilities are calibrated afterwards on held-out data with temperature scaling
(`TemperatureScaled`).

What was tried, macro-F1 type / urgency / impact / queue. First on valid (trained on train):

    char 2-4-gram TF-IDF + LinearSVC (C=1, the evaluation's baseline)      0.798 0.615 0.658 0.828
    char TF-IDF + logistic regression (C=10)                               0.814 0.638 0.667 0.832
    lemma TF-IDF + LinearSVC (C=0.5)                                       0.758 0.622 0.643 0.817
    embedding, passage prompt + logistic regression (C=100)                0.754 0.627 0.683 0.803
    embedding, query prompt + logistic regression (C=10)                   0.797 0.642 0.680 0.835
    char + lemma TF-IDF + 2 x query embedding, LinearSVC (C=0.3)           0.825 0.691 0.677 0.860
    same, logistic regression (C=10)                                       0.820 0.682 0.682 0.854
    stacking char / embedding logistic regressions (meta C=0.1)            0.859 0.706 0.666 0.880

valid has 225 tickets (one ticket is 0.4 points of accuracy), so the choice was then made by
5-fold cross-validation on train+valid (1,282 tickets):

    char TF-IDF + LinearSVC (baseline-like)                                0.822 0.670 0.685 0.820
    one LinearSVC on char + lemma TF-IDF + embedding                       0.844 0.690 0.721 0.845
    same with passage and query embeddings                                 0.839 0.701 0.719 0.848
    stacking char / embedding LinearSVCs                                   0.859 0.685 0.701 0.855
    stacking char / lemma / embedding LinearSVCs (kept)                    0.859 0.686 0.712 0.843
    stacking + 10-nearest-neighbour view                                   0.858 0.679 0.697 0.851
    kept, but the stacking model class-balanced                            0.855 0.668 0.695 0.843
    kept, stacking model unweighted (final)                                0.851 0.696 0.719 0.840

The cue view was added later (session 11), measured the same way (5-fold on train+valid,
urgency / impact macro-F1 and priority exact from the two): 0.705 / 0.719 / 0.664 without it,
0.731 / 0.736 / 0.681 with it; on the resolved-tickets export (330 tickets by other writers, trained
on train) 0.603 / 0.645 / 0.655 against 0.628 / 0.656 / 0.688. Type and queue did not gain from it
(type 0.856 against 0.852, queue 0.834 against 0.835). With the rules and the critical floor,
though, the cue model lost critical tickets on both sets written unlike train (export 28 -> 26 of
29, test 27 -> 25 of 32), so no field reads the cues by default (triage/config/cues.yaml).

The final model (before the cue view) scores 0.839 / 0.668 / 0.703 / 0.892 on valid (urgency
after the critical floor, see triage.model). The query prompt beat the passage prompt on every
field, so texts are encoded as queries (which also lets the API encode a ticket once for triage
and for answer search). Logistic regression on the TF-IDF features scored about the same as the
linear SVMs but took 30-100 times longer to fit, too slow for a two-minute training run on two
cores.
Calibration, compared on cross-validated scores of train+valid: temperature scaling, isotonic
and a logistic regression on the log-probabilities all reached a top-label ECE of 0.03-0.05 on
half the tickets; temperature scaling was kept because it cannot change a predicted label.
"""

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC

from common.text import clean_email, content_words
from triage.cues import CueLexicon

FIELDS = ("type", "urgency", "impact", "queue")
VIEWS = ("characters", "words", "embedding")
CUE_VIEW = "cues"  # a fourth view, for the fields the cue file names (triage.cues)


def ticket_text(subject: str, body: str) -> str:
    """What the model reads of a ticket: its subject line, then its body."""
    return f"{subject}\n{body}" if subject else body


def prepare_text(text: str) -> str:
    """The customer's own words, normalised: quoted replies, signatures and footers removed."""
    return clean_email(text).text


def embedding_text(prepared: str, max_chars: int | None) -> str:
    """What of a prepared ticket the encoder reads: its opening `max_chars` characters (all of
    it when None). The subject and first sentences carry what a ticket is about; the encoder's
    cost grows faster than linearly with length, and the character and word views still read
    the whole ticket."""
    return prepared[:max_chars] if max_chars else prepared


@dataclass(frozen=True)
class TicketFeatures:
    """The input of every triage classifier: prepared texts, their content-word lemmas and their
    sentence embeddings, row for row."""

    texts: list[str]
    words: list[str]  # content-word lemmas joined by spaces
    embeddings: np.ndarray  # (n, dimension), L2-normalised
    # TF-IDF matrices by vectoriser fingerprint: the four field classifiers fit identical
    # vectorisers on the same texts, so a ticket is transformed once, not four times.
    matrices: dict = field(default_factory=dict, compare=False, repr=False)

    def matrix(self, fingerprint: str | None, transform: Callable[[], object]) -> object:
        if fingerprint is None:
            return transform()
        if fingerprint not in self.matrices:
            self.matrices[fingerprint] = transform()
        return self.matrices[fingerprint]

    @classmethod
    def build(cls, texts: Sequence[str], embeddings: np.ndarray) -> "TicketFeatures":
        """Features of prepared texts (see `prepare_text`) and their embeddings."""
        embeddings = np.asarray(embeddings, dtype=np.float32)
        if embeddings.ndim != 2 or len(embeddings) != len(texts):
            raise ValueError(
                f"need one embedding row per text: {len(texts)} texts, embeddings of shape "
                f"{embeddings.shape}"
            )
        words = [" ".join(content_words(text)) for text in texts]
        return cls(list(texts), words, embeddings)

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, rows: Sequence[int] | np.ndarray) -> "TicketFeatures":
        rows = np.asarray(rows)
        return TicketFeatures(
            [self.texts[row] for row in rows],
            [self.words[row] for row in rows],
            self.embeddings[rows],
        )

    def view(self, name: str) -> list[str] | np.ndarray:
        return {"characters": self.texts, "words": self.words, "embedding": self.embeddings}[name]


class TicketClassifier(ClassifierMixin, BaseEstimator):
    """Predicts one field from `TicketFeatures`. `labels` are the field's allowed values (from
    the label file): training labels outside them are refused, and `classes_` is exactly them,
    in the file's order, so no other value can ever come out.

    The TF-IDF vocabularies are fitted once on all training rows (they see no labels); only the
    SVMs are refitted per fold for the out-of-fold scores the stacking model learns from.

    `cues` (a `CueLexicon`) adds the keyword-cue view; the lexicon is pickled with the
    classifier, so a saved model reads the cues it was trained with."""

    def __init__(
        self,
        labels: Sequence[str] = (),
        char_c: float = 0.5,
        word_c: float = 0.5,
        embedding_c: float = 1.0,
        meta_c: float = 1.0,
        folds: int = 5,
        random_state: int = 0,
        cues: CueLexicon | None = None,
        cue_c: float = 0.3,
    ) -> None:
        self.labels = labels
        self.char_c = char_c
        self.word_c = word_c
        self.embedding_c = embedding_c
        self.meta_c = meta_c
        self.folds = folds
        self.random_state = random_state
        self.cues = cues
        self.cue_c = cue_c

    @property
    def views(self) -> tuple[str, ...]:
        # Models saved before cues existed have no `cues` attribute: three views.
        return (*VIEWS, CUE_VIEW) if getattr(self, "cues", None) is not None else VIEWS

    def fit(self, X: TicketFeatures, y: Sequence[str]) -> "TicketClassifier":
        y = np.asarray(y, dtype=object)
        labels = _checked_labels(list(self.labels), y, len(X))
        self.classes_ = np.array(labels, dtype=object)
        self.vectorizers_ = {
            "characters": TfidfVectorizer(
                analyzer="char_wb",
                ngram_range=(2, 4),
                min_df=2,
                sublinear_tf=True,
                max_features=60000,
            ),
            "words": TfidfVectorizer(analyzer=_words_and_pairs, min_df=2, sublinear_tf=True),
        }
        matrices = {view: self._matrix(X, view, fit=True) for view in self.views}
        self.view_fingerprints_ = {
            view: _vectorizer_fingerprint(view, vectorizer)
            for view, vectorizer in self.vectorizers_.items()
        }
        costs = {
            "characters": self.char_c,
            "words": self.word_c,
            "embedding": self.embedding_c,
            CUE_VIEW: self.cue_c,
        }
        out_of_fold = np.zeros((len(y), len(self.views) * len(labels)))
        folds = StratifiedKFold(self.folds, shuffle=True, random_state=self.random_state)
        for train_rows, held_out_rows in folds.split(np.zeros(len(y)), y):
            for position, view in enumerate(self.views):
                svm = _svm(costs[view], self.random_state)
                svm.fit(matrices[view][train_rows], y[train_rows])
                columns = slice(position * len(labels), (position + 1) * len(labels))
                out_of_fold[held_out_rows, columns] = self._scores(
                    svm, matrices[view][held_out_rows]
                )
        self.svms_ = {
            view: _svm(costs[view], self.random_state).fit(matrices[view], y) for view in self.views
        }
        self.meta_ = LogisticRegression(C=self.meta_c, max_iter=2000)
        self.meta_.fit(out_of_fold, y)
        return self

    def _matrix(self, X: TicketFeatures, view: str, fit: bool = False):  # noqa: ANN202
        if view == "embedding":
            return X.embeddings
        if view == CUE_VIEW:  # urgency and impact read the same lexicon: computed once
            return X.matrix(f"cues:{self.cues.fingerprint}", lambda: self.cues.matrix(X.texts))
        vectorizer = self.vectorizers_[view]
        if fit:
            return vectorizer.fit_transform(X.view(view))
        fingerprint = getattr(self, "view_fingerprints_", {}).get(view)  # older models: none
        return X.matrix(fingerprint, lambda: vectorizer.transform(X.view(view)))

    def _scores(self, svm: LinearSVC, matrix) -> np.ndarray:  # noqa: ANN001 - sparse or dense
        scores = svm.decision_function(matrix)
        if scores.ndim == 1:  # a two-value field: one score, for the second class
            scores = np.column_stack([-scores, scores])
        return _in_class_order(scores, svm.classes_, list(self.classes_))

    def decision_function(self, X: TicketFeatures) -> np.ndarray:
        """Log-probabilities, one column per class in `classes_` order."""
        stacked = np.hstack(
            [self._scores(self.svms_[view], self._matrix(X, view)) for view in self.views]
        )
        log_probabilities = self.meta_.predict_log_proba(stacked)
        return _in_class_order(log_probabilities, self.meta_.classes_, list(self.classes_))

    def predict_proba(self, X: TicketFeatures) -> np.ndarray:
        return np.exp(self.decision_function(X))

    def predict(self, X: TicketFeatures) -> np.ndarray:
        return self.classes_[self.decision_function(X).argmax(axis=1)]


def field_classifier(
    labels: Sequence[str], field_name: str, cues: CueLexicon | None = None
) -> TicketClassifier:
    """The classifier for one field: with the cue view when the cue lexicon names the field."""
    reads_cues = cues is not None and field_name in cues.fields
    return TicketClassifier(labels=labels, cues=cues if reads_cues else None)


class TemperatureScaled(ClassifierMixin, BaseEstimator):
    """A fitted classifier whose probabilities are calibrated on held-out data by temperature
    scaling: softmax(log p / T) with the one T that minimises the log-loss there. One number, so
    the predicted label (the arg-max) never changes, only how sure the model says it is.

    This is CalibratedClassifierCV(FrozenEstimator(classifier), method="temperature") in
    scikit-learn 1.8+, written out because that one indexes X row by row, and our X is a bundle
    of texts, lemmas and embeddings."""

    def __init__(self, classifier: TicketClassifier | None = None) -> None:
        self.classifier = classifier

    def fit(self, X: TicketFeatures, y: Sequence[str]) -> "TemperatureScaled":
        y = np.asarray(y, dtype=object)
        self.classes_ = self.classifier.classes_
        unknown = sorted(set(y) - set(self.classes_))
        if unknown:
            raise ValueError(f"calibration labels {unknown} are not in {list(self.classes_)}")
        logits = self.classifier.decision_function(X)
        truth = np.array([list(self.classes_).index(label) for label in y])

        def log_loss(log_temperature: float) -> float:
            scaled = log_softmax(logits / np.exp(log_temperature), axis=1)
            return -float(scaled[np.arange(len(truth)), truth].mean())

        best = minimize_scalar(log_loss, bounds=(-3.0, 3.0), method="bounded")
        self.temperature_ = float(np.exp(best.x))
        return self

    def decision_function(self, X: TicketFeatures) -> np.ndarray:
        return log_softmax(self.classifier.decision_function(X) / self.temperature_, axis=1)

    def predict_proba(self, X: TicketFeatures) -> np.ndarray:
        return np.exp(self.decision_function(X))

    def predict(self, X: TicketFeatures) -> np.ndarray:
        return self.classes_[self.decision_function(X).argmax(axis=1)]


def _checked_labels(labels: list[str], y: np.ndarray, rows: int) -> list[str]:
    if not labels:
        raise ValueError("TicketClassifier needs `labels`, the field's allowed values")
    if len(y) != rows:
        raise ValueError(f"{rows} tickets but {len(y)} labels")
    unknown = sorted(set(y) - set(labels))
    if unknown:
        raise ValueError(
            f"training labels {unknown} are not in the label list {labels}; fix the data or the "
            "label file"
        )
    missing = [label for label in labels if label not in set(y)]
    if missing:
        raise ValueError(
            f"no training example of {missing}; every value in the label list needs some, or "
            "the model could never predict it"
        )
    return labels


def _vectorizer_fingerprint(view: str, vectorizer: TfidfVectorizer) -> str:
    """Equal for vectorisers that transform every text identically: same settings, same
    vocabulary, same idf weights."""
    digest = hashlib.sha256(view.encode())
    settings = {key: value for key, value in vectorizer.get_params().items() if key != "analyzer"}
    digest.update(repr(sorted(settings.items(), key=lambda item: item[0])).encode())
    analyzer = vectorizer.analyzer
    digest.update((analyzer if isinstance(analyzer, str) else analyzer.__qualname__).encode())
    digest.update("\x00".join(sorted(vectorizer.vocabulary_)).encode())
    digest.update(
        np.asarray(
            [vectorizer.vocabulary_[term] for term in sorted(vectorizer.vocabulary_)]
        ).tobytes()
    )
    digest.update(np.asarray(vectorizer.idf_, dtype=np.float64).tobytes())
    return digest.hexdigest()


def _svm(cost: float, random_state: int) -> LinearSVC:
    # liblinear visits the rows in a random order: seeded, so the same data gives the same model
    return LinearSVC(C=cost, class_weight="balanced", random_state=random_state)


def _words_and_pairs(text: str) -> list[str]:
    """Lemmas and adjacent lemma pairs (「ログイン できる」 reads differently from each word)."""
    words = text.split()
    return words + [f"{left} {right}" for left, right in zip(words, words[1:], strict=False)]


def _in_class_order(
    columns: np.ndarray, model_classes: np.ndarray, labels: list[str]
) -> np.ndarray:
    """Reorder a model's per-class columns into `labels` order."""
    order = list(model_classes)
    return columns[:, [order.index(label) for label in labels]]
