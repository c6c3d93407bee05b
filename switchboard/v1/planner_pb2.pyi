from switchboard.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PlanRequest(_message.Message):
    __slots__ = ("session_id", "turn_id", "text", "intent", "candidates", "slots", "customer_id", "history", "tier", "pending_flow", "intents", "only_if_answered", "clarified_text", "follow_up", "again")
    class SlotsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    INTENT_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    SLOTS_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    PENDING_FLOW_FIELD_NUMBER: _ClassVar[int]
    INTENTS_FIELD_NUMBER: _ClassVar[int]
    ONLY_IF_ANSWERED_FIELD_NUMBER: _ClassVar[int]
    CLARIFIED_TEXT_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_UP_FIELD_NUMBER: _ClassVar[int]
    AGAIN_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    turn_id: str
    text: str
    intent: _common_pb2.IntentScore
    candidates: _containers.RepeatedCompositeFieldContainer[_common_pb2.IntentScore]
    slots: _containers.ScalarMap[str, str]
    customer_id: str
    history: _containers.RepeatedCompositeFieldContainer[_common_pb2.HistoryEntry]
    tier: str
    pending_flow: str
    intents: _containers.RepeatedScalarFieldContainer[str]
    only_if_answered: bool
    clarified_text: str
    follow_up: bool
    again: bool
    def __init__(self, session_id: _Optional[str] = ..., turn_id: _Optional[str] = ..., text: _Optional[str] = ..., intent: _Optional[_Union[_common_pb2.IntentScore, _Mapping]] = ..., candidates: _Optional[_Iterable[_Union[_common_pb2.IntentScore, _Mapping]]] = ..., slots: _Optional[_Mapping[str, str]] = ..., customer_id: _Optional[str] = ..., history: _Optional[_Iterable[_Union[_common_pb2.HistoryEntry, _Mapping]]] = ..., tier: _Optional[str] = ..., pending_flow: _Optional[str] = ..., intents: _Optional[_Iterable[str]] = ..., only_if_answered: _Optional[bool] = ..., clarified_text: _Optional[str] = ..., follow_up: _Optional[bool] = ..., again: _Optional[bool] = ...) -> None: ...

class PlanResponse(_message.Message):
    __slots__ = ("step", "plan")
    STEP_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    step: _common_pb2.PlanStep
    plan: _common_pb2.Plan
    def __init__(self, step: _Optional[_Union[_common_pb2.PlanStep, _Mapping]] = ..., plan: _Optional[_Union[_common_pb2.Plan, _Mapping]] = ...) -> None: ...

class ComposeRequest(_message.Message):
    __slots__ = ("session_id", "turn_id", "text", "intent", "plan", "results", "awaiting_confirmation", "resumable")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    INTENT_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    AWAITING_CONFIRMATION_FIELD_NUMBER: _ClassVar[int]
    RESUMABLE_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    turn_id: str
    text: str
    intent: _common_pb2.IntentScore
    plan: _common_pb2.Plan
    results: _containers.RepeatedCompositeFieldContainer[_common_pb2.StepResult]
    awaiting_confirmation: bool
    resumable: str
    def __init__(self, session_id: _Optional[str] = ..., turn_id: _Optional[str] = ..., text: _Optional[str] = ..., intent: _Optional[_Union[_common_pb2.IntentScore, _Mapping]] = ..., plan: _Optional[_Union[_common_pb2.Plan, _Mapping]] = ..., results: _Optional[_Iterable[_Union[_common_pb2.StepResult, _Mapping]]] = ..., awaiting_confirmation: _Optional[bool] = ..., resumable: _Optional[str] = ...) -> None: ...

class ComposeResponse(_message.Message):
    __slots__ = ("text_delta", "rich_media", "usage", "missing_slots", "offer")
    TEXT_DELTA_FIELD_NUMBER: _ClassVar[int]
    RICH_MEDIA_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    MISSING_SLOTS_FIELD_NUMBER: _ClassVar[int]
    OFFER_FIELD_NUMBER: _ClassVar[int]
    text_delta: str
    rich_media: _common_pb2.RichMedia
    usage: _common_pb2.TokenUsage
    missing_slots: MissingSlots
    offer: Offer
    def __init__(self, text_delta: _Optional[str] = ..., rich_media: _Optional[_Union[_common_pb2.RichMedia, _Mapping]] = ..., usage: _Optional[_Union[_common_pb2.TokenUsage, _Mapping]] = ..., missing_slots: _Optional[_Union[MissingSlots, _Mapping]] = ..., offer: _Optional[_Union[Offer, _Mapping]] = ...) -> None: ...

class Offer(_message.Message):
    __slots__ = ("intent", "say")
    INTENT_FIELD_NUMBER: _ClassVar[int]
    SAY_FIELD_NUMBER: _ClassVar[int]
    intent: str
    say: str
    def __init__(self, intent: _Optional[str] = ..., say: _Optional[str] = ...) -> None: ...

class MissingSlots(_message.Message):
    __slots__ = ("flow", "slots", "keep")
    class KeepEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    FLOW_FIELD_NUMBER: _ClassVar[int]
    SLOTS_FIELD_NUMBER: _ClassVar[int]
    KEEP_FIELD_NUMBER: _ClassVar[int]
    flow: str
    slots: _containers.RepeatedScalarFieldContainer[str]
    keep: _containers.ScalarMap[str, str]
    def __init__(self, flow: _Optional[str] = ..., slots: _Optional[_Iterable[str]] = ..., keep: _Optional[_Mapping[str, str]] = ...) -> None: ...
