"""The router scores intents without scikit-learn: the same terms, scores and classifications.

scikit-learn and scipy (~100 MiB of the router's RSS) only fit the model, in a child process
(:func:`services.runtime.child.call_in_child`); the fitted TF-IDF vocabularies are scored by
:class:`~services.intents.model.TfidfTerms` with numpy. These tests hold that replacement to
scikit-learn's own analyzers and transforms on the packs' examples and on odd inputs, bit for
bit, and hold the router to never importing either library.

Equality is exact (``np.array_equal``), not within a tolerance: the batched scores repeat
scikit-learn's arithmetic step by step (float32 tf-idf, the norm summed in float64 in column
order, the sparse product accumulated in float32 in column order), so they are the same
floats. A tolerance would hide a changed order of additions, which can move a calibration
threshold and with it a decision.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import TfidfVectorizer

from services.config import load_settings
from services.intents import IntentClassifier
from services.intents.features import LayerPoolingEncoder
from services.intents.model import (
    FloatArray,
    LinearIntentModel,
    ModelOptions,
    TfidfTerms,
    _TfidfBlock,
    _vectorizers,
    char_wb_ngrams,
    fit_linear,
    word_ngrams,
)
from services.intents.packs import OUT_OF_SCOPE, load_packs
from services.router.service import RouterService
from services.runtime.child import ChildProcessFailed

ROOT = Path(__file__).resolve().parents[2]
PACKS = ROOT / "packs" / "intents"

#: inputs the packs do not have: case, accents (composed and combining), digits, punctuation,
#: empty and blank, tabs and line breaks, non-breaking and other unicode spaces, characters
#: whose lowercase is longer, emoji, CJK, a long message
ODD = [
    "",
    " ",
    "\t\n\r\x0b\x0c",
    "Is flight UA 123 on time?",
    "ÇA VA? Où est mon bagage? Ça fait 3 jours!",
    "CAFÉ café cafe\u0301 naïve coöperate",
    "İstanbul ß STRASSE ǅemal ﬁnal",
    "order #A-12_34, ref: 0042/7; total $1,234.56 (USD)",
    "!!!??? ... --- ___",
    "hello\tworld\nagain  and\u00a0\u00a0again\u2028next\u3000line",
    "a\x1c\x1cb c\x1fd e\x85f",
    "   leading and trailing   ",
    "one-letter words: a i I x 7",
    "🙂 my bag 🧳 is lost 😡😡",
    "機内持ち込み手荷物のサイズ 行李 丢失",
    "my checked suitcase never showed up on the carousel " * 40,
    "x" * 600,
]


def _pack_texts() -> tuple[list[str], list[str]]:
    """Every example and out-of-scope message of the shipped packs, as from_packs orders them."""
    texts: list[str] = []
    labels: list[str] = []
    oos: list[str] = []
    for pack in load_packs(PACKS):
        for intent in pack.intents:
            texts.extend(intent.examples)
            labels.extend([intent.name] * len(intent.examples))
        oos.extend(pack.out_of_scope)
    return texts + oos, labels + [OUT_OF_SCOPE] * len(oos)


TEXTS, LABELS = _pack_texts()
PROBES = TEXTS + ODD


@pytest.fixture(scope="module")
def vectorizers() -> list[TfidfVectorizer]:
    fitted = list(_vectorizers(ModelOptions()))
    for vectorizer in fitted:
        vectorizer.fit(TEXTS)
    return fitted


@pytest.fixture(scope="module")
def encoder() -> LayerPoolingEncoder:
    return LayerPoolingEncoder()


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One embedding cache, so the packs are encoded once for the module."""
    return tmp_path_factory.mktemp("features")


@pytest.fixture(scope="module")
def embeddings(encoder: LayerPoolingEncoder) -> FloatArray:
    return encoder.encode(PROBES)


def test_the_two_analyzers_are_the_ones_scored(vectorizers: list[TfidfVectorizer]) -> None:
    word, char = vectorizers
    assert (word.analyzer, word.ngram_range, char.analyzer, char.ngram_range) == (
        "word",
        (1, 2),
        "char_wb",
        (2, 5),
    )


@pytest.mark.parametrize("which", [0, 1], ids=["word", "char_wb"])
def test_the_terms_are_scikit_learns(vectorizers: list[TfidfVectorizer], which: int) -> None:
    vectorizer = vectorizers[which]
    terms = TfidfTerms.from_vectorizer(vectorizer)
    analyze = vectorizer.build_analyzer()
    assert len(PROBES) > 600
    for text in PROBES:
        # The same terms in the same order (the per-message path counts in that order).
        assert terms.analyze(text) == analyze(text), text
    assert terms.vocabulary == vectorizer.vocabulary_
    assert all(type(column) is int for column in terms.vocabulary.values())
    np.testing.assert_array_equal(terms.idf, vectorizer.idf_)


