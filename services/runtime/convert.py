"""Conversions between protobuf Struct values and plain JSON data."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format, struct_pb2

JsonObject = dict[str, Any]


def _restore_ints(value: Any) -> Any:
    # Struct stores every number as a double; JSON Schema and backends tell 3 from 3.0, so
    # integral doubles come back as ints.
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {k: _restore_ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_restore_ints(v) for v in value]
    return value


def struct_to_dict(struct: struct_pb2.Struct | None) -> JsonObject:
    """A Struct as a dict, with integral numbers as ints."""
    if struct is None:
        return {}
    result: JsonObject = _restore_ints(json_format.MessageToDict(struct))
    return result


def dict_to_struct(data: JsonObject | None) -> struct_pb2.Struct:
    """A JSON-compatible dict as a Struct."""
    struct = struct_pb2.Struct()
    if data:
        struct.update(data)
    return struct
