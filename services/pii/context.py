"""What each word is, in context: a linear read-out of MiniLM's middle layer for the tagger.

The tagger's own features see a word, its shape, its neighbours and what the rules said. They
learn the few sentence patterns of the training templates well and new ones poorly: "Luiza is
from Xignite" holds a name and a company that no cue announces. A pretrained encoder has read
enough text to know that "Luiza" stands where names stand. This module runs the intent
classifier's encoder (all-MiniLM-L6-v2, on onnxruntime) up to :data:`LAYER`, averages each
word's WordPieces, and a multinomial logistic regression over those 384 floats gives the
probability of each entity type (``O`` for none). The probabilities, bucketed, become the
tagger's ``ctx…`` features (:func:`facts`).

The read-out is trained with the tagger (:mod:`services.pii.training`) and ships beside its model
(``tagger.crfsuite`` → ``tagger.context.npz``, :func:`context_path`): a tagger trained with
these features cannot run without them, and loading it says so.
"""

from __future__ import annotations

import functools
import io
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import onnx

# onnx, onnxruntime, tokenizers and the intents package (which brings scikit-learn) are imported
# where the encoder is built: every service process imports this module through the CLI, and
# only the pii service runs the encoder (the imports alone are ~100 MB of memory).

FloatArray = npt.NDArray[np.float32]

#: the encoder layer read (of 6): chosen by 5-seed cross-validation by template (4 beat 3+6 and 6)
LAYER = 4
#: BERT's position embeddings: a window holds at most this many pieces with [CLS] and [SEP]
_WINDOW = 510
OUTSIDE = "O"


def context_path(tagger_model: Path) -> Path:
    """Where the read-out of a tagger model lives: ``tagger.crfsuite`` → ``tagger.context.npz``."""
    return tagger_model.with_suffix(".context.npz")


