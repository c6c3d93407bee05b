"""What the router's encoder keeps in memory: the weights once, in onnxruntime, none in Python.

The encoder's onnxruntime session holds its own copy of the packed weight matrices; the word
table (half the weights) stays in the safetensors file, which the session maps. Nothing on the
Python side may keep another copy alive (the arrays read from the file, the ONNX model, its
serialized bytes), and none of this may change a single output bit. benchmarks/router_memory.py
measures what it is worth; these tests check the behaviour it relies on, not megabytes.
"""

from __future__ import annotations

import gc
import json
import types
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import load_file

import services.intents.features as features
from services.intents.encoder import default_model_dir
from services.intents.features import DEFAULT_LAYERS, LayerPoolingEncoder, layer_pooling_graph
from services.intents.onnx_graph import (
    ATTENTION_MASK,
    INPUT_IDS,
    WORD_EMBEDDINGS,
    BertShape,
    inference_session,
    safetensors_initializer,
)

WEIGHTS = default_model_dir() / "model.safetensors"
TEXTS = [
    "hi",
    "Is flight UA 123 on time?",
    "my withdrawal hasn't arrived and I want to set a deposit limit",
    "¿Dónde está mi equipaje? 🙂",
]
# Two texts of 256 word pieces in one batch: past the pooler's threshold for releasing its arena.
LONG = ["flight baggage refund " * 120, "loyalty points claim status " * 100]


def _buffers_reachable_from(root: object) -> list[int]:
    """Sizes of the bytes, bytearrays and numpy arrays ``root`` keeps alive through its
    attributes and containers (classes, functions and modules are not followed)."""
    skipped = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType)
    seen: set[int] = set()
    stack: list[object] = [root]
    sizes: list[int] = []
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, skipped):
            continue
        seen.add(id(obj))
        if isinstance(obj, bytes | bytearray):
            sizes.append(len(obj))
        elif isinstance(obj, np.ndarray):
            sizes.append(obj.nbytes)
        stack.extend(gc.get_referents(obj))
    return sizes


@pytest.fixture(scope="module")
def encoder() -> LayerPoolingEncoder:
    built = LayerPoolingEncoder()
    assert built.backend == "onnx"
    return built


@pytest.fixture(scope="module")
def shape() -> BertShape:
    return BertShape.from_config(json.loads((WEIGHTS.parent / "config.json").read_text()))


def test_a_session_keeps_no_serialized_copy_of_its_model() -> None:
    table = np.arange(4096 * 64, dtype=np.float32).reshape(4096, 64)  # 1 MiB
    graph = helper.make_graph(
        [helper.make_node("Gather", ["table", "ids"], ["rows"])],
        "gather",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, ["n"])],
        [helper.make_tensor_value_info("rows", TensorProto.FLOAT, ["n", 64])],
        initializer=[numpy_helper.from_array(table, "table")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    for given in (model, model.SerializeToString()):
        session = inference_session(given)
        assert max(_buffers_reachable_from(session), default=0) < table.nbytes
        rows = session.run(None, {"ids": np.array([3, 4095], dtype=np.int64)})[0]
        np.testing.assert_array_equal(rows, table[[3, 4095]])


def test_the_encoder_keeps_no_weights_in_python(encoder: LayerPoolingEncoder) -> None:
    # 87 MiB of weights; what Python keeps is small change (a run's options, ...).
    assert max(_buffers_reachable_from(encoder), default=0) < 1 << 20


def _external(proto: TensorProto) -> dict[str, str]:
    return {entry.key: entry.value for entry in proto.external_data}


def test_safetensors_initializer_points_at_the_tensor() -> None:
    proto = safetensors_initializer(WEIGHTS, WORD_EMBEDDINGS, "word_embeddings")
    assert proto.data_location == TensorProto.EXTERNAL and not proto.raw_data
    where = _external(proto)
    assert where["location"] == WEIGHTS.name
    count = int(where["length"]) // 4
    table = np.fromfile(WEIGHTS, dtype="<f4", count=count, offset=int(where["offset"]))
    want = load_file(str(WEIGHTS))[WORD_EMBEDDINGS]
    assert list(proto.dims) == list(want.shape)
    np.testing.assert_array_equal(table.reshape(want.shape), want)
    with pytest.raises(ValueError, match="no tensor"):
        safetensors_initializer(WEIGHTS, "embeddings.no_such.weight", "x")


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads /proc/self/maps (Linux)")
def test_the_word_table_is_mapped_from_the_weights_file(encoder: LayerPoolingEncoder) -> None:
    encoder.encode_one("hello world")
    proto = safetensors_initializer(WEIGHTS, WORD_EMBEDDINGS, "word_embeddings")
    where = _external(proto)
    begin = int(where["offset"])
    end = begin + int(where["length"])
    mapped = []
    for line in Path("/proc/self/maps").read_text().splitlines():
        fields = line.split(maxsplit=5)
        if len(fields) == 6 and Path(fields[5]) == WEIGHTS.resolve():
            low, high = (int(part, 16) for part in fields[0].split("-"))
            offset = int(fields[2], 16)
            mapped.append((offset, offset + high - low))
    # The table's byte range, mapped on its own (a mapping of the whole file would start at 0).
    assert any(0 < low <= begin and end <= high for low, high in mapped), mapped


def test_the_mapped_table_changes_no_output(encoder: LayerPoolingEncoder, shape: BertShape) -> None:
    copied = inference_session(layer_pooling_graph(load_file(str(WEIGHTS)), shape, DEFAULT_LAYERS))
    for text in TEXTS + LONG:
        token_ids = np.array([encoder._tokenizer.encode(text).ids], dtype=np.int64)
        mask = np.ones(token_ids.shape, dtype=np.float32)
        want = copied.run(None, {INPUT_IDS: token_ids, ATTENTION_MASK: mask})[0]
        np.testing.assert_array_equal(encoder._pooler.pooled(token_ids, mask), want)


def test_a_large_run_hands_memory_back_and_changes_no_output(
    encoder: LayerPoolingEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = encoder.encode(TEXTS)
    large = encoder.encode(LONG)
    released: list[bool] = []
    monkeypatch.setattr(features, "release_freed_memory", lambda: released.append(True) or True)
    np.testing.assert_array_equal(encoder.encode(TEXTS), small)
    assert not released  # short texts keep reusing onnxruntime's arena
    np.testing.assert_array_equal(encoder.encode(LONG), large)
    assert released == [True]
    # Shrinking or not, the same bits: the arena only decides where activations live.
    monkeypatch.setattr(features, "_RELEASE_AFTER_PIECES", 1 << 40)
    np.testing.assert_array_equal(encoder.encode(LONG), large)
    assert released == [True]
