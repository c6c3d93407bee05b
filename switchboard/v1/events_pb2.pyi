import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from switchboard.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FallbackReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FALLBACK_REASON_UNSPECIFIED: _ClassVar[FallbackReason]
    FALLBACK_REASON_LOW_CONFIDENCE: _ClassVar[FallbackReason]
    FALLBACK_REASON_AMBIGUOUS: _ClassVar[FallbackReason]
    FALLBACK_REASON_OUT_OF_SCOPE: _ClassVar[FallbackReason]
    FALLBACK_REASON_POLICY: _ClassVar[FallbackReason]
    FALLBACK_REASON_DEPENDENCY_DOWN: _ClassVar[FallbackReason]
    FALLBACK_REASON_BACKEND_FAILED: _ClassVar[FallbackReason]
    FALLBACK_REASON_MODEL_UNAVAILABLE: _ClassVar[FallbackReason]
    FALLBACK_REASON_INVALID_PLAN: _ClassVar[FallbackReason]

class FallbackAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FALLBACK_ACTION_UNSPECIFIED: _ClassVar[FallbackAction]
    FALLBACK_ACTION_CLARIFY: _ClassVar[FallbackAction]
    FALLBACK_ACTION_SAFE_FLOW: _ClassVar[FallbackAction]
    FALLBACK_ACTION_HANDOFF: _ClassVar[FallbackAction]
    FALLBACK_ACTION_EMBEDDED_ENGINE: _ClassVar[FallbackAction]
FALLBACK_REASON_UNSPECIFIED: FallbackReason
FALLBACK_REASON_LOW_CONFIDENCE: FallbackReason
FALLBACK_REASON_AMBIGUOUS: FallbackReason
FALLBACK_REASON_OUT_OF_SCOPE: FallbackReason
FALLBACK_REASON_POLICY: FallbackReason
FALLBACK_REASON_DEPENDENCY_DOWN: FallbackReason
FALLBACK_REASON_BACKEND_FAILED: FallbackReason
FALLBACK_REASON_MODEL_UNAVAILABLE: FallbackReason
FALLBACK_REASON_INVALID_PLAN: FallbackReason
FALLBACK_ACTION_UNSPECIFIED: FallbackAction
FALLBACK_ACTION_CLARIFY: FallbackAction
FALLBACK_ACTION_SAFE_FLOW: FallbackAction
FALLBACK_ACTION_HANDOFF: FallbackAction
FALLBACK_ACTION_EMBEDDED_ENGINE: FallbackAction

class TurnEvent(_message.Message):
    __slots__ = ("turn_id", "trace_id", "time", "turn_started", "intent", "policy", "plan", "step_started", "step_finished", "text_delta", "rich_media", "fallback", "handoff", "turn_completed", "error")
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    TURN_STARTED_FIELD_NUMBER: _ClassVar[int]
    INTENT_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    STEP_STARTED_FIELD_NUMBER: _ClassVar[int]
    STEP_FINISHED_FIELD_NUMBER: _ClassVar[int]
    TEXT_DELTA_FIELD_NUMBER: _ClassVar[int]
    RICH_MEDIA_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_FIELD_NUMBER: _ClassVar[int]
    HANDOFF_FIELD_NUMBER: _ClassVar[int]
    TURN_COMPLETED_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    turn_id: str
    trace_id: str
    time: _timestamp_pb2.Timestamp
    turn_started: TurnStarted
    intent: IntentDetected
    policy: _common_pb2.PolicyVerdict
    plan: PlanProposed
    step_started: StepStarted
    step_finished: StepFinished
    text_delta: TextDelta
    rich_media: _common_pb2.RichMedia
    fallback: Fallback
    handoff: Handoff
    turn_completed: TurnCompleted
    error: TurnError
    def __init__(self, turn_id: _Optional[str] = ..., trace_id: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., turn_started: _Optional[_Union[TurnStarted, _Mapping]] = ..., intent: _Optional[_Union[IntentDetected, _Mapping]] = ..., policy: _Optional[_Union[_common_pb2.PolicyVerdict, _Mapping]] = ..., plan: _Optional[_Union[PlanProposed, _Mapping]] = ..., step_started: _Optional[_Union[StepStarted, _Mapping]] = ..., step_finished: _Optional[_Union[StepFinished, _Mapping]] = ..., text_delta: _Optional[_Union[TextDelta, _Mapping]] = ..., rich_media: _Optional[_Union[_common_pb2.RichMedia, _Mapping]] = ..., fallback: _Optional[_Union[Fallback, _Mapping]] = ..., handoff: _Optional[_Union[Handoff, _Mapping]] = ..., turn_completed: _Optional[_Union[TurnCompleted, _Mapping]] = ..., error: _Optional[_Union[TurnError, _Mapping]] = ...) -> None: ...

