"""The planner: slots from flows, plans from a model tier or the embedded engine, grounded replies.

Per turn:

1. **Flow and slots.** The flow is the pending one when this turn fills one of the slots it waits
   for (or the intent has no flow of its own), else the intent's. Slots are filled deterministically
   from the masked text by the flow's patterns (and, for the slots a pending flow waits for, its
   ``answer_patterns``), over the session's known slots. Missing required slots give a plan with
   ``missing_slots`` and no steps, whatever the tier: Compose asks for them. A request marked
   ``only_if_answered`` (a message the fallback ladder would clarify) gets the pending flow's plan
   when it answers that flow's question, and an empty plan (no flow) otherwise. One marked
   ``follow_up`` ("what about a crown?" after a coverage check) gets the named intent's flow when
   the text gives one of its slots a value, the known slots kept under it (its ``until_answered``
   ones too when the text gives none of those), and an empty plan otherwise. One marked ``again``
   ("why is it pending?" after a withdrawal's status) gets the named intent's flow once more, as
   the known slots stand, when every step of it only reads, and an empty plan otherwise.
2. **Tier**, when a model is configured (the rule, in :func:`choose_tier`):
   - the request's ``tier`` ("fast" or "deep"), set by governance, wins;
   - else **deep** when the turn is multi-step: another intent is likely too, the intent has no
     flow, or its flow touches ``deep_min_systems`` backends or chains steps;
   - else **fast**; a failed fast attempt (calls still rejected after its rounds, or no call for a
     flow that needs some) escalates to **deep**.
3. **Fallback.** An unreachable model, or a deep plan still invalid after one repair, sends the turn
   to the embedded engine: the flow's own steps, ``tier = "embedded"`` and ``fallback_reason``
   saying why. With no model configured the embedded engine answers and nothing touches the network.
4. **Still missing.** A slot the plan looked up rather than asked for (``lookup``) may come back
   open: the lookup found several values or none. The embedded reply then asks for it, and Compose
   names it (:class:`MissingSlots`, before the usage) so that the flow waits for the answer as if it
   had been asked for before planning. When it found several, Compose also hands back the values
   offered, in the order the reply lists them, and what it showed of each (``keep``:
   ``pnr_options``, ``pnr_shown``), for the session to keep one turn: the answer may then name one
   by its position ("the second one") or by what the list showed ("the December one"), and picks
   exactly the value shown there. An answer naming none or several is asked again
   (``missing_slots``, the list kept, the slot's ``ask_again``), never guessed; every other plan
   drops the list. The turn that answers keeps the flow's ``remember: until_answered`` slots
   from the turn that asked (the window seat asked for), and only that turn.

**Several requests in one message** (embedded engine). Beside the turn's flow, every other intent
the message expresses (or a candidate at least ``multi_intent_confidence`` likely, when its flow
has something to do for it) adds its flow when its required slots are known. One request the
classifier named (not merely a likely one) whose slots are missing joins too, without steps: its
question follows the other parts' answers and its flow waits for the answer, so no named request
is dropped without a word; the same holds when the turn's own flow is the one missing a slot and
another named flow can act. A pending flow that a question of another flow steps aside from
(:meth:`Planner._set_aside`: "what's my deductible?" while a crown's date is asked for) joins the
same way, with the slots it waits with: its question follows the answer. The flows, and so
their steps, the plan's ``flow`` name ("withdrawal_status+deposit_limit") and the parts of the
reply, are ordered:

1. flows marked ``leads: true`` first: a safety matter (self-exclusion, a deposit limit) is never
   answered below a routine one;
2. a flow that asks (missing slots) after those that answer;
3. then in the order the customer raised them (the classifier's ``intents``), whichever intent the
   classifier was surest of; the turn's own flow comes first among flows the classifier did not
   name (a pending flow this turn answers), and candidates it did not name follow, most likely
   first.

The order is stable, so a message read as one request keeps its flow first. Where two flows use
the same step id, the one ordered first keeps it and the other's is prefixed. Hand-offs are not
ordered here: a turn governance hands off never reaches the planner, and a flow without steps
(``human_agent``) is answered alone.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field, replace

from services.planner import telemetry
from services.planner.choices import moves_on
from services.planner.config import PlannerSettings
from services.planner.flows import LISTED_SUFFIXES, Flow, FlowBook, Media, default_media
from services.planner.llm import ModelUnavailable
from services.planner.plans import (
    MissingSlots,
    Offer,
    Plan,
    Step,
    StepResult,
    Usage,
    renamed,
)
from services.planner.tiers import Context, MediaSignal, ModelTiers, OfferSignal, PlanRejected
from services.planner.tools import ToolIndex
from services.runtime.errors import FailedPrecondition, InvalidArgument

log = logging.getLogger(__name__)

EMBEDDED = "embedded"
MODEL_FLOW = "model"
#: joins the names of the flows an embedded plan combines, e.g. "withdrawal_status+deposit_limit"
FLOW_SEPARATOR = "+"


@dataclass
class PlanInput:
    """One turn's request for a plan (all text masked)."""

    intent: str
    text: str = ""
    session_id: str = ""
    turn_id: str = ""
    confidence: float = 0.0
    candidates: list[tuple[str, float]] = field(default_factory=list)
    slots: dict[str, str] = field(default_factory=dict)
    customer_id: str = ""
    history: list[tuple[str, str]] = field(default_factory=list)
    tier: str = ""
    pending_flow: str = ""
    #: every intent the message expresses, when it expresses several (in order)
    intents: list[str] = field(default_factory=list)
    #: the customer's message whose question this turn answers (set by the planner): the
    #: customer's words (``${text}``) of the flow that asked are that message's and this one's
    asked_text: str = ""
    #: plan only if the text answers the pending flow's question; else an empty plan
    only_if_answered: bool = False
    #: the previous message, when the previous turn asked which request it meant: this one
    #: names the request, that one holds its details
    clarified_text: str = ""
    #: the message follows up the last served request (``intent``) with a new detail: plan it
    #: only if the text gives one of its flow's slots a value; else an empty plan
    follow_up: bool = False
    #: the message asks about what the last served request (``intent``) showed: plan it once
    #: more as the slots stand, only if its flow only reads; else an empty plan
    again: bool = False

    def also_meant(self, threshold: float) -> list[str]:
        """The intents beside the top one this turn should serve: those the classifier found
        expressed in the message, then any candidate at least ``threshold`` likely."""
        named = [name for name in self.intents if name != self.intent]
        likely = [
            name
            for name, confidence in self.candidates
            if name != self.intent and confidence >= threshold and name not in named
        ]
        return named + likely


