"""all-MiniLM-L6-v2 as an ONNX graph, built in memory from the safetensors weights.

No exporter and no torch: the graph is written node by node with ``onnx.helper`` from the same
weights the numpy encoder uses, and computes the same thing: BERT embeddings (word + position +
token type, LayerNorm), the transformer layers (fused QKV projection, scaled dot-product
attention with the padding mask, output projection, residual + LayerNorm, feed-forward with
exact erf GELU, residual + LayerNorm), then mean pooling over the attention mask and L2
normalisation. Inputs are ``input_ids`` (int64) and ``attention_mask`` (float32, 1 for real
tokens), both ``(batch, sequence)``; the output ``embedding`` is ``(batch, hidden)`` float32
unit vectors.

Two rewrites that keep the maths (up to float rounding, ~1e-7 here) make the graph lighter
than a literal transcription: the token-type row (every input is one segment) is folded into
the position table, and the attention scale 1/sqrt(head size) into the query weights and bias.
onnxruntime's own optimiser then fuses what it recognises (e.g. bias + GELU).

The word-embedding table (30,522 x 384, 45 MiB, half the weights) may stay in the safetensors
file instead (:func:`safetensors_initializer`): onnxruntime then maps that part of the file
rather than copying it, so only the rows of words actually seen are read in, as page cache
every process using the file shares. Every other weight is rewritten above, or packed by
onnxruntime for its matrix products, so it gets a copy of its own either way.

:func:`quantize_int8` rewrites a built graph so its weight products run in int8.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper, numpy_helper

FloatArray = npt.NDArray[np.float32]

# Opset 20 has LayerNormalization (17) and Gelu with exact erf (20) as standard operators.
OPSET = 20
INPUT_IDS = "input_ids"
ATTENTION_MASK = "attention_mask"
#: the optional third input of a graph with relative attention (MPNet): (heads, sequence,
#: sequence) float32, added to every layer's attention scores
POSITION_BIAS = "position_bias"
OUTPUT = "embedding"
# A padded key's score gets this added, so softmax gives it no weight (as the numpy path does).
_MASK_BIAS = -1e9
#: the word-embedding table's name in the safetensors weights
WORD_EMBEDDINGS = "embeddings.word_embeddings.weight"


@dataclass(frozen=True)
class BertShape:
    """The dimensions of a BERT encoder, from its ``config.json``."""

    layers: int
    hidden: int
    heads: int
    intermediate: int
    layer_norm_eps: float

    @classmethod
    def from_config(cls, config: Mapping[str, object]) -> BertShape:
        def number(key: str) -> float:
            value = config[key]
            if not isinstance(value, int | float):
                raise ValueError(f"config.json: {key} must be a number, got {value!r}")
            return float(value)

        shape = cls(
            layers=int(number("num_hidden_layers")),
            hidden=int(number("hidden_size")),
            heads=int(number("num_attention_heads")),
            intermediate=int(number("intermediate_size")),
            layer_norm_eps=number("layer_norm_eps"),
        )
        if shape.hidden % shape.heads:
            raise ValueError(f"hidden size {shape.hidden} is not a multiple of {shape.heads} heads")
        return shape

    @property
    def head_size(self) -> int:
        return self.hidden // self.heads


def hidden_state_name(layer: int) -> str:
    """The graph tensor holding the hidden states ``(batch, sequence, hidden)`` after ``layer``.

    0 is the embedding layer's output, 1..layers each transformer layer's. These names are
    stable, so a caller can add outputs to the graph (e.g. pooled middle layers).
    """
    return "embeddings" if layer == 0 else f"layer{layer - 1}_output"


class _GraphBuilder:
    """Collects nodes and initializers; every tensor name is unique and readable."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[TensorProto] = []

    def constant(self, name: str, value: npt.NDArray[np.generic]) -> str:
        # np.ascontiguousarray would turn a scalar into shape (1,); copy keeps the rank.
        self.initializers.append(numpy_helper.from_array(np.array(value, order="C"), name))
        return name

    def node(self, op: str, inputs: list[str], output: str, **attributes: Any) -> str:
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attributes))
        return output


