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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse  # type: ignore[import-untyped]
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from services.intents.packs import OUT_OF_SCOPE

FloatArray = npt.NDArray[np.float32]


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
    word = TfidfVectorizer(
        ngram_range=options.word_ngrams,
        sublinear_tf=True,
        # Keep one-letter tokens too: "a", "i" and digits matter in short commands.
        token_pattern=r"(?u)\b\w+\b",
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


class _FastTfidf:
    """One text's TF-IDF scores against a weight block, without scikit-learn's per-call checks.

    ``TfidfVectorizer.transform`` spends most of its time validating inputs when given one
    short text; this computes the same vector (same analyzer, sublinear tf, idf, L2 norm)
    directly and multiplies only the rows of the weights it touches.
    """

    def __init__(self, vectorizer: TfidfVectorizer, weights: FloatArray) -> None:
        self._analyze = vectorizer.build_analyzer()
        self._vocabulary: dict[str, int] = vectorizer.vocabulary_
        self._idf = np.asarray(vectorizer.idf_, dtype=np.float32)
        self._weights = weights
        if not vectorizer.sublinear_tf or vectorizer.norm != "l2" or not vectorizer.use_idf:
            raise ValueError("the fast path implements sublinear tf, idf and l2 norm only")

    def scores(self, text: str) -> FloatArray:
        counts: dict[int, int] = {}
        for term in self._analyze(text):
            index = self._vocabulary.get(term)
            if index is not None:
                counts[index] = counts.get(index, 0) + 1
        if not counts:
            return np.zeros(self._weights.shape[1], dtype=np.float32)
        indices = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
        values: FloatArray = (np.log(tf) + np.float32(1.0)) * self._idf[indices]
        values = values / np.float32(np.sqrt(np.dot(values, values)))
        out: FloatArray = values @ self._weights[indices]
        return out


class LinearIntentModel:
    """A fitted model: ``logits(texts, embeddings)`` gives one row of class scores per text."""

    def __init__(
        self,
        labels: list[str],
        vectorizers: Sequence[TfidfVectorizer],
        coef: FloatArray,
        intercept: FloatArray,
        embedding_weight: float,
        reference: FloatArray,
        neighbours: int,
        sentence_dimension: int = 0,
    ) -> None:
        """``coef`` columns: each vectorizer's vocabulary in order, then the dense features."""
        self.labels = labels
        self._sentence = -sentence_dimension if sentence_dimension else 0
        # In-scope training sentence vectors: how close a message is to anything taught.
        self._reference_t = np.ascontiguousarray(reference[:, self._sentence :].T)
        self._vectorizers = list(vectorizers)
        # Transposed, contiguous blocks so one row times a block is a cheap product.
        blocks: list[FloatArray] = []
        start = 0
        for vectorizer in self._vectorizers:
            end = start + len(vectorizer.vocabulary_)
            blocks.append(np.ascontiguousarray(coef[:, start:end].T))
            start = end
        self._w_sparse = blocks
        self._w_emb = np.ascontiguousarray(coef[:, start:].T) * np.float32(embedding_weight)
        self._intercept = intercept
        self._fast = [
            _FastTfidf(vectorizer, block)
            for vectorizer, block in zip(self._vectorizers, blocks, strict=True)
        ]
        self._neighbours = neighbours

    @classmethod
    def fit(
        cls,
        texts: Sequence[str],
        labels: Sequence[str],
        embeddings: FloatArray,
        options: ModelOptions,
    ) -> LinearIntentModel:
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
        classifier.fit(x, list(labels))
        classes = [str(label) for label in classifier.classes_]
        coef = np.asarray(classifier.coef_, dtype=np.float32)
        intercept = np.asarray(classifier.intercept_, dtype=np.float32)
        if len(classes) == 2:
            # scikit-learn keeps one row for two classes; make it two so softmax applies.
            coef = np.vstack([-coef / 2, coef / 2]).astype(np.float32)
            intercept = np.array([-intercept[0] / 2, intercept[0] / 2], dtype=np.float32)
        in_scope = np.array([label != OUT_OF_SCOPE for label in labels], dtype=bool)
        return cls(
            classes,
            vectorizers,
            coef,
            intercept,
            options.embedding_weight,
            embeddings[in_scope],
            options.neighbours,
            options.sentence_dimension,
        )

    def logits(self, texts: Sequence[str], embeddings: FloatArray) -> FloatArray:
        if len(texts) == 1:
            return self._logits_one(texts[0], embeddings[0])[None, :]
        scores = embeddings @ self._w_emb + self._intercept
        for vectorizer, block in zip(self._vectorizers, self._w_sparse, strict=True):
            scores = scores + vectorizer.transform(texts) @ block
        out: FloatArray = np.asarray(scores, dtype=np.float32)
        return out

    def _logits_one(self, text: str, embedding: FloatArray) -> FloatArray:
        scores = embedding @ self._w_emb + self._intercept
        for block in self._fast:
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
