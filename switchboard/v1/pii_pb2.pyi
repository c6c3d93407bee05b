from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PiiEntity(_message.Message):
    __slots__ = ("type", "placeholder", "start", "end", "score")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    PLACEHOLDER_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    type: str
    placeholder: str
    start: int
    end: int
    score: float
    def __init__(self, type: _Optional[str] = ..., placeholder: _Optional[str] = ..., start: _Optional[int] = ..., end: _Optional[int] = ..., score: _Optional[float] = ...) -> None: ...

class RedactRequest(_message.Message):
    __slots__ = ("session_id", "text", "known_names", "shown")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    KNOWN_NAMES_FIELD_NUMBER: _ClassVar[int]
    SHOWN_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    text: str
    known_names: _containers.RepeatedScalarFieldContainer[str]
    shown: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, session_id: _Optional[str] = ..., text: _Optional[str] = ..., known_names: _Optional[_Iterable[str]] = ..., shown: _Optional[_Iterable[str]] = ...) -> None: ...

class RedactResponse(_message.Message):
    __slots__ = ("text", "entities")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    ENTITIES_FIELD_NUMBER: _ClassVar[int]
    text: str
    entities: _containers.RepeatedCompositeFieldContainer[PiiEntity]
    def __init__(self, text: _Optional[str] = ..., entities: _Optional[_Iterable[_Union[PiiEntity, _Mapping]]] = ...) -> None: ...

class RedactDataRequest(_message.Message):
    __slots__ = ("session_id", "data", "known_names")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    KNOWN_NAMES_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    data: _struct_pb2.Struct
    known_names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, session_id: _Optional[str] = ..., data: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., known_names: _Optional[_Iterable[str]] = ...) -> None: ...

class RedactDataResponse(_message.Message):
    __slots__ = ("data", "entities")
    DATA_FIELD_NUMBER: _ClassVar[int]
    ENTITIES_FIELD_NUMBER: _ClassVar[int]
    data: _struct_pb2.Struct
    entities: _containers.RepeatedCompositeFieldContainer[PiiEntity]
    def __init__(self, data: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., entities: _Optional[_Iterable[_Union[PiiEntity, _Mapping]]] = ...) -> None: ...

class RestoreRequest(_message.Message):
    __slots__ = ("session_id", "data", "allowed_types")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_TYPES_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    data: _struct_pb2.Struct
    allowed_types: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, session_id: _Optional[str] = ..., data: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., allowed_types: _Optional[_Iterable[str]] = ...) -> None: ...

class RestoreResponse(_message.Message):
    __slots__ = ("data", "refused")
    DATA_FIELD_NUMBER: _ClassVar[int]
    REFUSED_FIELD_NUMBER: _ClassVar[int]
    data: _struct_pb2.Struct
    refused: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, data: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., refused: _Optional[_Iterable[str]] = ...) -> None: ...

class EraseSessionRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class EraseSessionResponse(_message.Message):
    __slots__ = ("erased",)
    ERASED_FIELD_NUMBER: _ClassVar[int]
    erased: int
    def __init__(self, erased: _Optional[int] = ...) -> None: ...
