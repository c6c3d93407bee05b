"""Parity of the numpy MiniLM encoder.

sentence-transformers (and torch) cannot run here, so the stored reference vectors in
minilm_reference.json were computed once by this encoder: they guard against regressions.
The independent anchors are (a) the first five values of all-MiniLM-L6-v2's embedding of
"hello world" as published in qdrant/fastembed's test suite (an ONNX export run with mean
pooling and L2 normalisation, checked there at atol 1e-3), (b) BERT-uncased token ids anyone
can look up in vocab.txt, and (c) similarity orderings a reader can check by eye.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from services.intents.encoder import MiniLMEncoder, _gelu

REFERENCE = Path(__file__).with_name("minilm_reference.json")
# fastembed tests/test_text_onnx_embeddings.py, CANONICAL_VECTOR_VALUES for this model.
FASTEMBED_HELLO_WORLD = [-0.034478, 0.03102, 0.00673, 0.02611, -0.039362]


@pytest.fixture(scope="module")
def encoder() -> MiniLMEncoder:
    return MiniLMEncoder()


def test_matches_stored_reference_vectors(encoder: MiniLMEncoder) -> None:
    reference = json.loads(REFERENCE.read_text(encoding="utf-8"))
    expected = np.array(reference["vectors"], dtype=np.float32)
    got = encoder.encode(reference["sentences"])
    assert got.shape == expected.shape == (len(reference["sentences"]), 384)
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_matches_published_hello_world_values(encoder: MiniLMEncoder) -> None:
    np.testing.assert_allclose(
        encoder.encode_one("hello world")[:5], FASTEMBED_HELLO_WORLD, atol=1e-5
    )


def test_single_and_batched_paths_agree(encoder: MiniLMEncoder) -> None:
    # The batch pads short texts; padding must not leak into the pooled vector.
    texts = ["hi", "Is flight UA 123 on time?", "a much longer message about a lost suitcase " * 3]
    batch = encoder.encode(texts)
    for text, row in zip(texts, batch, strict=True):
        np.testing.assert_allclose(encoder.encode_one(text), row, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)


def test_tokenizer_is_bert_uncased(encoder: MiniLMEncoder) -> None:
    ids = encoder._tokenizer.encode("Hello world!").ids
    assert ids == [101, 7592, 2088, 999, 102]  # [CLS] hello world ! [SEP]


def test_similarity_orderings(encoder: MiniLMEncoder) -> None:
    delayed, status, bread = encoder.encode(
        ["is my flight delayed", "has flight UA 123 left on time", "how do I bake bread"]
    )
    assert float(delayed @ status) > 0.4 > float(delayed @ bread)
    assert float(status @ bread) < 0.2


def test_gelu_matches_exact_erf() -> None:
    import math

    x = np.linspace(-8, 8, 4001, dtype=np.float32)
    exact = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x.astype(np.float64)])
    np.testing.assert_allclose(_gelu(x.copy()), exact, atol=1e-6)


def test_empty_input(encoder: MiniLMEncoder) -> None:
    assert encoder.encode([]).shape == (0, 384)
