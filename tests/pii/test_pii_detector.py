"""The detector, one entity type at a time: what it finds and the near misses it must not."""

from __future__ import annotations

import pytest

from services.pii.config import PatternSpec, PiiSettings
from services.pii.detector import Detector
from services.pii.entities import Entity, resolve_overlaps
from services.pii.service import build_detector


@pytest.fixture(scope="module")
def detector() -> Detector:
    return build_detector(PiiSettings(), every_type=True)


def found(detector: Detector, text: str, known_names: tuple[str, ...] = ()) -> set[tuple[str, str]]:
    return {(e.type, e.value) for e in detector.detect(text, known_names)}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("My card 4111 1111 1111 1111 was declined", ("CARD", "4111 1111 1111 1111")),
        ("card 4131034282458809939 is expiring", ("CARD", "4131034282458809939")),
        ("pay with 4111-1111-1111-1111 please", ("CARD", "4111-1111-1111-1111")),
        ("My IBAN is GB82 WEST 1234 5698 7654 32.", ("IBAN", "GB82 WEST 1234 5698 7654 32")),
        ("send it to DE89370400440532013000", ("IBAN", "DE89370400440532013000")),
        ("Here's my SSN: 460-89-9847", ("SSN", "460-89-9847")),
        ("my social security number is 460899847", ("SSN", "460899847")),
        ("my NI number is AB 12 34 56 C", ("NATIONAL_ID", "AB 12 34 56 C")),
        ("email me at jane.doe+travel@example.co.uk!", ("EMAIL", "jane.doe+travel@example.co.uk")),
        ("call me on +44 20 7946 0958 tomorrow", ("PHONE", "+44 20 7946 0958")),
        ("my number is (415) 555-2671", ("PHONE", "(415) 555-2671")),
        ("I was born on 12 March 1990", ("DOB", "12 March 1990")),
        ("date of birth: 1985-11-18", ("DOB", "1985-11-18")),
        ("ship it to 90 Whitchurch Road, Cardiff", ("ADDRESS", "90 Whitchurch Road, Cardiff")),
        (
            "The address is 6750 Koskikatu 25 Apt. 864\nArtilleros\n, CO\n Uruguay 64677",
            ("ADDRESS", "6750 Koskikatu 25 Apt. 864\nArtilleros\n, CO\n Uruguay 64677"),
        ),
        ("PSC 3294, Box 9168\nAPO AA 61487", ("ADDRESS", "PSC 3294, Box 9168\nAPO AA 61487")),
        ("My name is Rubija", ("PERSON", "Rubija")),
        ("my name is patricia desrosiers", ("PERSON", "patricia desrosiers")),
        ("please correct it to Dr. Cettina Fanucci?", ("PERSON", "Dr. Cettina Fanucci")),
        ("Maybe it's under John Smith", ("PERSON", "John Smith")),
        ("Have you been to a Ravil G Yefimov concert?", ("PERSON", "Ravil G Yefimov")),
        ("my passport number is X1234567", ("PASSPORT", "X1234567")),
        ("My driver's license number is F162823540116", ("DRIVER_LICENSE", "F162823540116")),
        ("bank account number 12345678 at Chase", ("BANK_ACCOUNT", "12345678")),
        ("client_ip = 106.31.73.20", ("IP_ADDRESS", "106.31.73.20")),
        ("my frequent flyer number is UA12345678", ("LOYALTY", "UA12345678")),
        ("member id 88231907", ("MEMBER_ID", "88231907")),
        ("policy number POL-4471920", ("POLICY_NUMBER", "POL-4471920")),
        ("visit https://www.example.com/a?b=1.", ("URL", "https://www.example.com/a?b=1")),
        ("This 79 year old female complaining", ("AGE", "79")),
        ("I am Polish but I live in Canada.", ("NATIONALITY", "Polish")),
        ("I am Polish but I live in Canada.", ("LOCATION", "Canada")),
        ("Hill Inc. is based here", ("ORGANIZATION", "Hill Inc.")),
        # A writer introducing themselves: a country's name too, and whole.
        ("Hi, Luiza here. Where is my withdrawal?", ("PERSON", "Luiza")),
        ("Hello Jordan Patel here, about W-5001", ("PERSON", "Jordan Patel")),
        ("Thanks. Ana Silva here again", ("PERSON", "Ana Silva")),
        # A country's name as a given name, when a cue puts it before a surname.
        ("Where is my withdrawal? I'm Jordan Patel.", ("PERSON", "Jordan Patel")),
        ("I'm in Jordan next week", ("LOCATION", "Jordan")),
        # The answer to a question about a name, and an employer after its cue.
        ("What's your last name? Boyle", ("PERSON", "Boyle")),
        # A booking's code with the traveller's surname, the label never part of the name.
        ("booking K4M9TZ, last name Rossi", ("PERSON", "Rossi")),
        ("K4M9TZ, family name Rossi", ("PERSON", "Rossi")),
        ("K4M9TZ, surname Rossi", ("PERSON", "Rossi")),
        ("my surname is rossi", ("PERSON", "rossi")),
        ("Last name: Okafor", ("PERSON", "Okafor")),
        ("I work for Citigroup in the city", ("ORGANIZATION", "Citigroup")),
        # Organisations the deployment names, short and long.
        ("Hello Delta, my flight is late", ("ORGANIZATION", "Delta")),
        ("I moved from Delta Dental last year", ("ORGANIZATION", "Delta Dental")),
        # Six capitals after a name's cue are a name, whatever their shape.
        ("My name is NMVYHB", ("PERSON", "NMVYHB")),
    ],
)
def test_finds(detector: Detector, text: str, expected: tuple[str, str]) -> None:
    assert expected in found(detector, text)


