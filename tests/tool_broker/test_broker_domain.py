"""The broker's domain modules on their own: plan graphs, references, breaker, backoff."""

from __future__ import annotations

import pytest

from services.runtime.errors import InvalidArgument
from services.tool_broker.dag import PlanGraph
from services.tool_broker.model import Step
from services.tool_broker.references import UnresolvedReference, referenced_steps, resolve
from services.tool_broker.resilience import BreakerState, CircuitBreaker, backoff_s

RESULTS = {
    "alts": {"items": [{"flight_number": "UA456", "seats": 3, "open": True}]},
    "res": {"pnr": "SBX7Q2", "passengers": [{"name": "<PERSON_1>"}]},
    "two": {"items": [{"pnr": "SBX7Q2"}, {"pnr": "K4M9TZ"}]},
    "none": {"items": []},
    "keyed": {"only": {"pnr": "LQ3X8N"}},
}


def test_a_whole_string_reference_keeps_the_value_type() -> None:
    assert resolve({"n": "${steps.alts.items.0.seats}"}, RESULTS) == {"n": 3}
    assert resolve({"p": "${steps.res.passengers}"}, RESULTS) == {"p": [{"name": "<PERSON_1>"}]}


def test_only_takes_the_single_item_of_a_list() -> None:
    assert resolve({"p": "${steps.res.passengers.only.name}"}, RESULTS) == {"p": "<PERSON_1>"}
    # A field that happens to be called "only" is still a field.
    assert resolve({"p": "${steps.keyed.only.pnr}"}, RESULTS) == {"p": "LQ3X8N"}


def test_references_inside_text_are_interpolated() -> None:
    text = (
        "Moved ${steps.res.pnr} to ${steps.alts.items.0.flight_number} "
        "(open: ${steps.alts.items.0.open})"
    )
    assert resolve({"t": text, "keep": ["x", 1]}, RESULTS) == {
        "t": "Moved SBX7Q2 to UA456 (open: true)",
        "keep": ["x", 1],
    }


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("${steps.ghost.x}", "refers to step 'ghost', which has no result"),
        ("${steps.alts.items.3.flight_number}", "steps.alts.items (a list of 1) has no '3'"),
        ("${steps.res.pnr.code}", "steps.res.pnr (a str) has no 'code'"),
        ("see ${steps.res.passengers}", "is a list of 1; only a string, number or boolean"),
        ("${steps.two.items.only.pnr}", "steps.two.items is a list of 2, not exactly one"),
        ("${steps.none.items.only.pnr}", "steps.none.items is a list of 0, not exactly one"),
    ],
)
def test_unresolvable_references_say_why(value: str, message: str) -> None:
    with pytest.raises(UnresolvedReference, match=message.replace("(", r"\(").replace(")", r"\)")):
        resolve({"v": value}, RESULTS)


def test_referenced_steps_are_found_at_any_depth() -> None:
    arguments = {"a": ["${steps.x.id}", {"b": "from ${steps.y.name}"}], "c": "$notref"}
    assert referenced_steps(arguments) == {"x", "y"}


def test_graph_heights_and_implied_dependencies() -> None:
    graph = PlanGraph.build(
        [
            Step("a", "t", {}),
            Step("b", "t", {"x": "${steps.a.id}"}),
            Step("c", "t", {}, ("b",)),
            Step("d", "t", {}),
        ]
    )
    assert graph.needs["b"] == {"a"}
    assert graph.roots() == ["a", "d"]
    assert graph.height == {"a": 3, "b": 2, "c": 1, "d": 1}


def test_a_cycle_is_invalid() -> None:
    with pytest.raises(InvalidArgument, match="steps 'a', 'b', 'c' wait for each other"):
        PlanGraph.build(
            [Step("a", "t", {}, ("c",)), Step("b", "t", {}, ("a",)), Step("c", "t", {}, ("b",))]
        )


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_then_lets_one_trial_through() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=2, reset_timeout_s=10, clock=clock)
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN and not breaker.allow()
    assert breaker.retry_after_s() == 10
    clock.now += 10
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.allow()  # the trial
    assert not breaker.allow()  # only one at a time
    breaker.record_failure()  # the trial failed: open again
    assert breaker.state is BreakerState.OPEN
    clock.now += 10
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED and breaker.allow()


def test_backoff_is_jittered_and_capped() -> None:
    assert backoff_s(1, 0.1, 1.0, rand=lambda: 1.0) == pytest.approx(0.1)
    assert backoff_s(3, 0.1, 1.0, rand=lambda: 1.0) == pytest.approx(0.4)
    assert backoff_s(10, 0.1, 1.0, rand=lambda: 1.0) == pytest.approx(1.0)
    assert backoff_s(3, 0.1, 1.0, rand=lambda: 0.5) == pytest.approx(0.2)
