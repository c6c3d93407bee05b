"""The deterministic fallback ladder: how a turn proceeds once it is understood.

The rungs, first match wins:

1. a BLOCK verdict (input text or intent rules)   -> REFUSE with the rule's message
2. a HANDOFF verdict, or the ``human_agent`` intent -> HANDOFF to the rule's or pack's queue
3. out of scope                                     -> CLARIFY with the in-scope candidates, or
                                                       the SAFE_FLOW when there are none
4. several intents expressed in one message        -> PROCEED on the "deep" tier, serving all
5. confidence under the intent's pack threshold     -> CLARIFY with the top intents
   (or under the intent's own ``min_confidence``)
6. the top two intents within the pack's margin     -> CLARIFY with the close intents
   (rungs 5 and 6 PROCEED instead when the top intent and every option are ``harmless``:
   thanks, goodbye or a no, whose answer changes nothing)
7. otherwise                                        -> PROCEED, tier "deep" when the pack declares
                                                       the intent multi_step, else "fast"

Rungs 3, 5 and 6 escalate with the fallbacks the session has already had in a row (the session fact
``fallbacks_in_a_row``): one before -> the SAFE_FLOW instead of a second clarification;
``handoff_after`` before -> HANDOFF.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from services.governance.engine import Intent
from services.governance.packs import FallbackPolicy, PolicySet
from services.governance.verdicts import Action, Stage, Verdict, strictest

OUT_OF_SCOPE = "out_of_scope"
HUMAN_AGENT = "human_agent"


class Route(enum.Enum):
    """The route a turn takes."""

    PROCEED = "proceed"
    CLARIFY = "clarify"
    SAFE_FLOW = "safe_flow"
    HANDOFF = "handoff"
    REFUSE = "refuse"


class FallbackReason(enum.Enum):
    """Why a turn left its normal path."""

    LOW_CONFIDENCE = "low_confidence"
    AMBIGUOUS = "ambiguous"
    OUT_OF_SCOPE = "out_of_scope"
    POLICY = "policy"


@dataclass(frozen=True)
class Fallback:
    """The safe path a turn took, with the classification it left behind."""

    reason: FallbackReason
    route: Route
    detail: str
    original_intent: str
    original_confidence: float
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class Decision:
    """Decide's answer."""

    route: Route
    tier: str = ""
    fallback: Fallback | None = None
    message: str = ""
    handoff_queue: str = ""
    verdicts: tuple[Verdict, ...] = ()


def _join(labels: Sequence[str]) -> str:
    if len(labels) <= 1:
        return "".join(labels)
    return ", ".join(labels[:-1]) + " or " + labels[-1]