@pytest.mark.parametrize(
    ("text", "absent_type"),
    [
        ("My card 4111 1111 1111 1112 was declined", "CARD"),  # fails Luhn
        ("order 0000000000000000 shipped", "CARD"),  # Luhn-valid but all one digit
        ("My IBAN is GB82 WEST 1234 5698 7654 33.", "IBAN"),  # wrong check digits
        ("Here's my SSN: 666-12-3456", "SSN"),  # area 666 is never issued
        ("ticket 000-12-3456 opened", "SSN"),
        ("write to jane.doe@example", "EMAIL"),  # no top-level domain
        ("the order total was 1234", "PHONE"),
        ("the meeting is on 12 March 1990", "DOB"),  # a date, but nothing says birth
        ("my passport expired last year", "PASSPORT"),
        ("flight UA12345678 departs at noon", "LOYALTY"),  # no loyalty context
        ("Thank you for your help", "PERSON"),
        ("Is flight UA 123 on time?", "PERSON"),
        ("Is anyone here? Hello, Support here", "PERSON"),
        ("Hi, my bag is here", "PERSON"),
        # A greeting, then a sentence: its first word names nobody.
        ("Hi Quick question about my booking", "PERSON"),
        ("Hello Delta, my flight is late", "PERSON"),
        ("I work for myself", "ORGANIZATION"),
        ("the delta between the fares", "ORGANIZATION"),
        ("I need 25 tickets", "AGE"),
        ("version 1.2.3.400 is out", "IP_ADDRESS"),  # 400 is not an octet
    ],
)
def test_near_misses(detector: Detector, text: str, absent_type: str) -> None:
    assert absent_type not in {entity_type for entity_type, _ in found(detector, text)}


def test_known_names_are_found_in_any_case_and_by_part(detector: Detector) -> None:
    text = "hi, this is zyxwv here; Qwerty Zyxwv asked yesterday"
    result = found(detector, text, known_names=("Qwerty Zyxwv",))
    assert ("PERSON", "zyxwv") in result
    assert ("PERSON", "Qwerty Zyxwv") in result


def test_entities_never_overlap(detector: Detector) -> None:
    text = (
        "Dr. Anna Berg, 90 Whitchurch Road, Cardiff, card 4111111111111111, "
        "call +44 20 7946 0958 or anna.berg@example.com, born 1990-01-02"
    )
    entities = detector.detect(text)
    for first, second in zip(entities, entities[1:], strict=False):
        assert first.end <= second.start
    assert [e.start for e in entities] == sorted(e.start for e in entities)


def test_overlaps_keep_the_best_span() -> None:
    phone = Entity(0, 16, "PHONE", 0.7, "4111111111111111")
    card = Entity(0, 16, "CARD", 0.95, "4111111111111111")
    short = Entity(0, 4, "PHONE", 0.95, "4111")
    assert resolve_overlaps([phone, card]) == [card]
    assert resolve_overlaps([short, Entity(0, 16, "CARD", 0.95, "x" * 16)])[0].type == "CARD"


def test_placeholders_are_not_detected_again(detector: Detector) -> None:
    assert detector.detect("my card <CARD_1> and <PERSON_2>") == []


def test_declared_patterns_come_from_settings() -> None:
    settings = PiiSettings(
        patterns=[PatternSpec(type="CLAIM_NUMBER", regex=r"\bCL-\d{4}\b", context=["claim"])]
    )
    detector = build_detector(settings)
    assert [(e.type, e.value) for e in detector.detect("my claim CL-9001 is stuck")] == [
        ("CLAIM_NUMBER", "CL-9001")
    ]
    assert detector.detect("the code CL-9001 is printed") == []