_WORD, _CHAR = (vectorizer.build_analyzer() for vectorizer in _vectorizers(ModelOptions()))


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=60))
def test_the_terms_of_any_text_are_scikit_learns(text: str) -> None:
    assert word_ngrams(text, (1, 2)) == _WORD(text)
    assert char_wb_ngrams(text, (2, 5)) == _CHAR(text)


def test_settings_the_terms_cannot_reproduce_are_refused(
    vectorizers: list[TfidfVectorizer],
) -> None:
    word = vectorizers[0]
    for changed in (
        {"strip_accents": "unicode"},
        {"sublinear_tf": False},
        {"lowercase": False},
        {"analyzer": "char", "token_pattern": None},
    ):
        other = TfidfVectorizer(**{**word.get_params(), **changed}).fit(TEXTS[:50])
        with pytest.raises(ValueError, match="reproduces no vectorizer"):
            TfidfTerms.from_vectorizer(other)


@pytest.mark.parametrize("which", [0, 1], ids=["word", "char_wb"])
def test_the_scores_are_scikit_learns_bit_for_bit(
    vectorizers: list[TfidfVectorizer], which: int
) -> None:
    vectorizer = vectorizers[which]
    terms = TfidfTerms.from_vectorizer(vectorizer)
    rng = np.random.default_rng(which)
    weights = rng.standard_normal((len(terms.vocabulary), 24)).astype(np.float32)
    block = _TfidfBlock(terms, weights)
    # Batches: what scikit-learn's transform times the weights gave.
    np.testing.assert_array_equal(
        block.batch_scores(PROBES), vectorizer.transform(PROBES) @ weights
    )
    # One message: what the per-message path computed with scikit-learn's analyzer.
    analyze = vectorizer.build_analyzer()
    idf = np.asarray(vectorizer.idf_, dtype=np.float32)
    for text in PROBES:
        np.testing.assert_array_equal(
            block.scores(text),
            _one_text_with_sklearn(analyze, vectorizer.vocabulary_, idf, weights, text),
        )


def _one_text_with_sklearn(
    analyze: object, vocabulary: dict[str, int], idf: FloatArray, weights: FloatArray, text: str
) -> FloatArray:
    """The per-message scores as they were computed with scikit-learn's ``build_analyzer()``."""
    assert callable(analyze)
    counts: dict[int, int] = {}
    for term in analyze(text):
        index = vocabulary.get(term)
        if index is not None:
            counts[index] = counts.get(index, 0) + 1
    if not counts:
        return np.zeros(weights.shape[1], dtype=np.float32)
    indices = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
    tf = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
    values = (np.log(tf) + np.float32(1.0)) * idf[indices]
    values = values / np.float32(np.sqrt(np.dot(values, values)))
    out: FloatArray = values @ weights[indices]
    return out


def test_the_models_logits_are_those_of_scikit_learns_transform(
    encoder: LayerPoolingEncoder, embeddings: FloatArray
) -> None:
    options = ModelOptions(sentence_dimension=encoder.sentence_dimension)
    train = embeddings[: len(TEXTS)]
    fitted = fit_linear(TEXTS, LABELS, train, options)
    model = LinearIntentModel.from_fitted(fitted, LABELS, train, options)
    # The model as it was scored before: scikit-learn's vectorizers (refitted on the same
    # texts, so the same vocabularies and idf) and the same coefficient blocks.
    reference = list(_vectorizers(options))
    blocks = []
    start = 0
    for vectorizer, terms in zip(reference, fitted.terms, strict=True):
        vectorizer.fit(TEXTS)
        assert vectorizer.vocabulary_ == terms.vocabulary
        end = start + len(vectorizer.vocabulary_)
        blocks.append(np.ascontiguousarray(fitted.coef[:, start:end].T))
        start = end
    w_emb = np.ascontiguousarray(fitted.coef[:, start:].T) * np.float32(options.embedding_weight)
    want = embeddings @ w_emb + fitted.intercept
    for vectorizer, block in zip(reference, blocks, strict=True):
        want = want + vectorizer.transform(PROBES) @ block
    np.testing.assert_array_equal(model.logits(PROBES, embeddings), want)
    for i, text in enumerate(PROBES):
        one = embeddings[i] @ w_emb + fitted.intercept
        for vectorizer, block in zip(reference, blocks, strict=True):
            one += _one_text_with_sklearn(
                vectorizer.build_analyzer(),
                vectorizer.vocabulary_,
                np.asarray(vectorizer.idf_, dtype=np.float32),
                block,
                text,
            )
        np.testing.assert_array_equal(model.logits([text], embeddings[i : i + 1])[0], one)


