"""Router settings."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.runtime.settings import ServiceSettings

PACKS_DIR = Path(__file__).resolve().parents[2] / "packs"


class IdentityCheck(BaseModel):
    """How the router learns whether a caller the channel names is verified.

    Channels send ``customer_id`` only for callers they have authenticated. For ids starting with
    ``prefix``, ``tool`` is called with ``{argument: id}`` and the caller counts as verified when
    the result's ``field`` equals ``equals``; an empty ``tool`` means the channel's own
    authentication is the verification (e.g. dental offices signed in to the provider portal).
    The default tool for customers (``getCustomer``) returns the CRM record, so the lookup also
    teaches the session's PII vault the names the enterprise knows for the customer (the router
    masks the customer's text after the lookup, see ``TurnRunner._redact``). A customer found
    verified stays verified for the session; one found not verified is looked up again once
    ``RouterSettings.identity_cache_ttl_s`` has passed or a turn may have changed their state
    (:mod:`services.router.identity`).
    """

    model_config = ConfigDict(extra="forbid")

    prefix: str = Field(min_length=1)
    tool: str = ""
    argument: str = "customer_id"
    field: str = "status"
    equals: str = "verified"


class IdentityProof(BaseModel):
    """A tool whose success proves, in the chat, that the caller is the customer it names.

    When a turn's step of ``tool`` succeeds and its result's ``field`` equals ``equals``, a session
    without a customer of its own (an anonymous chat) serves the customer its ``argument`` names
    from then on, as if the channel had named them: their identity check runs, and the base
    policy pack lets calls for their records through. The proof authenticates the caller; whether
    the customer's identity is verified (for withdrawals, account changes) stays the CRM's word.
    A session that already serves a customer is not changed by one. The default reads the CRM's
    ``verifyCustomerIdentity``: the email address the caller gave matched the profile.

    A request the rules of ``answers`` refused in the chat before the proof (a step they blocked)
    waits for it in the session; the reply of the turn whose proof succeeds offers it again, so a
    plain yes takes it up. The default answers the base pack's rule that holds an anonymous
    chat's calls for a customer's records. A message that gives the proof and asks for something
    else ("C-1002, jordan.patel@example.com: where's my withdrawal?") is the proof's ``intent``
    alone, the other request waiting for it as if refused.
    """

    model_config = ConfigDict(extra="forbid")

    tool: str = Field(min_length=1)
    argument: str = "customer_id"
    field: str = "matched"
    equals: bool | str = True
    answers: list[str] = Field(
        default_factory=lambda: ["base/customer-data-needs-a-known-caller"],
        description="policy rules (pack/rule) whose refusals the proof answers",
    )
    intent: str = Field(
        default="verify_identity",
        description=(
            "the request whose flow tries the proof: in a chat that serves no customer it is "
            "served alone, and what the same message asks beside it waits for the proof"
        ),
    )


class RouterSettings(ServiceSettings):
    """The public API's limits and the turn's time budget."""

    port: int = Field(default=50051, ge=0, le=65535)
    turn_deadline_s: float = Field(
        default=15.0, gt=0, le=300, description="the most a turn may take, end to end"
    )
    understand_timeout_s: float = Field(
        default=2.0, gt=0, le=60, description="budget for stage 1 (session, PII, input check)"
    )
    max_text_chars: int = Field(
        default=4000, ge=1, le=100_000, description="longest customer message accepted"
    )
    max_concurrent_turns: int = Field(
        default=1000, ge=1, description="turns in flight before new ones are shed"
    )
    intents_dir: Path = Field(
        default=PACKS_DIR / "intents", description="folder of intent packs the classifier learns"
    )
    classifier_backend: Literal["onnx", "numpy"] = Field(
        default="onnx",
        description="what runs the classifier's MiniLM encoder: onnxruntime, or numpy alone",
    )
    classifier_threads: int = Field(
        default=1,
        ge=1,
        le=64,
        description="threads one classification may use (1: turns run concurrently instead)",
    )
    identity_checks: list[IdentityCheck] = Field(
        default_factory=lambda: [
            IdentityCheck(prefix="C-", tool="getCustomer", field="verification_status"),
            IdentityCheck(prefix="P-", tool=""),
            # A plan member signed in to the member portal: the channel vouches for them.
            IdentityCheck(prefix="M-", tool=""),
        ],
        description="how the identity of the customer (or office) a channel names is verified; "
        "the first check whose prefix matches applies, none: not verified",
    )
    identity_proofs: list[IdentityProof] = Field(
        default_factory=lambda: [IdentityProof(tool="verifyCustomerIdentity")],
        description="tools whose success proves in the chat who the caller is: an anonymous "
        "session then serves that customer",
    )
    shared_industries: list[str] = Field(
        default_factory=lambda: ["general"],
        description="intent packs every industry shares (greetings, complaints, a human): they "
        "never set a conversation's industry and are never weighed down by one",
    )
    other_industry_odds: float = Field(
        default=0.01,
        ge=0,
        le=1,
        description="the prior odds that a message of a conversation about one industry (that of "
        "its latest served request) means another industry's request: those intents' "
        "probabilities are weighted by it before the decision. 0: keep each conversation to one "
        "industry; 1: read every message among all the packs' intents alike",
    )
    unasked_answer_odds: float = Field(
        default=0.1,
        ge=0,
        le=1,
        description="the prior odds that a message means a yes or a no (confirm, decline) when "
        "nothing waits for the customer's answer: weighed by it, 'no thanks, just refund me' is "
        "the refund it asks for, while 'no' alone is still a no. 1: no such weighing",
    )
    identity_cache_ttl_s: float = Field(
        default=60.0,
        ge=0,
        le=3600,
        description="how long after an identity check's lookup found a customer not verified the "
        "session's next turns rely on that answer instead of looking them up again; a turn that "
        "may have changed the customer's state (a tool that is not read-only reached its backend) "
        "drops it at once. 0: look the customer up on every turn. Keep it below pii.vault_ttl_s",
    )