def test_a_known_organisation_is_no_person_where_organisations_are_not_masked() -> None:
    # The tagger alone reads "Delta" after a greeting as a person; the known name wins, and
    # then leaves, since the service does not mask organisations by default.
    text = "Hello Delta, my flight is late. I'm Jordan Patel."
    assert [(e.type, e.value) for e in build_detector(PiiSettings()).detect(text)] == [
        ("PERSON", "Jordan Patel")
    ]
    bare = build_detector(PiiSettings(organizations=[]))
    assert ("PERSON", "Delta") in {(e.type, e.value) for e in bare.detect(text)}


def test_organisations_come_from_settings() -> None:
    detector = build_detector(PiiSettings(organizations=["Acme Air"]), every_type=True)
    assert ("ORGANIZATION", "Acme  Air") in {
        (e.type, e.value) for e in detector.detect("I flew Acme  Air to Oslo")
    }
    assert "ORGANIZATION" not in {e.type for e in detector.detect("acme air is cheap")}


def test_service_detector_skips_quasi_identifiers_by_default() -> None:
    detector = build_detector(PiiSettings())
    types = {e.type for e in detector.detect("I am Polish, 79 years old, from Canada, anna@x.io")}
    assert types == {"EMAIL"}


@pytest.mark.parametrize(
    "text",
    [
        "Is flight UA 123 on time?",
        "I am customer C-1001, my reservation SBX7Q2 was cancelled by the storm.",
        "I have 84,000 miles, Gold tier. Can I upgrade with miles?",
        "My withdrawal W-5001 has been pending for five days",
        "What is the status of claim CL-9001 for member M-3001? I am provider P-7001.",
        "Thanks! Bye",
        "I want to talk to a human agent",
        # A greeting's cue before a flight number: it is not a name.
        "Hi UA 123 is late",
        "Hello UA 123 status?",
        "Thanks, BA2490 was great",
        # Record locators, letters only too: alone, after a cue, glued to digits.
        "NMVYHB",
        "PNR ZGGJQS",
        "Record locator NMVYHB",
        "my booking code is NMVYHB please",
        "PNR MAX2F8",
        # Which trip: a month beside a day (Jan and May are given names too), a city whose
        # second word is a given name.
        "the 2 Jan one",
        "the one on Jan 2nd",
        # ... or a month picking one of several: "the Jan one", "that May booking".
        "the Jan one",
        "I meant that May booking",
        "May 3rd, the morning flight",
        "the one to San Francisco",
        # A flight number alone after "what about" is no house number.
        "what about UA 891?",
        # A card's last four digits pick a card among the customer's own.
        "withdraw 80 dollars to the card ending 4242",
        "my visa ends with 1234",
        "send it to my Mastercard ending in 5100 please",
        "the last four digits are 5100",
        "last 4: 0005",
        # What a lost bag looks like: its maker, though makers' names are often persons' too.
        "it's a black samsonite suitcase with a red ribbon",
        "they're black Tumi backpacks",
        "It's a brown Louis Vuitton bag",
        "a grey Samsonite with stickers",
        # A customer number after "I'm": the tagger read its letter as a name.
        "I'm C-1002",
        "I am C-1001, what's my balance?",
        "I'm CS-100023, any news?",
    ],
)
def test_service_leaves_the_demo_references_alone(text: str) -> None:
    # Booking references and customer ids are what tools need; they are not personal data.
    assert build_detector(PiiSettings()).detect(text) == []


def test_a_name_before_a_customer_number_is_still_masked() -> None:
    detector = build_detector(PiiSettings())
    assert [e.value for e in detector.detect("This is Mary-Jane Watson, C-1002")] == [
        "Mary-Jane Watson"
    ]


def test_four_digits_without_a_card_cue_may_still_be_a_house_number() -> None:
    detector = build_detector(PiiSettings())
    assert [e.value for e in detector.detect("My address is 4242")] == ["4242"]
    assert [e.value for e in detector.detect("I live at 4242 Main Street")] == ["4242 Main Street"]


def test_postcodes_end_an_address(detector: Detector) -> None:
    assert ("ADDRESS", "221B Baker Street, London NW1 6XE") in found(
        detector, "I live at 221B Baker Street, London NW1 6XE"
    )
    assert ("ADDRESS", "24 Sussex Drive, Ottawa, ON K1A 0B1") in found(
        detector, "Send it to 24 Sussex Drive, Ottawa, ON K1A 0B1 please"
    )


def test_adjacent_numbers_are_each_found(detector: Detector) -> None:
    # A Luhn-valid window straddling the phone and the card ("2671 4111 1111 1111") must not
    # win over the two real entities.
    text = "(415) 555-2671 4111 1111 1111 1111 GB82 WEST 1234 5698 7654 32 4111 1111 1111 1111"
    assert [(e.type, e.value) for e in detector.detect(text)] == [
        ("PHONE", "(415) 555-2671"),
        ("CARD", "4111 1111 1111 1111"),
        ("IBAN", "GB82 WEST 1234 5698 7654 32"),
        ("CARD", "4111 1111 1111 1111"),
    ]


