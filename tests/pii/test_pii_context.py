"""The tagger's contextual read-out of MiniLM's middle layer (services/pii/context.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file
from sklearn.linear_model import LogisticRegression

from services.intents.encoder import _NumpyTransformer, default_model_dir
from services.intents.onnx_graph import BertShape
from services.pii.context import (
    LAYER,
    Context,
    ReadOut,
    WordEncoder,
    context_path,
    facts,
    shared_encoder,
)
from services.pii.detector import Detector
from services.pii.evaluation import Sample
from services.pii.tagger import DEFAULT_MODEL, MAX_CONTEXT_CHARS, SequenceTagger, tokenize
from services.pii.training import TrainedTagger, TrainingParameters, train


def _layer_states(text: str, layer: int) -> np.ndarray:
    """The reference: numpy's transformer, run layer by layer, with [CLS] and [SEP]."""
    directory = default_model_dir()
    shape = BertShape.from_config(json.loads((directory / "config.json").read_text()))
    model = _NumpyTransformer(load_file(str(directory / "model.safetensors")), shape)
    encoder = shared_encoder()
    ids = encoder._tokenizer.encode(text, add_special_tokens=False).ids
    token_ids = np.array([[encoder._cls, *ids, encoder._sep]])
    from services.intents.encoder import _layer_norm

    x = model._word[token_ids] + model._position[: token_ids.shape[1]] + model._token_type
    x = _layer_norm(x, *model._emb_ln, model._eps)
    bias = np.zeros((1, 1, 1, token_ids.shape[1]), dtype=np.float32)
    for index in range(layer):
        x = model._layer(x, model._layers[index], bias)
    return np.asarray(x[0, 1:-1])


def test_word_vectors_match_the_numpy_transformer() -> None:
    text = "Luiza is from Xignite"
    tokens = tokenize(text)
    vectors = shared_encoder().vectors(text, [(t.start, t.end) for t in tokens])
    states = _layer_states(text, LAYER)
    # Pieces: lu ##iza is from xi ##gn ##ite -> words average their pieces.
    assert vectors.shape == (4, 384)
    np.testing.assert_allclose(vectors[0], states[0:2].mean(axis=0), atol=2e-4)
    np.testing.assert_allclose(vectors[1], states[2], atol=2e-4)
    np.testing.assert_allclose(vectors[3], states[4:7].mean(axis=0), atol=2e-4)


def test_a_span_without_pieces_gets_zeros_and_long_texts_run_in_windows() -> None:
    encoder = shared_encoder()
    assert encoder.vectors("hello", [(0, 5), (5, 5)])[1].tolist() == [0.0] * 384
    text = " ".join(["Anna"] * 1200)  # 1,200 pieces: three windows of at most 510
    tokens = tokenize(text)
    vectors = encoder.vectors(text, [(t.start, t.end) for t in tokens])
    assert vectors.shape == (1200, 384)
    assert np.all(np.abs(vectors).sum(axis=1) > 0)
    assert np.all(np.isfinite(vectors))


def test_the_int8_encoder_stays_close_to_the_float_one_without_being_it() -> None:
    text = "Hi, Luiza here. My friend Tomasz Wierzbicki lives at 12 Rue de la Paix, Paris."
    spans = [(t.start, t.end) for t in tokenize(text)]
    exact = shared_encoder().vectors(text, spans)
    quantized = shared_encoder(LAYER, int8=True).vectors(text, spans)
    assert shared_encoder(LAYER, int8=True).int8 and not shared_encoder().int8
    cosine = (exact * quantized).sum(axis=1) / (
        np.linalg.norm(exact, axis=1) * np.linalg.norm(quantized, axis=1)
    )
    assert cosine.min() > 0.99
    assert not np.allclose(exact, quantized, atol=1e-4)  # the weights really are int8


def test_the_encoder_refuses_a_layer_it_does_not_have() -> None:
    with pytest.raises(ValueError, match="layer"):
        WordEncoder(layer=9)


def _read_out() -> tuple[ReadOut, np.ndarray, list[str]]:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(60, 384)).astype(np.float32)
    labels = ["O"] * 30 + ["PERSON"] * 20 + ["LOCATION"] * 10
    vectors[30:50, 0] += 3.0
    vectors[50:, 1] += 3.0
    return ReadOut.fit(vectors, labels, c=1.0, layer=LAYER), vectors, labels


def test_the_read_out_gives_scikit_learns_probabilities_and_survives_a_round_trip() -> None:
    read_out, vectors, labels = _read_out()
    reference = LogisticRegression(C=1.0, max_iter=300).fit(vectors, labels)
    np.testing.assert_allclose(
        read_out.probabilities(vectors), reference.predict_proba(vectors), atol=1e-5
    )
    again = ReadOut.from_bytes(read_out.to_bytes())
    assert again.classes == read_out.classes == ("LOCATION", "O", "PERSON")
    np.testing.assert_array_equal(again.weights, read_out.weights)
    assert again.layer == LAYER
    assert not again.int8


def test_a_read_out_fitted_on_int8_vectors_is_read_with_the_int8_encoder() -> None:
    fitted, vectors, labels = _read_out()
    read_out = ReadOut.fit(vectors, labels, c=1.0, layer=LAYER, int8=True)
    again = ReadOut.from_bytes(read_out.to_bytes())
    assert again.int8
    assert Context(again).encoder is shared_encoder(LAYER, int8=True)
    assert Context(fitted).encoder is shared_encoder(LAYER)


