"""Parity of the MiniLM encoder on both backends (numpy, and the onnx graph built at load).

sentence-transformers (and torch) cannot run here, so the stored reference vectors in
minilm_reference.json were computed once by the numpy encoder: they guard against
regressions. The independent anchors are (a) the first five values of all-MiniLM-L6-v2's
embedding of "hello world" as published in qdrant/fastembed's test suite (an ONNX export run
with mean pooling and L2 normalisation, checked there at atol 1e-3), (b) BERT-uncased token ids
anyone can look up in vocab.txt, and (c) similarity orderings a reader can check by eye. The
onnx graph is written by hand from the weights, so it is also held to the numpy encoder on
single texts and on padded batches.
"""

from __future__ import annotations

import json
import logging
import math
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime  # type: ignore[import-untyped]
import pytest
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import load_file

from services.intents.encoder import Backend, MiniLMEncoder, _gelu, default_model_dir
from services.intents.onnx_graph import (
    ATTENTION_MASK,
    INPUT_IDS,
    OUTPUT,
    BertShape,
    build_minilm_graph,
    hidden_state_name,
    quantize_int8,
)

REFERENCE = Path(__file__).with_name("minilm_reference.json")
# fastembed tests/test_text_onnx_embeddings.py, CANONICAL_VECTOR_VALUES for this model.
FASTEMBED_HELLO_WORLD = [-0.034478, 0.03102, 0.00673, 0.02611, -0.039362]
# Mixed lengths, so a batch pads all but the longest.
TEXTS = [
    "hi",
    "Is flight UA 123 on time?",
    "my withdrawal hasn't arrived and I want to set a deposit limit",
    "a much longer message about a lost suitcase " * 3,
    "¿Dónde está mi equipaje? 🙂",
]


@pytest.fixture(scope="module")
def numpy_encoder() -> MiniLMEncoder:
    return MiniLMEncoder(backend="numpy")


@pytest.fixture(scope="module")
def onnx_encoder() -> MiniLMEncoder:
    return MiniLMEncoder(backend="onnx")


@pytest.fixture(params=["onnx", "numpy"])
def encoder(request: pytest.FixtureRequest) -> MiniLMEncoder:
    backend: Backend = request.param
    encoder: MiniLMEncoder = request.getfixturevalue(f"{backend}_encoder")
    assert encoder.backend == backend
    return encoder


def _reference() -> tuple[list[str], np.ndarray]:
    reference = json.loads(REFERENCE.read_text(encoding="utf-8"))
    return reference["sentences"], np.array(reference["vectors"], dtype=np.float32)


def test_matches_stored_reference_vectors(encoder: MiniLMEncoder) -> None:
    sentences, expected = _reference()
    got = encoder.encode(sentences)
    assert got.shape == expected.shape == (len(sentences), 384)
    np.testing.assert_allclose(got, expected, atol=1e-6)
    singles = np.stack([encoder.encode_one(text) for text in sentences])
    np.testing.assert_allclose(singles, expected, atol=1e-6)


def test_matches_published_hello_world_values(encoder: MiniLMEncoder) -> None:
    np.testing.assert_allclose(
        encoder.encode_one("hello world")[:5], FASTEMBED_HELLO_WORLD, atol=1e-5
    )


def test_single_and_batched_paths_agree(encoder: MiniLMEncoder) -> None:
    # The batch pads short texts; padding must not leak into the pooled vector.
    batch = encoder.encode(TEXTS)
    for text, row in zip(TEXTS, batch, strict=True):
        np.testing.assert_allclose(encoder.encode_one(text), row, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)


def test_onnx_graph_matches_numpy(
    numpy_encoder: MiniLMEncoder, onnx_encoder: MiniLMEncoder
) -> None:
    texts = TEXTS + ["what's the capital of France", "x " * 300]  # the last one is truncated
    # batch_size 3 makes batches of different padded lengths.
    want = numpy_encoder.encode(texts, batch_size=3)
    got = onnx_encoder.encode(texts, batch_size=3)
    assert got.dtype == np.float32 and got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert float((got * want).sum(axis=1).min()) >= 0.9999
    for text, row in zip(texts, want, strict=True):
        np.testing.assert_allclose(onnx_encoder.encode_one(text), row, atol=1e-5)


