"""One turn, orchestrated: understand, decide, plan, act, answer, record.

Stage 1 starts the session read, PII masking and the input policy check at once and classifies
the intent while they are in flight. Nothing acts on the message before the input verdict is in.
A flow left waiting for a slot (the session's pending flow) gets the next message when it answers
the flow's question, even one the classifier cannot place on its own ("DMJ5SB"): the planner
judges that (see ``TurnRunner._answer_to_pending``).
Every failure of a dependency, and the turn's own deadline, lands on a deterministic safe path: a
fallback event, a scripted reply, and the turn still ends with exactly one turn_completed.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from google.protobuf import struct_pb2, timestamp_pb2
from opentelemetry import trace

from services.planner.choices import chosen_position, moves_on
from services.router.config import IdentityCheck, IdentityProof
from services.router.events import EventFactory, duration
from services.router.identity import (
    awaiting_proof,
    new_lookup,
    proven_customer,
    recent_lookup,
    sent_tools,
)
from services.router.peers import DependencyFailure, Peers, stream, unary
from services.runtime import deadline, metrics
from services.runtime import telemetry_names as names
from services.runtime.convert import dict_to_struct, struct_to_dict
from services.runtime.errors import DeadlineExceeded
from switchboard.v1 import (
    common_pb2,
    events_pb2,
    governance_pb2,
    pii_pb2,
    planner_pb2,
    session_pb2,
    tool_broker_pb2,
)

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

Emit = Callable[[events_pb2.TurnEvent], Awaitable[None]]

#: seconds kept back from the turn's budget so that a late turn can still be recorded and closed
RECORD_RESERVE_S = 0.5
#: seconds before the end of stage 1 by which the identity lookup gives up
IDENTITY_MARGIN_S = 0.3
#: the most seconds a turn waits for the tool catalogue (to learn which tools are read-only)
CATALOGUE_TIMEOUT_S = 1.0

SAFE_REPLY = (
    "I'm sorry, I can't complete that right now. I've noted your request and a colleague "
    "can pick it up from here."
)

CONFIRM_INTENT = "confirm"
DECLINE_INTENT = "decline"
#: how a message restating the request that waits for a "yes" may open with the answer itself
#: ("yes refund it", "no, don't cancel it"): only words that can mean nothing else, and never in
#: a question ("ok, but how much was it?"), which is answered by saying what waits
_OPENING_YES = re.compile(
    r"(?i)^\W*(?:yes|yeah|yep|yup|sure|ok|okay|absolutely|definitely|please do|go ahead)\b"
)
_OPENING_NO = re.compile(r"(?i)^\W*(?:no|nope|nah|don'?t|do not)\b")
# Words that make a "yes" conditional, unsure or half-said ("sure, but", "ok but wait", "yes if
# the fee is waived", "maybe", "ok fine whatever"): no explicit confirmation of a change that
# cannot be taken back. Asking once more costs a message; a change the customer did not mean is
# not undone by one.
_HEDGED = re.compile(
    r"(?i)\b(?:but|wait|hold on|hang on|not yet|unless|if|before|actually|though|although|"
    r"however|maybe|perhaps|probably|guess|suppose|not sure|whatever)\b"
)
# A whole message of a yes/no prompt's shorthand ("[y/n]"), while a change waits for the customer's
# word: single letters are below what the classifier reads ("y" alone is a greeting at 0.83, and
# teaching it "y" made "x" a yes), so they are read here, exactly.
_SHORTHAND = {"y": CONFIRM_INTENT, "n": DECLINE_INTENT}
# A message that names only a new detail of the request before it: "what about a crown?", "how
# about UA 891?", "and for tomorrow?", "and a filling?"; or asks when of what it just heard, by a
# pronoun: "how long will it take?", "when will it arrive?".
_FOLLOW_UP = re.compile(
    r"(?i)^\W*(?:(?:so|ok|okay)\W+)?(?:(?:what|how)\s+about|and)\b"
    r"|^\W*(?:how\s+long|how\s+soon|when)\b[^?.!]*\b(?:it|that|this|they)\b"
)
# A message that asks why of what it just heard: "why is it pending?", "how come it's on hold?",
# "why?".
_ASKS_WHY = re.compile(
    r"(?i)^\W*(?:(?:so|but|ok|okay|and)\W+)?(?:why|how\s+come)\b"
    r"(?:[^?.!]*\b(?:it|it's|its|that|this|they|they're|still)\b|\W*$)"
)
# A question of its own ("is it safe?", "are you sure?", "why do you need a yes?"): it opens with
# a word that asks, and ends with a question mark.
_QUESTION = re.compile(
    r"(?i)^\W*(?:is|are|was|were|will|would|can|could|do|does|did|should|shall|may|might|must|"
    r"has|have|how|what|why|when|where|who|which)\b[^?]*\?\W*$"
)
#: Plan.flow of a plan a model made: it names no flow, so no intent it serves
MODEL_FLOW = "model"
#: what a held change is called when nothing better says what it does
_SOME_CHANGE = "go ahead with that change"
#: verdicts of the pack every tenant shares (governance/packs/base.yaml) say the general thing
_BASE_PACK = "base/"

#: input verdicts that let a turn act
_PASSING = (common_pb2.POLICY_ACTION_ALLOW, common_pb2.POLICY_ACTION_DISCLAIM)
#: output verdicts that show the customer other text in place of what was composed
_WITHHOLDING = (common_pb2.POLICY_ACTION_BLOCK, common_pb2.POLICY_ACTION_HANDOFF)

_FAILED_OUTCOMES = (
    common_pb2.STEP_OUTCOME_FAILED,
    common_pb2.STEP_OUTCOME_TIMED_OUT,
    common_pb2.STEP_OUTCOME_UNAVAILABLE,
)
#: a backend's answers about the request itself, not failures to serve it: nothing by that
#: reference (404), a state that does not allow it (409: a cancelled flight, a full cabin), a card
#: that cannot pay (402). The flows' replies say what each means; they are no step onto the ladder.
_ANSWERS = (402, 404, 409)

#: routes by which the ladder asks the customer again, rather than refusing or handing off
_ASKING_AGAIN = (governance_pb2.DECISION_ROUTE_CLARIFY, governance_pb2.DECISION_ROUTE_SAFE_FLOW)
#: the ladder's answers that ask the customer again
_ASKED_AGAIN = (events_pb2.FALLBACK_ACTION_CLARIFY, events_pb2.FALLBACK_ACTION_SAFE_FLOW)
#: the ladder's reasons for a message the classifier could not place
_UNPLACED = (
    events_pb2.FALLBACK_REASON_OUT_OF_SCOPE,
    events_pb2.FALLBACK_REASON_LOW_CONFIDENCE,
    events_pb2.FALLBACK_REASON_AMBIGUOUS,
)


class Classification(Protocol):
    """What the router needs from an intent classification."""

    @property
    def intent(self) -> str: ...

    @property
    def confidence(self) -> float: ...

    @property
    def candidates(self) -> Sequence[tuple[str, float]]: ...

    @property
    def out_of_scope(self) -> bool: ...

    @property
    def intents(self) -> Sequence[str]: ...


class Classifier(Protocol):
    """The intent classifier the router runs in-process."""

    def classify(self, text: str, top_k: int = 5) -> Classification: ...

    # ``result`` is what ``classify`` returned (typed Any: each classifier has its own type).
    def within(
        self,
        result: Any,
        intents: Collection[str] | None,
        others: float,
        unlikely: Mapping[str, float] | None = None,
    ) -> Classification: ...


@dataclass
class TurnInput:
    """A validated customer message."""

    turn_id: str
    session_id: str
    text: str
    channel: str = ""
    customer_id: str = ""


@dataclass
class _Turn:
    """What a turn has gathered so far; becomes its TurnRecord."""

    input: TurnInput
    events: EventFactory
    emit: Emit
    started: float = field(default_factory=time.monotonic)
    started_at: timestamp_pb2.Timestamp = field(default_factory=timestamp_pb2.Timestamp)
    session: session_pb2.Session | None = None
    masked_text: str = ""
    intent: events_pb2.IntentDetected | None = None
    verdicts: list[common_pb2.PolicyVerdict] = field(default_factory=list)
    plan: common_pb2.Plan | None = None
    results: list[common_pb2.StepResult] = field(default_factory=list)
    fallbacks: list[events_pb2.Fallback] = field(default_factory=list)
    handoff: events_pb2.Handoff | None = None
    reply: list[str] = field(default_factory=list)
    usage: common_pb2.TokenUsage = field(default_factory=common_pb2.TokenUsage)
    stage_latency: dict[str, float] = field(default_factory=dict)
    #: the CRM's verdict on the customer's identity, when this turn looked it up
    identity_verified: bool | None = None
    #: the lookup, made or relied on by this turn, that found the customer not verified
    identity_lookup: session_pb2.IdentityLookup | None = None
    #: the customer confirmed the plan the session held for confirmation
    confirmed: bool = False
    #: a plan this turn leaves waiting for the customer's confirmation
    pending_plan: common_pb2.Plan | None = None
    #: the pending flow this turn answers, when it is not the intent the classifier found
    answers_flow: str = ""
    #: what the message asked beside an identity proof it gave in an anonymous chat: it waits
    #: for the proof (:meth:`TurnRunner._proof_first`)
    after_proof: str = ""
    #: the pending flow's plan for this message by tier, once asked whether it answers that
    #: flow (a plan without a flow: it does not)
    answer_plans: dict[str, common_pb2.Plan] = field(default_factory=dict)
    #: the flow and slots the reply asked for after the plan ran (a lookup left them open)
    asked: planner_pb2.MissingSlots | None = None
    #: the requests the reply offered to make next: a plain yes next turn takes up a single one,
    #: and asks which of two or more
    offered: list[planner_pb2.Offer] = field(default_factory=list)

    def facts(self) -> struct_pb2.Struct:
        """The session facts policy rules read."""
        verified = self.identity_verified
        if verified is None:
            verified = _verified_in_session(self.session, self.input.customer_id)
        customer = self.input.customer_id or (self.session.customer_id if self.session else "")
        return dict_to_struct(
            {
                "identity_verified": verified,
                "customer_id": customer,
                "confirmed": self.confirmed,
                # The ladder escalates by it: clarify, then the safe flow, then a hand-off.
                "fallbacks_in_a_row": self.session.fallbacks_in_a_row if self.session else 0,
                # A question, a held change or an offer waits: a yes or a no may be offered as
                # options.
                "awaiting_answer": bool(self.session and _awaiting_answer(self.session)),
            }
        )

    @property
    def served_intent(self) -> str:
        """The intent the reply serves: the pending flow's when the turn answers it."""
        return self.answers_flow or (self.intent.name if self.intent is not None else "")

    def add_usage(self, usage: common_pb2.TokenUsage) -> None:
        self.usage.input_tokens += usage.input_tokens
        self.usage.output_tokens += usage.output_tokens
        if usage.model and usage.model not in self.usage.model.split(","):
            self.usage.model = ",".join(filter(None, (self.usage.model, usage.model)))

    async def send(self, event: events_pb2.TurnEvent) -> None:
        await self.emit(event)

    async def say(self, text: str) -> None:
        if text:
            self.reply.append(text)
            await self.send(self.events.text(text))

    @property
    def failed(self) -> bool:
        """Whether the turn ended on the safe path (a dependency down or out of time)."""
        return any(f.reason == events_pb2.FALLBACK_REASON_DEPENDENCY_DOWN for f in self.fallbacks)

    async def fall_back(self, fallback: events_pb2.Fallback) -> None:
        self.fallbacks.append(fallback)
        await self.send(self.events.fallback(fallback))

    async def verdict(self, verdict: common_pb2.PolicyVerdict) -> None:
        self.verdicts.append(verdict)
        await self.send(self.events.policy(verdict))


