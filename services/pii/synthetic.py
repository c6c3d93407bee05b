"""Synthetic training texts for the PII tagger: sentence templates of our own, filled with values.

The tagger's training set is 63 templates of the Presidio set, and a CRF trained on them learns
those sentences' wording more than what a name, a company or an address looks like. These
templates (``synthetic_templates.txt``, several hundred, written for this project) put the same
kinds of values into many other contexts: customer-service chats, letters, forms, tickets, news,
notes, reviews, messages. About a quarter hold no entity at all, or only look-alikes the
dataset does not label (flight numbers, booking codes, amounts, order numbers), so the tagger
also sees capitalised words and codes that are nobody's.

A template line is text with typed slots, ``{kind}``, ``{kind2}`` (a second person, company or
place of the sample), ``{kind:lower}`` / ``{kind:upper}``; ``\\n`` is a line break. Slots of one
person (``{honorific} {first_name} {last_name}``) or of one place share a value within a sample.
Spans carry the dataset's labels (:data:`services.pii.evaluation.DATASET_TO_OURS`), following
its conventions: an honorific is a TITLE span of its own before the PERSON, a job title is a
TITLE, an address span holds its street, unit, town, region, postcode and country.

Training only: the service never imports this module, and Faker (a development dependency) is
imported when values are made. The same count and seed give the same samples.
"""

from __future__ import annotations

import functools
import random
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from services.pii.evaluation import Sample

if TYPE_CHECKING:
    from faker import Faker

TEMPLATES = Path(__file__).with_name("synthetic_templates.txt")
FIRST_TEMPLATE_ID = 100_000

#: each slot kind and the dataset label of its span (None: a look-alike, inserted unlabelled)
KINDS: dict[str, str | None] = {
    "full_name": "PERSON",
    "name_mi": "PERSON",
    "first_name": "PERSON",
    "last_name": "PERSON",
    "honorific": "TITLE",
    "job": "TITLE",
    "company": "ORGANIZATION",
    "city": "GPE",
    "country": "GPE",
    "state": "GPE",
    "place": "GPE",
    "nationality": "NRP",
    "nrp": "NRP",
    "address": "STREET_ADDRESS",
    "address_lines": "STREET_ADDRESS",
    "street": "STREET_ADDRESS",
    "po_box": "STREET_ADDRESS",
    "zip": "ZIP_CODE",
    "date": "DATE_TIME",
    "weekday": "DATE_TIME",
    "datetime": "DATE_TIME",
    "age": "AGE",
    "email": "EMAIL_ADDRESS",
    "phone": "PHONE_NUMBER",
    "card": "CREDIT_CARD",
    "iban": "IBAN_CODE",
    "ssn": "US_SSN",
    "ip": "IP_ADDRESS",
    "url": "DOMAIN_NAME",
    "license": "US_DRIVER_LICENSE",
    "flight": None,
    "booking": None,
    "order": None,
    "amount": None,
    "time": None,
    "count": None,
    "ticket": None,
    "customer_id": None,
    "product": None,
}

#: kinds whose value is written in lower or upper case now and then, as people type them
_CASED = frozenset(
    "full_name name_mi first_name last_name company city country state place nationality".split()
)
_LOWER_SHARE = 0.06
_UPPER_SHARE = 0.03

#: where the sample's people come from (English ones more often: most templates are English)
_NAME_LOCALES = (
    "en_US en_US en_US en_GB en_GB en_IE en_AU de_DE de_AT fr_FR es_ES es_MX it_IT pt_BR pt_PT "
    "nl_NL pl_PL sv_SE fi_FI da_DK no_NO cs_CZ sk_SK hu_HU tr_TR ro_RO hr_HR sl_SI lt_LT lv_LV "
    "et_EE is_IS vi_VN en_IN en_KE zu_ZA yo_NG id_ID"
).split()
#: locales with real town names (en_US and en_GB invent towns: "North Richardside")
_CITY_LOCALES = (
    "en_US en_GB de_DE de_AT es_ES pl_PL sv_SE fi_FI da_DK cs_CZ sk_SK hu_HU hr_HR sl_SI pt_PT "
    "pt_BR nl_NL ro_RO en_IN fr_FR"
).split()
_STATE_LOCALES = "en_US en_US en_AU de_DE de_AT es_MX en_IN sk_SK sl_SI vi_VN".split()
# Not it_IT: its towns are drawn from a set, whose order changes between processes.
_ADDRESS_LOCALES = (
    "en_US en_US en_US en_GB en_GB en_IE en_AU de_DE de_AT fr_FR es_ES pt_BR pt_PT nl_NL "
    "pl_PL sv_SE fi_FI da_DK no_NO cs_CZ sk_SK hu_HU ro_RO hr_HR sl_SI en_IN en_CA"
).split()
_IBAN_LOCALES = "de_DE fr_FR es_ES nl_NL en_GB it_IT pt_PT de_AT sk_SK en_IE pl_PL".split()

