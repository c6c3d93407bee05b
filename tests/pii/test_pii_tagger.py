"""The sequence tagger: features, training, the shipped model, and how it combines with rules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from services.pii.cli import pii
from services.pii.config import DEFAULT_EVAL_DATA
from services.pii.context import context_path
from services.pii.detector import Detector, _field_label, combine
from services.pii.entities import Entity
from services.pii.evaluation import Sample
from services.pii.tagger import (
    DEFAULT_CLASSES,
    DEFAULT_MODEL,
    SequenceTagger,
    features,
    first_piece,
    piece_ids,
    rule_labels,
    spans_from_labels,
    tokenize,
    word_pieces,
)
from services.pii.training import (
    WORD_CLASSES,
    TrainingParameters,
    build_word_classes,
    cross_validate,
    gold_labels,
    load_background,
    train,
)

RULES = Detector(tagger_model=None)


def _sample(index: int, text: str, *spans: tuple[str, str]) -> Sample:
    """A labelled sample; each span is (dataset label, the exact substring)."""
    located = []
    for label, value in spans:
        start = text.index(value)
        located.append((label, start, start + len(value)))
    return Sample(index, text, index, tuple(located))


TINY = [
    _sample(0, "Please ask Zorvath Quennel about it", ("PERSON", "Zorvath Quennel")),
    _sample(1, "Please ask Marvik Tollan about it", ("PERSON", "Marvik Tollan")),
    _sample(2, "Please ask Ondrel Vask about it", ("PERSON", "Ondrel Vask")),
    _sample(3, "Please ask the desk about it"),
    _sample(4, "We met Dr. Ysolde Parr there", ("TITLE", "Dr."), ("PERSON", "Ysolde Parr")),
]


def test_tokens_follow_the_evaluation() -> None:
    text = "Dr. Ann O'Neil, 12B Rd."
    assert [t.text for t in tokenize(text)] == [
        "Dr",
        ".",
        "Ann",
        "O",
        "'",
        "Neil",
        ",",
        "12B",
        "Rd",
        ".",
    ]
    assert all(text[t.start : t.end] == t.text for t in tokenize(text))


def test_rule_labels_mark_each_entity_in_bio() -> None:
    text = "ask Ann Berg or Bo"
    tokens = tokenize(text)
    entities = [Entity(4, 12, "PERSON", 0.8, "Ann Berg"), Entity(16, 18, "PERSON", 0.8, "Bo")]
    assert rule_labels(tokens, entities) == ["O", "B-PERSON", "I-PERSON", "O", "B-PERSON"]


def test_gold_labels_keep_titles_apart_and_continue_spans() -> None:
    sample = TINY[4]
    labels = gold_labels(sample, tokenize(sample.text))
    assert labels == ["O", "O", "B-TITLE", "I-TITLE", "B-PERSON", "I-PERSON", "O"]


def test_features_describe_shape_lists_neighbours_and_rules() -> None:
    text = "Mr. Zorvath lives on Baker Street"
    tokens = tokenize(text)
    rows = features(text, tokens, ["O"] * len(tokens))
    zorvath = rows[2]
    assert "cap" in zorvath and "sh=Xx" in zorvath and "-1:w=." in zorvath
    assert "in_vocab" not in zorvath  # a made-up surname is no English word
    assert "in_vocab" in rows[3]  # "lives"
    assert "street_word" in rows[-1] and "honorific" in rows[0]
    assert "3:r=O" in rows[0] and "-3:r=edge" in rows[0]  # rule labels three tokens away
    assert sum(fact.startswith("class=") for fact in zorvath) == 1
    assert any(fact.startswith("-1:class=") for fact in rows[3])  # the neighbours' too
    assert not any(fact.startswith("class=") for fact in rows[1])  # punctuation has none


def test_the_rules_places_are_not_read_but_their_names_are() -> None:
    text = "Ann flew to Oslo"
    tokens = tokenize(text)
    rows = features(text, tokens, ["B-PERSON", "O", "O", "B-LOCATION"])
    assert "r=B-PERSON" in rows[0] and "3:r=O" in rows[0]
    assert "r=O" in rows[3] and not any("LOCATION" in fact for row in rows for fact in row)


def test_a_words_class_is_its_first_pieces() -> None:
    ids = piece_ids()
    assert first_piece("hallgrimsen", ids) == ids["hall"]
    assert first_piece("london", ids) == ids["london"]
    assert first_piece("\u0394\u03b4", {"x": 1}) is None


def test_similar_words_share_a_class_and_unlike_ones_do_not() -> None:
    classes = np.load(DEFAULT_CLASSES)
    ids = piece_ids()
    assert classes.shape == (len(ids),) and classes.dtype == np.uint16
    assert int(classes.max()) + 1 == WORD_CLASSES
    assert classes[ids["paris"]] == classes[ids["berlin"]]  # two capitals
    assert classes[ids["paris"]] != classes[ids["the"]]


def test_spans_from_labels_join_an_honorific_to_the_name() -> None:
    text = "see Dr. Ysolde Parr now"
    tokens = tokenize(text)
    labels = ["O", "B-TITLE", "I-TITLE", "B-PERSON", "I-PERSON", "O"]
    entities = spans_from_labels(text, tokens, labels, [0.9] * len(tokens))
    assert [(e.type, e.value) for e in entities] == [("PERSON", "Dr. Ysolde Parr")]


def test_a_tiny_model_learns_to_tag_names_from_context() -> None:
    parameters = TrainingParameters(c1=0.0, c2=0.01, max_iterations=50, context_c=None)
    model = train(TINY, RULES, parameters)
    assert model.read_out is None
    tagger = SequenceTagger(model.crf)
    assert not tagger.needs_context
    assert {"B-PERSON", "I-PERSON", "O"} <= set(tagger.labels)
    text = "Please ask Quorrin Delv about it"
    found = tagger.tag(text, RULES.rule_entities(text))
    assert [(e.type, e.value) for e in found] == [("PERSON", "Quorrin Delv")]
    assert 0.5 < found[0].score <= 1.0
    assert tagger.tag("Please ask the desk about it", []) == []


def test_training_is_reproducible() -> None:
    parameters = TrainingParameters(c1=0.05, c2=0.01, max_iterations=20)
    first, second = train(TINY, RULES, parameters), train(TINY, RULES, parameters)
    assert first.crf == second.crf
    assert first.read_out is not None and second.read_out is not None
    assert first.read_out.to_bytes() == second.read_out.to_bytes()


def test_training_needs_samples_and_a_model_needs_bytes() -> None:
    with pytest.raises(ValueError):
        train([], RULES)
    with pytest.raises(ValueError):
        SequenceTagger(b"")
    with pytest.raises(ValueError):
        SequenceTagger(b"not a crfsuite model")


def test_rare_words_split_into_more_pieces_and_the_count_is_capped() -> None:
    vocabulary = frozenset({"hall", "grim", "sen", "x"})
    assert word_pieces("hallgrimsen", vocabulary) == 3
    assert (
        word_pieces("x" * 100_000, vocabulary) == 4
    )  # a huge "word" costs no more than a short one


def test_background_texts_are_spread_over_the_file(tmp_path: Path) -> None:
    path = tmp_path / "texts.csv"
    path.write_text("text,category\n" + "".join(f"question {i},x\n" for i in range(10)))
    assert load_background(path, 5) == [f"question {i}" for i in (0, 2, 4, 6, 8)]
    assert load_background(path, 0) == []


@pytest.fixture(scope="module")
def shipped() -> Detector:
    assert DEFAULT_MODEL.is_file(), "the tagger model ships in the repository"
    return Detector()


def test_the_shipped_model_is_small() -> None:
    assert DEFAULT_MODEL.stat().st_size + DEFAULT_CLASSES.stat().st_size < 400_000


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Neither name is in a word list and no cue ("my name is", "Mr.") announces it.
        (
            "Maybe ask Kwabena Otieno, he lives at 19 Marrow Lane.",
            ("PERSON", "Kwabena Otieno"),
        ),
        # "Crossway" is no street word the rules know; the layout is what gives it away.
        (
            "Please update my address to 731 Fennimore Crossway\nBrindlemoor\nOH 44102",
            ("ADDRESS", "731 Fennimore Crossway\nBrindlemoor\nOH 44102"),
        ),
    ],
)
def test_the_shipped_model_finds_what_the_rules_miss(
    shipped: Detector, text: str, expected: tuple[str, str]
) -> None:
    assert expected not in {(e.type, e.value) for e in RULES.detect(text)}
    assert expected in {(e.type, e.value) for e in shipped.detect(text)}


def test_the_shipped_model_adds_nothing_to_plain_requests(shipped: Detector) -> None:
    for text in (
        "I have 84,000 miles, Gold tier. Can I upgrade with miles?",
        "Why was my top up declined?",
        "Can I get a refund for the cancelled flight?",
    ):
        assert shipped.detect(text) == RULES.detect(text), text


def test_known_names_still_win_with_the_tagger(shipped: Detector) -> None:
    text = "hi, this is zyxwv here; Qwerty Zyxwv asked yesterday"
    found = {(e.type, e.value) for e in shipped.detect(text, ("Qwerty Zyxwv",))}
    assert {("PERSON", "zyxwv"), ("PERSON", "Qwerty Zyxwv")} <= found


def test_identifiers_from_the_rules_always_win() -> None:
    card = Entity(10, 29, "CARD", 0.95, "4111 1111 1111 1111")
    tagged = [Entity(0, 29, "ADDRESS", 0.9, "x" * 29)]
    assert combine([card], tagged) == [card]


def test_a_name_before_an_address_is_kept_apart() -> None:
    text = "Linda Nguyen, 88 Oak Street, San Jose"
    person = Entity(0, 12, "PERSON", 0.75, "Linda Nguyen")
    tagged = [Entity(0, len(text), "ADDRESS", 0.9, text)]
    assert [(e.type, e.value) for e in combine([person], tagged)] == [
        ("PERSON", "Linda Nguyen"),
        ("ADDRESS", "88 Oak Street, San Jose"),
    ]


def test_the_rules_fill_in_where_the_tagger_found_nothing() -> None:
    place = Entity(0, 6, "LOCATION", 0.7, "Canada")
    assert combine([place], []) == [place]
    assert combine([place], [Entity(0, 6, "PERSON", 0.6, "Canada")])[0].type == "PERSON"


def test_a_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="switchboard pii train"):
        Detector(tagger_model=tmp_path / "none.crfsuite")


def test_the_tagger_is_usable_from_several_threads(shipped: Detector) -> None:
    from concurrent.futures import ThreadPoolExecutor

    text = "Maybe ask Kwabena Otieno, he lives at 19 Marrow Lane."
    expected = shipped.detect(text)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: shipped.detect(text), range(16)))
    assert all(result == expected for result in results)


needs_data = pytest.mark.skipif(
    not DEFAULT_EVAL_DATA.exists(), reason="the Presidio synthetic dataset is not present"
)


@needs_data
def test_train_command_writes_a_model_that_loads(tmp_path: Path) -> None:
    out, classes = tmp_path / "tagger.crfsuite", tmp_path / "classes.npy"
    result = CliRunner().invoke(
        pii,
        [
            "train",
            *("--out", str(out), "--classes-out", str(classes)),
            *("--iterations", "5", "--background-count", "20"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "460 validation samples" in result.output
    tagger = SequenceTagger.load(out)
    assert "B-PERSON" in tagger.labels
    assert tagger.needs_context and context_path(out).is_file()  # the read-out beside it
    # The word classes are rebuilt byte for byte: k-means with a fixed seed.
    assert classes.read_bytes() == DEFAULT_CLASSES.read_bytes()


def test_word_classes_need_the_vocabularys_embeddings(tmp_path: Path) -> None:
    from safetensors.numpy import save_file

    weights = tmp_path / "weights.safetensors"
    save_file({"embeddings.word_embeddings.weight": np.ones((3, 4), dtype=np.float32)}, weights)
    with pytest.raises(ValueError, match="3 embeddings"):
        build_word_classes(weights=weights)


def test_cross_validation_scores_each_sample_once_with_a_model_that_never_saw_it() -> None:
    samples = [*TINY, _sample(5, "Please ask Brannoc Huel about it", ("PERSON", "Brannoc Huel"))]
    parameters = TrainingParameters(c1=0.0, c2=0.01, max_iterations=30)
    report = cross_validate(samples, RULES, parameters, folds=2).as_dict()
    assert report["samples"] == len(samples)
    assert report["annotated"] == 5  # every gold span counted once: each sample scored once
    assert len(report["latency_ms"]) == 3 and report["recall"] > 0.0


def test_spans_from_labels_report_a_job_title_as_an_occupation() -> None:
    text = "Marie Langrová, the Packager, said"
    tokens = tokenize(text)
    labels = ["B-PERSON", "I-PERSON", "O", "O", "B-TITLE", "O", "O"]
    entities = spans_from_labels(text, tokens, labels, [0.9] * len(tokens))
    assert [(e.type, e.value) for e in entities] == [
        ("PERSON", "Marie Langrová"),
        ("OCCUPATION", "Packager"),
    ]


def test_a_job_title_line_wins_over_a_tagged_word_inside_it() -> None:
    text = "Erik Baader\n\nCourt, municipal, and license clerk\n"
    title = Entity(13, 48, "OCCUPATION", 0.75, text[13:48])
    court = Entity(13, 18, "OCCUPATION", 0.8, "Court")  # the tagger's TITLE on one word
    name = Entity(0, 11, "PERSON", 0.9, "Erik Baader")
    kept = combine([title], [name, court])
    assert [(e.type, e.value) for e in kept] == [
        ("PERSON", "Erik Baader"),
        ("OCCUPATION", "Court, municipal, and license clerk"),
    ]


def test_a_forms_field_labels_are_no_entity_but_a_speakers_name_is() -> None:
    labels = Entity(0, 21, "ORGANIZATION", 0.6, "Personal Info:\nPhone:")
    speaker = Entity(0, 10, "PERSON", 0.9, "Maya Chen:")
    assert _field_label(labels)
    assert not _field_label(speaker)