@dataclass
class ComposeInput:
    """One turn's request for a reply (all text masked)."""

    plan: Plan
    results: list[StepResult]
    intent: str = ""
    text: str = ""
    session_id: str = ""
    turn_id: str = ""
    #: say what the steps held for the customer's confirmation will do, not the reply
    awaiting_confirmation: bool = False
    #: the request refused until the caller proved who they are, which this turn's proof did
    resumable: str = ""


def choose_tier(
    request: PlanInput, flow: Flow | None, tools: ToolIndex, planner: PlannerSettings
) -> str:
    """The model tier for a turn (see the module's docstring for the rule)."""
    if request.tier in ("fast", "deep"):
        return request.tier
    settings = planner.model
    others = request.also_meant(planner.multi_intent_confidence)
    if others or flow is None:
        return "deep"
    if flow.systems(tools) >= settings.deep_min_systems or flow.has_dependencies():
        return "deep"
    return "fast"


class Planner:
    """Plans and replies for turns; grpc-free."""

    def __init__(
        self,
        settings: PlannerSettings,
        flows: FlowBook,
        tools: ToolIndex,
        tiers: ModelTiers | None,
    ) -> None:
        self.settings = settings
        self.flows = flows
        self.tools = tools
        self.tiers = tiers

    async def plan(self, request: PlanInput) -> AsyncIterator[Step | Plan]:
        """Steps as they are known, then the final plan."""
        with telemetry.plan_span(request.session_id, request.turn_id, request.intent) as span:
            async for item in self._plan(request):
                if isinstance(item, Plan):
                    telemetry.record_plan(span, item)
                yield item

    async def _plan(self, request: PlanInput) -> AsyncIterator[Step | Plan]:
        if not request.intent:
            raise InvalidArgument("intent.name is required")
        if request.only_if_answered:
            pending = self.flows.get(request.pending_flow)
            if pending is None or not pending.answers(
                request.slots, request.text, request.customer_id
            ):
                yield self._final(request, [], "", EMBEDDED, dict(request.slots))
                return
            # An answer to the flow's question is one request: that flow's, nothing beside it.
            request = replace(request, intent=pending.name, candidates=[], intents=[])
        if request.follow_up or request.again:
            # "What about a crown?": the request served last, once more, with this detail.
            # "Why is it pending?": what was shown, shown again (its reply says why); a flow
            # that changes something is never run again by a question about it.
            followed = self.flows.get(request.intent)
            if (
                followed is None
                or followed.spec.aside
                or not (
                    followed.details(request.text)
                    if request.follow_up
                    else self._only_reads(followed)
                )
            ):
                yield self._final(request, [], "", EMBEDDED, dict(request.slots))
                return
            request = replace(request, candidates=[], intents=[])
        flow = self._flow(request)
        if flow is not None and request.clarified_text and not request.only_if_answered:
            # "Is M-3001 covered for a crown?", clarified, then "check whether a treatment is
            # covered": the member and the treatment are in the first message, and its words
            # are the request's (``${text}``). This message's own slots still win. A flow that
            # waits keeps what it waits with (the case just opened): whether this message answers
            # it is decided below, as without the clarification.
            request = replace(
                request,
                slots=flow.fill(
                    request.slots,
                    request.clarified_text,
                    request.customer_id,
                    answered=flow.name == request.pending_flow,
                ),
                asked_text=request.clarified_text,
            )
        slots = dict(request.slots)
        if flow is not None:
            waiting = flow.name == request.pending_flow
            # A new value for the request ("actually, make it 75") is read as an answer is.
            asked = (
                [
                    *flow.awaited(request.slots),
                    *flow.amended(request.slots, request.text, request.customer_id),
                ]
                if waiting
                else []
            )
            # The answer to the flow's question keeps what the asking turn preferred.
            answered = waiting and flow.answers(request.slots, request.text, request.customer_id)
            if answered:
                # "C-1001" answering "your customer number?" says nothing of the request itself.
                request = replace(request, asked_text=_last_said(request.history))
            # "And for next Monday?" after a root canal's check is about the root canal again;
            # "what about an extraction?" names a new treatment, and the old one's code goes.
            same_subject = request.follow_up and not flow.details(request.text).keys() & (
                flow.subject()
            )
            slots = flow.fill(
                request.slots,
                request.text,
                request.customer_id,
                asked,
                answered=answered or same_subject,
            )
            # "The third one" of two, "the December one" of two in December: asked again, with
            # the same list to choose from.
            undecided = flow.undecided(request.slots, request.text) if waiting else []
            missing = undecided or flow.missing(slots, request.customer_id)
            if missing and not undecided and not waiting:
                # Another request of the message may be served now, this one asked about after it.
                name, steps, merged = self._embedded(request, flow, slots, asking=True)
                if steps:
                    for step in steps:
                        yield step
                    yield self._final(request, steps, name, EMBEDDED, merged)
                    return
            if missing:
                keep = {
                    key: request.slots[key]
                    for name in undecided
                    for suffix in LISTED_SUFFIXES
                    if (key := name + suffix) in request.slots
                }
                yield self._final(
                    request, [], flow.name, EMBEDDED, slots, missing=missing, keep=keep
                )
                return
            if not flow.spec.steps:
                yield self._final(request, [], flow.name, EMBEDDED, slots)
                return
        if self.tiers is None:
            if flow is None:
                raise FailedPrecondition(
                    f"no flow handles intent {request.intent!r} and no model is configured"
                )
            aside = self._set_aside(request, flow, slots)
            name, steps, slots = self._embedded(request, flow, slots, aside=aside)
            for step in steps:
                yield step
            yield self._final(
                request, steps, name, EMBEDDED, slots, keep=self._aside_choices(request, aside)
            )
            return
        usage: list[Usage] = []
        try:
            steps, tier = await self._model_plan(request, flow, slots, usage)
        except ModelUnavailable as error:
            reason = f"model unavailable: {error}"
        except PlanRejected as error:
            usage.extend(error.usage)
            reason = f"the model's plan was invalid after one repair: {error}"
        else:
            for step in steps:
                yield step
            yield self._final(request, steps, MODEL_FLOW, tier, slots, usage=usage)
            return
        log.warning("planning on the embedded engine: %s", reason)
        name, steps, keep = MODEL_FLOW, [], {}
        if flow is not None:
            aside = self._set_aside(request, flow, slots)
            name, steps, slots = self._embedded(request, flow, slots, aside=aside)
            keep = self._aside_choices(request, aside)
        for step in steps:
            yield step
        yield self._final(
            request, steps, name, EMBEDDED, slots, usage=usage, fallback=reason, keep=keep
        )

    async def compose(
        self, request: ComposeInput
    ) -> AsyncIterator[str | Media | MissingSlots | Offer | Usage]:
        """Text deltas, then rich media, then the slots the reply asks for and the requests it
        offers, then the usage."""
        plan = request.plan
        if request.awaiting_confirmation:
            yield self._held_actions(request)
            yield Usage(model=EMBEDDED)
            return
        flow = self.flows.get(plan.flow.split(FLOW_SEPARATOR)[0])
        if plan.missing_slots:
            yield (
                flow.questions(plan.missing_slots, plan.slots, request.text)
                if flow
                else "Could you tell me a bit more?"
            )
            yield Usage(model=EMBEDDED)
            return
        if self.tiers is not None and plan.tier != EMBEDDED:
            streamed = False
            try:
                async for item in self._model_compose(request):
                    streamed = streamed or isinstance(item, str)
                    yield item
                return
            except ModelUnavailable as error:
                if streamed:
                    log.warning("model failed mid-reply: %s", error)
                    yield Usage(model=self.tiers.settings.fast_model)
                    return
                log.warning("composing on the embedded engine: %s", error)
        text, media, missing, offers = self._embedded_reply(request)
        yield text
        for element in media:
            yield element
        if missing is not None:
            yield missing
        # The requests the reply offered, in its order. A plain yes takes up a single one; of
        # two ("say 'rebook me' ... or 'refund my flight'"), the customer is asked which. Beside
        # a question (no flight with seats, "I can connect you with a colleague"), only a yes
        # that does not answer the question does (the router asks).
        first: dict[str, Offer] = {}
        for offer in offers:
            first.setdefault(offer.intent, offer)
        for offer in first.values():
            yield offer
        yield Usage(model=EMBEDDED)

    def _flow(self, request: PlanInput) -> Flow | None:
        own = self.flows.get(request.intent)
        pending = self.flows.get(request.pending_flow) if request.pending_flow else None
        if pending is None or pending is own:
            return own
        if own is None or pending.answers(request.slots, request.text, request.customer_id):
            return pending
        return own

    def _set_aside(self, request: PlanInput, flow: Flow, slots: dict[str, str]) -> Flow | None:
        """The pending flow this turn's request steps aside from, when it is only a question
        ("what's my deductible?" while a crown's coverage waits for its date): a flow of its own
        that only reads, while the pending one waits for an answer this message does not give.
        The pending flow goes on waiting, with its slots, and its question is asked again after
        the answer. A request that changes something moves on from the question; so does one
        whose own question this turn asks, one that says so ("never mind, ...", "... instead"),
        one that reads a slot of the pending flow otherwise (another case than the one a lost
        item's case waits with), and a question that only invites more (a slot's ``remind:
        false``). A question over a list of choices is set aside only when it can list them
        again (its slot's ``ask_again``)."""
        pending = self.flows.get(request.pending_flow) if request.pending_flow else None
        if pending is None or pending is flow or not self._only_reads(flow):
            return None
        # A message that answers the pending flow is that flow's turn (:meth:`_flow`): ``pending is
        # flow`` above.
        asked = _asks(pending, request.slots)
        if not asked or moves_on(request.text):
            return None
        spec = pending.spec.slots
        listed = pending.choices(request.slots)
        if any(
            not spec[name].remind or (name in listed and not spec[name].ask_again) for name in asked
        ):
            return None
        if any(
            slots.get(name, "") != value for name, value in request.slots.items() if name in spec
        ):
            return None
        return pending

    @staticmethod
    def _aside_choices(request: PlanInput, pending: Flow | None) -> dict[str, str]:
        """The choices the flow set aside (:meth:`_set_aside`) waits on, kept for its answer."""
        if pending is None:
            return {}
        return {
            key: request.slots[key]
            for name in _asks(pending, request.slots)
            for suffix in LISTED_SUFFIXES
            if (key := name + suffix) in request.slots
        }

    def _only_reads(self, flow: Flow) -> bool:
        """Whether the flow looks something up and every step it may take only reads."""
        specs = [self.tools.get(step.tool) for step in flow.spec.steps]
        return bool(specs) and all(spec is not None and spec.read_only for spec in specs)

    async def _model_plan(
        self, request: PlanInput, flow: Flow | None, slots: dict[str, str], usage: list[Usage]
    ) -> tuple[list[Step], str]:
        assert self.tiers is not None
        context = self._context(request, slots)
        tier = choose_tier(request, flow, self.tools, self.settings)
        if tier == "fast":
            result = await self.tiers.fast(context)
            usage.extend(result.usage)
            needs_steps = flow is not None and bool(flow.spec.steps)
            if not result.failed and (result.steps or not needs_steps):
                return result.steps, "fast"
            why = "; ".join(result.errors) or "it called no tool"
            log.info("escalating to the deep tier: the fast attempt failed: %s", why)
        steps, deep_usage = await self.tiers.deep(context)
        usage.extend(deep_usage)
        return steps, "deep"

    def _offerable(self, request: ComposeInput) -> dict[str, str]:
        """The requests a model-written reply may offer next, with what each does: those the
        turn's flows may offer in their own replies (a cancelled flight's status: a rebooking, a
        refund, a colleague)."""
        names = [request.intent, *request.plan.flow.split(FLOW_SEPARATOR)]
        flows = [flow for name in dict.fromkeys(names) if (flow := self.flows.get(name))]
        # The request refused until the caller proved who they are, which this turn's proof did.
        resumed = {request.resumable} if request.resumable else set()
        offerable: dict[str, str] = {}
        for intent in sorted({name for flow in flows for name in flow.offers()} | resumed):
            offered = self.flows.get(intent)
            offerable[intent] = offered.spec.description if offered is not None else ""
        return offerable

    async def _model_compose(
        self, request: ComposeInput
    ) -> AsyncIterator[str | Media | Offer | Usage]:
        assert self.tiers is not None
        results = {r.step_id: r for r in request.results}
        tools = {s.id: s.tool for s in request.plan.steps}
        default: dict[str, Media] = {}
        for result in request.results:
            spec = self.tools.get(result.tool)
            if result.ok and spec is not None and spec.media is not None:
                default[result.step_id] = default_media(
                    spec.media, result.step_id, spec.name, result.result
                )
        described = [
            {"kind": m.kind, "step_id": m.step_id, "title": m.title} for m in default.values()
        ]
        context = self._context_for_compose(request)
        usage: Usage | None = None
        offers: dict[str, Offer] = {}
        offerable = self._offerable(request)
        async for item in self.tiers.compose(context, request.results, described, offerable):
            if isinstance(item, OfferSignal):
                offers.setdefault(item.intent, Offer(item.intent))
            elif isinstance(item, MediaSignal):
                result = results[item.step_id]
                media = default_media(item.kind, item.step_id, tools.get(item.step_id, ""), {})
                default[item.step_id] = Media(
                    kind=item.kind,
                    title=item.title or media.title,
                    data=result.result,
                    uri=media.uri,
                    alt_text=item.title or media.alt_text,
                    step_id=item.step_id,
                )
            elif isinstance(item, Usage):
                usage = item
            else:
                yield item
        for element in default.values():
            yield element
        for offer in offers.values():
            yield offer
        yield usage or Usage(model=self.tiers.settings.fast_model)

    def _embedded(
        self,
        request: PlanInput,
        flow: Flow,
        slots: dict[str, str],
        *,
        asking: bool = False,
        aside: Flow | None = None,
    ) -> tuple[str, list[Step], dict[str, str]]:
        """The flow's steps, joined by those of the other likely intents' flows that can act.

        "My withdrawal hasn't arrived and I want to set a deposit limit" classifies as two
        intents; each one's flow contributes its steps when its required slots are known, and
        the reply has one part per flow, in the order of the module's docstring. Clashing step
        ids of a later flow get its name as prefix.
        """
        flows, merged, fills = [flow], dict(slots), [slots]
        unanswered = {flow.name} if asking else set()
        if aside is not None:
            # The pending flow set aside (:meth:`_set_aside`): its question again after this
            # answer, over the slots it waits with.
            flows.append(aside)
            fills.append(dict(request.slots))
            unanswered.add(aside.name)
            merged = {**request.slots, **merged}
        for name in request.also_meant(self.settings.multi_intent_confidence):
            other = self.flows.get(name)
            if other is None or other in flows or not other.spec.steps:
                continue
            filled = other.fill(request.slots, request.text, request.customer_id)
            if name not in request.intents and not other.acts(filled, request.customer_id):
                # Only likely, and nothing to do for it: its reply would be a prompt beside the
                # answer ("did anyone find my headphones?" is no report of a lost item).
                continue
            missing = other.missing(filled, request.customer_id)
            # A request the message names is asked about (one question a turn, the flow left
            # pending on it), never dropped; a request only likely is left out.
            if missing and (name not in request.intents or unanswered):
                log.info("not adding flow %s: missing %s", other.name, missing)
                continue
            if missing:
                unanswered.add(other.name)
            flows.append(other)
            fills.append(filled)
            merged = {**filled, **merged}
        # A slot one of these flows does not remember is this turn's only: another flow's fill,
        # which keeps every slot it does not declare, must not bring it back from the session.
        pairs = list(zip(flows, fills, strict=True))
        given = {key for each, filled in pairs for key in each.forgotten() & filled.keys()}
        stale = {key for each in flows for key in each.forgotten()} - given
        merged = {key: value for key, value in merged.items() if key not in stale}
        flows = _reply_order(flows, request.intents, unanswered)
        steps: list[Step] = []
        for each, names in zip(flows, _step_names(flows), strict=True):
            if each.name in unanswered:
                continue
            own = (
                slots
                if each is flow
                else each.fill(request.slots, request.text, request.customer_id)
            )
            words = request.text
            if each is flow and request.asked_text:
                words = f"{request.asked_text} {request.text}"
            planned = each.steps(own, request.customer_id, words)
            steps += [renamed(s, names) for s in planned]
        return FLOW_SEPARATOR.join(f.name for f in flows), steps, merged

    def _held_actions(self, request: ComposeInput) -> str:
        """What the steps that have not run will do once the customer confirms: each flow's
        ``confirm`` phrase, or its waiting steps' descriptions. Never a model's words: this is
        what the customer consents to."""
        plan = request.plan
        waiting = {r.step_id for r in request.results if r.outcome in ("rejected", "skipped")}
        parts = self._parts(request)
        if parts is None:
            return _described(plan, waiting)
        phrases: list[str] = []
        for flow, names, results in parts:
            if waiting & set(names.values()):
                phrase = flow.confirmation(flow.context(plan.slots, results, text=request.text))
                phrases.append(phrase or _described(plan, set(names.values()) & waiting))
        return "; and ".join(p for p in phrases if p)

    def _parts(
        self, request: ComposeInput
    ) -> list[tuple[Flow, dict[str, str], list[StepResult]]] | None:
        """Each flow of an embedded plan, with its steps' names in the plan and its results
        under its own step ids; None for a model's plan or a flow no longer known."""
        plan = request.plan
        flows = [self.flows.get(name) for name in plan.flow.split(FLOW_SEPARATOR)]
        if plan.tier != EMBEDDED or not flows or None in flows:
            return None
        known = [f for f in flows if f is not None]
        parts = []
        for flow, names in zip(known, _step_names(known), strict=True):
            original = {new: old for old, new in names.items()}
            results = [
                replace(r, step_id=original[r.step_id])
                for r in request.results
                if r.step_id in original
            ]
            parts.append((flow, names, results))
        return parts

    def _embedded_reply(
        self, request: ComposeInput
    ) -> tuple[str, list[Media], MissingSlots | None, list[Offer]]:
        """The flows' replies and media, the first flow's slots its lookups left open, and the
        requests the replies offer to make next."""
        plan = request.plan
        parts = self._parts(request)
        if parts is None:
            return _generic_reply(plan, request.results, self.tools), [], None, []
        texts: list[str] = []
        offers: list[Offer] = []
        media: list[Media] = []
        missing: MissingSlots | None = None
        refused_by = {r.refused_by for r in request.results if r.refused_by}
        for flow, names, results in parts:
            # A request of the message that could not be served yet: its question, after the
            # answers, and the flow waits for the answer. A refusal that already asks it (the
            # proof a customer's records wait for) is not followed by the same question.
            # A flow set aside for another request's question waits for what it waited for.
            asked = [] if results or len(parts) == 1 else _asks(flow, plan.slots)
            if asked:
                if not refused_by & set(flow.spec.asked_in_refusals):
                    texts.append(flow.questions(asked, plan.slots))
                if missing is None:
                    missing = MissingSlots(flow=flow.name, slots=tuple(asked))
                continue
            context = flow.context(plan.slots, results, text=request.text)
            context["resumable"] = request.resumable
            texts.append(flow.reply(context, offers))
            for element in flow.media(context, self.tools):
                media.append(replace(element, step_id=names.get(element.step_id, element.step_id)))
            if missing is not None:
                continue
            open_slots, keep = flow.waiting(context, plan.slots, results)
            if open_slots:
                missing = MissingSlots(flow=flow.name, slots=tuple(open_slots), keep=keep)
        # Two requests can have the same answer (a trip that opens for neither): said once.
        return "\n\n".join(dict.fromkeys(t for t in texts if t)), media, missing, offers

    def _context(self, request: PlanInput, slots: dict[str, str]) -> Context:
        others = [name for name, _ in request.candidates if name != request.intent]
        return Context(
            text=request.text,
            intent=request.intent,
            other_intents=others[:2],
            slots=slots,
            customer_id=request.customer_id,
            history=request.history,
        )

    def _context_for_compose(self, request: ComposeInput) -> Context:
        return Context(text=request.text, intent=request.intent, slots=request.plan.slots)

    def _final(
        self,
        request: PlanInput,
        steps: list[Step],
        flow: str,
        tier: str,
        slots: dict[str, str],
        *,
        missing: list[str] | None = None,
        usage: list[Usage] | None = None,
        fallback: str = "",
        keep: dict[str, str] | None = None,
    ) -> Plan:
        """The plan. The choices a reply listed last turn (``<slot>_options``, ``<slot>_shown``)
        are answered or stale now: dropped, but for those in ``keep`` (an answer that named none
        or several of them, asked again), and all of them when the plan is an aside (a complaint
        made while a flight is to be chosen leaves the offer open)."""
        names = [name for name in flow.split(FLOW_SEPARATOR) if name]
        aside = bool(names) and all(
            (each := self.flows.get(name)) is not None and each.spec.aside for name in names
        )
        if not aside:
            slots = {k: v for k, v in slots.items() if not k.endswith(LISTED_SUFFIXES)}
        slots.update(keep or {})
        return Plan(
            id=f"{request.turn_id or uuid.uuid4().hex[:12]}.plan",
            steps=steps,
            flow=flow,
            tier=tier,
            missing_slots=missing or [],
            slots=slots,
            fallback_reason=fallback,
            usage=usage or [],
            aside=aside,
        )