def _prune(model: onnx.ModelProto, output: str) -> onnx.ModelProto:
    """The graph cut down to what ``output`` needs (the later layers are never run)."""
    import onnx

    graph = model.graph
    needed = {output}
    kept = []
    for node in reversed(graph.node):
        if any(name in needed for name in node.output):
            kept.append(node)
            needed.update(node.input)
    del graph.node[:]
    graph.node.extend(reversed(kept))
    initializers = [init for init in graph.initializer if init.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(initializers)
    del graph.output[:]
    graph.output.append(
        onnx.helper.make_tensor_value_info(
            output, onnx.TensorProto.FLOAT, ["batch", "sequence", "hidden"]
        )
    )
    return model


class WordEncoder:
    """Each word's vector: the mean of its WordPieces' hidden states after :data:`LAYER`.

    Thread-safe: onnxruntime's ``run`` and the tokenizer's ``encode`` may be called from
    several threads at once (the pii service detects in a thread pool).
    """

    def __init__(self, layer: int = LAYER, threads: int = 1, *, int8: bool = False) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        from services.intents.encoder import default_model_dir
        from services.intents.onnx_graph import (
            ATTENTION_MASK,
            INPUT_IDS,
            BertShape,
            build_minilm_graph,
            hidden_state_name,
            inference_session,
            quantize_int8,
        )

        self._inputs = (INPUT_IDS, ATTENTION_MASK)

        directory = default_model_dir()
        config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
        shape = BertShape.from_config(config)
        if not 1 <= layer <= shape.layers:
            raise ValueError(f"layer must be within 1..{shape.layers}, got {layer}")
        self.layer = layer
        self.int8 = int8
        self.dimension = shape.hidden
        self._tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        weights = load_file(str(directory / "model.safetensors"))
        model = _prune(build_minilm_graph(weights, shape), hidden_state_name(layer))
        if int8:
            model = quantize_int8(model)
        self._session: Any = inference_session(model, threads)
        self._cls = self._tokenizer.token_to_id("[CLS]")
        self._sep = self._tokenizer.token_to_id("[SEP]")

    def vectors(self, text: str, spans: Sequence[tuple[int, int]]) -> FloatArray:
        """One row per ``(start, end)`` character span: its pieces' mean (zeros if it has none)."""
        out = np.zeros((len(spans), self.dimension), dtype=np.float32)
        if not spans:
            return out
        encoding = self._tokenizer.encode(text, add_special_tokens=False)
        ids, offsets = encoding.ids, encoding.offsets
        if not ids:
            return out
        states = np.empty((len(ids), self.dimension), dtype=np.float32)
        for start in range(0, len(ids), _WINDOW):  # long texts: windows of 510 pieces
            window = [self._cls, *ids[start : start + _WINDOW], self._sep]
            token_ids = np.array([window], dtype=np.int64)
            mask = np.ones(token_ids.shape, dtype=np.float32)
            ids_name, mask_name = self._inputs
            hidden = self._session.run(None, {ids_name: token_ids, mask_name: mask})[0]
            states[start : start + _WINDOW] = hidden[0, 1:-1]
        # Pieces and spans both run in text order: one sweep assigns pieces to spans.
        piece = 0
        for row, (begin, end) in enumerate(spans):
            while piece < len(offsets) and offsets[piece][1] <= begin:
                piece += 1
            first = piece
            last = piece
            while last < len(offsets) and offsets[last][0] < end:
                last += 1
            if last > first:
                out[row] = states[first:last].mean(axis=0)
        return out


def shared_encoder(layer: int = LAYER, int8: bool = False) -> WordEncoder:
    """One encoder per process, layer and precision (the weights and the session are ~100 MB)."""
    return _encoder(layer, int8)


@functools.cache
def _encoder(layer: int, int8: bool) -> WordEncoder:
    return WordEncoder(layer, int8=int8)


@dataclass(frozen=True)
class ReadOut:
    """The trained read-out: entity-type probabilities from a word's vector."""

    layer: int
    classes: tuple[str, ...]
    weights: FloatArray  # (classes, dimension)
    bias: FloatArray  # (classes,)
    #: the tagger was also trained without the contextual features, so it may run without them
    #: (on long texts, and on the many short values of a tool result)
    optional: bool = False
    #: the word vectors come from the encoder with int8 weight products (read-outs saved before
    #: the field existed were trained on float vectors)
    int8: bool = False

    def __post_init__(self) -> None:
        if OUTSIDE not in self.classes:
            raise ValueError(f"the read-out has no {OUTSIDE!r} class")
        if self.weights.shape != (len(self.classes), self.weights.shape[1]) or self.bias.shape != (
            len(self.classes),
        ):
            raise ValueError("the read-out's weights do not match its classes")

    @classmethod
    def fit(
        cls,
        vectors: FloatArray,
        labels: Sequence[str],
        c: float,
        layer: int,
        optional: bool = False,
        int8: bool = False,
    ) -> ReadOut:
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=c, max_iter=300).fit(vectors, list(labels))
        weights = np.asarray(model.coef_, dtype=np.float32)
        bias = np.asarray(model.intercept_, dtype=np.float32)
        if len(model.classes_) == 2:
            # Two classes: one logit z for the second; the softmax of (-z/2, z/2) is its sigmoid.
            weights = np.concatenate([-weights / 2, weights / 2])
            bias = np.concatenate([-bias / 2, bias / 2])
        return cls(
            layer=layer,
            classes=tuple(str(label) for label in model.classes_),
            weights=weights,
            bias=bias,
            optional=optional,
            int8=int8,
        )

    def probabilities(self, vectors: FloatArray) -> FloatArray:
        scores = vectors @ self.weights.T + self.bias
        scores -= scores.max(axis=1, keepdims=True)
        exp = np.exp(scores)
        result: FloatArray = exp / exp.sum(axis=1, keepdims=True)
        return result

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(
            buffer,
            layer=np.array(self.layer, dtype=np.int64),
            classes=np.array(self.classes, dtype=np.str_),
            weights=self.weights,
            bias=self.bias,
            optional=np.array(self.optional),
            int8=np.array(self.int8),
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> ReadOut:
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            return cls(
                layer=int(arrays["layer"]),
                classes=tuple(str(c) for c in arrays["classes"]),
                weights=np.asarray(arrays["weights"], dtype=np.float32),
                bias=np.asarray(arrays["bias"], dtype=np.float32),
                optional=bool(arrays["optional"]) if "optional" in arrays else False,
                int8=bool(arrays["int8"]) if "int8" in arrays else False,
            )


def _bucket(probability: float, high: float, middle: float) -> str:
    return "hi" if probability >= high else "mid" if probability >= middle else "lo"


def facts(probabilities: FloatArray, classes: Sequence[str]) -> list[list[str]]:
    """The tagger's features from each word's probabilities: the likeliest entity type (if not
    ``O``) with a confidence bucket, and how sure the read-out is that the word is nothing."""
    outside = list(classes).index(OUTSIDE)
    out: list[list[str]] = []
    for row in probabilities:
        best = int(row.argmax())
        word: list[str] = []
        if best != outside:
            bucket = _bucket(float(row[best]), 0.8, 0.5)
            word += [f"ctx={classes[best]}:{bucket}", f"ctxany={bucket}"]
        word.append(f"ctxO={_bucket(float(row[outside]), 0.9, 0.5)}")
        out.append(word)
    return out


class Context:
    """A read-out with its encoder: ``facts_for(text, spans)`` for the tagger."""

    def __init__(self, read_out: ReadOut, encoder: WordEncoder | None = None) -> None:
        self.read_out = read_out
        self._encoder = encoder
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: Path) -> Context:
        if not path.is_file():
            raise ValueError(
                f"the PII tagger's context read-out {path} does not exist: rebuild the tagger "
                "with `switchboard pii train`"
            )
        return cls(ReadOut.from_bytes(path.read_bytes()))

    @property
    def encoder(self) -> WordEncoder:
        if self._encoder is None:
            with self._lock:
                if self._encoder is None:
                    self._encoder = shared_encoder(self.read_out.layer, self.read_out.int8)
        return self._encoder

    def facts_for(self, text: str, spans: Sequence[tuple[int, int]]) -> list[list[str]]:
        vectors = self.encoder.vectors(text, spans)
        return facts(self.read_out.probabilities(vectors), self.read_out.classes)