# Coined one-word company names ("Datalytics", "Flightwise", "Northvane"): many real companies
# are such a word, which the generators' "Surname LLC" patterns never produce.
_STEMS = (
    "data info flight cloud micro net soft med health fin pay trade market smart open geo bio "
    "tech web link mind sense core path spark bright clear blue green true insight vision quant "
    "civic legal home shop travel food learn story signal metric north vane zen nova terra aqua "
    "lumi octa vera sol kin arc fable ever brio cobalt"
).split()
_ENDINGS = (
    "ly ify wise hub works base ware lab labs logic scape stack mind nest sphere io ology metrics "
    "point box flow loop gen vault verse ra ora ix ant ence ium"
).split()
_COMPANY_SUFFIXES = (
    "LLC Inc Inc. Ltd Group Holdings Partners Corp GmbH AG S.A. B.V. plc Co. & Sons Associates "
    "Logistics Consulting Systems Foods Media Capital Insurance Dental Travel Bank"
).split()
_NATIONALITIES = (
    "American British Irish Canadian Mexican Brazilian Argentinian Chilean Peruvian Colombian "
    "German Austrian Swiss French Belgian Dutch Spanish Portuguese Italian Greek Turkish Polish "
    "Czech Slovak Hungarian Romanian Bulgarian Croatian Serbian Slovenian Ukrainian Russian "
    "Lithuanian Latvian Estonian Finnish Swedish Norwegian Danish Icelandic Moroccan Egyptian "
    "Nigerian Kenyan Ghanaian Ethiopian South_African Indian Pakistani Bangladeshi Chinese "
    "Japanese Korean Vietnamese Thai Filipino Indonesian Malaysian Australian Cuban Jamaican "
    "Lebanese Iranian Israeli Saudi Emirati Tunisian Nepali Sri_Lankan Mongolian Albanian"
).split()
_DEMONYMS = (
    "Americans Brits Canadians Mexicans Brazilians Germans Swiss French Dutch Spaniards Italians "
    "Greeks Turks Poles Czechs Hungarians Romanians Croats Swedes Norwegians Danes Finns Kenyans "
    "Nigerians Indians Chinese Japanese Koreans Filipinos Australians Irish Scots Portuguese"
).split()
_BELIEFS = (
    "Catholic Protestant Muslim Jewish Hindu Buddhist Sikh Lutheran Orthodox Mormon Anglican "
    "Democrat Republican Democrats Republicans Conservative Liberal Socialist Green"
).split()
_JOB_LOCALES = ("en_US", "en_GB")
_HONORIFICS_MALE = ("Mr.", "Mr.", "Mr", "Dr.", "Prof.", "Sir")
_HONORIFICS_FEMALE = ("Ms.", "Mrs.", "Ms", "Miss", "Dr.", "Prof.", "Mrs")
_AIRLINES = "UA AA DL BA LH AF KL IB AY SK LX OS TK QR EK EY AC QF NH JL B6 WN U2 FR".split()
_PRODUCTS = (
    "Basic Economy|Premium Economy|Economy Plus|the Gold plan|the Silver plan|the Family plan|"
    "Platinum tier|Gold tier|the Plus membership|a Same Day Parlay|the Cash Out button|"
    "an Early Payout|the Weekly Boost|a Bet Builder|the Smile Basic plan|"
    "the Preventive Plus plan|a Deep Cleaning|the Kids Care add-on|a Visa debit card|"
    "a Mastercard|the Everyday Saver account|the Premier current account|Express Shipping|"
    "Standard Delivery|the XL duffel bag|the Pro 14 laptop sleeve|a Model 3 charger|"
    "the Classic Fit jacket|the Ultra Soft towel set|the Wireless Mouse M2|Priority Boarding|"
    "the Lounge Pass|Extra Legroom|the Travel Insurance"
).split("|")


