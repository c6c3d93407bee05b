"""Building turn events: every event of a turn carries its turn id, trace id and time."""

from __future__ import annotations

from google.protobuf import duration_pb2, timestamp_pb2

from switchboard.v1 import common_pb2, events_pb2


def duration(seconds: float) -> duration_pb2.Duration:
    value = duration_pb2.Duration()
    value.FromNanoseconds(int(seconds * 1e9))
    return value


class EventFactory:
    """Makes the events of one turn."""

    def __init__(self, turn_id: str, trace_id: str) -> None:
        self.turn_id = turn_id
        self.trace_id = trace_id

    def _event(self, **payload: object) -> events_pb2.TurnEvent:
        now = timestamp_pb2.Timestamp()
        now.GetCurrentTime()
        return events_pb2.TurnEvent(
            turn_id=self.turn_id,
            trace_id=self.trace_id,
            time=now,
            **payload,  # type: ignore[arg-type]
        )

    def turn_started(self, session_id: str, channel: str) -> events_pb2.TurnEvent:
        return self._event(
            turn_started=events_pb2.TurnStarted(session_id=session_id, channel=channel)
        )

    def intent(self, detected: events_pb2.IntentDetected) -> events_pb2.TurnEvent:
        return self._event(intent=detected)

    def policy(self, verdict: common_pb2.PolicyVerdict) -> events_pb2.TurnEvent:
        return self._event(policy=verdict)

    def plan(self, plan: common_pb2.Plan) -> events_pb2.TurnEvent:
        return self._event(plan=events_pb2.PlanProposed(plan=plan))

    def step_started(self, started: events_pb2.StepStarted) -> events_pb2.TurnEvent:
        return self._event(step_started=started)

    def step_finished(self, finished: events_pb2.StepFinished) -> events_pb2.TurnEvent:
        return self._event(step_finished=finished)

    def text(self, text: str) -> events_pb2.TurnEvent:
        return self._event(text_delta=events_pb2.TextDelta(text=text))

    def rich_media(self, media: common_pb2.RichMedia) -> events_pb2.TurnEvent:
        return self._event(rich_media=media)

    def fallback(self, fallback: events_pb2.Fallback) -> events_pb2.TurnEvent:
        return self._event(fallback=fallback)

    def handoff(self, handoff: events_pb2.Handoff) -> events_pb2.TurnEvent:
        return self._event(handoff=handoff)

    def completed(self, completed: events_pb2.TurnCompleted) -> events_pb2.TurnEvent:
        return self._event(turn_completed=completed)

    def error(self, code: str, message: str) -> events_pb2.TurnEvent:
        return self._event(error=events_pb2.TurnError(code=code, message=message))
