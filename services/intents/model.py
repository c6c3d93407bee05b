"""The linear model under the classifier: MiniLM features (optionally with TF-IDF word and
character n-grams), one multinomial logistic regression over the intents and an explicit
out-of-scope class.

The dense features carry paraphrases that share no words with the examples; with the pooled
states of several layers (:mod:`services.intents.features`) they also keep the words
themselves. Word n-grams catch the vocabulary that names an intent ("baggage", "refund") and
character n-grams survive typos and inflections. Next to the layer features they are an
option: on CLINC150's validation split they cost 0.3 points of accuracy, on BANKING77's they
added 0.5 (the shipped packs keep them; the dataset evaluation leaves them out). Scoring
one utterance is a handful of sparse and dense products against the fitted weights, so it
stays well under a millisecond besides the encoder.

scikit-learn fits the model (:func:`fit_linear`, which imports it when called); a fitted model
is plain data (:class:`FittedLinear`: vocabularies, idf and coefficients) that this module
scores with numpy alone. The router trains in a child process and so never imports
scikit-learn or scipy (~100 MiB of its RSS; benchmarks/router_memory.py).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt

from services.intents.packs import OUT_OF_SCOPE
from services.intents.threads import one_blas_thread

if TYPE_CHECKING:
    from sklearn.feature_extraction.text import TfidfVectorizer

FloatArray = npt.NDArray[np.float32]
IndexArray = npt.NDArray[np.int64]

# Keep one-letter tokens too: "a", "i" and digits matter in short commands.
WORD_TOKEN_PATTERN = r"(?u)\b\w+\b"
_WORD_TOKEN = re.compile(WORD_TOKEN_PATTERN)
# scikit-learn collapses runs of whitespace before cutting character n-grams; the split on
# whitespace that follows makes it a no-op except where ``\s`` and ``str.split`` disagree on
# what whitespace is, so it is kept as it is there.
_WHITE_SPACES = re.compile(r"\s\s+")
# What support_bound takes off its bound: far more than float32 rounding can move a mean of
# cosine similarities computed by a different product, far less than any threshold's step.
_BOUND_MARGIN = 1e-5

Analyzer = Literal["word", "char_wb"]


@dataclass(frozen=True)
class ModelOptions:
    """Hyper-parameters of the linear model (defaults chosen on CLINC150's validation split)."""

    c: float = 20.0
    embedding_weight: float = 1.0
    tfidf: bool = True
    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (2, 5)
    max_iter: int = 500
    neighbours: int = 5
    # Width of the trailing block of the features that is the unit sentence embedding: the
    # neighbour similarity (``support``) is measured on it. 0 means the whole row.
    sentence_dimension: int = 0


def _vectorizers(options: ModelOptions) -> tuple[TfidfVectorizer, TfidfVectorizer]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    word = TfidfVectorizer(
        ngram_range=options.word_ngrams,
        sublinear_tf=True,
        token_pattern=WORD_TOKEN_PATTERN,
        dtype=np.float32,
    )
    char = TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=options.char_ngrams,
        sublinear_tf=True,
        min_df=2,
        dtype=np.float32,
    )
    return word, char


def word_ngrams(text: str, ngram_range: tuple[int, int]) -> list[str]:
    """scikit-learn's word analyzer (lowercase, :data:`WORD_TOKEN_PATTERN`, no stop words):
    every n-gram of the tokens, by length, then by position."""
    tokens: list[str] = _WORD_TOKEN.findall(text.lower())
    low, high = ngram_range
    if high == 1:
        return tokens
    grams = list(tokens) if low == 1 else []
    append = grams.append
    count = len(tokens)
    for n in range(max(low, 2), min(high + 1, count + 1)):
        for i in range(count - n + 1):
            append(" ".join(tokens[i : i + n]))
    return grams