def test_a_classifier_fitted_in_a_child_is_the_one_fitted_here(
    encoder: LayerPoolingEncoder, cache_dir: Path, embeddings: FloatArray
) -> None:
    child = IntentClassifier.from_packs(PACKS, encoder=encoder, cache_dir=cache_dir)
    here = IntentClassifier.from_packs(
        PACKS, encoder=encoder, cache_dir=cache_dir, fit_in_child=False
    )
    assert child.calibration == here.calibration
    assert child.model.labels == here.model.labels
    np.testing.assert_array_equal(
        child.model.logits(PROBES, embeddings), here.model.logits(PROBES, embeddings)
    )
    np.testing.assert_array_equal(child.model.support(embeddings), here.model.support(embeddings))
    assert child.classify_batch(PROBES) == here.classify_batch(PROBES)
    multi = [
        "Is flight UA 123 on time and what is my loyalty balance?",
        "I want to check my claim status and also find a provider near me",
    ]
    for text in multi + ODD:
        assert child.classify(text) == here.classify(text), text


class _HashFeatures:
    """Deterministic stand-in features (a hash of the text), so no model is loaded."""

    dimension = 8
    sentence_dimension = 8
    fingerprint = "hash-features"

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> FloatArray:
        return np.stack([self.encode_one(text) for text in texts])

    def encode_one(self, text: str) -> FloatArray:
        digest = hashlib.sha256(text.encode()).digest()[: self.dimension]
        row = np.frombuffer(digest, dtype=np.uint8).astype(np.float32) + np.float32(1.0)
        out: FloatArray = row / np.float32(np.linalg.norm(row))
        return out


def _one_intent_pack(folder: Path) -> Path:
    folder.mkdir()
    examples = ["where is my bag", "my bag is lost", "lost luggage", "bag missing", "no suitcase"]
    (folder / "only.yaml").write_text(
        json.dumps(
            {
                "industry": "only",
                "intents": [{"name": "lost_bag", "description": "a bag", "examples": examples}],
            }
        )
    )
    return folder


def test_a_training_child_that_fails_says_why(tmp_path: Path) -> None:
    # One intent and no out-of-scope examples: one class, which logistic regression refuses.
    packs = _one_intent_pack(tmp_path / "packs")
    with pytest.raises(ChildProcessFailed) as raised:
        IntentClassifier.from_packs(packs, encoder=_HashFeatures())
    message = str(raised.value)
    assert message.startswith(
        "training the intent classifier failed in a child process: ValueError: This solver "
        "needs samples of at least 2 classes"
    )
    assert "fit_linear" in message  # the child's traceback


def test_the_router_fails_at_start_with_the_childs_reason(tmp_path: Path) -> None:
    settings = load_settings(data_dir=str(tmp_path / "data"))
    settings.router.intents_dir = _one_intent_pack(tmp_path / "packs")
    service = RouterService(settings)
    with pytest.raises(ChildProcessFailed, match="at least 2 classes"):
        asyncio.run(service.start())


_ROUTER_START = """
import asyncio, json, sys
from pathlib import Path
{prelude}
from services.config import load_settings
from services.router.service import RouterService

settings = load_settings(data_dir=sys.argv[1])
if len(sys.argv) > 2:
    settings.router.intents_dir = Path(sys.argv[2])
service = RouterService(settings)
asyncio.run(service.start())
assert service.servicer.runner is not None
asyncio.run(service.stop())
print(json.dumps(sorted({{m.split(".")[0] for m in sys.modules}} & {{"sklearn", "scipy"}})))
"""


def _libraries_after_router_start(data_dir: Path, prelude: str = "", *args: str) -> list[str]:
    """Start the router's service in a fresh interpreter (so no other test's imports count)
    and list which of scikit-learn and scipy it has imported by then."""
    script = textwrap.dedent(_ROUTER_START).format(prelude=prelude)
    result = subprocess.run(
        [sys.executable, "-c", script, str(data_dir), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert result.returncode == 0, result.stderr
    found: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
    return found


def test_the_router_starts_without_scikit_learn_or_scipy(tmp_path: Path) -> None:
    assert _libraries_after_router_start(tmp_path / "data") == []


def test_the_check_sees_a_module_level_import(tmp_path: Path) -> None:
    # What a module-level `from sklearn... import` in a module the router imports would do;
    # a small pack keeps the start short.
    packs = tmp_path / "packs"
    packs.mkdir()
    for name in ("airline.yaml", "general.yaml"):
        (packs / name).write_bytes((PACKS / name).read_bytes())
    prelude = "import services.intents.model, sklearn.linear_model"
    assert _libraries_after_router_start(tmp_path / "data", prelude, str(packs)) == [
        "scipy",
        "sklearn",
    ]