class _Stage:
    """Times a stage into the turn's stage_latency and wraps it in a span."""

    def __init__(self, turn: _Turn, name: str) -> None:
        self.turn = turn
        self.name = name

    async def __aenter__(self) -> None:
        self._span = tracer.start_as_current_span(
            names.SPAN_STAGE.format(stage=self.name), attributes={names.STAGE: self.name}
        )
        self._span.__enter__()
        self._start = time.monotonic()

    async def __aexit__(self, *exc: object) -> None:
        self.turn.stage_latency[self.name] = time.monotonic() - self._start
        self._span.__exit__(*exc)  # type: ignore[arg-type]


def _first_failure(group: BaseExceptionGroup[BaseException]) -> BaseException:
    # A TaskGroup reports every failed task; the first dependency failure explains the turn best.
    for error in group.exceptions:
        if isinstance(error, DependencyFailure):
            return error
    return group.exceptions[0]


def _compose_request(
    turn: _Turn, plan: common_pb2.Plan, *, asking: bool = False
) -> planner_pb2.ComposeRequest:
    """What Compose needs for the turn's reply, or (``asking``) for what its held steps do."""
    assert turn.intent is not None
    return planner_pb2.ComposeRequest(
        session_id=turn.input.session_id,
        turn_id=turn.input.turn_id,
        text=turn.masked_text,
        intent=common_pb2.IntentScore(name=turn.served_intent, confidence=turn.intent.confidence),
        plan=plan,
        results=turn.results,
        awaiting_confirmation=asking,
    )


async def _own_words(text: str) -> AsyncIterator[planner_pb2.ComposeResponse]:
    """Text of the router's own, shaped as the planner's reply, for the output checks."""
    yield planner_pb2.ComposeResponse(text_delta=text)


def _opening_answer(text: str) -> str:
    """``confirm`` or ``decline`` when the message opens with a plain yes or no, else ""."""
    if "?" in text:
        return ""
    if _OPENING_YES.match(text):
        return CONFIRM_INTENT
    return DECLINE_INTENT if _OPENING_NO.match(text) else ""


def _describe(plan: common_pb2.Plan) -> str:
    """What a plan awaiting confirmation will do, as the customer was told."""
    return plan.awaiting_confirmation or _SOME_CHANGE


def _still_waiting(plan: common_pb2.Plan) -> str:
    """What the router says while a plan still waits for the customer's yes or no."""
    return (
        f"Not yet: I'm waiting for your confirmation before I {_describe(plan)}. Reply yes to "
        "go ahead, or no to cancel."
    )


def _measure(turn: _Turn, latency: float) -> None:
    intent = turn.intent.name if turn.intent is not None else ""
    metrics.TURN_DURATION.record(latency, {names.INTENT: intent})
    for stage, seconds in turn.stage_latency.items():
        metrics.STAGE_DURATION.record(seconds, {names.STAGE: stage})
    for result in turn.results:
        metrics.TOOL_DURATION.record(
            result.latency.ToNanoseconds() / 1e9,
            {
                names.TOOL: result.tool,
                names.STEP_OUTCOME: common_pb2.StepOutcome.Name(result.outcome),
            },
        )
    for fallback in turn.fallbacks:
        reason = events_pb2.FallbackReason.Name(fallback.reason)
        metrics.FALLBACKS.add(1, {names.FALLBACK_REASON: reason})
    for verdict in turn.verdicts:
        if verdict.action != common_pb2.POLICY_ACTION_ALLOW:
            action = common_pb2.PolicyAction.Name(verdict.action)
            metrics.POLICY_INTERVENTIONS.add(
                1, {names.POLICY_RULE: verdict.rule_id, names.POLICY_ACTION: action}
            )
    tokens = turn.usage.input_tokens + turn.usage.output_tokens
    if tokens:
        metrics.TOKENS.add(tokens, {names.GEN_AI_REQUEST_MODEL: turn.usage.model})


