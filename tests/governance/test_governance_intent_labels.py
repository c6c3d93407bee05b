"""Every intent the classifier can find is offered in a clarification by a label a pack gives it,
never by its name ("would you like to decline?")."""

from __future__ import annotations

from services.config import load_settings
from services.governance.config import GovernanceSettings
from services.governance.engine import Intent
from services.governance.ladder import Ladder
from services.governance.packs import load_packs
from services.intents.packs import load_packs as load_intent_packs


def test_every_shipped_intent_has_a_label_of_its_own() -> None:
    policy = load_packs(GovernanceSettings())
    declared = {name for pack in policy.packs for name in pack.intents}
    intents = [
        intent.name
        for pack in load_intent_packs(load_settings().router.intents_dir)
        for intent in pack.intents
    ]
    assert intents and not [name for name in intents if name not in declared]


def test_the_answers_to_a_confirmation_are_offered_in_its_words() -> None:
    ladder = Ladder(load_packs(GovernanceSettings()))
    unsure = Intent(
        "confirm", 0.41, candidates=(("confirm", 0.41), ("decline", 0.30), ("greeting", 0.19))
    )
    decision = ladder.decide(unsure, [], {"awaiting_answer": True})
    assert decision.message == (
        "Just to be sure I help with the right thing: would you like to say yes and go ahead, "
        "say no and leave things as they are or say hello?"
    )


def test_a_yes_or_a_no_is_offered_only_while_something_waits_for_one() -> None:
    # "hmm" with nothing asked: a yes would answer nothing, so only the greeting is offered.
    ladder = Ladder(load_packs(GovernanceSettings()))
    unsure = Intent(
        "out_of_scope",
        0.66,
        candidates=(("out_of_scope", 0.66), ("greeting", 0.14), ("confirm", 0.12)),
    )
    for session in ({}, {"awaiting_answer": False}):
        decision = ladder.decide(unsure, [], session)
        assert decision.route.name == "CLARIFY", decision
        assert decision.fallback is not None and decision.fallback.options == ("greeting",)
        assert "yes" not in decision.message
    waiting = ladder.decide(unsure, [], {"awaiting_answer": True})
    assert waiting.fallback is not None and waiting.fallback.options == ("greeting", "confirm")


def test_a_yes_is_acted_on_only_when_clear() -> None:
    # The base pack's threshold is 0.55; confirm asks for 0.85 (its min_confidence).
    ladder = Ladder(load_packs(GovernanceSettings()))
    waiting = {"awaiting_answer": True}
    lukewarm = Intent("confirm", 0.69, candidates=(("confirm", 0.69), ("thanks", 0.26)))
    decision = ladder.decide(lukewarm, [], waiting)
    assert decision.route.name == "CLARIFY", decision
    assert decision.fallback is not None
    assert "under confirm's minimum 0.85" in decision.fallback.detail
    clear = Intent("confirm", 0.93, candidates=(("confirm", 0.93), ("greeting", 0.03)))
    assert ladder.decide(clear, [], waiting).route.name == "PROCEED"
    # Another intent at the same 0.69 goes ahead: the pack's own threshold is all it needs.
    status = Intent("thanks", 0.69, candidates=(("thanks", 0.69), ("confirm", 0.26)))
    assert ladder.decide(status, [], waiting).route.name == "PROCEED"
    # With nothing waiting, a yes runs nothing: its reply says so, at the pack's threshold.
    assert ladder.decide(lukewarm, [], {}).route.name == "PROCEED"


def test_between_harmless_intents_alone_the_likeliest_is_answered() -> None:
    # "No, that's all, thanks" while the lost property flow waits for what the item looks like.
    ladder = Ladder(load_packs(GovernanceSettings()))
    waiting = {"awaiting_answer": True}
    closing = Intent(
        "decline", 0.44, candidates=(("decline", 0.44), ("goodbye", 0.33), ("thanks", 0.22))
    )
    decision = ladder.decide(closing, [], waiting)
    assert decision.route.name == "PROCEED" and decision.fallback is None, decision
    # Within the margin rather than under the threshold: the same.
    close = Intent("thanks", 0.62, candidates=(("thanks", 0.62), ("goodbye", 0.36)))
    assert ladder.decide(close, [], {}).route.name == "PROCEED"
    # A yes beside them is not harmless: it runs the change that waits, so it is asked about.
    maybe_yes = Intent(
        "thanks", 0.48, candidates=(("thanks", 0.48), ("confirm", 0.45), ("goodbye", 0.04))
    )
    assert ladder.decide(maybe_yes, [], waiting).route.name == "CLARIFY"
    # Nor is a request: "thanks, and my refund?" is asked about.
    request = Intent("thanks", 0.50, candidates=(("thanks", 0.50), ("refund_request", 0.42)))
    assert ladder.decide(request, [], {}).route.name == "CLARIFY"
    # With nothing waiting a no is not offered, but the others are as harmless: answered too.
    assert ladder.decide(closing, [], {}).route.name == "PROCEED"
    # Too unsure to offer anything: the safe flow, as before.
    faint = Intent("greeting", 0.04, candidates=(("greeting", 0.04), ("thanks", 0.03)))
    assert ladder.decide(faint, [], {}).route.name == "SAFE_FLOW"
