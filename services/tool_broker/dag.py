"""A plan's steps as a directed acyclic graph."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from services.runtime.errors import InvalidArgument
from services.tool_broker.model import Step
from services.tool_broker.references import referenced_steps


@dataclass(frozen=True)
class PlanGraph:
    """Steps by id, with each step's dependencies (declared and implied by references)."""

    steps: dict[str, Step]
    #: step id -> the ids it waits for
    needs: dict[str, frozenset[str]]
    #: step id -> the ids that wait for it
    dependants: dict[str, tuple[str, ...]]
    #: step id -> steps on the longest chain starting at it, itself included
    height: dict[str, int]
    #: step id -> every step it waits for, directly or through others, in an order where each
    #: comes after those it waits for itself (ties in plan order)
    ancestors: dict[str, tuple[str, ...]]

    @classmethod
    def build(cls, steps: Sequence[Step]) -> PlanGraph:
        """The graph of the steps; InvalidArgument when they do not form a DAG."""
        by_id: dict[str, Step] = {}
        for index, step in enumerate(steps):
            if not step.id:
                raise InvalidArgument(f"plan step {index} has no id")
            if step.id in by_id:
                raise InvalidArgument(f"plan has two steps with id {step.id!r}")
            by_id[step.id] = step
        needs: dict[str, frozenset[str]] = {}
        for step in steps:
            wanted = set(step.depends_on) | referenced_steps(step.arguments)
            unknown = sorted(wanted - by_id.keys())
            if unknown:
                raise InvalidArgument(
                    f"step {step.id!r} depends on unknown step(s) {', '.join(map(repr, unknown))}"
                )
            needs[step.id] = frozenset(wanted)
        dependants: dict[str, list[str]] = {step_id: [] for step_id in by_id}
        for step_id, wanted_ids in needs.items():
            for wanted_id in sorted(wanted_ids):
                dependants[wanted_id].append(step_id)
        order = _topological_order(by_id, needs, dependants)
        height: dict[str, int] = {}
        for step_id in reversed(order):
            height[step_id] = 1 + max((height[d] for d in dependants[step_id]), default=0)
        above: dict[str, set[str]] = {}
        for step_id in order:
            above[step_id] = set(needs[step_id]).union(*(above[n] for n in needs[step_id]))
        # A step has strictly more ancestors than any of its own ancestors, so sorting by their
        # number puts each after those it waits for; plan order breaks ties.
        position = {step_id: index for index, step_id in enumerate(by_id)}
        ancestors = {
            step_id: tuple(sorted(found, key=lambda a: (len(above[a]), position[a])))
            for step_id, found in above.items()
        }
        return cls(by_id, needs, {k: tuple(v) for k, v in dependants.items()}, height, ancestors)

    def roots(self) -> list[str]:
        """The steps that wait for nothing, in plan order."""
        return [step_id for step_id in self.steps if not self.needs[step_id]]


def _topological_order(
    steps: dict[str, Step], needs: dict[str, frozenset[str]], dependants: dict[str, list[str]]
) -> list[str]:
    waiting = {step_id: len(wanted) for step_id, wanted in needs.items()}
    ready = [step_id for step_id in steps if waiting[step_id] == 0]
    order: list[str] = []
    while ready:
        step_id = ready.pop()
        order.append(step_id)
        for dependant in dependants[step_id]:
            waiting[dependant] -= 1
            if waiting[dependant] == 0:
                ready.append(dependant)
    if len(order) < len(steps):
        cycle = sorted(step_id for step_id, count in waiting.items() if count > 0)
        raise InvalidArgument(
            f"plan is not acyclic: steps {', '.join(map(repr, cycle))} wait for each other"
        )
    return order
