from google.protobuf import struct_pb2 as _struct_pb2
from switchboard.v1 import common_pb2 as _common_pb2
from switchboard.v1 import events_pb2 as _events_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DecisionRoute(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DECISION_ROUTE_UNSPECIFIED: _ClassVar[DecisionRoute]
    DECISION_ROUTE_PROCEED: _ClassVar[DecisionRoute]
    DECISION_ROUTE_CLARIFY: _ClassVar[DecisionRoute]
    DECISION_ROUTE_SAFE_FLOW: _ClassVar[DecisionRoute]
    DECISION_ROUTE_HANDOFF: _ClassVar[DecisionRoute]
    DECISION_ROUTE_REFUSE: _ClassVar[DecisionRoute]
DECISION_ROUTE_UNSPECIFIED: DecisionRoute
DECISION_ROUTE_PROCEED: DecisionRoute
DECISION_ROUTE_CLARIFY: DecisionRoute
DECISION_ROUTE_SAFE_FLOW: DecisionRoute
DECISION_ROUTE_HANDOFF: DecisionRoute
DECISION_ROUTE_REFUSE: DecisionRoute

class CheckInputRequest(_message.Message):
    __slots__ = ("session_id", "text", "channel", "session")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    text: str
    channel: str
    session: _struct_pb2.Struct
    def __init__(self, session_id: _Optional[str] = ..., text: _Optional[str] = ..., channel: _Optional[str] = ..., session: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class CheckInputResponse(_message.Message):
    __slots__ = ("verdict", "matched")
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    MATCHED_FIELD_NUMBER: _ClassVar[int]
    verdict: _common_pb2.PolicyVerdict
    matched: _containers.RepeatedCompositeFieldContainer[_common_pb2.PolicyVerdict]
    def __init__(self, verdict: _Optional[_Union[_common_pb2.PolicyVerdict, _Mapping]] = ..., matched: _Optional[_Iterable[_Union[_common_pb2.PolicyVerdict, _Mapping]]] = ...) -> None: ...

class DecideRequest(_message.Message):
    __slots__ = ("session_id", "intent", "verdicts", "session")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    INTENT_FIELD_NUMBER: _ClassVar[int]
    VERDICTS_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    intent: _events_pb2.IntentDetected
    verdicts: _containers.RepeatedCompositeFieldContainer[_common_pb2.PolicyVerdict]
    session: _struct_pb2.Struct
    def __init__(self, session_id: _Optional[str] = ..., intent: _Optional[_Union[_events_pb2.IntentDetected, _Mapping]] = ..., verdicts: _Optional[_Iterable[_Union[_common_pb2.PolicyVerdict, _Mapping]]] = ..., session: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class DecideResponse(_message.Message):
    __slots__ = ("route", "tier", "fallback", "message", "handoff_queue", "matched")
    ROUTE_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    HANDOFF_QUEUE_FIELD_NUMBER: _ClassVar[int]
    MATCHED_FIELD_NUMBER: _ClassVar[int]
    route: DecisionRoute
    tier: str
    fallback: _events_pb2.Fallback
    message: str
    handoff_queue: str
    matched: _containers.RepeatedCompositeFieldContainer[_common_pb2.PolicyVerdict]
    def __init__(self, route: _Optional[_Union[DecisionRoute, str]] = ..., tier: _Optional[str] = ..., fallback: _Optional[_Union[_events_pb2.Fallback, _Mapping]] = ..., message: _Optional[str] = ..., handoff_queue: _Optional[str] = ..., matched: _Optional[_Iterable[_Union[_common_pb2.PolicyVerdict, _Mapping]]] = ...) -> None: ...

class CheckToolCallRequest(_message.Message):
    __slots__ = ("session_id", "turn_id", "step", "calls_in_turn", "session")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    CALLS_IN_TURN_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    turn_id: str
    step: _common_pb2.PlanStep
    calls_in_turn: int
    session: _struct_pb2.Struct
    def __init__(self, session_id: _Optional[str] = ..., turn_id: _Optional[str] = ..., step: _Optional[_Union[_common_pb2.PlanStep, _Mapping]] = ..., calls_in_turn: _Optional[int] = ..., session: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class CheckToolCallResponse(_message.Message):
    __slots__ = ("verdict", "matched")
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    MATCHED_FIELD_NUMBER: _ClassVar[int]
    verdict: _common_pb2.PolicyVerdict
    matched: _containers.RepeatedCompositeFieldContainer[_common_pb2.PolicyVerdict]
    def __init__(self, verdict: _Optional[_Union[_common_pb2.PolicyVerdict, _Mapping]] = ..., matched: _Optional[_Iterable[_Union[_common_pb2.PolicyVerdict, _Mapping]]] = ...) -> None: ...

class CheckOutputRequest(_message.Message):
    __slots__ = ("session_id", "turn_id", "intent", "text", "session")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    INTENT_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    turn_id: str
    intent: str
    text: str
    session: _struct_pb2.Struct
    def __init__(self, session_id: _Optional[str] = ..., turn_id: _Optional[str] = ..., intent: _Optional[str] = ..., text: _Optional[str] = ..., session: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class CheckOutputResponse(_message.Message):
    __slots__ = ("text", "verdict")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    text: str
    verdict: _common_pb2.PolicyVerdict
    def __init__(self, text: _Optional[str] = ..., verdict: _Optional[_Union[_common_pb2.PolicyVerdict, _Mapping]] = ...) -> None: ...