class TurnStarted(_message.Message):
    __slots__ = ("session_id", "channel")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    channel: str
    def __init__(self, session_id: _Optional[str] = ..., channel: _Optional[str] = ...) -> None: ...

class IntentDetected(_message.Message):
    __slots__ = ("name", "confidence", "candidates", "out_of_scope", "classifier", "intents")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    OUT_OF_SCOPE_FIELD_NUMBER: _ClassVar[int]
    CLASSIFIER_FIELD_NUMBER: _ClassVar[int]
    INTENTS_FIELD_NUMBER: _ClassVar[int]
    name: str
    confidence: float
    candidates: _containers.RepeatedCompositeFieldContainer[_common_pb2.IntentScore]
    out_of_scope: bool
    classifier: str
    intents: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., confidence: _Optional[float] = ..., candidates: _Optional[_Iterable[_Union[_common_pb2.IntentScore, _Mapping]]] = ..., out_of_scope: _Optional[bool] = ..., classifier: _Optional[str] = ..., intents: _Optional[_Iterable[str]] = ...) -> None: ...

class PlanProposed(_message.Message):
    __slots__ = ("plan",)
    PLAN_FIELD_NUMBER: _ClassVar[int]
    plan: _common_pb2.Plan
    def __init__(self, plan: _Optional[_Union[_common_pb2.Plan, _Mapping]] = ...) -> None: ...

class StepStarted(_message.Message):
    __slots__ = ("step_id", "tool", "arguments")
    STEP_ID_FIELD_NUMBER: _ClassVar[int]
    TOOL_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    step_id: str
    tool: str
    arguments: _struct_pb2.Struct
    def __init__(self, step_id: _Optional[str] = ..., tool: _Optional[str] = ..., arguments: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class StepFinished(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: _common_pb2.StepResult
    def __init__(self, result: _Optional[_Union[_common_pb2.StepResult, _Mapping]] = ...) -> None: ...

class TextDelta(_message.Message):
    __slots__ = ("text",)
    TEXT_FIELD_NUMBER: _ClassVar[int]
    text: str
    def __init__(self, text: _Optional[str] = ...) -> None: ...

class Fallback(_message.Message):
    __slots__ = ("reason", "action", "detail", "original_intent", "original_confidence", "options")
    REASON_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    ORIGINAL_INTENT_FIELD_NUMBER: _ClassVar[int]
    ORIGINAL_CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    reason: FallbackReason
    action: FallbackAction
    detail: str
    original_intent: str
    original_confidence: float
    options: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, reason: _Optional[_Union[FallbackReason, str]] = ..., action: _Optional[_Union[FallbackAction, str]] = ..., detail: _Optional[str] = ..., original_intent: _Optional[str] = ..., original_confidence: _Optional[float] = ..., options: _Optional[_Iterable[str]] = ...) -> None: ...

class Handoff(_message.Message):
    __slots__ = ("queue", "summary", "reason")
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    queue: str
    summary: str
    reason: str
    def __init__(self, queue: _Optional[str] = ..., summary: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class TurnCompleted(_message.Message):
    __slots__ = ("latency", "usage", "reply", "stage_latency", "metadata")
    class StageLatencyEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _duration_pb2.Duration
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...
    LATENCY_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    REPLY_FIELD_NUMBER: _ClassVar[int]
    STAGE_LATENCY_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    latency: _duration_pb2.Duration
    usage: _common_pb2.TokenUsage
    reply: str
    stage_latency: _containers.MessageMap[str, _duration_pb2.Duration]
    metadata: _struct_pb2.Struct
    def __init__(self, latency: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., usage: _Optional[_Union[_common_pb2.TokenUsage, _Mapping]] = ..., reply: _Optional[str] = ..., stage_latency: _Optional[_Mapping[str, _duration_pb2.Duration]] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class TurnError(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...