@dataclass(frozen=True)
class Slot:
    """A typed place for a value: its kind, which entity of that kind (1, 2, ...) and a case."""

    kind: str
    group: int = 1
    case: str | None = None


@dataclass(frozen=True)
class Template:
    """One sentence pattern: its id, its genre (the file's section) and text between slots."""

    template_id: int
    genre: str
    parts: tuple[str | Slot, ...]

    @property
    def has_entities(self) -> bool:
        return any(isinstance(p, Slot) and KINDS[p.kind] is not None for p in self.parts)


_SLOT_RE = re.compile(r"\{([a-z_]+?)(\d?)(?::(lower|upper))?\}")


def parse(line: str) -> tuple[str | Slot, ...]:
    """A template line's parts; an unknown slot kind or a stray brace is an error."""
    text = line.replace("\\n", "\n")
    parts: list[str | Slot] = []
    position = 0
    for match in _SLOT_RE.finditer(text):
        kind, group, case = match.groups()
        if kind not in KINDS:
            raise ValueError(f"unknown slot kind {kind!r} in {line!r}")
        parts.append(text[position : match.start()])
        parts.append(Slot(kind, int(group or 1), case))
        position = match.end()
    parts.append(text[position:])
    if any(isinstance(p, str) and ("{" in p or "}" in p) for p in parts):
        raise ValueError(f"malformed slot in {line!r}")
    return tuple(p for p in parts if p != "")


def load_templates(path: Path = TEMPLATES) -> list[Template]:
    """The file's templates in order, ids from :data:`FIRST_TEMPLATE_ID`; ``[genre]`` lines start
    a section, ``#`` lines are comments."""
    templates: list[Template] = []
    genre = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.rstrip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            genre = line[1:-1]
            continue
        if not genre:
            raise ValueError(f"{path}: template before any [genre] line: {line!r}")
        templates.append(Template(FIRST_TEMPLATE_ID + len(templates), genre, parse(line)))
    return templates


@dataclass
class _Person:
    given: str
    family: str
    initial: str
    honorific: str
    job: str


def _ascii(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if c.isascii() and (c.isalnum() or c in ".-_"))


def _cased(value: str, case: str | None) -> str:
    if case == "lower":
        return value.lower()
    if case == "upper":
        return value.upper()
    return value


@functools.cache
def _faker(locale: str) -> Faker:
    """A locale's Faker, built once per process: building one takes ~60 ms (it searches its
    providers), and a test or a training run asks for each locale several times. Whoever uses
    it re-seeds it first, so one generation's values never depend on another's."""
    try:
        from faker import Faker
    except ImportError as error:  # a development dependency: `uv sync` installs it
        raise RuntimeError("synthetic PII texts need the Faker package") from error
    return Faker(locale)