def test_facts_name_the_likeliest_type_and_how_sure_the_read_out_is() -> None:
    classes = ("LOCATION", "O", "PERSON")
    rows = np.array([[0.05, 0.05, 0.9], [0.3, 0.3, 0.4], [0.0, 0.95, 0.05], [0.2, 0.6, 0.2]])
    assert facts(rows, classes) == [
        ["ctx=PERSON:hi", "ctxany=hi", "ctxO=lo"],
        ["ctx=PERSON:lo", "ctxany=lo", "ctxO=lo"],
        ["ctxO=hi"],
        ["ctxO=mid"],
    ]
    with pytest.raises(ValueError, match="'O'"):
        ReadOut(LAYER, ("PERSON",), np.zeros((1, 384), np.float32), np.zeros(1, np.float32))


def _samples() -> list[Sample]:
    names = [("Zorvath", "Quennel"), ("Marvik", "Tollan"), ("Ondrel", "Vask"), ("Brisa", "Lund")]
    out = []
    for i, (first, last) in enumerate(names):
        text = f"Please ask {first} {last} about it"
        start = text.index(first)
        out.append(Sample(i, text, i, (("PERSON", start, start + len(first + last) + 1),)))
    out.append(Sample(9, "Please ask the desk about it", 9, ()))
    return out


def test_a_tagger_trained_with_the_read_out_needs_it_and_loads_it_from_beside_its_model(
    tmp_path: Path,
) -> None:
    rules = Detector(tagger_model=None)
    model = train(_samples(), rules, TrainingParameters(c1=0.0, c2=0.01, max_iterations=40))
    assert isinstance(model, TrainedTagger) and model.read_out is not None
    path = tmp_path / "tagger.crfsuite"
    model.save(path)
    assert context_path(path) == tmp_path / "tagger.context.npz" and context_path(path).is_file()
    tagger = SequenceTagger.load(path)
    assert tagger.needs_context and tagger.context is not None
    text = "Please ask Quorrin Delv about it"
    assert [(e.type, e.value) for e in tagger.tag(text, [])] == [("PERSON", "Quorrin Delv")]
    with pytest.raises(ValueError, match="contextual features"):
        SequenceTagger(model.crf)
    # Saving a model without a read-out over it removes the stale one.
    TrainedTagger(model.crf, None).save(path)
    assert not context_path(path).exists()


def test_the_shipped_tagger_reads_the_context_and_finds_an_uncued_name() -> None:
    tagger = SequenceTagger.load(DEFAULT_MODEL)
    assert tagger.needs_context
    assert isinstance(tagger.context, Context) and tagger.context.read_out.layer == LAYER
    detector = Detector()
    found = detector.detect("Luiza is from Xignite and she called yesterday")
    assert ("PERSON", "Luiza") in [(e.type, e.value) for e in found]


def _counting(tagger: SequenceTagger, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    assert tagger.context is not None
    original = tagger.context.facts_for

    def counted(text: str, spans: list[tuple[int, int]]) -> list[list[str]]:
        calls.append(text)
        return original(text, spans)

    monkeypatch.setattr(tagger.context, "facts_for", counted)
    return calls


@pytest.mark.parametrize("optional", [True, False])
def test_the_read_out_is_skipped_only_where_the_model_was_trained_without_it(
    optional: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = Detector(tagger_model=None)
    parameters = TrainingParameters(c1=0.0, c2=0.01, max_iterations=40, context_optional=optional)
    model = train(_samples(), rules, parameters)
    assert model.read_out is not None and model.read_out.optional is optional
    tagger = SequenceTagger(model.crf, Context(model.read_out))
    calls = _counting(tagger, monkeypatch)
    text = "Please ask Quorrin Delv about it"
    with_context = tagger.tag(text, [])
    without = tagger.tag(text, [], context=False)
    long_text = "Please ask Quorrin Delv about it. " * (MAX_CONTEXT_CHARS // 30)
    tagger.tag(long_text, [])
    if optional:
        assert calls == [text]  # once: not for context=False, not for the long text
        assert [e.value for e in without] == ["Quorrin Delv"]  # it still tags without it
    else:
        assert calls == [text, text, long_text]  # a model that needs it always reads it
    assert [e.value for e in with_context] == ["Quorrin Delv"]


def test_tool_result_values_are_tagged_without_the_read_out_and_free_text_with_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from services.pii.masking import CleanValues, Masker
    from services.pii.vault import InMemoryVaultStore, Vault, load_key, new_key

    detector = Detector()
    assert detector._tagger is not None and detector._tagger.context is not None
    calls = _counting(detector._tagger, monkeypatch)
    masker = Masker(
        detector, Vault(InMemoryVaultStore(), load_key(new_key()), ttl_s=60), (), CleanValues(0)
    )
    masker.redact_data("s", {"note": "Luiza is from Xignite", "status": "delayed"})
    assert calls == []  # two values, no encoder run
    masked = masker.redact("s", "Luiza is from Xignite")
    assert calls == ["Luiza is from Xignite"]
    assert "<PERSON_1>" in masked.text


def test_importing_the_cli_leaves_the_encoders_libraries_unloaded() -> None:
    # Every service process imports the CLI; only the pii service runs the encoder.
    import subprocess
    import sys

    heavy = ("onnx", "onnxruntime", "tokenizers", "sklearn", "services.intents")
    script = f"import sys, services.cli; print([m for m in {heavy!r} if m in sys.modules])"
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "[]"