def test_onnx_graph_is_valid_onnx() -> None:
    model_dir = default_model_dir()
    shape = BertShape.from_config(json.loads((model_dir / "config.json").read_text()))
    model = build_minilm_graph(load_file(str(model_dir / "model.safetensors")), shape)
    onnx.checker.check_model(model, full_check=True)  # types and shapes of every node
    assert [i.name for i in model.graph.input] == [INPUT_IDS, ATTENTION_MASK]
    assert [o.name for o in model.graph.output] == [OUTPUT]
    ops = {node.op_type for node in model.graph.node}
    assert {"LayerNormalization", "Softmax", "Gelu", "ReduceL2"} <= ops
    assert sum(node.op_type == "LayerNormalization" for node in model.graph.node) == 13
    produced = {output for node in model.graph.node for output in node.output}
    assert {hidden_state_name(i) for i in range(shape.layers + 1)} <= produced


def test_onnx_threads_do_not_change_the_result(onnx_encoder: MiniLMEncoder) -> None:
    two = MiniLMEncoder(backend="onnx", threads=2)
    np.testing.assert_allclose(two.encode(TEXTS), onnx_encoder.encode(TEXTS), atol=1e-6)


def test_int8_stays_close_to_float(onnx_encoder: MiniLMEncoder) -> None:
    int8 = MiniLMEncoder(int8=True)
    sentences, expected = _reference()
    texts = sentences + TEXTS
    got = int8.encode(texts)
    want = onnx_encoder.encode(texts)
    cosines = (got * want).sum(axis=1)
    assert float(cosines.min()) >= 0.995, cosines
    assert not np.allclose(got, want, atol=1e-5)  # it really is the quantised graph
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    # int8 vectors must not be served from (or into) a float embedding cache.
    assert int8.fingerprint != onnx_encoder.fingerprint


def test_float_backends_share_the_cache_fingerprint(
    numpy_encoder: MiniLMEncoder, onnx_encoder: MiniLMEncoder
) -> None:
    assert numpy_encoder.fingerprint == onnx_encoder.fingerprint


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
    x = np.linspace(-8, 8, 4001, dtype=np.float32)
    exact = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x.astype(np.float64)])
    np.testing.assert_allclose(_gelu(x.copy()), exact, atol=1e-6)


def test_empty_input(encoder: MiniLMEncoder) -> None:
    assert encoder.encode([]).shape == (0, 384)


def test_rejects_bad_options() -> None:
    with pytest.raises(ValueError, match="backend"):
        MiniLMEncoder(backend="torch")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="threads"):
        MiniLMEncoder(threads=0)
    with pytest.raises(ValueError, match="int8"):
        MiniLMEncoder(backend="numpy", int8=True)


def test_falls_back_to_numpy_without_onnxruntime(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # makes `import onnxruntime` fail
    with caplog.at_level(logging.WARNING, logger="services.intents.encoder"):
        encoder = MiniLMEncoder(backend="onnx")
    assert encoder.backend == "numpy"
    assert "onnxruntime unavailable" in caplog.text
    _, expected = _reference()
    np.testing.assert_allclose(encoder.encode_one("hello world"), expected[0], atol=1e-6)


def test_quantize_int8_rewrites_weight_products() -> None:
    rng = np.random.default_rng(7)
    weight = rng.normal(size=(64, 24)).astype(np.float32)
    odd = rng.normal(size=(24, 5)).astype(np.float32)  # 24 rows: not a whole block, stays float
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w"], ["h"], name="h"),
            helper.make_node("MatMul", ["h", "odd"], ["y"], name="y"),
        ],
        "two products",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 5])],
        [numpy_helper.from_array(weight, "w"), numpy_helper.from_array(odd, "odd")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    quantized = quantize_int8(model)
    assert [node.op_type for node in quantized.graph.node] == ["MatMulNBits", "MatMul"]
    assert [node.op_type for node in model.graph.node] == ["MatMul", "MatMul"]  # not modified
    session = onnxruntime.InferenceSession(
        quantized.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    x = rng.normal(size=(6, 64)).astype(np.float32)
    got = session.run(None, {"x": x})[0]
    want = x @ weight @ odd
    # int8 weights and activations: about 1 % of the output's scale, far below a wrong packing.
    assert np.abs(got - want).max() <= 0.03 * np.abs(want).max()
    assert np.corrcoef(got.ravel(), want.ravel())[0, 1] > 0.999
    with pytest.raises(ValueError, match="block size"):
        quantize_int8(model, block_size=24)