def safetensors_initializer(path: Path, tensor: str, name: str) -> TensorProto:
    """An initializer ``name`` whose data stays where ``tensor`` lies in the safetensors file
    ``path`` (an ONNX external-data reference to that byte range; float32 tensors only).

    A session built with ``external_data_dir=path.parent`` (:func:`inference_session`) maps that
    byte range instead of copying it, as long as no graph rewrite needs a copy of its own (a
    Gather's table does not; a MatMul's weights are packed into one)."""
    with path.open("rb") as handle:
        # safetensors: an 8-byte little-endian header size, a JSON header, then the data.
        (header_size,) = struct.unpack("<Q", handle.read(8))
        header = json.loads(handle.read(header_size))
    entry = header.get(tensor)
    if not isinstance(entry, dict):
        raise ValueError(f"{path}: no tensor {tensor!r}")
    begin, end = entry["data_offsets"]
    dims = [int(d) for d in entry["shape"]]
    if entry["dtype"] != "F32" or end - begin != 4 * math.prod(dims):
        raise ValueError(f"{path}: {tensor!r} is not a float32 tensor of shape {dims}")
    proto = TensorProto(
        name=name, data_type=TensorProto.FLOAT, dims=dims, data_location=TensorProto.EXTERNAL
    )
    for key, value in (
        ("location", path.name),
        ("offset", str(8 + header_size + begin)),
        ("length", str(end - begin)),
    ):
        proto.external_data.add(key=key, value=value)
    return proto


def _linear_weight(weights: Mapping[str, FloatArray], name: str) -> FloatArray:
    """A torch Linear weight is stored (out, in); the graph multiplies x (…, in) by (in, out)."""
    return np.ascontiguousarray(weights[name + ".weight"].T.astype(np.float32))