@dataclass
class _Values:
    """Values per slot kind; within one sample, slots of one person or place agree."""

    seed: int
    rng: random.Random = field(init=False)
    fakers: dict[str, Faker] = field(init=False, default_factory=dict)
    people: dict[int, _Person] = field(init=False, default_factory=dict)
    chosen: dict[tuple[str, int], str] = field(init=False, default_factory=dict)
    cases: dict[tuple[str, int], str | None] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def faker(self, locale: str) -> Faker:
        if locale not in self.fakers:
            faker = _faker(locale)
            # One seed per locale, fixed by the generator's seed and the locale's name only, so
            # the order in which locales are first used changes nothing.
            faker.seed_instance(f"{self.seed}/{locale}")
            self.fakers[locale] = faker
        return self.fakers[locale]

    def new_sample(self) -> None:
        self.people.clear()
        self.chosen.clear()
        self.cases.clear()

    def value(self, slot: Slot) -> str:
        if slot.kind in _PERSON_KINDS:
            person = self.people.get(slot.group) or self._person()
            self.people[slot.group] = person
            value = self._person_part(person, slot.kind)
        elif slot.kind in _SHARED_KINDS:
            key = (slot.kind, slot.group)
            if key not in self.chosen:
                self.chosen[key] = getattr(self, f"_{slot.kind}")()
            value = self.chosen[key]
        else:
            value = getattr(self, f"_{slot.kind}")()
        case = slot.case
        if case is None and slot.kind in _CASED:
            # One writing per person or place: people type a whole name in lower case, not a
            # half of it.
            key = ("person" if slot.kind in _PERSON_KINDS else slot.kind, slot.group)
            if key not in self.cases:
                draw = self.rng.random()
                lower, upper = draw < _LOWER_SHARE, draw < _LOWER_SHARE + _UPPER_SHARE
                self.cases[key] = "lower" if lower else "upper" if upper else None
            case = self.cases[key]
        return _cased(value, case)

    # People

    def _person(self) -> _Person:
        rng = self.rng
        locale = rng.choice(_NAME_LOCALES)
        faker = self.faker(locale)
        female = rng.random() < 0.5
        draw = rng.random()
        if draw < 0.04:
            romanized = self.faker("ja_JP")
            given, family = romanized.first_romanized_name(), romanized.last_romanized_name()
        elif draw < 0.07:
            romanized = self.faker("zh_CN")
            given, family = romanized.first_romanized_name(), romanized.last_romanized_name()
        else:
            given = faker.first_name_female() if female else faker.first_name_male()
            family = faker.last_name()
        honorific = rng.choice(_HONORIFICS_FEMALE if female else _HONORIFICS_MALE)
        job = self.faker(rng.choice(_JOB_LOCALES)).job()
        if rng.random() < 0.4:
            job = job[0].lower() + job[1:] if rng.random() < 0.5 else job
        initial = rng.choice("ABCDEFGHJKLMNOPRSTVW")
        return _Person(str(given), str(family), initial, honorific, str(job))

    def _person_part(self, person: _Person, kind: str) -> str:
        if kind == "first_name":
            return person.given
        if kind == "last_name":
            return person.family
        if kind == "honorific":
            return person.honorific
        if kind == "job":
            return person.job
        if kind == "name_mi" or self.rng.random() < 0.12:
            dot = "." if self.rng.random() < 0.7 else ""
            return f"{person.given} {person.initial}{dot} {person.family}"
        return f"{person.given} {person.family}"

    # Organisations and places

    def _company(self) -> str:
        rng = self.rng
        draw = rng.random()
        if draw < 0.4:
            return str(self.faker(rng.choice(_NAME_LOCALES)).company())
        if draw < 0.55:
            family = self.faker(rng.choice(_NAME_LOCALES)).last_name()
            return f"{family} {rng.choice(_COMPANY_SUFFIXES)}"
        stem, ending = rng.choice(_STEMS), rng.choice(_ENDINGS)
        coined = f"{stem}{ending}".capitalize()
        if rng.random() < 0.25:
            coined = f"{stem.capitalize()}{ending.capitalize()}"
        if draw > 0.85:
            coined = f"{coined} {rng.choice(_COMPANY_SUFFIXES)}"
        return coined

    def _city(self) -> str:
        locale = self.rng.choice(_CITY_LOCALES)
        return str(self.faker(locale).city())

    def _country(self) -> str:
        while True:
            country = str(self.faker("en_US").country())
            if "(" not in country and "," not in country:
                return country

    def _state(self) -> str:
        return str(self.faker(self.rng.choice(_STATE_LOCALES)).state())

    def _place(self) -> str:
        draw = self.rng.random()
        if draw < 0.35:
            return self._country()
        if draw < 0.45:
            return self._state()
        return self._city()

    def _nationality(self) -> str:
        if self.rng.random() < 0.2:
            return self.rng.choice(_DEMONYMS)
        return self.rng.choice(_NATIONALITIES).replace("_", " ")

    def _nrp(self) -> str:
        if self.rng.random() < 0.35:
            return self.rng.choice(_BELIEFS)
        return self._nationality()

    # Addresses

    def _street(self) -> str:
        return str(self.faker(self.rng.choice(_ADDRESS_LOCALES)).street_address()).strip()

    def _address(self) -> str:
        """A postal address on one line."""
        rng = self.rng
        locale = rng.choice(_ADDRESS_LOCALES)
        faker = self.faker(locale)
        lines = [line.strip(" ,") for line in str(faker.address()).split("\n")]
        address = ", ".join(line for line in lines if line)
        if rng.random() < 0.25:
            address = f"{address}, {self._country()}"
        return address

    def _address_lines(self) -> str:
        """A postal address over several lines, now and then indented as some mail clients do."""
        rng = self.rng
        faker = self.faker(rng.choice(_ADDRESS_LOCALES))
        lines = [line.strip() for line in str(faker.address()).split("\n") if line.strip()]
        if len(lines) == 1:
            lines.append(f"{faker.postcode()} {self._city()}")
        if rng.random() < 0.35:
            lines.append(self._country())
        if rng.random() < 0.05:
            lines = [line.upper() for line in lines]
        joiner = "\n " if rng.random() < 0.2 else "\n"
        return joiner.join(lines)

    def _po_box(self) -> str:
        rng = self.rng
        us = self.faker("en_US")
        draw = rng.random()
        if draw < 0.3:
            return str(rng.choice([us.military_apo, us.military_dpo])())
        box = rng.choice(("PO Box", "P.O. Box", "PO BOX", "Postfach", "Box"))
        number = rng.randint(1, 99999)
        if draw < 0.7:
            return f"{box} {number}, {us.city()}, {us.state_abbr()} {us.zipcode()}"
        return f"{box} {number}\n{self._city()} {us.postcode()}"

    def _zip(self) -> str:
        return str(self.faker(self.rng.choice(_ADDRESS_LOCALES)).postcode())

    # Dates and ages

    def _moment(self) -> datetime:
        # Fixed bounds: Faker's defaults end at "now", which would change the texts daily.
        start = datetime(1940, 1, 1)
        return start + timedelta(seconds=self.rng.randrange(86 * 365 * 86400))

    def _date(self) -> str:
        moment = self._moment()
        day, month, year = moment.day, moment.strftime("%B"), moment.year
        suffix = "th" if 11 <= day <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
        forms = (
            f"{month} {day}, {year}",
            f"{day} {month} {year}",
            f"{moment.month}/{day}/{year}",
            f"{day:02d}/{moment.month:02d}/{year}",
            f"{day}.{moment.month}.{year}",
            moment.strftime("%Y-%m-%d"),
            f"{month[:3]} {day}",
            f"{month} {day}{suffix}",
            f"the {day}{suffix} of {month}",
            f"{month} {year}",
            f"{day} {month[:3]} {year}",
        )
        return self.rng.choice(forms)

    def _weekday(self) -> str:
        return self._moment().strftime("%A")

    def _datetime(self) -> str:
        moment = self._moment()
        forms = (
            moment.strftime("%Y-%m-%d %H:%M:%S"),
            moment.strftime("%Y-%m-%d %H:%M"),
            f"{moment.strftime('%B')} {moment.day}, {moment.year} at {moment.strftime('%I:%M %p')}",
            f"{moment.strftime('%A')} {moment.strftime('%H:%M')}",
            f"{moment.month}/{moment.day}/{moment.year} {moment.strftime('%I:%M %p')}",
        )
        return self.rng.choice(forms)

    def _age(self) -> str:
        rng = self.rng
        return str(rng.randint(18, 95) if rng.random() < 0.8 else rng.randint(1, 17))

    # Identifiers

    def _email(self) -> str:
        rng = self.rng
        person = self.people.get(1)
        if person is None or rng.random() < 0.4:
            return str(self.faker(rng.choice(_NAME_LOCALES)).email())
        given, family = _ascii(person.given), _ascii(person.family)
        user = rng.choice(
            (
                f"{given}.{family}",
                f"{given[:1]}{family}",
                f"{family}{given}",
                f"{given}{rng.randint(1, 99)}",
            )
        )
        domain = rng.choice(
            ("gmail.com", "outlook.com", "yahoo.com", "proton.me", "web.de", "gmx.net")
        )
        return f"{user.lower() if rng.random() < 0.7 else user}@{domain}"

    def _phone(self) -> str:
        return str(self.faker(self.rng.choice(_ADDRESS_LOCALES)).phone_number())

    def _card(self) -> str:
        digits = str(self.faker("en_US").credit_card_number())
        draw = self.rng.random()
        if draw < 0.4 and len(digits) == 16:
            separator = " " if draw < 0.25 else "-"
            return separator.join(digits[i : i + 4] for i in range(0, 16, 4))
        return digits

    def _iban(self) -> str:
        iban = str(self.faker(self.rng.choice(_IBAN_LOCALES)).iban())
        if self.rng.random() < 0.3:
            return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
        return iban

    def _ssn(self) -> str:
        ssn = str(self.faker("en_US").ssn())
        return ssn.replace("-", "") if self.rng.random() < 0.2 else ssn

    def _ip(self) -> str:
        faker = self.faker("en_US")
        return str(faker.ipv4() if self.rng.random() < 0.75 else faker.ipv6())

    def _url(self) -> str:
        faker = self.faker(self.rng.choice(_NAME_LOCALES))
        draw = self.rng.random()
        if draw < 0.5:
            return str(faker.url())
        if draw < 0.8:
            return str(faker.domain_name())
        return f"www.{faker.domain_name()}"

    def _license(self) -> str:
        rng = self.rng
        digits = "".join(rng.choice("0123456789") for _ in range(12))
        letter = rng.choice("ABCDEFGHJKLMNPRSTWY")
        forms = (
            f"{letter}{digits[:7]}",
            digits[:9],
            f"{letter}{digits[:3]}-{digits[3:7]}-{digits[7:11]}",
            f"{letter}{digits[:12]}",
            f"{letter}{rng.choice('ABCDEFGH')}{digits[:6]}",
        )
        return rng.choice(forms)

    # Look-alikes: shaped like identifiers or names, but nobody's

    def _flight(self) -> str:
        space = " " if self.rng.random() < 0.5 else ""
        return f"{self.rng.choice(_AIRLINES)}{space}{self.rng.randint(1, 2999)}"

    def _booking(self) -> str:
        alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ" + ("23456789" if self.rng.random() < 0.5 else "")
        return "".join(self.rng.choice(alphabet) for _ in range(6))

    def _order(self) -> str:
        rng = self.rng
        number = rng.randint(10_000, 99_999_999)
        return rng.choice(
            (
                f"#{number}",
                f"{number}",
                f"ORD-{number}",
                f"A{number}",
                f"{number // 1000}-{number % 1000:03d}",
            )
        )

    def _amount(self) -> str:
        rng = self.rng
        value = rng.choice((rng.randint(1, 99), rng.randint(100, 999), rng.randint(1000, 250_000)))
        cents = rng.randint(0, 99)
        return rng.choice(
            (
                f"${value:,}.{cents:02d}",
                f"\u20ac{value:,}",
                f"\u00a3{value}.{cents:02d}",
                f"{value:,} miles",
                f"{value:,} points",
                f"{value:,} USD",
                f"{value} euros",
                f"${value}",
            )
        )

    def _time(self) -> str:
        rng = self.rng
        hour, minute = rng.randint(0, 23), rng.choice((0, 5, 10, 15, 20, 30, 40, 45, 50))
        half = f"{(hour % 12) or 12}{'am' if hour < 12 else 'pm'}"
        return rng.choice((f"{hour:02d}:{minute:02d}", f"{hour}:{minute:02d}", half))

    def _count(self) -> str:
        return str(self.rng.randint(2, 12))

    def _ticket(self) -> str:
        prefix = self.rng.choice(("INC-", "CS-", "#", "TKT", "REQ"))
        return f"{prefix}{self.rng.randint(1000, 999_999)}"

    def _customer_id(self) -> str:
        return f"{self.rng.choice('CMK')}-{self.rng.randint(1000, 99_999)}"

    def _product(self) -> str:
        return self.rng.choice(_PRODUCTS)


_PERSON_KINDS = frozenset("full_name name_mi first_name last_name honorific job".split())
#: kinds whose value is drawn once per sample and group (a place or company named twice)
_SHARED_KINDS = frozenset("company city country state place".split())


def generate(count: int, seed: int = 0, templates: list[Template] | None = None) -> list[Sample]:
    """``count`` filled templates, indexed from 0; every template is used once before any is
    used again (in an order drawn from ``seed``). Not thread-safe: the locales' Fakers are
    shared."""
    templates = load_templates() if templates is None else templates
    if count <= 0 or not templates:
        return []
    values = _Values(seed)
    order: list[Template] = []
    samples: list[Sample] = []
    for index in range(count):
        if not order:
            order = list(templates)
            values.rng.shuffle(order)
        template = order.pop()
        values.new_sample()
        text: list[str] = []
        spans: list[tuple[str, int, int]] = []
        position = 0
        for part in template.parts:
            if isinstance(part, str):
                value = part
            else:
                value = values.value(part)
                label = KINDS[part.kind]
                if label is not None:
                    spans.append((label, position, position + len(value)))
            text.append(value)
            position += len(value)
        samples.append(Sample(index, "".join(text), template.template_id, tuple(spans)))
    return samples
