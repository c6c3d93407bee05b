"""Plan checks read step references exactly as the tool-broker resolves them."""

from __future__ import annotations

import pytest

from services.planner.plans import Step, plan_errors, renamed, with_reference_dependencies
from services.planner.tools import ToolIndex
from services.tool_broker.references import referenced_steps

# Paths a model writes that the broker reads as references (and then fails to resolve, or
# resolves): the planner must see the step they name as well.
ODD_PATHS = [
    "${steps.trip.segments[0].flight_number}",
    "${steps.trip.segments.0.flight_número}",
    "${steps.trip.pnr:upper}",
]


@pytest.mark.parametrize("reference", ODD_PATHS)
def test_a_reference_the_broker_follows_is_one_the_plan_check_sees(
    tools: ToolIndex, reference: str
) -> None:
    assert referenced_steps({"flight_number": reference}) == {"trip"}
    trip = Step("trip", "getReservation", {"pnr": "SBX7Q2"})
    status = Step("status", "getFlightStatus", {"flight_number": reference})
    assert "step 'status': refers to step 'trip' without depending on it" in plan_errors(
        [trip, status], tools
    )
    assert with_reference_dependencies(status).depends_on == ("trip",)
    # Merged plans rename step ids; the reference follows its step.
    moved = renamed(status, {"trip": "trip_2"})
    assert referenced_steps(moved.arguments) == {"trip_2"}