def build_minilm_graph(
    weights: Mapping[str, FloatArray],
    shape: BertShape,
    *,
    word_embeddings: TensorProto | None = None,
    relative_bias: bool = False,
) -> onnx.ModelProto:
    """The sentence encoder as an ONNX model (see the module docstring for its signature).

    ``word_embeddings`` is the word table's initializer when it should not be copied from
    ``weights`` (:func:`safetensors_initializer`); ``weights`` may then leave it out. With
    ``relative_bias`` the graph takes a third input, :data:`POSITION_BIAS`, added to the
    attention scores of every layer (MPNet's relative positions, :mod:`services.intents.mpnet`)."""
    g = _GraphBuilder()
    hidden, heads, size = shape.hidden, shape.heads, shape.head_size
    eps = shape.layer_norm_eps

    # Embeddings: word rows gathered by id, plus position rows 0..L-1 (token type folded in).
    if word_embeddings is None:
        word = g.constant("word_embeddings", weights[WORD_EMBEDDINGS])
    else:
        g.initializers.append(word_embeddings)
        word = word_embeddings.name
    positions = weights["embeddings.position_embeddings.weight"]
    token_type = weights["embeddings.token_type_embeddings.weight"][0]
    table = g.constant("position_embeddings", (positions + token_type).astype(np.float32))
    seq_len = g.node("Shape", [INPUT_IDS], "sequence_length", start=1, end=2)
    zero = g.constant("zero_1d", np.array([0], dtype=np.int64))
    position_rows = g.node("Slice", [table, zero, seq_len, zero], "position_rows")
    gathered = g.node("Gather", [word, INPUT_IDS], "word_rows")
    summed = g.node("Add", [gathered, position_rows], "embeddings_sum")
    x = g.node(
        "LayerNormalization",
        [
            summed,
            g.constant("embeddings_ln_gamma", weights["embeddings.LayerNorm.weight"]),
            g.constant("embeddings_ln_beta", weights["embeddings.LayerNorm.bias"]),
        ],
        hidden_state_name(0),
        axis=-1,
        epsilon=eps,
    )

    # (batch, L) mask -> (batch, 1, 1, L) additive bias on the attention scores.
    one = g.constant("one", np.array(1.0, dtype=np.float32))
    inverted = g.node("Sub", [one, ATTENTION_MASK], "mask_inverted")
    bias_2d = g.node(
        "Mul",
        [inverted, g.constant("mask_bias", np.array(_MASK_BIAS, dtype=np.float32))],
        "mask_bias_2d",
    )
    mask_bias = g.node(
        "Unsqueeze",
        [bias_2d, g.constant("mask_axes", np.array([1, 2], dtype=np.int64))],
        "attention_bias" if not relative_bias else "attention_mask_bias",
    )
    if relative_bias:
        # (heads, L, L) -> (1, heads, L, L), plus the mask: one bias tensor for every layer.
        positional = g.node(
            "Unsqueeze",
            [POSITION_BIAS, g.constant("bias_axes", np.array([0], dtype=np.int64))],
            "position_bias_4d",
        )
        mask_bias = g.node("Add", [mask_bias, positional], "attention_bias")

    split_heads = g.constant("split_heads_shape", np.array([0, 0, 3, heads, size], dtype=np.int64))
    merge_heads = g.constant("merge_heads_shape", np.array([0, 0, hidden], dtype=np.int64))
    scale = np.float32(1.0 / math.sqrt(size))
    for i in range(shape.layers):
        p = f"encoder.layer.{i}."
        n = f"layer{i}_"
        # Query, key and value in one product; the attention scale folded into the query part.
        qkv_w = np.concatenate(
            [
                _linear_weight(weights, p + "attention.self.query") * scale,
                _linear_weight(weights, p + "attention.self.key"),
                _linear_weight(weights, p + "attention.self.value"),
            ],
            axis=1,
        )
        qkv_b = np.concatenate(
            [
                weights[p + "attention.self.query.bias"] * scale,
                weights[p + "attention.self.key.bias"],
                weights[p + "attention.self.value.bias"],
            ]
        )
        qkv = g.node(
            "Add",
            [
                g.node(
                    "MatMul", [x, g.constant(n + "qkv_w", qkv_w.astype(np.float32))], n + "qkv_mm"
                ),
                g.constant(n + "qkv_b", qkv_b.astype(np.float32)),
            ],
            n + "qkv",
        )
        # (batch, L, 3, heads, size) -> (3, batch, heads, L, size), then one tensor each.
        qkv_heads = g.node(
            "Transpose",
            [g.node("Reshape", [qkv, split_heads], n + "qkv_split")],
            n + "qkv_heads",
            perm=[2, 0, 3, 1, 4],
        )
        q, k, v = (
            g.node(
                "Gather",
                [qkv_heads, g.constant(n + f"{part}_index", np.array(index, dtype=np.int64))],
                n + part,
                axis=0,
            )
            for index, part in enumerate(("query", "key", "value"))
        )
        key_t = g.node("Transpose", [k], n + "key_t", perm=[0, 1, 3, 2])
        scores = g.node(
            "Add", [g.node("MatMul", [q, key_t], n + "scores_raw"), mask_bias], n + "scores"
        )
        probs = g.node("Softmax", [scores], n + "probs", axis=-1)
        context = g.node(
            "Reshape",
            [
                g.node(
                    "Transpose",
                    [g.node("MatMul", [probs, v], n + "context_heads")],
                    n + "context_t",
                    perm=[0, 2, 1, 3],
                ),
                merge_heads,
            ],
            n + "context",
        )
        attended = _dense(g, weights, context, p + "attention.output.dense", n + "attn_out")
        x = g.node(
            "LayerNormalization",
            [
                g.node("Add", [attended, x], n + "attn_residual"),
                g.constant(n + "ln1_gamma", weights[p + "attention.output.LayerNorm.weight"]),
                g.constant(n + "ln1_beta", weights[p + "attention.output.LayerNorm.bias"]),
            ],
            n + "attn_norm",
            axis=-1,
            epsilon=eps,
        )
        up = _dense(g, weights, x, p + "intermediate.dense", n + "ffn_up")
        activated = g.node("Gelu", [up], n + "ffn_gelu", approximate="none")
        down = _dense(g, weights, activated, p + "output.dense", n + "ffn_down")
        x = g.node(
            "LayerNormalization",
            [
                g.node("Add", [down, x], n + "ffn_residual"),
                g.constant(n + "ln2_gamma", weights[p + "output.LayerNorm.weight"]),
                g.constant(n + "ln2_beta", weights[p + "output.LayerNorm.bias"]),
            ],
            hidden_state_name(i + 1),
            axis=-1,
            epsilon=eps,
        )

    # Mean over real tokens, then unit length (the clamps match sentence-transformers').
    axis_1 = g.constant("axis_1", np.array([1], dtype=np.int64))
    mask_3d = g.node(
        "Unsqueeze",
        [ATTENTION_MASK, g.constant("axis_last", np.array([-1], dtype=np.int64))],
        "mask_3d",
    )
    token_sum = g.node(
        "ReduceSum", [g.node("Mul", [x, mask_3d], "masked_tokens"), axis_1], "token_sum", keepdims=0
    )
    count = g.node(
        "Max",
        [
            g.node("ReduceSum", [ATTENTION_MASK, axis_1], "token_count", keepdims=1),
            g.constant("min_count", np.array(1e-9, dtype=np.float32)),
        ],
        "token_count_clamped",
    )
    pooled = g.node("Div", [token_sum, count], "pooled")
    norm = g.node(
        "Max",
        [
            g.node(
                "ReduceL2",
                [pooled, g.constant("axis_last_2", np.array([-1], dtype=np.int64))],
                "norm",
                keepdims=1,
            ),
            g.constant("min_norm", np.array(1e-12, dtype=np.float32)),
        ],
        "norm_clamped",
    )
    g.node("Div", [pooled, norm], OUTPUT)

    inputs = [
        helper.make_tensor_value_info(INPUT_IDS, TensorProto.INT64, ["batch", "sequence"]),
        helper.make_tensor_value_info(ATTENTION_MASK, TensorProto.FLOAT, ["batch", "sequence"]),
    ]
    if relative_bias:
        inputs.append(
            helper.make_tensor_value_info(
                POSITION_BIAS, TensorProto.FLOAT, [heads, "sequence", "sequence"]
            )
        )
    graph = helper.make_graph(
        g.nodes,
        "all-MiniLM-L6-v2" if not relative_bias else "sentence-encoder",
        inputs=inputs,
        outputs=[helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["batch", hidden])],
        initializer=g.initializers,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="switchboard"
    )
    # onnxruntime validates the graph when it loads it; the full ONNX checker (shape inference
    # over 90 MB of weights, about a second) runs in the tests instead of at every start.
    return model


