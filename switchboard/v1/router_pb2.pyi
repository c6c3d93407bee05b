from google.api import annotations_pb2 as _annotations_pb2
from switchboard.v1 import events_pb2 as _events_pb2
from switchboard.v1 import session_pb2 as _session_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SendTurnRequest(_message.Message):
    __slots__ = ("session_id", "text", "channel", "customer_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    text: str
    channel: str
    customer_id: str
    def __init__(self, session_id: _Optional[str] = ..., text: _Optional[str] = ..., channel: _Optional[str] = ..., customer_id: _Optional[str] = ...) -> None: ...

class SendTurnResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: _events_pb2.TurnEvent
    def __init__(self, event: _Optional[_Union[_events_pb2.TurnEvent, _Mapping]] = ...) -> None: ...

class ConverseRequest(_message.Message):
    __slots__ = ("turn", "cancel")
    TURN_FIELD_NUMBER: _ClassVar[int]
    CANCEL_FIELD_NUMBER: _ClassVar[int]
    turn: ConverseTurn
    cancel: ConverseCancel
    def __init__(self, turn: _Optional[_Union[ConverseTurn, _Mapping]] = ..., cancel: _Optional[_Union[ConverseCancel, _Mapping]] = ...) -> None: ...

class ConverseTurn(_message.Message):
    __slots__ = ("turn_id", "session_id", "text", "channel", "customer_id")
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    turn_id: str
    session_id: str
    text: str
    channel: str
    customer_id: str
    def __init__(self, turn_id: _Optional[str] = ..., session_id: _Optional[str] = ..., text: _Optional[str] = ..., channel: _Optional[str] = ..., customer_id: _Optional[str] = ...) -> None: ...

class ConverseCancel(_message.Message):
    __slots__ = ("turn_id",)
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    turn_id: str
    def __init__(self, turn_id: _Optional[str] = ...) -> None: ...

class ConverseResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: _events_pb2.TurnEvent
    def __init__(self, event: _Optional[_Union[_events_pb2.TurnEvent, _Mapping]] = ...) -> None: ...

class GetTranscriptRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class GetTranscriptResponse(_message.Message):
    __slots__ = ("session_id", "turns")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TURNS_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    turns: _containers.RepeatedCompositeFieldContainer[_session_pb2.TurnRecord]
    def __init__(self, session_id: _Optional[str] = ..., turns: _Optional[_Iterable[_Union[_session_pb2.TurnRecord, _Mapping]]] = ...) -> None: ...