def _carried(
    turn: _Turn, session: session_pb2.Session | None
) -> tuple[dict[str, str], str, common_pb2.Plan | None]:
    """The slots, pending flow and plan awaiting confirmation the turn leaves in the session.

    A turn that planned sets slots from its plan, and leaves its flow pending when the plan missed
    slots or the reply asked for some after the plan ran (a lookup found several values or none),
    keeping beside them what that reply listed to choose from (``keep``: an answer by position
    must pick the value the customer was shown); one that did not plan keeps the session's slots,
    and its pending flow when the ladder asked the customer again (clarified, or said what it can
    do) rather than handing off, and then the plan waiting for the customer's word too. A turn
    that failed is no answer: it also keeps the session's pending flow and that plan (re-running
    it after a "yes" is safe: its id keeps the idempotency keys).
    """
    pending_plan = turn.pending_plan
    plan = turn.plan
    # A message the ladder asked about again ("which flights are there?" while a flight is to be
    # chosen, "hold on a sec" while a change waits for a yes) has not moved on from the flow's
    # question, nor from the change as the confirmation described it: the next message may still
    # answer them.
    asked_again = (
        plan is None
        and turn.handoff is None
        and any(f.action in _ASKED_AGAIN for f in turn.fallbacks)
    )
    kept = turn.failed or asked_again or (plan is not None and plan.aside)
    if kept and pending_plan is None and session is not None and session.pending_plan.steps:
        pending_plan = session.pending_plan
    if plan is not None and plan.aside and session is not None:
        # A complaint or a thank-you between the question and its answer: the question stands.
        return dict(plan.slots), session.pending_flow, pending_plan
    if plan is not None:
        slots = dict(plan.slots)
        if plan.missing_slots:
            pending = plan.flow
        elif turn.asked is not None:
            pending = turn.asked.flow
            slots.update(turn.asked.keep)
        else:
            pending = ""
        return slots, pending, pending_plan
    if session is None:
        return {}, "", pending_plan
    keep = turn.failed or asked_again
    return dict(session.slots), session.pending_flow if keep else "", pending_plan


def _served_in_full(turn: _Turn) -> str:
    """The intent of the request the turn served, when it did: planned and not an aside, with no
    turn to the fallback ladder (a clarification, the safe flow, a hand-off, a failed backend)."""
    plan = turn.plan
    if turn.intent is None or plan is None or not plan.flow or plan.aside or turn.fallbacks:
        return ""
    flows = plan.flow.split("+")
    if plan.flow == MODEL_FLOW or turn.served_intent in flows:
        return turn.served_intent
    # A "yes" runs the plan that waited for it: the request served is that plan's.
    return flows[0]


#: verdicts a customer's confirmation does not lift
_REFUSALS = (common_pb2.POLICY_ACTION_BLOCK, common_pb2.POLICY_ACTION_HANDOFF)

#: session slots named ``<slot>_options`` hold what the last reply listed for the customer to
#: choose from (``MissingSlots.keep``): references the assistant itself showed.
_OPTIONS_SUFFIX = "_options"


def _listed(session: session_pb2.Session) -> list[str]:
    """The references the session's last reply listed for the customer to choose from."""
    return [
        value
        for name, values in sorted(session.slots.items())
        if name.endswith(_OPTIONS_SUFFIX)
        for value in values.split()
    ]


def _either(options: list[str]) -> str:
    """'"a"', '"a" or "b"', '"a", "b" or "c"'."""
    if len(options) < 2:
        return "".join(options)
    return ", ".join(options[:-1]) + " or " + options[-1]


def _awaiting_answer(session: session_pb2.Session) -> bool:
    """Whether the session waits for the customer's answer: a flow's question, a change held for
    confirmation, or a request (or a choice of requests) the last reply offered to make."""
    return bool(
        session.pending_flow
        or session.pending_plan.steps
        or session.offered_intent
        or session.offered_choices
    )


def _verified_in_session(session: session_pb2.Session | None, customer_id: str) -> bool:
    """Whether the session holds a verification of ``customer_id`` (of its own customer when the
    turn names none): a verification of one customer never passes to another."""
    if session is None or not session.identity_verified:
        return False
    return not customer_id or session.customer_id in ("", customer_id)