def _dense(
    g: _GraphBuilder, weights: Mapping[str, FloatArray], x: str, layer: str, name: str
) -> str:
    """``x @ W.T + b`` for the torch Linear ``layer``."""
    product = g.node(
        "MatMul", [x, g.constant(name + "_w", _linear_weight(weights, layer))], name + "_mm"
    )
    return g.node("Add", [product, g.constant(name + "_b", weights[layer + ".bias"])], name)


# Weights of a quantised product are grouped in blocks of this many input rows, each with its
# own scale: small blocks follow the weights' local range, which keeps the error low.
INT8_BLOCK_SIZE = 32
# MatMulNBits' accuracy level 4: the activations are quantised to int8 per block as well and
# the product runs on integer kernels (level 1, float products, was ten times slower here).
_INT8_ACCURACY_LEVEL = 4


def quantize_int8(model: onnx.ModelProto, block_size: int = INT8_BLOCK_SIZE) -> onnx.ModelProto:
    """A copy of ``model`` whose weight products run in int8 (onnxruntime's MatMulNBits).

    Every MatMul by a constant (in, out) weight becomes ``com.microsoft.MatMulNBits`` with
    8-bit weights, symmetric per block of ``block_size`` input rows of each output column
    (scale = max |w| / 127, stored with the default zero point 128). The weights shrink
    fourfold, so a whole pass stays in cache. The embedding tables stay float.
    """
    if block_size < 16 or block_size & (block_size - 1):
        raise ValueError(f"block size must be a power of two >= 16, got {block_size}")
    quantized = onnx.ModelProto()
    quantized.CopyFrom(model)
    graph = quantized.graph
    initializers = {tensor.name: tensor for tensor in graph.initializer}
    nodes: list[onnx.NodeProto] = []
    for node in graph.node:
        weight = initializers.get(node.input[1]) if node.op_type == "MatMul" else None
        if weight is None or len(weight.dims) != 2 or weight.dims[0] % block_size:
            nodes.append(node)
            continue
        w = numpy_helper.to_array(weight).astype(np.float32)
        rows, columns = w.shape
        blocks = w.T.reshape(columns, rows // block_size, block_size)
        scales = np.abs(blocks).max(axis=-1) / np.float32(127.0)
        scales[scales == 0] = 1.0
        q = np.clip(np.rint(blocks / scales[..., None]), -127, 127).astype(np.int16) + 128
        graph.initializer.remove(weight)
        graph.initializer.extend(
            [
                numpy_helper.from_array(q.astype(np.uint8), weight.name + "_int8"),
                numpy_helper.from_array(
                    scales.astype(np.float32).reshape(-1), weight.name + "_scales"
                ),
            ]
        )
        nodes.append(
            helper.make_node(
                "MatMulNBits",
                [node.input[0], weight.name + "_int8", weight.name + "_scales"],
                list(node.output),
                name=node.name,
                domain="com.microsoft",
                K=rows,
                N=columns,
                bits=8,
                block_size=block_size,
                accuracy_level=_INT8_ACCURACY_LEVEL,
            )
        )
    del graph.node[:]
    graph.node.extend(nodes)
    quantized.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    return quantized


def inference_session(
    model: onnx.ModelProto | bytes, threads: int = 1, *, external_data_dir: Path | None = None
) -> Any:
    """An onnxruntime session of ``model`` on the CPU, set up for serving: all graph
    optimisations, ``threads`` intra-op threads that sleep when idle (a spinning pool would take
    a core other requests need), one inter-op thread, warnings about unused initialisers off.
    ``run`` is thread-safe and releases the GIL while it computes.

    ``model`` may be passed serialized: a caller that drops its weights and its ``ModelProto``
    before the call keeps two fewer copies of the weights alive while onnxruntime loads them.
    The session holds the weights once (onnxruntime's own copy, see below). Initializers that
    reference files (:func:`safetensors_initializer`) are found in ``external_data_dir``."""
    import onnxruntime  # type: ignore[import-untyped]

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    if external_data_dir is not None:
        options.add_session_config_entry(
            "session.model_external_initializers_file_folder_path", str(external_data_dir)
        )
    serialized = model if isinstance(model, bytes) else model.SerializeToString()
    session = onnxruntime.InferenceSession(serialized, options, providers=["CPUExecutionProvider"])
    # onnxruntime's Python wrapper keeps the serialized model (every weight again: ~86 MiB for
    # MiniLM) for the session's whole life, only to rebuild the session if an execution provider
    # fails and it falls back to another one (its source: "TODO: This is bad as we're holding
    # the memory indefinitely"). A CPU-only session has nothing to fall back to: the fallback is
    # turned off and the bytes let go. tests/intents/test_intents_memory.py checks it.
    session.disable_fallback()
    session._model_bytes = None
    return session
