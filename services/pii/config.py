"""PII service settings."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from services.pii.tagger import DEFAULT_MODEL as DEFAULT_TAGGER_MODEL
from services.runtime.settings import ServiceSettings

DATA_DIR = Path(__file__).resolve().parents[3] / "shared" / "data"
DEFAULT_EVAL_DATA = DATA_DIR / "pii" / "presidio_synth_v2" / "synth_dataset_v2.json"


# The carriers, sportsbooks and dental insurers the shipped packs name (governance/packs/base.yaml
# lists them as competitors), with the short names customers write.
DEFAULT_ORGANIZATIONS: tuple[str, ...] = (
    "Delta Air Lines",
    "Delta Dental",
    "Delta",
    "American Airlines",
    "United Airlines",
    "Southwest Airlines",
    "JetBlue",
    "DraftKings",
    "FanDuel",
    "BetMGM",
    "Caesars Sportsbook",
    "MetLife Dental",
    "MetLife",
    "Cigna Dental",
    "Cigna",
    "Guardian Dental",
)


class PatternSpec(BaseModel):
    """An identifier format an enterprise (or a policy pack) declares: loyalty, member, policy ids.

    A match counts only when one of ``context`` occurs within ``context_window`` characters before
    it, unless ``context`` is empty (then the pattern alone is trusted: keep such patterns
    distinctive, e.g. with a fixed prefix).
    """

    model_config = ConfigDict(extra="forbid")

    type: str = Field(pattern=r"^[A-Z][A-Z0-9_]*[A-Z0-9]$", description="entity type, e.g. LOYALTY")
    regex: str = Field(description="Python regular expression of the identifier itself")
    context: list[str] = Field(
        default_factory=list, description="words that must precede a match (case-insensitive)"
    )
    context_window: int = Field(default=40, ge=0, le=200, description="characters searched back")
    score: float = Field(default=0.8, ge=0, le=1, description="confidence given to a match")

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as error:
            raise ValueError(f"invalid regular expression {value!r}: {error}") from error
        return value


def _default_patterns() -> list[PatternSpec]:
    return [
        # Airline frequent-flyer numbers: two letters and 6-10 digits, or 8-12 digits.
        PatternSpec(
            type="LOYALTY",
            regex=r"\b(?:[A-Z]{2}\d{6,10}|\d{8,12})\b",
            context=["frequent flyer", "frequent flier", "loyalty", "mileage", "rewards", "miles"],
        ),
        PatternSpec(
            type="MEMBER_ID",
            regex=r"\b[A-Z]{0,3}-?\d{5,12}\b",
            context=["member id", "member number", "membership number", "subscriber id"],
        ),
        PatternSpec(
            type="POLICY_NUMBER",
            regex=r"\b[A-Z]{1,4}-?\d{6,12}\b",
            context=["policy number", "policy no", "policy #", "policy id"],
        ),
    ]


class PiiSettings(ServiceSettings):
    """Detection, the vault and its lifetime."""

    port: int = Field(default=50055, ge=0, le=65535)
    vault_ttl_s: float = Field(default=86_400.0, gt=0, description="how long tokens are kept")
    vault_key: SecretStr = Field(
        default=SecretStr(""),
        description=(
            "base64 (url-safe) AES-256 key that encrypts the vault; empty: a random key per "
            "process (tokens then do not survive a restart; a warning is logged)"
        ),
    )
    vault_store: Literal["memory", "redis"] = Field(
        default="memory",
        description=(
            "where the vault keeps its sealed tokens: 'memory' (one process) or 'redis' "
            "(replicas share sessions)"
        ),
    )
    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0", description="Redis server, when vault_store is 'redis'"
    )
    redis_key_prefix: str = Field(
        default="switchboard:pii:", description="prefix of the vault's Redis keys"
    )
    redis_timeout_s: float = Field(
        default=2.0, gt=0, le=60, description="socket timeout of the vault's Redis calls"
    )
    person_fields: list[str] = Field(
        default_factory=lambda: [
            "first_name",
            "last_name",
            "middle_name",
            "given_name",
            "family_name",
            "full_name",
            "surname",
            "customer_name",
            "passenger_name",
            "member_name",
            "holder_name",
            "cardholder_name",
            "patient_name",
            "subscriber_name",
        ],
        description=(
            "keys whose string values in structured data (tool results) are a person's name "
            "whole, whatever the detector says; matched case-insensitively"
        ),
    )
    purge_interval_s: float = Field(
        default=60.0, gt=0, le=3600, description="how often expired sessions are purged"
    )
    detect_timeout_s: float = Field(
        default=2.0, gt=0, le=60, description="time budget of one detection; over it the call fails"
    )
    detect_workers: int = Field(default=4, ge=1, le=64, description="threads running detection")
    max_text_chars: int = Field(
        default=100_000, ge=1, description="longest text accepted; longer is INVALID_ARGUMENT"
    )
    phone_regions: list[str] = Field(
        default_factory=lambda: ["US", "GB", "DE", "FR", "NL", "BE", "IT", "ES", "AU", "IN"],
        description="regions whose national phone formats are recognised (ISO 3166 alpha-2)",
    )
    patterns: list[PatternSpec] = Field(
        default_factory=_default_patterns,
        description="declared identifier formats (loyalty, member, policy numbers)",
    )
    organizations: list[str] = Field(
        default_factory=lambda: list(DEFAULT_ORGANIZATIONS),
        description=(
            "organisations the deployment deals with by name (its own brands, partners, "
            "competitors): found as ORGANIZATION wherever they occur, whole word and case "
            'as written, and never read as a person ("Hello Delta, my flight is late")'
        ),
    )
    masked_types: list[str] | None = Field(
        default=None,
        description=(
            "entity types the service masks; None: the direct identifiers (card, IBAN, bank "
            "account, SSN, national id, email, phone, DOB, address, person, passport, driver's "
            "licence, IP address, loyalty, member and policy numbers) plus every declared "
            "pattern's type. Quasi-identifiers (LOCATION, NATIONALITY, AGE, DATE, ORGANIZATION, "
            "URL, OCCUPATION) are masked only when listed here"
        ),
    )
    tagger_model: Path | None = Field(
        default=DEFAULT_TAGGER_MODEL,
        description=(
            "the sequence tagger's model (names, addresses, places, organisations), with its "
            "contextual read-out beside it (tagger.context.npz); None: the rule recognisers "
            "alone. Rebuild both with `switchboard pii train`"
        ),
    )
    min_score: float = Field(
        default=0.5, ge=0, le=1, description="entities scoring below this are not masked"
    )