class TurnRunner:
    """Runs turns against the mesh."""

    def __init__(
        self,
        peers: Peers,
        classifier: Classifier,
        *,
        turn_deadline_s: float,
        understand_timeout_s: float,
        identity_checks: Sequence[IdentityCheck] = (),
        identity_cache_ttl_s: float = 0.0,
        identity_proofs: Sequence[IdentityProof] = (),
        industries: Mapping[str, str] | None = None,
        shared_industries: Collection[str] = ("general",),
        other_industry_odds: float = 1.0,
        unasked_answer_odds: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.peers = peers
        self.classifier = classifier
        #: each intent's industry (its pack's); empty: conversations have none
        self.industries = dict(industries or {})
        self.shared_industries = frozenset(shared_industries)
        #: how far another industry's intents are believed in a conversation of one (1: alike)
        self.other_industry_odds = other_industry_odds
        #: how far a yes or a no is believed when nothing waits for one (1: as any intent)
        self.unasked_answer_odds = unasked_answer_odds
        scopes: dict[str, set[str]] = {}
        for intent, industry in self.industries.items():
            scopes.setdefault(industry, set()).add(intent)
        shared = set().union(*(scopes.pop(name, set()) for name in self.shared_industries))
        #: the intents a conversation of each industry may mean: its own and the shared ones
        self._scopes = {industry: frozenset(own | shared) for industry, own in scopes.items()}
        self.identity_checks = tuple(identity_checks)
        self.identity_cache_ttl_s = identity_cache_ttl_s
        self.identity_proofs = tuple(identity_proofs)
        self.turn_deadline_s = turn_deadline_s
        self.understand_timeout_s = understand_timeout_s
        #: wall-clock time (Unix seconds): identity lookups are dated and aged by it, across
        #: router processes
        self.clock = clock
        self._read_only_tools: frozenset[str] | None = None
        self._catalogue_lock = asyncio.Lock()

    async def run(self, request: TurnInput, emit: Emit) -> None:
        """Run one turn, emitting its events; always ends with one turn_completed."""
        with (
            deadline.scope(self.turn_deadline_s),
            tracer.start_as_current_span(
                names.SPAN_TURN,
                attributes={
                    names.SESSION_ID: request.session_id,
                    names.TURN_ID: request.turn_id,
                    names.CHANNEL: request.channel,
                },
            ) as span,
        ):
            context = span.get_span_context()
            # With tracing off there is no trace id; the turn still needs one to be told apart.
            trace_id = format(context.trace_id, "032x") if context.is_valid else uuid.uuid4().hex
            turn = _Turn(input=request, events=EventFactory(request.turn_id, trace_id), emit=emit)
            turn.started_at.GetCurrentTime()
            await turn.send(turn.events.turn_started(request.session_id, request.channel))
            budget = (deadline.remaining() or self.turn_deadline_s) - RECORD_RESERVE_S
            try:
                async with asyncio.timeout(max(budget, 0.05)):
                    await self._stages(turn)
            except TimeoutError:
                await self._safe_path(turn, "the turn ran out of time before it could finish")
            except DependencyFailure as failure:
                log.warning("turn %s: %s", request.turn_id, failure)
                await self._safe_path(turn, f"{failure.service} is unavailable ({failure.code})")
            persisted = await self._record(turn)
            latency = time.monotonic() - turn.started
            span.set_attribute(names.TURN_LATENCY_MS, latency * 1000)
            if turn.intent is not None:
                span.set_attribute(names.INTENT, turn.intent.name)
                span.set_attribute(names.INTENT_CONFIDENCE, turn.intent.confidence)
            _measure(turn, latency)
            completed = events_pb2.TurnCompleted(
                latency=duration(latency),
                usage=turn.usage,
                reply="".join(turn.reply),
                stage_latency={k: duration(v) for k, v in turn.stage_latency.items()},
            )
            completed.metadata.update({"persisted": persisted})
            await turn.send(turn.events.completed(completed))

    async def _stages(self, turn: _Turn) -> None:
        async with _Stage(turn, "understand"):
            await self._understand(turn)
        assert turn.intent is not None and turn.session is not None
        waiting = turn.session.pending_plan
        restated = bool(waiting.steps) and turn.intent.name in waiting.flow.split("+")
        answer = _opening_answer(turn.masked_text) if restated else ""
        offer_open = (
            bool(turn.session.offered_intent or turn.session.offered_choices)
            and not turn.session.pending_flow
        )
        if (waiting.steps and not restated) or (offer_open and not waiting.steps):
            # "n" to a change that waits, or to the request the last reply offered, turns it
            # down as a plain "no" does.
            answer = _SHORTHAND.get(turn.masked_text.strip(" .!").lower(), "")
        passing = all(v.action in _PASSING for v in turn.verdicts)
        # The prompt's own shorthand says what it says, whatever the classifier made of it ("n"
        # alone can read as a yes).
        said_yes = answer == CONFIRM_INTENT or (
            answer != DECLINE_INTENT and turn.intent.name == CONFIRM_INTENT
        )
        # A question about the change that waits ("is it safe?", "are you sure?") answers it
        # neither way, whatever yes or no the classifier hears in it: what waits is said again.
        # A yes with a question mark anywhere ("yes?", "ok, how long will it take?") is no
        # explicit yes either: a change that cannot be taken back waits for one without doubt.
        # Nor is a no that hedges ("wait", "no, not yet", "hold on"): the change still waits.
        asking = (
            bool(waiting.steps)
            and not answer
            and (
                (turn.intent.name == CONFIRM_INTENT and "?" in turn.masked_text)
                or (
                    turn.intent.name in (CONFIRM_INTENT, DECLINE_INTENT)
                    and (
                        _QUESTION.match(turn.masked_text) is not None
                        or _HEDGED.search(turn.masked_text) is not None
                    )
                )
            )
        )
        confirming = bool(waiting.steps) and said_yes and passing and not asking
        if confirming and await self._plain_yes(turn, answer):
            await self._run_confirmed(turn, waiting)
            return
        changed = None
        if waiting.steps and answer != DECLINE_INTENT and passing and not asking:
            changed = await self._changed_request(turn, waiting)
        if changed is None and (confirming or asking or (restated and answer != DECLINE_INTENT)):
            # A "yes" that is not one ("sure, but", or one the classifier is unsure of), a
            # question about the change, or the customer back about it ("did you manage to
            # rebook me?"): say what is waiting instead of acting or planning it afresh.
            turn.pending_plan = waiting
            await turn.say(_still_waiting(waiting))
            return
        if changed is not None:
            plan = changed
        elif answer == DECLINE_INTENT and passing:
            # "No, don't refund it": the change is dropped, as after a plain "no". A message the
            # input check stopped goes to the ladder, which says why.
            turn.answers_flow = DECLINE_INTENT
            async with _Stage(turn, "plan"):
                plan = await self._plan(turn, "")
        else:
            decided = None
            # "The first one" picks an offer by its place (the classifier may read it as a yes).
            picked = passing and self._chosen_offer(turn)
            if passing and not picked and await self._ask_which(turn):
                return
            if passing and not picked and not await self._take_up(turn):
                decided = await self._follow_up(turn)
            if decided is None:
                decided = await self._decide(turn)
            if decided is None:
                return
            plan = decided
        pending = turn.session.pending_flow
        if pending and plan.flow == pending and pending != turn.intent.name:
            turn.answers_flow = pending
        turn.plan = plan
        await turn.send(turn.events.plan(plan))
        for usage in plan.usage:
            turn.add_usage(usage)
        if plan.fallback_reason:
            await turn.fall_back(
                events_pb2.Fallback(
                    reason=events_pb2.FALLBACK_REASON_MODEL_UNAVAILABLE,
                    action=events_pb2.FALLBACK_ACTION_EMBEDDED_ENGINE,
                    detail=plan.fallback_reason,
                    original_intent=turn.intent.name,
                    original_confidence=turn.intent.confidence,
                )
            )
        if plan.steps:
            async with _Stage(turn, "act"):
                await self._act(turn, plan)
            if await self._ask_confirmation(turn, plan):
                return
        async with _Stage(turn, "answer"):
            await self._answer(
                turn, waiting if changed is None and answer != DECLINE_INTENT else None
            )

    async def _keep_held(self, turn: _Turn, waiting: common_pb2.Plan, plan: common_pb2.Plan) -> str:
        """A question answered while a change waits for the customer's word ("what's my
        balance?" while a withdrawal waits for a yes): the change goes on waiting, and the reply
        ends by asking for the word again, saying what the change does, so that the "yes" that
        follows is to that change and nothing else the reply offered. A request that changes
        something, asks something of its own, says so ("never mind, ..."), or could not be
        answered moves on from it."""
        if not waiting.steps or turn.asked is not None:
            return ""
        if turn.fallbacks or plan.missing_slots or not plan.steps or moves_on(turn.masked_text):
            return ""
        read_only = await self._read_only()
        if not all(step.tool in read_only for step in plan.steps):
            return ""
        turn.pending_plan = waiting
        turn.offered = []
        return (
            f"\n\nOne thing still waits for your word: I'm about to {_describe(waiting)}. "
            "Reply yes to go ahead, or no to cancel."
        )

    async def _changed_request(
        self, turn: _Turn, waiting: common_pb2.Plan
    ) -> common_pb2.Plan | None:
        """The held change's flow planned afresh, when the message changes what that flow looked
        up rather than answer the confirmation ("what about the day after?" while a rebooking
        onto UA891 waits for a yes): the held change is dropped. The planner says whether the
        message does (a slot of the flow that ``refines`` it, and nothing else asked for);
        None when it does not, and the message goes its usual way."""
        flow = waiting.flow
        if not flow or flow == MODEL_FLOW or "+" in flow:
            return None
        async with _Stage(turn, "plan"):
            plan = await self._plan(turn, "", only_if_answered=True, pending_flow=flow)
        if not plan.flow:
            return None
        turn.answers_flow = plan.flow
        return plan

    async def _take_up(self, turn: _Turn) -> bool:
        """Whether this message takes up the request the last reply offered ("I can look for
        another flight for you"): a plain yes, while nothing else waits for an answer.

        The yes then becomes that request, at the yes's confidence, and goes through the ladder
        as if the customer had asked for it: "yes" to "I can connect you with a colleague" is a
        hand-off. A yes that is not one ("sure, but ...", or one the ladder would not act on)
        goes its usual way.
        """
        assert turn.intent is not None and turn.session is not None
        offered = turn.session.offered_intent
        if not offered or not await self._yes_to_offer(turn):
            return False
        turn.intent = events_pb2.IntentDetected(
            name=offered,
            confidence=turn.intent.confidence,
            candidates=[common_pb2.IntentScore(name=offered, confidence=turn.intent.confidence)],
            classifier=turn.intent.classifier,
            intents=[offered],
        )
        # The stream keeps the classifier's reading (one intent event per turn); the plan event
        # that follows names the flow taken up.
        return True

    def _chosen_offer(self, turn: _Turn) -> bool:
        """Whether the message picks one of the requests the last reply offered by its place in
        the reply ("the second one" after "say 'rebook me' ... or 'refund my flight'"), while
        nothing else waits for an answer. The message then becomes that request, as a plain yes
        to a single offer does; a place past the offers ("the third one" of two) goes its usual
        way."""
        assert turn.intent is not None and turn.session is not None
        session = turn.session
        choices = session.offered_choices
        if len(choices) < 2 or session.pending_flow or session.pending_plan.steps:
            return False
        position = chosen_position(turn.masked_text, len(choices))
        if position is None or position >= len(choices):
            return False
        chosen = choices[position].intent
        # The place is read, not guessed: the request is certain as the reply offered it.
        turn.intent = events_pb2.IntentDetected(
            name=chosen,
            confidence=1.0,
            candidates=[common_pb2.IntentScore(name=chosen, confidence=1.0)],
            classifier=turn.intent.classifier,
            intents=[chosen],
        )
        return True

    async def _ask_which(self, turn: _Turn) -> bool:
        """Whether this message is a plain yes to a reply that offered two or more requests
        ("say 'rebook me' ... or 'refund my flight'"), while nothing else waits for an answer.
        A yes cannot mean all of them: the customer is asked which, in the reply's own words,
        and the choices stay open for the answer."""
        assert turn.session is not None
        choices = list(turn.session.offered_choices)
        if len(choices) < 2 or not await self._yes_to_offer(turn):
            return False
        turn.offered = [planner_pb2.Offer(intent=c.intent, say=c.say) for c in choices]
        said = [f'"{c.say}"' for c in choices if c.say]
        if len(said) == len(choices):
            await turn.say(f"Happy to. Which would you like? Say {_either(said)}.")
        else:
            await turn.say("Happy to. Which of those would you like me to do?")
        return True

    async def _yes_to_offer(self, turn: _Turn) -> bool:
        """Whether the message is a plain yes to what the last reply offered, while no change
        waits for the customer's word: read as a yes (or the exact "y"), never the exact "n", and
        neither hedged nor unclear (:meth:`_plain_yes`).

        A flow left waiting beside the offer ("no flights have seats that day or the next ... I
        can connect you with a colleague") waits for something a yes may not give: the planner
        says whether it answers that flow (a yes to the only flight listed does), and only a yes
        that does not goes to the offer."""
        assert turn.intent is not None and turn.session is not None
        session = turn.session
        if session.pending_plan.steps:
            return False
        shorthand = _SHORTHAND.get(turn.masked_text.strip(" .!").lower(), "")
        if shorthand == DECLINE_INTENT or CONFIRM_INTENT not in (turn.intent.name, shorthand):
            return False
        if not await self._plain_yes(turn, shorthand):
            return False
        return not session.pending_flow or not (await self._pending_answer(turn, "")).flow

    async def _pending_answer(self, turn: _Turn, tier: str) -> common_pb2.Plan:
        """The pending flow's plan for the message when it answers that flow's question, else a
        plan without a flow; asked of the planner once a turn."""
        if tier not in turn.answer_plans:
            async with _Stage(turn, "plan"):
                plan = await self._plan(turn, tier, only_if_answered=True)
            turn.answer_plans[tier] = plan
        return turn.answer_plans[tier]

    async def _follow_up(self, turn: _Turn) -> common_pb2.Plan | None:
        """The last served request again with this message's detail, for a follow-up that names
        only the detail ("what about a crown?" after a coverage check, "and for tomorrow?").

        Only while nothing waits for an answer, only for a message worded as a follow-up, and only
        when the classifier found no request of its own in it: the same intent, one of the shared
        packs' ("and for tomorrow?" reads as a goodbye), or nothing clear enough to act on ("and
        rebook me on UA 891" after a flight's status is a rebooking). The planner says whether
        the words give the request's flow a detail; if not, the message goes its usual way.
        A question asking why of what was shown ("why is it pending?") gets the same request
        again as it stands, its reply saying why, when the planner finds its flow only reads.
        When the words give the served request nothing, the classifier's unsure reading of the
        same industry is asked the same ("how long until I get it?" after a withdrawal).
        """
        assert turn.intent is not None and turn.session is not None
        session = turn.session
        served = session.served_intent
        again = bool(_ASKS_WHY.match(turn.masked_text))
        if (
            not served
            or session.pending_flow
            or session.pending_plan.steps
            or not (again or _FOLLOW_UP.match(turn.masked_text))
        ):
            return None
        own = turn.intent.name
        shared = self.industries.get(own, "") in self.shared_industries
        if own != served and not shared and await self._clear(turn):
            return None
        # "How long until I get it?" after a withdrawal was requested gives that request no
        # detail, but gives one to the reading the classifier was unsure of, of the same industry
        # (a withdrawal's status): the conversation makes it the likely one.
        followed = [served]
        industry = self.industries.get(own)
        if own != served and not shared and industry and industry == self.industries.get(served):
            followed.append(own)
        for flow in followed:
            turn.answers_flow = flow
            async with _Stage(turn, "plan"):
                plan = await self._plan(turn, "", follow_up=not again, again=again)
            if plan.flow:
                return plan
        turn.answers_flow = ""
        return None

    async def _plain_yes(self, turn: _Turn, answer: str) -> bool:
        """Whether a message read as a yes is one to act on: no hedging word in it ("sure, but",
        "ok wait"), and either the prompt's exact shorthand ``answer`` ("y") or a reading the
        ladder would let through (confirm's own minimum confidence)."""
        if _HEDGED.search(turn.masked_text):
            return False
        return answer == CONFIRM_INTENT or await self._clear(turn)

    async def _clear(self, turn: _Turn) -> bool:
        """Whether the ladder lets the message through as the intent it was read as: clear
        enough to act on (its confidence and margin over the runner-up, as the packs set them)."""
        decision = await self._ladder(turn)
        return bool(decision.route == governance_pb2.DECISION_ROUTE_PROCEED)

    async def _ladder(self, turn: _Turn) -> governance_pb2.DecideResponse:
        """Governance's decision on the turn's intent: proceed, or which step of the ladder."""
        assert turn.intent is not None
        decision: governance_pb2.DecideResponse = await unary(
            "governance",
            self.peers.governance.Decide(
                governance_pb2.DecideRequest(
                    session_id=turn.input.session_id,
                    intent=turn.intent,
                    verdicts=turn.verdicts,
                    session=turn.facts(),
                )
            ),
        )
        return decision

    async def _decide(self, turn: _Turn) -> common_pb2.Plan | None:
        """The plan when the ladder lets the message proceed or it answers the pending flow's
        question; None when the turn went off the path (its reply said)."""
        async with _Stage(turn, "decide"):
            decision = await self._ladder(turn)
        for verdict in decision.matched:
            if verdict.action != common_pb2.POLICY_ACTION_ALLOW:
                await turn.verdict(verdict)
        if decision.route == governance_pb2.DECISION_ROUTE_PROCEED:
            asked = self._proof_first(turn)
            async with _Stage(turn, "plan"):
                plan = await self._plan(turn, decision.tier)
                if asked is not None and not plan.steps:
                    # No proof to try in the message ("my balance? my number is C-1001"): the
                    # requests together, whose refusal says what proof to give.
                    turn.intent, turn.after_proof = asked, ""
                    plan = await self._plan(turn, decision.tier)
        else:
            answer = await self._answer_to_pending(turn, decision)
            if answer is None:
                await self._off_path(turn, decision)
                return None
            plan = answer
        return plan

    def _proof_first(self, turn: _Turn) -> events_pb2.IntentDetected | None:
        """Serve only the identity proof of a message that also asks for something else, in a
        chat that serves no customer: "C-1002, jordan.patel@example.com: where's my withdrawal?".
        Planned together, the withdrawal's call would be refused (the chat does not know the
        caller yet) and, with it, the proof. The other request waits for the proof, and the reply
        of a proof that succeeds offers it. Returns the reading it replaced (None: it did not)."""
        assert turn.intent is not None and turn.session is not None
        if turn.input.customer_id or turn.session.customer_id or len(turn.intent.intents) < 2:
            return None
        proofs = {proof.intent for proof in self.identity_proofs}
        proof = next((name for name in turn.intent.intents if name in proofs), "")
        others = [name for name in turn.intent.intents if name != proof]
        if not proof or not others:
            return None
        read = turn.intent
        turn.after_proof = others[0]
        confidence = next(
            (c.confidence for c in turn.intent.candidates if c.name == proof),
            turn.intent.confidence,
        )
        turn.intent = events_pb2.IntentDetected(
            name=proof,
            confidence=confidence,
            candidates=[common_pb2.IntentScore(name=proof, confidence=confidence)],
            classifier=turn.intent.classifier,
            intents=[proof],
        )
        return read

    async def _run_confirmed(self, turn: _Turn, plan: common_pb2.Plan) -> None:
        """Run the plan the customer just confirmed, as it was proposed.

        It runs under its own plan id, so the broker gives its steps the idempotency keys they
        had the first time: a step that already took effect then is not repeated.
        """
        turn.confirmed = True
        turn.plan = plan
        # The reply is about what was confirmed (a withdrawal carries the responsible-gaming
        # reminder, a claim the disclaimer), not about the word "yes".
        served = plan.flow.split("+")[0]
        if served != MODEL_FLOW:
            turn.answers_flow = served
        await turn.send(turn.events.plan(plan))
        async with _Stage(turn, "act"):
            await self._act(turn, plan)
        if await self._ask_confirmation(turn, plan):
            return
        async with _Stage(turn, "answer"):
            await self._answer(turn)

    async def _ask_confirmation(self, turn: _Turn, plan: common_pb2.Plan) -> bool:
        """If policy held a step for the customer's confirmation, keep the plan and ask."""
        held = [
            (result, verdict)
            for result in turn.results
            if result.outcome == common_pb2.STEP_OUTCOME_REJECTED
            for verdict in result.verdicts
            if verdict.action == common_pb2.POLICY_ACTION_CONFIRM
        ]
        # A step that a rule blocks or hands off is refused whatever the customer answers:
        # asking for a "yes" first would only lead to that refusal one turn later.
        refused = any(
            verdict.action in _REFUSALS
            for result in turn.results
            if result.outcome == common_pb2.STEP_OUTCOME_REJECTED
            for verdict in result.verdicts
        )
        if not held or refused or turn.confirmed:
            return False
        turn.pending_plan = plan
        # What the customer confirms, in the flow's words ("move reservation SBX7Q2 onto flight
        # UA891 on Thu 26 Nov"): everything that has not run yet, the held steps and those
        # waiting behind them, never only the first of them.
        async with _Stage(turn, "answer"):
            actions = await self._held_actions(turn, plan)
            plan.awaiting_confirmation = actions
            # A pack's own words ("That's a large withdrawal. Please confirm the amount ...")
            # say more than the base pack's rule for every contract that asks for a "yes".
            specific = [v for _, v in held if v.message and not v.rule_id.startswith(_BASE_PACK)]
            messages = [v.message for v in specific] or [v.message for _, v in held if v.message]
            message = messages[0] if messages else "Please confirm that you want me to go ahead."
            await self._release(
                turn,
                _own_words(
                    f"{message} I'm about to {actions}. Reply yes to go ahead, or no to cancel."
                ),
            )
        return True

    async def _held_actions(self, turn: _Turn, plan: common_pb2.Plan) -> str:
        """What the steps waiting for the customer's word will do, as the planner words it."""
        compose = self.peers.planner.Compose(_compose_request(turn, plan, asking=True))
        words: list[str] = []
        async for item in stream("planner", compose):
            if item.WhichOneof("item") == "text_delta":
                words.append(item.text_delta)
        return "".join(words).strip() or _SOME_CHANGE

    async def _understand(self, turn: _Turn) -> None:
        request = turn.input
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.understand_timeout_s), asyncio.TaskGroup() as group:
                session = group.create_task(
                    unary(
                        "session",
                        self.peers.session.GetSession(
                            session_pb2.GetSessionRequest(
                                session_id=request.session_id, create=True
                            )
                        ),
                    )
                )
                identity = group.create_task(
                    self._identity(turn, session, loop.time() + self.understand_timeout_s)
                )
                masked = group.create_task(self._redact(turn, session, identity))
                checked = group.create_task(
                    unary(
                        "governance",
                        self.peers.governance.CheckInput(
                            governance_pb2.CheckInputRequest(
                                session_id=request.session_id,
                                text=request.text,
                                channel=request.channel,
                                # Known from the request itself, so the check waits for nothing:
                                # a text rule may tell who asks (a member naming another member).
                                session=dict_to_struct({"customer_id": request.customer_id})
                                if request.customer_id
                                else None,
                            )
                        ),
                    )
                )
                # Classification is CPU work (mostly numpy, which releases the GIL): run it in a
                # thread while the calls are in flight, so the router's loop keeps serving.
                with tracer.start_as_current_span(names.SPAN_CLASSIFY):
                    classification = await asyncio.to_thread(self.classifier.classify, request.text)
        except* DependencyFailure as group_error:
            raise _first_failure(group_error) from None
        except* TimeoutError:
            # Name the services that had not answered when stage 1's budget ran out.
            pending = {"session": session, "pii": masked, "governance": checked}
            silent = [name for name, task in pending.items() if task.cancelled()]
            raise DependencyFailure(
                ", ".join(silent) or "router",
                "DEADLINE_EXCEEDED",
                f"no answer within {self.understand_timeout_s:.1f} s",
            ) from None
        turn.session = session.result().session
        turn.identity_verified = identity.result()
        turn.masked_text = masked.result().text
        scope = self._scopes.get(turn.session.industry)
        if self.other_industry_odds == 1:
            scope = None
        # The conversation is about one business: a vague follow-up ("why was it reduced?" after
        # a dental claim) is read as its own, not as another's request; one that plainly is
        # another's ("I left my phone at the gate") still reads as that.
        stored = turn.session
        # A yes or a no with nothing asked answers nothing: "no thanks, just refund me" is a
        # refund request (decline 0.79, refund 0.20 alone). After a reply that offered two
        # requests (a rebooking or a refund) a yes is asked which, but a no with more words is
        # likelier the choice of one.
        answers: tuple[str, ...] = ()
        if not (stored.pending_flow or stored.pending_plan.steps or stored.offered_intent):
            answers = (
                (DECLINE_INTENT,) if stored.offered_choices else (CONFIRM_INTENT, DECLINE_INTENT)
            )
        # Only when a yes or a no is among the likely readings: elsewhere the weighing would
        # change nothing but cost a second decision on most turns.
        unlikely = (
            dict.fromkeys(answers, self.unasked_answer_odds)
            if self.unasked_answer_odds < 1
            and any(name in answers for name, _ in classification.candidates)
            else None
        )
        if scope is not None or unlikely:
            classification = self.classifier.within(
                classification, scope, self.other_industry_odds, unlikely
            )
        turn.intent = events_pb2.IntentDetected(
            name=classification.intent,
            confidence=classification.confidence,
            candidates=[
                common_pb2.IntentScore(name=name, confidence=score)
                for name, score in classification.candidates
            ],
            out_of_scope=classification.out_of_scope,
            classifier="embedded",
            intents=classification.intents,
        )
        await turn.send(turn.events.intent(turn.intent))
        await turn.verdict(checked.result().verdict)

    async def _redact(
        self,
        turn: _Turn,
        session: asyncio.Task[session_pb2.GetSessionResponse],
        identity: asyncio.Task[bool | None],
    ) -> pii_pb2.RedactResponse:
        """The customer's text, masked.

        When the router looks the customer up in the CRM this turn, masking waits for that
        lookup: the tool-broker masks the CRM record through the session's vault, and the pii
        service masks every name the vault holds for the session, so the names the enterprise
        knows for this customer are masked even where the detector alone would miss them. A turn
        that relies on the session's recent lookup instead (or whose customer the session knows
        as verified) finds those names in the vault from that earlier lookup.

        Masking also waits for the session, for the references the last reply listed to choose
        from (``shown``): a record locator quoted back alone is an answer, not a name.
        """
        state = (await session).session
        check = self._identity_check(turn.input.customer_id or state.customer_id)
        if check is not None and check.tool:
            await identity
        request = pii_pb2.RedactRequest(
            session_id=turn.input.session_id, text=turn.input.text, shown=_listed(state)
        )
        return await unary("pii", self.peers.pii.Redact(request))

    def _identity_check(self, customer: str) -> IdentityCheck | None:
        """The first identity check whose prefix ``customer`` has (None: no customer, no check)."""
        if not customer:
            return None
        return next((c for c in self.identity_checks if customer.startswith(c.prefix)), None)

    async def _identity(
        self,
        turn: _Turn,
        session: asyncio.Task[session_pb2.GetSessionResponse],
        stage_ends: float,
    ) -> bool | None:
        """The CRM's identity state for the customer the turn serves, when not yet known.

        Channels send a customer id only for customers they have authenticated; a chat without
        one serves the customer its caller proved to be (:class:`IdentityProof`), if any. Whether
        that customer's identity is verified is the CRM's to say. An unknown answer (no customer,
        no tool configured, the lookup failing) leaves the session's own state in force, and so
        does a recent lookup the session keeps that found the customer not verified (no new
        lookup then; see :mod:`services.router.identity`).
        """
        state = (await session).session
        customer = turn.input.customer_id or state.customer_id
        check = self._identity_check(customer)
        if check is None:
            return None
        if not check.tool:
            return True
        if _verified_in_session(state, customer):
            return None
        checked_at = self.clock()
        recent = recent_lookup(state, customer, now=checked_at, ttl_s=self.identity_cache_ttl_s)
        if recent is not None:
            # A recent lookup found the customer not verified and nothing since can have changed
            # that (see services.router.identity): the session's state stands.
            turn.identity_lookup = recent
            return None
        step = common_pb2.PlanStep(
            id="identity", tool=check.tool, description="identity verification state"
        )
        step.arguments.update({check.argument: customer})
        request = tool_broker_pb2.ExecuteToolRequest(
            session_id=turn.input.session_id, turn_id=turn.input.turn_id, step=step
        )
        try:
            # Finish a little before stage 1's budget, so a slow lookup leaves the identity
            # unknown instead of failing the stage.
            async with asyncio.timeout_at(stage_ends - IDENTITY_MARGIN_S):
                response = await unary("tool-broker", self.peers.tool_broker.ExecuteTool(request))
        except (DependencyFailure, TimeoutError) as failure:
            log.warning("identity lookup for turn %s failed: %r", turn.input.turn_id, failure)
            return None
        result = response.result
        if result.outcome != common_pb2.STEP_OUTCOME_SUCCEEDED:
            return None
        verified = bool(struct_to_dict(result.result).get(check.field) == check.equals)
        if not verified:
            turn.identity_lookup = new_lookup(customer, checked_at)
        return verified

    async def _lookup_to_keep(self, turn: _Turn) -> session_pb2.IdentityLookup | None:
        """The lookup the session may keep for its next turns (see services.router.identity)."""
        lookup = turn.identity_lookup
        if lookup is None or turn.failed or self.identity_cache_ttl_s <= 0:
            return None
        sent = sent_tools(turn.results)
        if sent and not sent <= await self._read_only():
            return None
        return lookup

    async def _read_only(self) -> frozenset[str]:
        """The tools the catalogue says change nothing, read once per process; none while it
        cannot be read."""
        if self._read_only_tools is not None:
            return self._read_only_tools
        if self._catalogue_lock.locked():
            # Another turn is reading the catalogue: rather than queue behind it (or behind a
            # broker that does not answer), count every tool as one that may change something.
            return frozenset()
        async with self._catalogue_lock:
            try:
                async with asyncio.timeout(CATALOGUE_TIMEOUT_S):
                    catalogue = await unary(
                        "tool-broker",
                        self.peers.tool_broker.ListTools(tool_broker_pb2.ListToolsRequest()),
                    )
            except (DependencyFailure, TimeoutError, DeadlineExceeded) as failure:
                log.warning("the tool catalogue could not be read: %r", failure)
                return frozenset()
            self._read_only_tools = frozenset(t.name for t in catalogue.tools if t.read_only)
            return self._read_only_tools

    async def _answer_to_pending(
        self, turn: _Turn, decision: governance_pb2.DecideResponse
    ) -> common_pb2.Plan | None:
        """The pending flow's plan, when a message the ladder would clarify answers its question.

        A bare answer ("DMJ5SB", "UA 123") is no request of its own, so the classifier reads it
        as out of scope or cannot choose; whether it fills a slot the pending flow waits for is
        the planner's to say (from the flow's patterns). A refusal or a hand-off always stands,
        and a message that answers nothing is clarified as the ladder decided.
        """
        assert turn.session is not None
        if (
            not turn.session.pending_flow
            or decision.route not in _ASKING_AGAIN
            or decision.fallback.reason not in _UNPLACED
        ):
            return None
        plan = await self._pending_answer(turn, decision.tier)
        return plan if plan.flow else None

    async def _off_path(self, turn: _Turn, decision: governance_pb2.DecideResponse) -> None:
        if decision.HasField("fallback"):
            await turn.fall_back(decision.fallback)
        waiting = turn.session.pending_plan if turn.session is not None else None
        if waiting is not None and waiting.steps and decision.route in _ASKING_AGAIN:
            # Asked again while a change waits for a yes ("hold on a sec", "hmm"): the change
            # still waits (see _carried), and the two answers it waits for are the options.
            await turn.say(_still_waiting(waiting))
            return
        if decision.route == governance_pb2.DECISION_ROUTE_HANDOFF:
            turn.handoff = events_pb2.Handoff(
                queue=decision.handoff_queue or "customer-care",
                summary=turn.masked_text,
                reason=decision.fallback.detail or "handoff requested",
            )
            await turn.send(turn.events.handoff(turn.handoff))
        await turn.say(decision.message)

    async def _plan(
        self,
        turn: _Turn,
        tier: str,
        *,
        only_if_answered: bool = False,
        follow_up: bool = False,
        again: bool = False,
        pending_flow: str = "",
    ) -> common_pb2.Plan:
        assert turn.intent is not None and turn.session is not None
        session = turn.session
        request = planner_pb2.PlanRequest(
            session_id=turn.input.session_id,
            turn_id=turn.input.turn_id,
            text=turn.masked_text,
            intent=common_pb2.IntentScore(
                name=turn.served_intent, confidence=turn.intent.confidence
            ),
            candidates=turn.intent.candidates,
            slots=session.slots,
            customer_id=turn.input.customer_id or session.customer_id,
            history=session.history,
            tier=tier,
            pending_flow=pending_flow or session.pending_flow,
            intents=turn.intent.intents if len(turn.intent.intents) > 1 else [],
            only_if_answered=only_if_answered,
            clarified_text=session.clarified_text,
            follow_up=follow_up,
            again=again,
        )
        plan: common_pb2.Plan | None = None
        # Read the stream to its end (the plan is its last message), so the call closes now.
        async for item in stream("planner", self.peers.planner.Plan(request)):
            if item.HasField("plan"):
                plan = item.plan
        if plan is None:
            raise DependencyFailure("planner", "INTERNAL", "the plan stream ended without a plan")
        return plan

    async def _act(self, turn: _Turn, plan: common_pb2.Plan) -> None:
        request = tool_broker_pb2.ExecutePlanRequest(
            session_id=turn.input.session_id,
            turn_id=turn.input.turn_id,
            plan=plan,
            session=turn.facts(),
        )
        async for item in stream("tool-broker", self.peers.tool_broker.ExecutePlan(request)):
            if item.HasField("step_started"):
                await turn.send(turn.events.step_started(item.step_started))
                continue
            result = item.step_finished.result
            turn.results.append(result)
            for verdict in result.verdicts:
                if verdict.action != common_pb2.POLICY_ACTION_ALLOW:
                    await turn.verdict(verdict)
            await turn.send(turn.events.step_finished(item.step_finished))
        failed = [
            r
            for r in turn.results
            if r.outcome in _FAILED_OUTCOMES
            and not (r.outcome == common_pb2.STEP_OUTCOME_FAILED and r.http_status in _ANSWERS)
        ]
        if failed:
            await turn.fall_back(
                events_pb2.Fallback(
                    reason=events_pb2.FALLBACK_REASON_BACKEND_FAILED,
                    action=events_pb2.FALLBACK_ACTION_SAFE_FLOW,
                    detail="; ".join(f"{r.tool}: {r.error}" for r in failed),
                    original_intent=turn.intent.name if turn.intent else "",
                    original_confidence=turn.intent.confidence if turn.intent else 0.0,
                )
            )

    async def _answer(self, turn: _Turn, held: common_pb2.Plan | None = None) -> None:
        """Compose the reply and release it through the output checks, sentence by sentence;
        ``held``, a change that waited for the customer's word before this turn, may be asked
        about again at its end (:meth:`_keep_held`)."""
        plan = turn.plan
        assert plan is not None
        request = _compose_request(turn, plan)
        request.resumable = self._resumable(turn)
        compose = self.peers.planner.Compose(request)

        async def tail() -> str:
            return "" if held is None else await self._keep_held(turn, held, plan)

        await self._release(turn, stream("planner", compose), tail)

    def _resumable(self, turn: _Turn) -> str:
        """The request an anonymous chat held for its caller's proof, when this turn proved them
        (:func:`awaiting_proof`): the reply may offer it again."""
        session = turn.session
        if turn.input.customer_id or session is None or session.customer_id:
            return ""
        if not proven_customer(turn.results, self.identity_proofs):
            return ""
        return turn.after_proof or session.proof_awaited_intent

    async def _release(
        self,
        turn: _Turn,
        composed: AsyncIterator[planner_pb2.ComposeResponse],
        tail: Callable[[], Awaitable[str]] | None = None,
    ) -> None:
        """Release a reply through the output checks, sentence by sentence; ``tail`` gives
        text of the router's own to end it with, once the composed reply is read (it may look
        at what the reply asked and offered)."""
        # gRPC swallows an error raised inside a request iterator (it only cancels the call), so
        # a planner failing mid-reply is kept here and raised once the output checks are done.
        composing_failed: list[DependencyFailure] = []

        async def pieces() -> AsyncIterator[governance_pb2.CheckOutputRequest]:
            yield governance_pb2.CheckOutputRequest(
                session_id=turn.input.session_id,
                turn_id=turn.input.turn_id,
                intent=turn.served_intent,
                session=turn.facts(),
            )
            try:
                async for item in composed:
                    kind = item.WhichOneof("item")
                    if kind == "text_delta":
                        yield governance_pb2.CheckOutputRequest(text=item.text_delta)
                    elif kind == "rich_media":
                        await turn.send(turn.events.rich_media(item.rich_media))
                    elif kind == "missing_slots":
                        turn.asked = item.missing_slots
                    elif kind == "offer":
                        turn.offered.append(item.offer)
                    elif kind == "usage":
                        turn.add_usage(item.usage)
            except DependencyFailure as failure:
                composing_failed.append(failure)
                return
            ending = await tail() if tail is not None else ""
            if ending:
                yield governance_pb2.CheckOutputRequest(text=ending)

        withheld = False
        async for released in stream("governance", self.peers.governance.CheckOutput(pieces())):
            if released.HasField("verdict"):
                await turn.verdict(released.verdict)
                withheld = withheld or released.verdict.action in _WITHHOLDING
            await turn.say(released.text)
        if withheld:
            # A sentence the customer never saw may have been the one that made the offer: a
            # "yes" must not take up what was not shown. The answer is read on its own instead.
            turn.offered = []
        if composing_failed:
            raise composing_failed[0]

    async def _safe_path(self, turn: _Turn, detail: str) -> None:
        await turn.fall_back(
            events_pb2.Fallback(
                reason=events_pb2.FALLBACK_REASON_DEPENDENCY_DOWN,
                action=events_pb2.FALLBACK_ACTION_HANDOFF,
                detail=detail,
                original_intent=turn.intent.name if turn.intent else "",
                original_confidence=turn.intent.confidence if turn.intent else 0.0,
            )
        )
        turn.reply.clear()
        turn.offered = []
        await turn.say(SAFE_REPLY)

    def _industry_served(self, turn: _Turn) -> str:
        """The industry of the request this turn served, unless shared or not served: the one
        the session's later messages are read in."""
        industry = self.industries.get(_served_in_full(turn), "")
        return "" if industry in self.shared_industries else industry

    async def _record(self, turn: _Turn) -> bool:
        """Append the turn to the session; on a version conflict, re-read once and retry."""
        record = session_pb2.TurnRecord(
            turn_id=turn.input.turn_id,
            trace_id=turn.events.trace_id,
            started_at=turn.started_at,
            latency=duration(time.monotonic() - turn.started),
            customer_text=turn.masked_text,
            reply_text="".join(turn.reply),
            verdicts=turn.verdicts,
            steps=turn.results,
            fallbacks=turn.fallbacks,
            usage=turn.usage,
            status=session_pb2.TURN_STATUS_COMPLETED,
            channel=turn.input.channel,
        )
        if not turn.masked_text:
            # The text was never masked, so nothing of it may be stored.
            record.customer_text = "[not recorded: the message could not be masked]"
        if turn.intent is not None:
            record.intent.CopyFrom(turn.intent)
        if turn.plan is not None:
            record.plan.CopyFrom(turn.plan)
        if turn.handoff is not None:
            record.handoff.CopyFrom(turn.handoff)
        slots, pending, pending_plan = _carried(turn, turn.session)
        version = turn.session.version if turn.session is not None else 0
        lookup = await self._lookup_to_keep(turn)
        verified = turn.identity_verified
        customer = turn.input.customer_id
        anonymous = not customer and turn.session is not None and not turn.session.customer_id
        if anonymous:
            # An anonymous chat whose caller proved whose account it is serves that customer
            # from now on; whether their identity is verified stays the CRM's to say. (A session
            # that already serves one, or one this turn could not read, is never changed by it.)
            customer = proven_customer(turn.results, self.identity_proofs)
        awaited = ""
        if anonymous and not customer:
            # Still anonymous: a request refused for want of a proof waits for one.
            assert turn.session is not None
            awaited = awaiting_proof(
                turn.after_proof or turn.session.proof_awaited_intent,
                turn.results,
                self.identity_proofs,
                turn.served_intent if turn.plan is not None and turn.plan.flow else "",
            )
        for attempt in range(2):
            try:
                async with asyncio.timeout(max(deadline.remaining() or 1.0, 0.2)):
                    if attempt:
                        # A concurrent write won: re-read the version and write once more.
                        current = await unary(
                            "session",
                            self.peers.session.GetSession(
                                session_pb2.GetSessionRequest(
                                    session_id=turn.input.session_id, create=True
                                )
                            ),
                        )
                        version = current.session.version
                        if customer and current.session.customer_id not in ("", customer):
                            # The write that won made the session another customer's.
                            customer = turn.input.customer_id
                        if current.session.customer_id:
                            awaited = ""
                        if verified is False and _verified_in_session(current.session, customer):
                            # The write that won recorded a verification after this turn's
                            # lookup found none: the newer word stands.
                            verified = None
                        if turn.session is None:
                            # Stage 1 never read the session (it was down): keep what it holds.
                            slots, pending, pending_plan = _carried(turn, current.session)
                    await unary(
                        "session",
                        self.peers.session.AppendTurn(
                            session_pb2.AppendTurnRequest(
                                session_id=turn.input.session_id,
                                expected_version=version,
                                turn=record,
                                slots=slots,
                                customer_id=customer,
                                pending_flow=pending,
                                identity_verified=verified,
                                pending_plan=pending_plan,
                                # A concurrent write came between this turn's read and its
                                # write: it may have changed the customer's state.
                                identity_lookup=None if attempt else lookup,
                                industry=self._industry_served(turn),
                                served_intent=_served_in_full(turn),
                                offered_intent=(
                                    turn.offered[0].intent if len(turn.offered) == 1 else ""
                                ),
                                offered_choices=[
                                    session_pb2.OfferedRequest(intent=o.intent, say=o.say)
                                    for o in turn.offered
                                ]
                                if len(turn.offered) > 1
                                else [],
                                proof_awaited_intent=awaited,
                            )
                        ),
                    )
                return True
            except DependencyFailure as failure:
                if failure.code == "ABORTED" and not attempt:
                    continue
                log.warning("turn %s not recorded: %s", turn.input.turn_id, failure)
                return False
            except (TimeoutError, DeadlineExceeded):
                log.warning("turn %s not recorded: out of time", turn.input.turn_id)
                return False
        return False
