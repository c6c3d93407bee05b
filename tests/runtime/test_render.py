"""How `switchboard ask` prints a turn: the reply is one "assistant:" even when events cut it."""

from __future__ import annotations

import io

from services.render import EventPrinter
from switchboard.v1 import common_pb2, events_pb2


def text(words: str) -> events_pb2.TurnEvent:
    return events_pb2.TurnEvent(text_delta=events_pb2.TextDelta(text=words))


def printed(*events: events_pb2.TurnEvent) -> list[str]:
    out = io.StringIO()
    printer = EventPrinter(out)
    for event in events:
        printer.show(event)
    return out.getvalue().splitlines()


DISCLAIM = events_pb2.TurnEvent(
    policy=common_pb2.PolicyVerdict(
        stage=common_pb2.POLICY_STAGE_OUTPUT,
        action=common_pb2.POLICY_ACTION_DISCLAIM,
        rule_id="dental/benefits-disclaimer",
    )
)


def test_a_disclaimer_after_its_policy_line_is_the_same_reply() -> None:
    lines = printed(
        events_pb2.TurnEvent(turn_id="t1", turn_started=events_pb2.TurnStarted()),
        text("Your claim CL-9001 is under review."),
        DISCLAIM,
        text("\n\nThis is a summary of your plan's benefits."),
    )
    assert [line for line in lines if "assistant:" in line] == [
        "assistant: Your claim CL-9001 is under review."
    ]
    assert lines[-2].startswith("· policy   output disclaim (dental/benefits-disclaimer)")
    assert lines[-1] == " " * len("assistant: ") + "This is a summary of your plan's benefits."


def test_each_turn_has_its_own_reply() -> None:
    started = events_pb2.TurnEvent(turn_started=events_pb2.TurnStarted())
    lines = printed(started, text("Hello."), started, text("Bye."))
    assert [line for line in lines if line.startswith("assistant: ")] == [
        "assistant: Hello.",
        "assistant: Bye.",
    ]


def test_whole_numbers_in_arguments_print_as_written() -> None:
    step = common_pb2.PlanStep(id="withdraw", tool="createWithdrawal")
    step.arguments.update({"amount_cents": 5000, "rate": 0.5, "ids": [1, 2], "to": "pm_1"})
    lines = printed(
        events_pb2.TurnEvent(plan=events_pb2.PlanProposed(plan=common_pb2.Plan(steps=[step])))
    )
    # A Struct keeps no order: each argument as written, wherever it stands.
    (line,) = lines
    assert "withdraw=createWithdrawal(" in line, line
    for shown in ("amount_cents=5000", "rate=0.5", "ids=[1, 2]", "to=pm_1"):
        assert shown in line, line