def char_wb_ngrams(text: str, ngram_range: tuple[int, int]) -> list[str]:
    """scikit-learn's ``char_wb`` analyzer (lowercase): the character n-grams of each word
    padded with one space either side, by word, then by length, then by position. A word
    shorter than n counts once, whole, and ends its longer n-grams. The loop is scikit-learn's,
    which is also faster than the comprehensions tried instead."""
    low, high = ngram_range
    grams: list[str] = []
    append = grams.append
    for word in _WHITE_SPACES.sub(" ", text.lower()).split():
        padded = " " + word + " "
        length = len(padded)
        for n in range(low, high + 1):
            offset = 0
            append(padded[offset : offset + n])
            while offset + n < length:
                offset += 1
                append(padded[offset : offset + n])
            if offset == 0:
                break
    return grams


@dataclass(frozen=True, eq=False)
class TfidfTerms:
    """What scoring needs of a fitted ``TfidfVectorizer`` (sublinear tf, idf, L2 norm), as plain
    data: the analyzer, the vocabulary (term -> column) and each column's idf."""

    analyzer: Analyzer
    ngram_range: tuple[int, int]
    vocabulary: dict[str, int]
    idf: FloatArray

    @classmethod
    def from_vectorizer(cls, vectorizer: TfidfVectorizer) -> TfidfTerms:
        """The terms of a vectorizer :func:`_vectorizers` configured, once it is fitted."""
        expected = {
            "input": "content",
            "lowercase": True,
            "strip_accents": None,
            "preprocessor": None,
            "tokenizer": None,
            "stop_words": None,
            "binary": False,
            "use_idf": True,
            "sublinear_tf": True,
            "norm": "l2",
            "dtype": np.float32,
        }
        if vectorizer.analyzer == "word":
            expected["token_pattern"] = WORD_TOKEN_PATTERN
        differ = sorted(
            name for name, value in expected.items() if getattr(vectorizer, name) != value
        )
        if vectorizer.analyzer not in ("word", "char_wb"):
            differ.append("analyzer")
        if differ:
            raise ValueError(f"TfidfTerms reproduces no vectorizer with these settings: {differ}")
        low, high = (int(n) for n in vectorizer.ngram_range)
        # Pruned vocabularies (min_df) map terms to numpy integers; plain ints pickle smaller.
        vocabulary = {str(term): int(column) for term, column in vectorizer.vocabulary_.items()}
        idf = np.asarray(vectorizer.idf_)
        if idf.dtype != np.float32 or idf.shape != (len(vocabulary),):
            raise ValueError(f"unexpected idf: {idf.dtype}, shape {idf.shape}")
        return cls(vectorizer.analyzer, (low, high), vocabulary, idf)

    def analyze(self, text: str) -> list[str]:
        """The text's terms, in scikit-learn's order, the vocabulary's or not."""
        if self.analyzer == "word":
            return word_ngrams(text, self.ngram_range)
        return char_wb_ngrams(text, self.ngram_range)

    def counts(self, text: str) -> dict[int, int]:
        """Occurrences of each vocabulary column in the text, in order of first appearance."""
        counts: dict[int, int] = {}
        for term in self.analyze(text):
            column = self.vocabulary.get(term)
            if column is not None:
                counts[column] = counts.get(column, 0) + 1
        return counts


