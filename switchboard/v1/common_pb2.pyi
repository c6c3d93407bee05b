import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PolicyStage(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    POLICY_STAGE_UNSPECIFIED: _ClassVar[PolicyStage]
    POLICY_STAGE_INPUT: _ClassVar[PolicyStage]
    POLICY_STAGE_TOOL_CALL: _ClassVar[PolicyStage]
    POLICY_STAGE_OUTPUT: _ClassVar[PolicyStage]

class PolicyAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    POLICY_ACTION_UNSPECIFIED: _ClassVar[PolicyAction]
    POLICY_ACTION_ALLOW: _ClassVar[PolicyAction]
    POLICY_ACTION_BLOCK: _ClassVar[PolicyAction]
    POLICY_ACTION_CONFIRM: _ClassVar[PolicyAction]
    POLICY_ACTION_HANDOFF: _ClassVar[PolicyAction]
    POLICY_ACTION_REDACT: _ClassVar[PolicyAction]
    POLICY_ACTION_DISCLAIM: _ClassVar[PolicyAction]

class StepOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STEP_OUTCOME_UNSPECIFIED: _ClassVar[StepOutcome]
    STEP_OUTCOME_SUCCEEDED: _ClassVar[StepOutcome]
    STEP_OUTCOME_FAILED: _ClassVar[StepOutcome]
    STEP_OUTCOME_REJECTED: _ClassVar[StepOutcome]
    STEP_OUTCOME_TIMED_OUT: _ClassVar[StepOutcome]
    STEP_OUTCOME_SKIPPED: _ClassVar[StepOutcome]
    STEP_OUTCOME_UNAVAILABLE: _ClassVar[StepOutcome]

class MediaKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MEDIA_KIND_UNSPECIFIED: _ClassVar[MediaKind]
    MEDIA_KIND_IMAGE: _ClassVar[MediaKind]
    MEDIA_KIND_VIDEO: _ClassVar[MediaKind]
    MEDIA_KIND_FORM: _ClassVar[MediaKind]
    MEDIA_KIND_CARD: _ClassVar[MediaKind]
POLICY_STAGE_UNSPECIFIED: PolicyStage
POLICY_STAGE_INPUT: PolicyStage
POLICY_STAGE_TOOL_CALL: PolicyStage
POLICY_STAGE_OUTPUT: PolicyStage
POLICY_ACTION_UNSPECIFIED: PolicyAction
POLICY_ACTION_ALLOW: PolicyAction
POLICY_ACTION_BLOCK: PolicyAction
POLICY_ACTION_CONFIRM: PolicyAction
POLICY_ACTION_HANDOFF: PolicyAction
POLICY_ACTION_REDACT: PolicyAction
POLICY_ACTION_DISCLAIM: PolicyAction
STEP_OUTCOME_UNSPECIFIED: StepOutcome
STEP_OUTCOME_SUCCEEDED: StepOutcome
STEP_OUTCOME_FAILED: StepOutcome
STEP_OUTCOME_REJECTED: StepOutcome
STEP_OUTCOME_TIMED_OUT: StepOutcome
STEP_OUTCOME_SKIPPED: StepOutcome
STEP_OUTCOME_UNAVAILABLE: StepOutcome
MEDIA_KIND_UNSPECIFIED: MediaKind
MEDIA_KIND_IMAGE: MediaKind
MEDIA_KIND_VIDEO: MediaKind
MEDIA_KIND_FORM: MediaKind
MEDIA_KIND_CARD: MediaKind

class TokenUsage(_message.Message):
    __slots__ = ("input_tokens", "output_tokens", "model")
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    input_tokens: int
    output_tokens: int
    model: str
    def __init__(self, input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., model: _Optional[str] = ...) -> None: ...

class IntentScore(_message.Message):
    __slots__ = ("name", "confidence")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    name: str
    confidence: float
    def __init__(self, name: _Optional[str] = ..., confidence: _Optional[float] = ...) -> None: ...

class PolicyVerdict(_message.Message):
    __slots__ = ("stage", "action", "rule_id", "reason", "message")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    stage: PolicyStage
    action: PolicyAction
    rule_id: str
    reason: str
    message: str
    def __init__(self, stage: _Optional[_Union[PolicyStage, str]] = ..., action: _Optional[_Union[PolicyAction, str]] = ..., rule_id: _Optional[str] = ..., reason: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class PlanStep(_message.Message):
    __slots__ = ("id", "tool", "arguments", "depends_on", "description")
    ID_FIELD_NUMBER: _ClassVar[int]
    TOOL_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    DEPENDS_ON_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    id: str
    tool: str
    arguments: _struct_pb2.Struct
    depends_on: _containers.RepeatedScalarFieldContainer[str]
    description: str
    def __init__(self, id: _Optional[str] = ..., tool: _Optional[str] = ..., arguments: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., depends_on: _Optional[_Iterable[str]] = ..., description: _Optional[str] = ...) -> None: ...

class Plan(_message.Message):
    __slots__ = ("id", "steps", "flow", "tier", "missing_slots", "slots", "fallback_reason", "usage", "awaiting_confirmation", "aside")
    class SlotsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    FLOW_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    MISSING_SLOTS_FIELD_NUMBER: _ClassVar[int]
    SLOTS_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_REASON_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    AWAITING_CONFIRMATION_FIELD_NUMBER: _ClassVar[int]
    ASIDE_FIELD_NUMBER: _ClassVar[int]
    id: str
    steps: _containers.RepeatedCompositeFieldContainer[PlanStep]
    flow: str
    tier: str
    missing_slots: _containers.RepeatedScalarFieldContainer[str]
    slots: _containers.ScalarMap[str, str]
    fallback_reason: str
    usage: _containers.RepeatedCompositeFieldContainer[TokenUsage]
    awaiting_confirmation: str
    aside: bool
    def __init__(self, id: _Optional[str] = ..., steps: _Optional[_Iterable[_Union[PlanStep, _Mapping]]] = ..., flow: _Optional[str] = ..., tier: _Optional[str] = ..., missing_slots: _Optional[_Iterable[str]] = ..., slots: _Optional[_Mapping[str, str]] = ..., fallback_reason: _Optional[str] = ..., usage: _Optional[_Iterable[_Union[TokenUsage, _Mapping]]] = ..., awaiting_confirmation: _Optional[str] = ..., aside: _Optional[bool] = ...) -> None: ...

class StepResult(_message.Message):
    __slots__ = ("step_id", "tool", "outcome", "result", "error", "latency", "attempts", "http_status", "verdicts", "arguments")
    STEP_ID_FIELD_NUMBER: _ClassVar[int]
    TOOL_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    LATENCY_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    HTTP_STATUS_FIELD_NUMBER: _ClassVar[int]
    VERDICTS_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    step_id: str
    tool: str
    outcome: StepOutcome
    result: _struct_pb2.Struct
    error: str
    latency: _duration_pb2.Duration
    attempts: int
    http_status: int
    verdicts: _containers.RepeatedCompositeFieldContainer[PolicyVerdict]
    arguments: _struct_pb2.Struct
    def __init__(self, step_id: _Optional[str] = ..., tool: _Optional[str] = ..., outcome: _Optional[_Union[StepOutcome, str]] = ..., result: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., error: _Optional[str] = ..., latency: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., attempts: _Optional[int] = ..., http_status: _Optional[int] = ..., verdicts: _Optional[_Iterable[_Union[PolicyVerdict, _Mapping]]] = ..., arguments: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class RichMedia(_message.Message):
    __slots__ = ("kind", "title", "uri", "data", "alt_text", "step_id")
    KIND_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    URI_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    ALT_TEXT_FIELD_NUMBER: _ClassVar[int]
    STEP_ID_FIELD_NUMBER: _ClassVar[int]
    kind: MediaKind
    title: str
    uri: str
    data: _struct_pb2.Struct
    alt_text: str
    step_id: str
    def __init__(self, kind: _Optional[_Union[MediaKind, str]] = ..., title: _Optional[str] = ..., uri: _Optional[str] = ..., data: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., alt_text: _Optional[str] = ..., step_id: _Optional[str] = ...) -> None: ...

class HistoryEntry(_message.Message):
    __slots__ = ("role", "text", "turn_id")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    role: str
    text: str
    turn_id: str
    def __init__(self, role: _Optional[str] = ..., text: _Optional[str] = ..., turn_id: _Optional[str] = ...) -> None: ...
