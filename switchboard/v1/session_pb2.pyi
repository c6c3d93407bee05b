import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from switchboard.v1 import common_pb2 as _common_pb2
from switchboard.v1 import events_pb2 as _events_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TurnStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TURN_STATUS_UNSPECIFIED: _ClassVar[TurnStatus]
    TURN_STATUS_COMPLETED: _ClassVar[TurnStatus]
    TURN_STATUS_FAILED: _ClassVar[TurnStatus]
    TURN_STATUS_CANCELLED: _ClassVar[TurnStatus]
TURN_STATUS_UNSPECIFIED: TurnStatus
TURN_STATUS_COMPLETED: TurnStatus
TURN_STATUS_FAILED: TurnStatus
TURN_STATUS_CANCELLED: TurnStatus

class Session(_message.Message):
    __slots__ = ("id", "version", "customer_id", "slots", "history", "pending_flow", "identity_verified", "created_at", "updated_at", "pending_plan", "identity_lookup", "fallbacks_in_a_row", "clarified_text", "industry", "served_intent", "offered_intent", "offered_choices", "proof_awaited_intent")
    class SlotsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    SLOTS_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    PENDING_FLOW_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_VERIFIED_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    PENDING_PLAN_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_LOOKUP_FIELD_NUMBER: _ClassVar[int]
    FALLBACKS_IN_A_ROW_FIELD_NUMBER: _ClassVar[int]
    CLARIFIED_TEXT_FIELD_NUMBER: _ClassVar[int]
    INDUSTRY_FIELD_NUMBER: _ClassVar[int]
    SERVED_INTENT_FIELD_NUMBER: _ClassVar[int]
    OFFERED_INTENT_FIELD_NUMBER: _ClassVar[int]
    OFFERED_CHOICES_FIELD_NUMBER: _ClassVar[int]
    PROOF_AWAITED_INTENT_FIELD_NUMBER: _ClassVar[int]
    id: str
    version: int
    customer_id: str
    slots: _containers.ScalarMap[str, str]
    history: _containers.RepeatedCompositeFieldContainer[_common_pb2.HistoryEntry]
    pending_flow: str
    identity_verified: bool
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    pending_plan: _common_pb2.Plan
    identity_lookup: IdentityLookup
    fallbacks_in_a_row: int
    clarified_text: str
    industry: str
    served_intent: str
    offered_intent: str
    offered_choices: _containers.RepeatedCompositeFieldContainer[OfferedRequest]
    proof_awaited_intent: str
    def __init__(self, id: _Optional[str] = ..., version: _Optional[int] = ..., customer_id: _Optional[str] = ..., slots: _Optional[_Mapping[str, str]] = ..., history: _Optional[_Iterable[_Union[_common_pb2.HistoryEntry, _Mapping]]] = ..., pending_flow: _Optional[str] = ..., identity_verified: _Optional[bool] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., pending_plan: _Optional[_Union[_common_pb2.Plan, _Mapping]] = ..., identity_lookup: _Optional[_Union[IdentityLookup, _Mapping]] = ..., fallbacks_in_a_row: _Optional[int] = ..., clarified_text: _Optional[str] = ..., industry: _Optional[str] = ..., served_intent: _Optional[str] = ..., offered_intent: _Optional[str] = ..., offered_choices: _Optional[_Iterable[_Union[OfferedRequest, _Mapping]]] = ..., proof_awaited_intent: _Optional[str] = ...) -> None: ...

class OfferedRequest(_message.Message):
    __slots__ = ("intent", "say")
    INTENT_FIELD_NUMBER: _ClassVar[int]
    SAY_FIELD_NUMBER: _ClassVar[int]
    intent: str
    say: str
    def __init__(self, intent: _Optional[str] = ..., say: _Optional[str] = ...) -> None: ...