class _TfidfBlock:
    """One TF-IDF feature set's contribution to the class scores: a text's TF-IDF vector (the
    vectorizer's, computed directly) times the rows of the weights it touches.

    ``TfidfVectorizer.transform`` spends most of its time validating inputs when given one short
    text; ``scores`` skips that. ``batch_scores`` repeats scikit-learn's arithmetic step by step
    (float32 tf-idf, the L2 norm summed in float64, scipy's sparse product accumulating in
    float32 in column order), so calibration on batches sees the scores it always did, bit for
    bit.
    """

    def __init__(self, terms: TfidfTerms, weights: FloatArray) -> None:
        self._terms = terms
        self._idf = terms.idf
        self._weights = weights

    def scores(self, text: str) -> FloatArray:
        counts = self._terms.counts(text)
        if not counts:
            return np.zeros(self._weights.shape[1], dtype=np.float32)
        indices = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
        values: FloatArray = (np.log(tf) + np.float32(1.0)) * self._idf[indices]
        values = values / np.float32(np.sqrt(np.dot(values, values)))
        out: FloatArray = values @ self._weights[indices]
        return out

    def batch_scores(self, texts: Sequence[str]) -> FloatArray:
        out = np.zeros((len(texts), self._weights.shape[1]), dtype=np.float32)
        for row, text in enumerate(texts):
            counts = self._terms.counts(text)
            if not counts:
                continue
            indices: IndexArray = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
            tf = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
            order = np.argsort(indices, kind="stable")
            indices, tf = indices[order], tf[order]
            values: FloatArray = (np.log(tf) + np.float32(1.0)) * self._idf[indices]
            squares = (values * values).astype(np.float64)
            # cumsum adds in order, as scikit-learn's loop does (np.sum would add pairwise).
            norm = np.sqrt(np.cumsum(squares)[-1])
            values = (values.astype(np.float64) / norm).astype(np.float32)
            products = values[:, None] * self._weights[indices]
            out[row] = np.add.accumulate(products, axis=0)[-1]
        return out


@dataclass(frozen=True, eq=False)
class FittedLinear:
    """A fit's result as plain data, what a training child process sends back.

    ``coef`` columns: each ``terms``' vocabulary in order, then the dense features; ``labels``
    name its rows (and ``intercept``'s entries).
    """

    labels: list[str]
    terms: list[TfidfTerms]
    coef: FloatArray
    intercept: FloatArray


def fit_linear(
    texts: Sequence[str],
    labels: Sequence[str],
    embeddings: FloatArray,
    options: ModelOptions,
) -> FittedLinear:
    """Fit the TF-IDF vocabularies and the logistic regression (scikit-learn, imported here)."""
    from scipy import sparse  # type: ignore[import-untyped]
    from sklearn.linear_model import LogisticRegression

    vectorizers = list(_vectorizers(options)) if options.tfidf else []
    dense = embeddings * np.float32(options.embedding_weight)
    x: FloatArray | sparse.csr_matrix
    if vectorizers:
        x = sparse.hstack(
            [v.fit_transform(texts) for v in vectorizers] + [sparse.csr_matrix(dense)],
            format="csr",
            dtype=np.float32,
        )
    else:
        x = dense
    classifier = LogisticRegression(C=options.c, max_iter=options.max_iter)
    # L-BFGS runs on scipy's own OpenBLAS, loaded only now: a limit taken before it was loaded
    # leaves it two threads, which made the fits up to ten times slower on a busy machine.
    with one_blas_thread(rescan=True):
        classifier.fit(x, list(labels))
    classes = [str(label) for label in classifier.classes_]
    coef = np.asarray(classifier.coef_, dtype=np.float32)
    intercept = np.asarray(classifier.intercept_, dtype=np.float32)
    if len(classes) == 2:
        # scikit-learn keeps one row for two classes; make it two so softmax applies.
        coef = np.vstack([-coef / 2, coef / 2]).astype(np.float32)
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2], dtype=np.float32)
    terms = [TfidfTerms.from_vectorizer(vectorizer) for vectorizer in vectorizers]
    return FittedLinear(classes, terms, coef, intercept)


