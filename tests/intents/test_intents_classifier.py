"""The classifier trained on the shipped packs: held-out phrasings, out of scope, multi-intent."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from harness import SHIPPED_INTENTS

from services.intents import Classification, IntentClassifier
from services.intents.calibration import choose_threshold, fit_temperature, softmax
from services.intents.classifier import split_clauses
from services.intents.features import LayerPoolingEncoder
from services.intents.packs import OUT_OF_SCOPE, IntentPack, load_packs

PACKS = Path(__file__).resolve().parents[2] / "packs" / "intents"
HELD_OUT_PER_INTENT = 3


@pytest.fixture(scope="module")
def encoder() -> LayerPoolingEncoder:
    return LayerPoolingEncoder()


@pytest.fixture(scope="module")
def split_packs() -> tuple[list[IntentPack], list[tuple[str, str]]]:
    """The shipped packs minus the last few examples of each intent, and those examples."""
    kept: list[IntentPack] = []
    held: list[tuple[str, str]] = []
    for pack in load_packs(PACKS):
        intents = []
        for intent in pack.intents:
            held.extend((text, intent.name) for text in intent.examples[-HELD_OUT_PER_INTENT:])
            intents.append(
                intent.model_copy(update={"examples": intent.examples[:-HELD_OUT_PER_INTENT]})
            )
        kept.append(pack.model_copy(update={"intents": intents}))
    return kept, held


@pytest.fixture(scope="module")
def classifier(
    encoder: LayerPoolingEncoder, split_packs: tuple[list[IntentPack], list[tuple[str, str]]]
) -> IntentClassifier:
    return IntentClassifier.from_intent_packs(split_packs[0], encoder=encoder)


def test_held_out_phrasings(
    classifier: IntentClassifier, split_packs: tuple[list[IntentPack], list[tuple[str, str]]]
) -> None:
    held = split_packs[1]
    results = [(text, label, classifier.classify(text)) for text, label in held]
    wrong = [(text, label, r.intent) for text, label, r in results if r.intent != label]
    # 22 intents x 3 unseen phrasings: a handful of near-misses (cancel vs rebook) is tolerable.
    assert len(wrong) <= len(held) * 0.12, wrong
    assert {label for _, label in held} == set(classifier.intent_names)


@pytest.mark.parametrize(
    "text",
    [
        "what's the capital of France",
        "write me a poem",
        "how do I change a flat tyre on my bike",
        "who painted the mona lisa",
        "give me a recipe for lasagne",
    ],
)
def test_out_of_scope(classifier: IntentClassifier, text: str) -> None:
    result = classifier.classify(text)
    assert result.out_of_scope, (text, result)
    assert result.intent == OUT_OF_SCOPE
    assert result.intents == []
    assert 0.5 <= result.confidence <= 1.0


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("Is flight UA 123 on time?", "flight_status"),
        ("hello", "greeting"),
        ("I want to speak to a real person", "human_agent"),
        ("my withdrawl is still pending after five days", "withdrawal_status"),
        ("could you pay 250 dollars out of my wallet to my card", "withdrawal_request"),
        ("how much money is left in my sportsbook wallet", "wallet_balance"),
        ("has claim CL-9001 been paid", "claim_status"),
    ],
)
def test_in_scope_result_shape(classifier: IntentClassifier, text: str, intent: str) -> None:
    result = classifier.classify(text, top_k=4)
    assert isinstance(result, Classification)
    assert (result.intent, result.out_of_scope, result.intents) == (intent, False, [intent])
    assert 0.0 <= result.confidence <= 1.0
    assert len(result.candidates) == 4
    scores = [score for _, score in result.candidates]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= score <= 1.0 for score in scores)
    assert result.candidates[0] == (intent, result.confidence)
    assert sum(scores) <= 1.0 + 1e-6
    assert OUT_OF_SCOPE not in {name for name, _ in result.candidates}


@pytest.mark.parametrize(
    ("text", "intents"),
    [
        (
            "my withdrawal hasn't arrived and I want to set a deposit limit",
            ["withdrawal_status", "deposit_limit"],
        ),
        (
            "How many miles do I have? Also I need my boarding pass for tomorrow",
            ["loyalty_balance", "boarding_pass"],
        ),
        (
            "what's my wallet balance, and how many miles do I have?",
            ["wallet_balance", "loyalty_balance"],
        ),
        (
            "my flight got cancelled so please rebook me, and I want compensation for the delay",
            ["rebook_flight", "compensation_claim"],
        ),
    ],
)
def test_multi_intent(classifier: IntentClassifier, text: str, intents: list[str]) -> None:
    result = classifier.classify(text)
    assert result.intents == intents
    assert result.intent in intents
    assert not result.out_of_scope


def test_single_request_with_and_stays_single(classifier: IntentClassifier) -> None:
    result = classifier.classify("can you check the status and the delay of flight UA 123")
    assert result.intents == ["flight_status"]


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("is my flight on time? booking SBX7Q2, last name Chen", "flight_status"),
        ("boarding pass please, code LQ3X8N, last name Patel", "boarding_pass"),
        ("can I get a refund? reservation SBX7Q2, surname Chen", "refund_request"),
    ],
)
def test_details_given_with_a_request_are_no_request_of_their_own(
    classifier: IntentClassifier, text: str, intent: str
) -> None:
    result = classifier.classify(text)
    assert result.intents == [intent]
    assert classifier.classify("booking SBX7Q2, last name Chen").out_of_scope


def test_details_in_a_sentence_of_their_own_do_not_dilute_the_request(
    classifier: IntentClassifier,
) -> None:
    # Read whole, the details weigh as much as the request (rebook_flight 0.59); the clause that
    # asks is as sure alone, and the details' clause reads as nothing.
    for text, intent in (
        ("rebook me please. booking K4M9TZ, surname Rossi", "rebook_flight"),
        ("I need a new seat. my code is K4M9TZ and my surname is Rossi", "seat_selection"),
    ):
        result = classifier.classify(text)
        assert (result.intent, result.intents) == (intent, [intent])
        assert result.confidence > 0.9, result
        assert result.candidates[0] == (intent, result.confidence)


def test_upgrading_a_flight_is_the_miles_upgrade_not_a_rebooking(
    classifier: IntentClassifier,
) -> None:
    # The airline's only upgrade is with miles; "my next flight" made it a rebooking (0.76).
    for text in ("can I upgrade my next flight?", "and can I upgrade my next flight with them?"):
        result = classifier.classify(text)
        assert result.intents == ["upgrade_with_miles"], result
        assert result.confidence > 0.8, result
    assert classifier.classify("I need to change my next flight").intent == "rebook_flight"


def test_dental_coverage_of_a_treatment_is_eligibility_not_benefits(
    classifier: IntentClassifier,
) -> None:
    # A treatment named in words asks for an eligibility check, read with confidence (the dental
    # pack clarifies under 0.60, or within 0.12 of the runner-up); the plan itself, its benefits.
    asked = {
        "is member M-3001 covered for a crown?": "eligibility_check",
        "does M-3001's plan cover a root canal?": "eligibility_check",
        "is a filling covered for member M-3001?": "eligibility_check",
        "will the plan pay for a cleaning for M-3001": "eligibility_check",
        "what's the annual maximum for M-3001?": "benefits_summary",
        "what does M-3001's plan cover?": "benefits_summary",
    }
    for text, intent in asked.items():
        result = classifier.classify(text, top_k=2)
        assert result.intent == intent, (text, result)
        (_, top), (_, second) = result.candidates
        assert top >= 0.75 and top - second >= 0.2, (text, result.candidates)


def test_batch_and_single_paths_agree(classifier: IntentClassifier) -> None:
    texts = ["where is my cashout", "what's the weather in paris", "do I need to print my pass"]
    batch = classifier.classify_batch(texts)
    for text, row in zip(texts, batch, strict=True):
        one = classifier.classify(text)
        assert one.intent == row.intent
        assert one.confidence == pytest.approx(row.confidence, abs=1e-5)


def test_from_packs_reads_the_folder(encoder: LayerPoolingEncoder) -> None:
    classifier = IntentClassifier.from_packs(PACKS, encoder=encoder)
    assert len(classifier.intent_names) == sum(map(len, SHIPPED_INTENTS.values()))
    assert classifier.classify("Is flight UA 123 on time?").intent == "flight_status"


def test_from_examples_rejects_bad_input(encoder: LayerPoolingEncoder) -> None:
    with pytest.raises(ValueError, match="labels"):
        IntentClassifier.from_examples(["a", "b"], ["x"], encoder=encoder)
    with pytest.raises(ValueError, match="no training examples"):
        IntentClassifier.from_examples([], [], encoder=encoder)


def test_split_clauses() -> None:
    assert split_clauses("my withdrawal hasn't arrived and I want to set a deposit limit") == [
        "my withdrawal hasn't arrived",
        "I want to set a deposit limit",
    ]
    assert split_clauses("cancel and rebook please") == []
    assert split_clauses("Where is my bag? I landed an hour ago.") == [
        "Where is my bag",
        "I landed an hour ago.",
    ]


def test_temperature_recovers_a_known_scale() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4000, 5)).astype(np.float32) * 3
    # Draw labels from softmax(logits / 2): the fitted temperature should come back near 2.
    probabilities = softmax(logits, 2.0).astype(np.float64)
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    targets = np.array([rng.choice(5, p=row) for row in probabilities], dtype=np.int64)
    assert fit_temperature(logits, targets) == pytest.approx(2.0, rel=0.1)


def test_threshold_respects_the_accuracy_budget() -> None:
    # Four in-scope (all correct) and two out-of-scope messages, scored by in-scope evidence.
    score = [0.9, 0.8, 0.7, 0.2, 0.3, 0.1]
    is_oos = [False, False, False, False, True, True]
    point = choose_threshold(score, [False] * 6, [True] * 4 + [False] * 2, is_oos, budget=0.0)
    assert point.in_scope_accuracy == 1.0 and point.oos_recall == 0.5  # threshold 0.2 keeps all
    point = choose_threshold(score, [False] * 6, [True] * 4 + [False] * 2, is_oos, budget=0.3)
    assert point.oos_recall == 1.0 and point.in_scope_accuracy == 0.75
    assert choose_threshold(score, [False] * 6, [True] * 6, [False] * 6).threshold == -np.inf


def test_embedding_cache_is_reused_and_survives_a_bad_file(
    encoder: LayerPoolingEncoder, tmp_path: Path
) -> None:
    from services.intents.features import encode_cached

    texts = ["is my flight on time", "where is my withdrawal", "hello"]
    first = encode_cached(encoder, texts, tmp_path)
    files = list(tmp_path.glob("features-*.npy"))
    assert len(files) == 1
    np.save(
        files[0], np.zeros((3, encoder.dimension), dtype=np.float32)
    )  # a planted value proves a read
    assert not encode_cached(encoder, texts, tmp_path).any()
    files[0].write_bytes(b"not numpy")
    np.testing.assert_allclose(encode_cached(encoder, texts, tmp_path), first, atol=1e-6)
    assert len(list(tmp_path.glob("features-*.npy"))) == 1
    # Different texts, different key.
    encode_cached(encoder, texts[:2], tmp_path)
    assert len(list(tmp_path.glob("features-*.npy"))) == 2


def test_blank_and_long_messages(classifier: IntentClassifier) -> None:
    for text in ("", "   \n"):
        result = classifier.classify(text)
        assert (result.intent, result.out_of_scope, result.candidates) == (OUT_OF_SCOPE, True, [])
    assert classifier.classify_batch(["", "hello"])[0].out_of_scope
    long = "Is flight UA 123 on time? " * 200  # past the encoder's 256-token window
    result = classifier.classify(long)
    assert result.intents == ["flight_status"]


def test_clause_count_is_bounded() -> None:
    from services.intents.classifier import MAX_CLAUSES

    assert len(split_clauses("where is my bag. " * 50)) == MAX_CLAUSES


def test_layer_features_match_the_sentence_encoder(encoder: LayerPoolingEncoder) -> None:
    from services.intents.encoder import MiniLMEncoder

    texts = ["Is flight UA 123 on time?", "hello", "what's the capital of France"]
    rows = encoder.encode(texts)
    assert rows.shape == (3, len(encoder.layers) * 384) == (3, encoder.dimension)
    # Every layer's block is a unit vector, and the last one is the sentence embedding.
    blocks = rows.reshape(3, len(encoder.layers), 384)
    np.testing.assert_allclose(np.linalg.norm(blocks, axis=2), 1.0, atol=1e-5)
    np.testing.assert_allclose(rows[:, -384:], MiniLMEncoder().encode(texts), atol=1e-5)
    # The middle layers are not copies of the last one.
    assert float(blocks[0, 0] @ blocks[0, -1]) < 0.9
    one = np.stack([encoder.encode_one(text) for text in texts])
    np.testing.assert_allclose(one, rows, atol=1e-5)
    numpy_rows = LayerPoolingEncoder(backend="numpy", layers=encoder.layers).encode(texts)
    np.testing.assert_allclose(numpy_rows, rows, atol=1e-5)


def test_int8_layer_features_stay_close_to_float(encoder: LayerPoolingEncoder) -> None:
    texts = ["Is flight UA 123 on time?", "hello", "I want to set a deposit limit of 50 a week"]
    quantised = LayerPoolingEncoder(layers=encoder.layers, int8=True)
    assert quantised.int8 and not encoder.int8
    rows, got = encoder.encode(texts), quantised.encode(texts)
    blocks = len(encoder.layers)
    cosines = (got * rows).reshape(3, blocks, 384).sum(axis=2)
    assert cosines.min() > 0.99, cosines
    assert np.abs(got - rows).max() > 1e-5  # it does run in 8 bits
    np.testing.assert_allclose(np.stack([quantised.encode_one(t) for t in texts]), got, atol=1e-5)
    # int8 rows must not be served from (or into) a float features cache.
    assert quantised.fingerprint != encoder.fingerprint


def test_layer_features_reject_bad_layers() -> None:
    with pytest.raises(ValueError, match="within 0..6"):
        LayerPoolingEncoder(layers=(1, 7))
    with pytest.raises(ValueError, match="repeat"):
        LayerPoolingEncoder(layers=(3, 3))
    with pytest.raises(ValueError, match="int8"):
        LayerPoolingEncoder(backend="numpy", int8=True)
    assert LayerPoolingEncoder(layers=(6,)).dimension == 384


def test_support_bound_is_a_lower_bound_of_support() -> None:
    from services.intents.model import LinearIntentModel, ModelOptions

    rng = np.random.default_rng(7)
    centres = rng.standard_normal((4, 16)).astype(np.float32)

    def near(centre: np.ndarray, count: int, spread: float) -> np.ndarray:
        rows = centre + spread * rng.standard_normal((count, 16)).astype(np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)

    vectors = np.vstack([near(c, 12, 0.3) for c in centres] + [near(centres[0], 2, 0.3)])
    labels = [f"intent_{i}" for i in range(4) for _ in range(12)] + ["tiny", "tiny"]
    vectors = np.vstack([vectors, near(rng.standard_normal(16), 5, 1.0)])
    labels += [OUT_OF_SCOPE] * 5
    texts = [f"text {i}" for i in range(len(labels))]
    model = LinearIntentModel.fit(
        texts, labels, vectors, ModelOptions(tfidf=False, neighbours=3, max_iter=200)
    )
    queries = np.vstack([near(c, 5, 0.1) for c in centres] + [near(centres[1], 20, 2.0)])
    exact = model.support(queries)
    for query, support in zip(queries, exact, strict=True):
        for label in ("intent_0", "intent_1", "intent_2", "intent_3"):
            assert model.support_bound(query, label) <= support
        # Too few examples to take the mean of three, or none taught: no bound.
        assert model.support_bound(query, "tiny") == -np.inf
        assert model.support_bound(query, OUT_OF_SCOPE) == -np.inf
    # Close to one intent's examples, its own examples are the nearest: the bound is the support.
    for i, centre_queries in enumerate(np.split(queries[:20], 4)):
        for query, support in zip(centre_queries, model.support(centre_queries), strict=True):
            assert model.support_bound(query, f"intent_{i}") == pytest.approx(support, abs=2e-5)


def test_threshold_with_a_recall_floor() -> None:
    from services.intents.calibration import ThresholdRule

    # Five in-scope (four right) and four out-of-scope messages, scored by in-scope evidence.
    score = [0.9, 0.8, 0.7, 0.6, 0.3, 0.65, 0.5, 0.2, 0.1]
    right = [True, True, True, True, False, False, False, False, False]
    is_oos = [False] * 5 + [True] * 4
    # Recall >= 0.5 keeps every right answer; of the thresholds that do, the lowest is taken.
    point = choose_threshold(score, [False] * 9, right, is_oos, min_oos_recall=0.5)
    assert (point.threshold, point.in_scope_accuracy, point.oos_recall) == (0.3, 0.8, 0.5)
    # Recall 1.0 must also reject 0.65, which costs the in-scope answer at 0.6.
    point = choose_threshold(score, [False] * 9, right, is_oos, min_oos_recall=1.0)
    assert (point.in_scope_accuracy, point.oos_recall) == (0.6, 1.0)
    with pytest.raises(ValueError, match="min_oos_recall"):
        ThresholdRule(min_oos_recall=1.5)


def test_refit_keeps_the_calibration(
    classifier: IntentClassifier, split_packs: tuple[list[IntentPack], list[tuple[str, str]]]
) -> None:
    packs, held = split_packs
    texts = [text for pack in packs for intent in pack.intents for text in intent.examples]
    labels = [intent.name for pack in packs for intent in pack.intents for _ in intent.examples]
    oos = [text for pack in packs for text in pack.out_of_scope]
    refitted = classifier.refit(
        texts + [text for text, _ in held] + oos,
        labels + [label for _, label in held] + [OUT_OF_SCOPE] * len(oos),
    )
    assert refitted.calibration == classifier.calibration
    assert refitted.model is not classifier.model
    # Taught the held-out phrasings, it now gets (nearly) all of them.
    wrong = [text for text, label in held if refitted.classify(text).intent != label]
    assert len(wrong) <= 2, wrong
    with pytest.raises(ValueError, match="out-of-scope ones exactly when"):
        classifier.refit(texts, labels)


def test_layer_pooling_graph_is_valid_onnx() -> None:
    import json

    import onnx
    from safetensors.numpy import load_file

    from services.intents.encoder import default_model_dir
    from services.intents.features import layer_pooling_graph
    from services.intents.onnx_graph import BertShape

    model_dir = default_model_dir()
    shape = BertShape.from_config(json.loads((model_dir / "config.json").read_text()))
    model = layer_pooling_graph(load_file(str(model_dir / "model.safetensors")), shape, (1, 6))
    onnx.checker.check_model(model, full_check=True)  # types and shapes of every node
    (output,) = model.graph.output
    assert [d.dim_value for d in output.type.tensor_type.shape.dim][1] == 2 * shape.hidden


def _industry(name: str) -> frozenset[str]:
    """The intents a conversation of one industry may mean: its pack's and the general pack's."""
    packs = {pack.industry: pack for pack in load_packs(PACKS)}
    return frozenset(i.name for key in (name, "general") for i in packs[key].intents)


def test_within_an_industry_reads_a_vague_follow_up_as_its_own(
    classifier: IntentClassifier,
) -> None:
    # Alone, "what are my options?" reads as an airline rebooking; after a dental claim it is
    # the plan's benefits, and a sportsbook's customer asking for their balance means the wallet.
    options = classifier.classify("what are my options?")
    assert options.intent == "rebook_flight"
    dental = classifier.within(options, _industry("dental"))
    assert dental.intent == "benefits_summary"
    assert {name for name, _ in dental.candidates} <= _industry("dental")
    assert sum(p for _, p in dental.candidates) <= 1.0 + 1e-6

    # Miles or a wallet: alone, both read about as well (the ladder would ask which).
    balance = classifier.classify("what's my balance?", top_k=2)
    assert {name for name, _ in balance.candidates} == {"loyalty_balance", "wallet_balance"}
    wallet = classifier.within(balance, _industry("sportsbook"))
    miles = classifier.within(balance, _industry("airline"))
    assert (wallet.intent, miles.intent) == ("wallet_balance", "loyalty_balance")
    assert min(wallet.confidence, miles.confidence) > max(p for _, p in balance.candidates)


def test_within_weighs_other_industries_down_without_ruling_them_out(
    classifier: IntentClassifier,
) -> None:
    # At the router's default odds of 1 to 100, a vague follow-up stays in the conversation's
    # industry, and a request that plainly is another's still reads as that one.
    dental = _industry("dental")
    vague = classifier.within(classifier.classify("what are my options?"), dental, 0.01)
    assert vague.intent == "benefits_summary"
    assert "rebook_flight" in {name for name, _ in vague.candidates}  # weighed, not dropped
    for text, intent in {
        "is my flight on time?": "flight_status",
        "why was my bet voided": "bet_settlement",
    }.items():
        plain = classifier.within(classifier.classify(text), dental, 0.01)
        assert plain.intent == intent and plain.confidence > 0.9, (text, plain)
    # Odds of 1 change nothing.
    result = classifier.classify("what are my options?")
    same = classifier.within(result, dental, 1.0)
    assert (same.intent, same.confidence) == (result.intent, pytest.approx(result.confidence))


def test_within_keeps_what_was_already_inside(classifier: IntentClassifier) -> None:
    result = classifier.classify("is my flight on time")
    kept = classifier.within(result, _industry("airline"))
    assert (kept.intent, kept.intents) == (result.intent, result.intents)
    assert kept.confidence >= result.confidence
    # No intent left to mean: out of scope, with nothing to offer.
    nothing = classifier.within(result, frozenset())
    assert nothing.out_of_scope and nothing.candidates == [] and nothing.intents == []
    # A blank message carries no scores and stays as it is.
    blank = classifier.classify("   ")
    assert classifier.within(blank, _industry("airline")) == blank


def test_within_filters_the_requests_of_a_multi_intent_message(
    classifier: IntentClassifier,
) -> None:
    text = "my flight got cancelled so please rebook me, and I want compensation for the delay"
    both = classifier.classify(text)
    assert both.intents == ["rebook_flight", "compensation_claim"]
    assert classifier.within(both, _industry("airline")).intents == both.intents
    assert not set(classifier.within(both, _industry("dental")).intents) & set(both.intents)


def test_within_weighs_single_intents_by_their_own_odds(classifier: IntentClassifier) -> None:
    # The router's prior when nothing waits for an answer: a yes or a no is 1 to 10.
    answers = {"confirm": 0.1, "decline": 0.1}
    result = classifier.classify("no thanks, just refund me")
    assert result.intent == "decline"
    weighed = classifier.within(result, None, 1.0, answers)
    assert weighed.intent == "refund_request" and weighed.confidence > 0.6, weighed
    # A plain "no" is still a no, and the industry's weighing composes with it.
    assert classifier.within(classifier.classify("no"), None, 1.0, answers).intent == "decline"
    airline = classifier.within(result, _industry("airline"), 0.01, answers)
    assert airline.intent == "refund_request"
    assert classifier.within(result, None, 1.0).confidence == pytest.approx(result.confidence)