class IdentityLookup(_message.Message):
    __slots__ = ("customer_id", "checked_at")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    CHECKED_AT_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    checked_at: _timestamp_pb2.Timestamp
    def __init__(self, customer_id: _Optional[str] = ..., checked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class TurnRecord(_message.Message):
    __slots__ = ("turn_id", "trace_id", "started_at", "latency", "customer_text", "reply_text", "intent", "verdicts", "plan", "steps", "fallbacks", "handoff", "usage", "status", "error", "channel")
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    LATENCY_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_TEXT_FIELD_NUMBER: _ClassVar[int]
    REPLY_TEXT_FIELD_NUMBER: _ClassVar[int]
    INTENT_FIELD_NUMBER: _ClassVar[int]
    VERDICTS_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    FALLBACKS_FIELD_NUMBER: _ClassVar[int]
    HANDOFF_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    turn_id: str
    trace_id: str
    started_at: _timestamp_pb2.Timestamp
    latency: _duration_pb2.Duration
    customer_text: str
    reply_text: str
    intent: _events_pb2.IntentDetected
    verdicts: _containers.RepeatedCompositeFieldContainer[_common_pb2.PolicyVerdict]
    plan: _common_pb2.Plan
    steps: _containers.RepeatedCompositeFieldContainer[_common_pb2.StepResult]
    fallbacks: _containers.RepeatedCompositeFieldContainer[_events_pb2.Fallback]
    handoff: _events_pb2.Handoff
    usage: _common_pb2.TokenUsage
    status: TurnStatus
    error: str
    channel: str
    def __init__(self, turn_id: _Optional[str] = ..., trace_id: _Optional[str] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., latency: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., customer_text: _Optional[str] = ..., reply_text: _Optional[str] = ..., intent: _Optional[_Union[_events_pb2.IntentDetected, _Mapping]] = ..., verdicts: _Optional[_Iterable[_Union[_common_pb2.PolicyVerdict, _Mapping]]] = ..., plan: _Optional[_Union[_common_pb2.Plan, _Mapping]] = ..., steps: _Optional[_Iterable[_Union[_common_pb2.StepResult, _Mapping]]] = ..., fallbacks: _Optional[_Iterable[_Union[_events_pb2.Fallback, _Mapping]]] = ..., handoff: _Optional[_Union[_events_pb2.Handoff, _Mapping]] = ..., usage: _Optional[_Union[_common_pb2.TokenUsage, _Mapping]] = ..., status: _Optional[_Union[TurnStatus, str]] = ..., error: _Optional[str] = ..., channel: _Optional[str] = ...) -> None: ...

class GetSessionRequest(_message.Message):
    __slots__ = ("session_id", "create")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    create: bool
    def __init__(self, session_id: _Optional[str] = ..., create: _Optional[bool] = ...) -> None: ...

class GetSessionResponse(_message.Message):
    __slots__ = ("session", "created")
    SESSION_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    session: Session
    created: bool
    def __init__(self, session: _Optional[_Union[Session, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class AppendTurnRequest(_message.Message):
    __slots__ = ("session_id", "expected_version", "turn", "slots", "customer_id", "pending_flow", "identity_verified", "pending_plan", "identity_lookup", "industry", "served_intent", "offered_intent", "offered_choices", "proof_awaited_intent")
    class SlotsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    TURN_FIELD_NUMBER: _ClassVar[int]
    SLOTS_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    PENDING_FLOW_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_VERIFIED_FIELD_NUMBER: _ClassVar[int]
    PENDING_PLAN_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_LOOKUP_FIELD_NUMBER: _ClassVar[int]
    INDUSTRY_FIELD_NUMBER: _ClassVar[int]
    SERVED_INTENT_FIELD_NUMBER: _ClassVar[int]
    OFFERED_INTENT_FIELD_NUMBER: _ClassVar[int]
    OFFERED_CHOICES_FIELD_NUMBER: _ClassVar[int]
    PROOF_AWAITED_INTENT_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    expected_version: int
    turn: TurnRecord
    slots: _containers.ScalarMap[str, str]
    customer_id: str
    pending_flow: str
    identity_verified: bool
    pending_plan: _common_pb2.Plan
    identity_lookup: IdentityLookup
    industry: str
    served_intent: str
    offered_intent: str
    offered_choices: _containers.RepeatedCompositeFieldContainer[OfferedRequest]
    proof_awaited_intent: str
    def __init__(self, session_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., turn: _Optional[_Union[TurnRecord, _Mapping]] = ..., slots: _Optional[_Mapping[str, str]] = ..., customer_id: _Optional[str] = ..., pending_flow: _Optional[str] = ..., identity_verified: _Optional[bool] = ..., pending_plan: _Optional[_Union[_common_pb2.Plan, _Mapping]] = ..., identity_lookup: _Optional[_Union[IdentityLookup, _Mapping]] = ..., industry: _Optional[str] = ..., served_intent: _Optional[str] = ..., offered_intent: _Optional[str] = ..., offered_choices: _Optional[_Iterable[_Union[OfferedRequest, _Mapping]]] = ..., proof_awaited_intent: _Optional[str] = ...) -> None: ...

class AppendTurnResponse(_message.Message):
    __slots__ = ("session",)
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: Session
    def __init__(self, session: _Optional[_Union[Session, _Mapping]] = ...) -> None: ...

class ListTurnsRequest(_message.Message):
    __slots__ = ("session_id", "page_size", "page_token")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    page_size: int
    page_token: str
    def __init__(self, session_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListTurnsResponse(_message.Message):
    __slots__ = ("turns", "next_page_token")
    TURNS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    turns: _containers.RepeatedCompositeFieldContainer[TurnRecord]
    next_page_token: str
    def __init__(self, turns: _Optional[_Iterable[_Union[TurnRecord, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeleteSessionRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class DeleteSessionResponse(_message.Message):
    __slots__ = ("deleted",)
    DELETED_FIELD_NUMBER: _ClassVar[int]
    deleted: bool
    def __init__(self, deleted: _Optional[bool] = ...) -> None: ...