class LinearIntentModel:
    """A fitted model: ``logits(texts, embeddings)`` gives one row of class scores per text."""

    def __init__(
        self,
        labels: list[str],
        terms: Sequence[TfidfTerms],
        coef: FloatArray,
        intercept: FloatArray,
        embedding_weight: float,
        reference: FloatArray,
        neighbours: int,
        sentence_dimension: int = 0,
        reference_labels: Sequence[str] = (),
    ) -> None:
        """``coef`` columns: each ``terms``' vocabulary in order, then the dense features;
        ``reference_labels`` name the intent of each ``reference`` row, for
        :meth:`support_bound` (none given: no bound)."""
        self.labels = labels
        self._sentence = -sentence_dimension if sentence_dimension else 0
        # In-scope training sentence vectors: how close a message is to anything taught.
        self._reference_t = np.ascontiguousarray(reference[:, self._sentence :].T)
        members: dict[str, list[int]] = {}
        for index, label in enumerate(reference_labels):
            members.setdefault(label, []).append(index)
        self._members = {label: np.array(rows, dtype=np.int64) for label, rows in members.items()}
        # Transposed, contiguous blocks so one row times a block is a cheap product.
        self._blocks: list[_TfidfBlock] = []
        start = 0
        for each in terms:
            end = start + len(each.vocabulary)
            self._blocks.append(_TfidfBlock(each, np.ascontiguousarray(coef[:, start:end].T)))
            start = end
        self._w_emb = np.ascontiguousarray(coef[:, start:].T) * np.float32(embedding_weight)
        self._intercept = intercept
        self._neighbours = neighbours

    @classmethod
    def from_fitted(
        cls,
        fitted: FittedLinear,
        labels: Sequence[str],
        embeddings: FloatArray,
        options: ModelOptions,
    ) -> LinearIntentModel:
        """The model of a fit on ``labels`` and ``embeddings`` (kept for :meth:`support`)."""
        in_scope = np.array([label != OUT_OF_SCOPE for label in labels], dtype=bool)
        return cls(
            fitted.labels,
            fitted.terms,
            fitted.coef,
            fitted.intercept,
            options.embedding_weight,
            embeddings[in_scope],
            options.neighbours,
            options.sentence_dimension,
            [label for label in labels if label != OUT_OF_SCOPE],
        )

    @classmethod
    def fit(
        cls,
        texts: Sequence[str],
        labels: Sequence[str],
        embeddings: FloatArray,
        options: ModelOptions,
    ) -> LinearIntentModel:
        """Fit in this process (which imports scikit-learn) and keep the result."""
        fitted = fit_linear(texts, labels, embeddings, options)
        return cls.from_fitted(fitted, labels, embeddings, options)

    def logits(self, texts: Sequence[str], embeddings: FloatArray) -> FloatArray:
        if len(texts) == 1:
            return self._logits_one(texts[0], embeddings[0])[None, :]
        scores = embeddings @ self._w_emb + self._intercept
        for block in self._blocks:
            scores = scores + block.batch_scores(texts)
        out: FloatArray = np.asarray(scores, dtype=np.float32)
        return out

    def _logits_one(self, text: str, embedding: FloatArray) -> FloatArray:
        scores = embedding @ self._w_emb + self._intercept
        for block in self._blocks:
            scores += block.scores(text)
        return scores

    def support(self, embeddings: FloatArray) -> FloatArray:
        """Mean cosine similarity of each sentence vector to its nearest in-scope examples.

        Out-of-scope messages tend to sit far from every example even when the linear model
        is confident about one intent, so this is a second, independent signal.
        """
        k = min(self._neighbours, self._reference_t.shape[1])
        if k == 0:
            return np.zeros(len(embeddings), dtype=np.float32)
        similarities = embeddings[:, self._sentence :] @ self._reference_t
        nearest = np.partition(similarities, -k, axis=1)[:, -k:]
        out: FloatArray = nearest.mean(axis=1).astype(np.float32)
        return out

    def support_bound(self, embedding: FloatArray, label: str) -> float:
        """A lower bound of :meth:`support` for one message: the mean similarity to the nearest
        examples of ``label`` alone (the nearest of all examples are at least as near), less a
        margin for float rounding; minus infinity when ``label`` has too few examples.

        A product with one intent's examples instead of all of them: about a hundredth of the
        memory :meth:`support` reads for a CLINC150 intent. A caller whose decision the bound
        already settles is spared the full product.
        """
        k = min(self._neighbours, self._reference_t.shape[1])
        members = self._members.get(label)
        if k == 0 or members is None or len(members) < k:
            return -np.inf
        similarities = embedding[self._sentence :] @ self._reference_t[:, members]
        nearest = np.partition(similarities, -k)[-k:]
        return float(nearest.mean()) - _BOUND_MARGIN