def test_overlap_resolution_prefers_covering_more_text_confidently() -> None:
    address = Entity(0, 33, "ADDRESS", 0.85, "221B Baker Street, London NW1 6XE")
    city = Entity(19, 25, "LOCATION", 0.7, "London")
    assert resolve_overlaps([address, city]) == [address]
    phone = Entity(0, 14, "PHONE", 0.8, "(415) 555-2671")
    straddling = Entity(10, 29, "CARD", 0.95, "2671 4111 1111 1111")
    card = Entity(15, 34, "CARD", 0.95, "4111 1111 1111 1111")
    assert resolve_overlaps([straddling, phone, card]) == [phone, card]


def test_no_entity_runs_across_a_blank_line(detector: Detector) -> None:
    from services.pii.detector import _split_at_blank_lines

    text = "Julieta S Almeida\n\nStaff development specialist\n\nPersonal Info:\nPhone:\n467 3395"
    start = text.index("Staff")
    entity = Entity(start, len(text), "ORGANIZATION", 0.7, text[start:])
    parts = _split_at_blank_lines(entity)
    assert [(p.value, text[p.start : p.end]) for p in parts] == [
        ("Staff development specialist", "Staff development specialist"),
        ("Personal Info:\nPhone:\n467 3395", "Personal Info:\nPhone:\n467 3395"),
    ]
    found = detector.detect(text)
    assert ("PHONE", "467 3395") in {(e.type, e.value) for e in found}
    assert all("\n\n" not in e.value for e in found), found


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Jan called me about it", "Jan"),  # a month alone may be a name: it stays masked
        ("ask Jan one more time", "Jan"),
        ("Jan Kowalski called about 2 bags", "Jan Kowalski"),
        ("Francisco said the flight to Denver was late", "Francisco"),
        # Beside a lost bag, a name is still a name: cued, possessive, a child, a name tag.
        ("my name is Tumi Mokoena, my suitcase is lost", "Tumi Mokoena"),
        ("Anna's bag is missing", "Anna"),
        ("my little Timmy lost his backpack", "Timmy"),
        ("This is Laura Case, my suitcase is lost", "Laura Case"),
        ("It's my black Samsonite, the name tag says John Smith", "John Smith"),
    ],
)
def test_a_given_name_that_is_no_date_or_place_stays_masked(text: str, name: str) -> None:
    found = {(e.type, e.value) for e in build_detector(PiiSettings()).detect(text)}
    assert ("PERSON", name) in found, found


@pytest.mark.parametrize(
    ("text", "title"),
    [
        (
            "Einojuhani Pyysalo\n\nLocal transit bus driver\n\nPersonal Info:",
            "Local transit bus driver",
        ),
        ("naomi ryan\nsewer pipe cleaner\nhubbard, fox and gillespie", "sewer pipe cleaner"),
        (
            "Erik Baader\n\nCourt, municipal, and license clerk\n",
            "Court, municipal, and license clerk",
        ),
        ("Cormac Allan\nEchocardiographer\nPlaceilivecom", "Echocardiographer"),
        ('Hijacinta Godina, the Technical writer, said: "fine"', "Technical writer"),
        ("I work as a school bus driver in Oslo", "school bus driver"),
        ("I'm a nurse and my card was charged twice", "nurse"),
    ],
)
def test_job_titles_are_occupations_not_persons(detector: Detector, text: str, title: str) -> None:
    entities = found(detector, text)
    assert ("OCCUPATION", title) in entities
    assert all(value != title for kind, value in entities if kind == "PERSON")


@pytest.mark.parametrize(
    "text",
    [
        "John Baker\nKyle Cook",  # occupational surnames after a given name are names
        "This is a problem for the manager",
        "I want to talk to a human agent",
    ],
)
def test_a_sentence_or_a_name_is_no_job_title(detector: Detector, text: str) -> None:
    assert all(kind != "OCCUPATION" for kind, _ in found(detector, text))


def test_a_cv_header_keeps_the_name_masked_and_the_job_title_not() -> None:
    text = "Jamie Pratt\n\nTalking-books clerk\n\nPersonal Info:\nPhone:\n21 284 698 2548"
    entities = {(e.type, e.value) for e in build_detector(PiiSettings()).detect(text)}
    assert entities == {("PERSON", "Jamie Pratt"), ("PHONE", "21 284 698 2548")}
    configured = build_detector(PiiSettings(masked_types=["PERSON", "PHONE", "OCCUPATION"]))
    assert ("OCCUPATION", "Talking-books clerk") in {
        (e.type, e.value) for e in configured.detect(text)
    }