def _asks(flow: Flow, slots: Mapping[str, str]) -> list[str]:
    """What a flow in the reply without steps of its own asks for: the slots it misses, else
    (set aside while its choices wait) those the list its last reply showed is for."""
    missing = flow.missing(slots)
    if missing:
        return missing
    listed = flow.choices(slots)
    return [name for name in flow.awaited(slots) if name in listed]


def _last_said(history: list[tuple[str, str]]) -> str:
    """The customer's latest message before this turn (masked, as the session keeps it)."""
    return next((text for role, text in reversed(history) if role == "customer"), "")


def _reply_order(
    flows: list[Flow], raised: list[str], unanswered: set[str] | None = None
) -> list[Flow]:
    """The flows of one turn in the order they are answered (see the module's docstring).

    ``flows`` starts with the turn's own flow, then the others as they were found likely. A flow
    still missing slots (``unanswered``) asks its question after the answers.
    """
    unanswered = unanswered or set()

    def rank(index: int) -> tuple[bool, bool, int]:
        flow = flows[index]
        if flow.name in raised:
            position = raised.index(flow.name)
        elif index == 0:
            position = -1
        else:
            position = len(raised) + index
        return not flow.spec.leads, flow.name in unanswered, position

    return [flows[i] for i in sorted(range(len(flows)), key=rank)]


