"""The shared contract layer: documents are checked on load and drive validation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from mocks.common.app import Call, Reply, build_app
from mocks.common.contract import Contract, ContractError
from mocks.common.problems import Problem


def _write(tmp_path: Path, document: dict[str, Any]) -> Path:
    path = tmp_path / "openapi.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def _document(**operation: Any) -> dict[str, Any]:
    spec = {"operationId": "getThing", "responses": {"200": {"description": "ok"}}, **operation}
    return {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {"/things/{id}": {"get": spec}},
        "components": {"schemas": {"Id": {"type": "integer", "minimum": 1}}},
    }


def test_a_broken_document_is_refused_on_load(tmp_path: Path) -> None:
    dangling = _document(
        parameters=[{"name": "id", "in": "path", "schema": {"$ref": "#/components/schemas/No"}}]
    )
    with pytest.raises(ContractError, match="dangling reference"):
        Contract.load(_write(tmp_path, dangling))
    twice = _document()
    twice["paths"]["/other"] = {"get": twice["paths"]["/things/{id}"]["get"]}
    with pytest.raises(ContractError, match="unique operationId"):
        Contract.load(_write(tmp_path, twice))
    with pytest.raises(ContractError, match="not an OpenAPI 3.1"):
        Contract.load(_write(tmp_path, {**_document(), "openapi": "3.0.3"}))


def test_parameters_are_coerced_to_their_schema_types_then_validated(tmp_path: Path) -> None:
    document = _document(
        parameters=[
            {"name": "id", "in": "path", "schema": {"$ref": "#/components/schemas/Id"}},
            {"name": "full", "in": "query", "schema": {"type": "boolean"}},
        ]
    )
    operation = Contract.load(_write(tmp_path, document)).operation("getThing")
    parsed = operation.parse({"id": "7"}, [("full", "true")], {}, None, has_body=False)
    assert parsed.params == {"id": 7, "full": True}
    with pytest.raises(Problem) as caught:
        operation.parse({"id": "0"}, [("full", "yes"), ("full", "no")], {}, None, False)
    locations = sorted(e.location for e in caught.value.errors)
    assert locations == ["path.id", "query.full", "query.full"]


def test_handlers_must_match_the_contract_exactly(tmp_path: Path) -> None:
    contract = Contract.load(_write(tmp_path, _document()))

    async def handler(call: Call) -> Reply:
        return Reply({})

    with pytest.raises(ValueError, match="no handler for"):
        build_app("t", contract, {})
    with pytest.raises(ValueError, match="not in the contract"):
        build_app("t", contract, {"getThing": handler, "getOther": handler})
