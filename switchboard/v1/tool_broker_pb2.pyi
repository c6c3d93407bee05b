from google.protobuf import struct_pb2 as _struct_pb2
from switchboard.v1 import common_pb2 as _common_pb2
from switchboard.v1 import events_pb2 as _events_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Tool(_message.Message):
    __slots__ = ("name", "description", "backend", "method", "path", "parameters", "read_only", "requires_confirmation", "media")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    READ_ONLY_FIELD_NUMBER: _ClassVar[int]
    REQUIRES_CONFIRMATION_FIELD_NUMBER: _ClassVar[int]
    MEDIA_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    backend: str
    method: str
    path: str
    parameters: _struct_pb2.Struct
    read_only: bool
    requires_confirmation: bool
    media: _common_pb2.MediaKind
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., backend: _Optional[str] = ..., method: _Optional[str] = ..., path: _Optional[str] = ..., parameters: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., read_only: _Optional[bool] = ..., requires_confirmation: _Optional[bool] = ..., media: _Optional[_Union[_common_pb2.MediaKind, str]] = ...) -> None: ...

class ListToolsRequest(_message.Message):
    __slots__ = ("backend",)
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    backend: str
    def __init__(self, backend: _Optional[str] = ...) -> None: ...

class ListToolsResponse(_message.Message):
    __slots__ = ("tools",)
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    tools: _containers.RepeatedCompositeFieldContainer[Tool]
    def __init__(self, tools: _Optional[_Iterable[_Union[Tool, _Mapping]]] = ...) -> None: ...

class ExecuteToolRequest(_message.Message):
    __slots__ = ("session_id", "turn_id", "step", "session")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    turn_id: str
    step: _common_pb2.PlanStep
    session: _struct_pb2.Struct
    def __init__(self, session_id: _Optional[str] = ..., turn_id: _Optional[str] = ..., step: _Optional[_Union[_common_pb2.PlanStep, _Mapping]] = ..., session: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class ExecuteToolResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: _common_pb2.StepResult
    def __init__(self, result: _Optional[_Union[_common_pb2.StepResult, _Mapping]] = ...) -> None: ...

class ExecutePlanRequest(_message.Message):
    __slots__ = ("session_id", "turn_id", "plan", "session")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    turn_id: str
    plan: _common_pb2.Plan
    session: _struct_pb2.Struct
    def __init__(self, session_id: _Optional[str] = ..., turn_id: _Optional[str] = ..., plan: _Optional[_Union[_common_pb2.Plan, _Mapping]] = ..., session: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class ExecutePlanResponse(_message.Message):
    __slots__ = ("step_started", "step_finished")
    STEP_STARTED_FIELD_NUMBER: _ClassVar[int]
    STEP_FINISHED_FIELD_NUMBER: _ClassVar[int]
    step_started: _events_pb2.StepStarted
    step_finished: _events_pb2.StepFinished
    def __init__(self, step_started: _Optional[_Union[_events_pb2.StepStarted, _Mapping]] = ..., step_finished: _Optional[_Union[_events_pb2.StepFinished, _Mapping]] = ...) -> None: ...