class Ladder:
    """Decides routes from a policy set."""

    def __init__(self, policy: PolicySet) -> None:
        self.policy = policy

    def decide(
        self, intent: Intent, verdicts: Sequence[Verdict], session: Mapping[str, Any]
    ) -> Decision:
        """The route for a turn with this classification and these input verdicts."""
        deciding = strictest(Stage.INPUT, verdicts)
        base = self.policy.base.fallback
        if deciding.action is Action.BLOCK:
            return self._policy(Route.REFUSE, intent, deciding, verdicts, base)
        if deciding.action is Action.HANDOFF:
            return self._policy(Route.HANDOFF, intent, deciding, verdicts, base)
        if intent.name == HUMAN_AGENT:
            fallback = Fallback(
                FallbackReason.POLICY,
                Route.HANDOFF,
                "the customer asked for a human agent",
                intent.name,
                intent.confidence,
            )
            return Decision(
                Route.HANDOFF,
                fallback=fallback,
                message=base.handoff_message,
                handoff_queue=base.handoff_queue,
                verdicts=tuple(verdicts),
            )
        pack = self.policy.pack_for_intent(intent.name)
        policy = pack.fallback
        if intent.out_of_scope or intent.name == OUT_OF_SCOPE:
            options = self._options(intent, self.policy.base.fallback, None, session)
            detail = "the message matches no intent of the packs in force"
            return self._fallback(
                FallbackReason.OUT_OF_SCOPE, intent, options, detail, base, session, verdicts
            )
        expressed = [name for name in dict.fromkeys(intent.intents) if name != OUT_OF_SCOPE]
        if len(expressed) > 1 and intent.name in expressed:
            # A multi-intent message splits its probability between its intents: that is
            # not doubt about what the customer wants, so it is not a reason to clarify.
            return Decision(Route.PROCEED, tier="deep", verdicts=tuple(verdicts))
        info = self.policy.intent(intent.name)
        # A yes with nothing waiting for one runs nothing: its own minimum is for what it runs.
        least = 0.0 if info.answers_only and not _waiting(session) else info.min_confidence
        if intent.confidence < max(policy.confidence_threshold, least):
            options = self._options(intent, policy, None, session)
            if self._harmless(intent.name, options):
                return Decision(Route.PROCEED, tier="fast", verdicts=tuple(verdicts))
            detail = (
                f"confidence {intent.confidence:.2f} is under the {pack.name} pack's threshold"
                f" {policy.confidence_threshold:.2f}"
                if intent.confidence < policy.confidence_threshold
                else f"confidence {intent.confidence:.2f} is under {intent.name}'s minimum"
                f" {least:.2f}"
            )
            return self._fallback(
                FallbackReason.LOW_CONFIDENCE, intent, options, detail, policy, session, verdicts
            )
        ranked = [c for c in intent.ranked() if c[0] != OUT_OF_SCOPE]
        if len(ranked) > 1 and ranked[0][1] - ranked[1][1] < policy.ambiguity_margin:
            options = self._options(intent, policy, policy.ambiguity_margin, session)
            if self._harmless(intent.name, options):
                return Decision(Route.PROCEED, tier="fast", verdicts=tuple(verdicts))
            detail = (
                f"{ranked[0][0]} ({ranked[0][1]:.2f}) and {ranked[1][0]} ({ranked[1][1]:.2f}) are"
                f" within the {pack.name} pack's margin {policy.ambiguity_margin:.2f}"
            )
            return self._fallback(
                FallbackReason.AMBIGUOUS, intent, options, detail, policy, session, verdicts
            )
        tier = "deep" if self.policy.intent(intent.name).multi_step else "fast"
        return Decision(Route.PROCEED, tier=tier, verdicts=tuple(verdicts))

    def _policy(
        self,
        route: Route,
        intent: Intent,
        verdict: Verdict,
        verdicts: Sequence[Verdict],
        base: FallbackPolicy,
    ) -> Decision:
        queue = ""
        if route is Route.HANDOFF:
            rule = self.policy.rule(verdict.rule_id)
            pack = self.policy.pack(verdict.pack) or self.policy.base
            queue = (rule.queue if rule else None) or pack.fallback.handoff_queue
        fallback = Fallback(
            FallbackReason.POLICY,
            route,
            f"{verdict.rule_id}: {verdict.reason}",
            intent.name,
            intent.confidence,
        )
        message = verdict.message or (base.handoff_message if route is Route.HANDOFF else "")
        return Decision(
            route, fallback=fallback, message=message, handoff_queue=queue, verdicts=tuple(verdicts)
        )

    def _harmless(self, name: str, options: tuple[str, ...]) -> bool:
        """Whether the likeliest intent, and every one a clarification would offer, changes
        nothing when answered ("no, that's all, thanks": say no, end the conversation or say
        thanks?): the likeliest is answered instead, as a wrong guess costs nothing."""
        harmless = self.policy.intent(name).harmless
        return harmless and bool(options) and all(self.policy.intent(o).harmless for o in options)

    def _options(
        self,
        intent: Intent,
        policy: FallbackPolicy,
        within: float | None,
        session: Mapping[str, Any],
    ) -> tuple[str, ...]:
        # "Say yes and go ahead" offered when nothing waits for a yes would answer nothing.
        waiting = _waiting(session)
        ranked = [
            (name, score)
            for name, score in intent.ranked()
            if name != OUT_OF_SCOPE
            and score >= policy.option_floor
            and (waiting or not self.policy.intent(name).answers_only)
        ]
        if within is not None and ranked:
            top = ranked[0][1]
            ranked = [(name, score) for name, score in ranked if top - score < within]
        return tuple(name for name, _ in ranked[: policy.max_options])

    def _fallback(
        self,
        reason: FallbackReason,
        intent: Intent,
        options: tuple[str, ...],
        detail: str,
        policy: FallbackPolicy,
        session: Mapping[str, Any],
        verdicts: Sequence[Verdict],
    ) -> Decision:
        before = _count(session.get("fallbacks_in_a_row", 0))
        if before >= policy.handoff_after:
            route = Route.HANDOFF
            detail += f"; {before} fallbacks in a row"
        elif options and before == 0:
            route = Route.CLARIFY
        else:
            route = Route.SAFE_FLOW
            options = ()
        fallback = Fallback(reason, route, detail, intent.name, intent.confidence, options)
        if route is Route.HANDOFF:
            return Decision(
                route,
                fallback=fallback,
                message=policy.handoff_message,
                handoff_queue=policy.handoff_queue,
                verdicts=tuple(verdicts),
            )
        if route is Route.CLARIFY:
            labels = [self.policy.intent(name).label for name in options]
            message = policy.clarify_message.replace("{options}", _join(labels))
            return Decision(route, fallback=fallback, message=message, verdicts=tuple(verdicts))
        return Decision(
            route, fallback=fallback, message=policy.safe_flow_message, verdicts=tuple(verdicts)
        )


def _waiting(session: Mapping[str, Any]) -> bool:
    """Whether a question or a held change waits for the customer's answer."""
    return session.get("awaiting_answer") is True


def _count(value: Any) -> int:
    """A count from the session facts: they arrive as a protobuf Struct, whose numbers are
    floats ("2.0"); anything that is not a whole, non-negative number counts as 0."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return int(value) if value >= 0 and float(value).is_integer() else 0