def _step_names(flows: list[Flow]) -> list[dict[str, str]]:
    """Per flow, its step ids as planned: unchanged, or prefixed by the flow when taken."""
    taken: set[str] = set()
    names: list[dict[str, str]] = []
    for flow in flows:
        mapping = {
            spec.id: spec.id if spec.id not in taken else f"{flow.name}_{spec.id}"
            for spec in flow.spec.steps
        }
        taken.update(mapping.values())
        names.append(mapping)
    return names


def _generic_reply(plan: Plan, results: list[StepResult], tools: ToolIndex) -> str:
    """A reply for a plan no flow describes: what each step returned, or that it failed."""
    if not plan.steps and not results:
        return (
            "I'm sorry, I can't help with that here right now. "
            "I can connect you with a colleague who can."
        )
    lines: list[str] = []
    for result in results:
        spec = tools.get(result.tool)
        what = spec.description.rstrip(".") if spec else result.tool
        if result.ok:
            facts = [
                f"{key.replace('_', ' ')}: {value}"
                for key, value in result.result.items()
                if isinstance(value, str | int | float | bool) and value != ""
            ][:8]
            lines.append(f"{what}: " + ("; ".join(facts) if facts else "done") + ".")
        else:
            system = spec.backend if spec else "the system"
            lines.append(f"I couldn't reach the {system} system for this ({what}) just now.")
    return "\n".join(lines) or "I couldn't complete that just now."


def _described(plan: Plan, steps: set[str]) -> str:
    """The steps' own descriptions, in the plan's order: "do this: move ...; issue ..."."""
    actions = [
        (step.description or step.tool).rstrip(".") for step in plan.steps if step.id in steps
    ]
    if not actions:
        return ""
    return "do this: " + "; ".join(a[:1].lower() + a[1:] for a in actions)
