"""Each mock honours its own OpenAPI document: property-based requests, positive and negative.

Schemathesis generates requests from each contract (valid ones, and ones the contract forbids)
and checks every answer against the same contract: status codes, content types, response
schemas, and that forbidden input is rejected with a 4xx.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, settings
from jsonschema import Draft202012Validator
from starlette.testclient import TestClient

from mocks.booking.app import create_app as booking_app
from mocks.claims.app import create_app as claims_app
from mocks.common.contract import resolve
from mocks.config import BACKENDS
from mocks.crm.app import create_app as crm_app
from mocks.knowledge.app import create_app as knowledge_app
from mocks.payments.app import create_app as payments_app
from mocks.world import build_world

MOCKS = Path(__file__).resolve().parents[2] / "mocks"
WORLD = build_world(seed=11, customers=200, members=80)
KEYS = itertools.count()
VALID_KEY = re.compile(r"^[\x21-\x7E]{1,255}$")
BOUNDED = settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))


def _schema(app: Any) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", app)


booking = _schema(booking_app(world=WORLD))
crm = _schema(crm_app(world=WORLD))
payments = _schema(payments_app(world=WORLD))
claims = _schema(claims_app(world=WORLD))
knowledge = _schema(knowledge_app())


def _fresh_key(case: Any) -> Any:
    # Generated keys repeat across examples, and a key reused for a different request is
    # rightly refused (422); give each valid key a unique suffix so every example is new.
    key = (case.headers or {}).get("Idempotency-Key")
    if isinstance(key, str) and VALID_KEY.match(key):
        case.headers["Idempotency-Key"] = f"{key[:200]}-{next(KEYS)}"
    return case


@booking.parametrize()
@BOUNDED
def test_booking_honours_its_contract(case: Any) -> None:
    _fresh_key(case).call_and_validate()


@crm.parametrize()
@BOUNDED
def test_crm_honours_its_contract(case: Any) -> None:
    _fresh_key(case).call_and_validate()


@payments.parametrize()
@BOUNDED
def test_payments_honours_its_contract(case: Any) -> None:
    _fresh_key(case).call_and_validate()


@claims.parametrize()
@BOUNDED
def test_claims_honours_its_contract(case: Any) -> None:
    case.call_and_validate()


@knowledge.parametrize()
@BOUNDED
def test_knowledge_honours_its_contract(case: Any) -> None:
    case.call_and_validate()


def _documents() -> dict[str, dict[str, Any]]:
    return {
        name: yaml.safe_load((MOCKS / name / "openapi.yaml").read_text(encoding="utf-8"))
        for name in BACKENDS
    }


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, spec)
        for path, item in document["paths"].items()
        for method, spec in item.items()
        if method in ("get", "put", "post", "patch", "delete")
    ]


def test_operation_ids_are_camel_case_and_unique_across_backends() -> None:
    seen: dict[str, str] = {}
    for name, document in _documents().items():
        assert document["openapi"].startswith("3.1")
        for _, _, spec in _operations(document):
            operation_id = spec["operationId"]
            assert operation_id[0].islower() and "_" not in operation_id, operation_id
            assert operation_id not in seen, f"{operation_id} in {name} and {seen[operation_id]}"
            seen[operation_id] = name
    assert "getFlightStatus" in seen and seen["getFlightStatus"] == "booking"


@pytest.mark.parametrize("name", BACKENDS)
def test_every_operation_is_described_for_a_model(name: str) -> None:
    document = _documents()[name]
    for method, path, spec in _operations(document):
        where = f"{name} {method.upper()} {path}"
        assert len(spec.get("summary", "")) > 10, where
        assert len(spec.get("description", "")) > 30, where
        extension = spec["x-switchboard"]
        assert set(extension) <= {"read_only", "confirm", "media", "pii", "facts"}, where
        assert extension.get("read_only", method == "get") == (method == "get"), where
        assert extension.get("media") in (None, "image", "video", "form", "card"), where
        assert "400" in spec["responses"], where
        # Header parameters are for the caller (idempotency keys), never tool arguments.
        names = [p.get("name") for p in spec.get("parameters", []) if "name" in p]
        assert len(names) == len(set(names)), where


@pytest.mark.parametrize("name", BACKENDS)
def test_tool_arguments_never_clash(name: str) -> None:
    # A tool's arguments are its path and query parameters plus its body's properties.
    document = _documents()[name]
    for method, path, spec in _operations(document):
        parameters = [
            resolve(p, document)
            for p in [*document["paths"][path].get("parameters", []), *spec.get("parameters", [])]
        ]
        names = [p["name"] for p in parameters if p["in"] in ("path", "query")]
        body = spec.get("requestBody", {}).get("content", {}).get("application/json", {})
        properties = list(resolve(body.get("schema", {}), document).get("properties", {}))
        assert len(names + properties) == len(set(names + properties)), f"{method} {path}"


@pytest.mark.parametrize("name", BACKENDS)
def test_every_schema_in_the_contract_is_valid_json_schema(name: str) -> None:
    for schema in _documents()[name]["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


def test_flight_status_contract_matches_the_shared_interface() -> None:
    document = _documents()["booking"]
    spec = document["paths"]["/flights/{flight_number}/status"]["get"]
    assert spec["operationId"] == "getFlightStatus"
    status = document["components"]["schemas"]["FlightStatus"]
    assert {
        "flight_number",
        "carrier",
        "origin",
        "destination",
        "scheduled_departure",
        "estimated_departure",
        "status",
        "delay_minutes",
        "reason",
    } <= set(status["required"])
    values = document["components"]["schemas"]["FlightStatusValue"]["enum"]
    assert set(values) == {
        "scheduled",
        "on_time",
        "delayed",
        "cancelled",
        "boarding",
        "departed",
        "landed",
    }
    pattern = document["components"]["schemas"]["FlightNumber"]["pattern"]
    assert pattern == "^[A-Z0-9]{2}[0-9]{1,4}$"


@pytest.mark.parametrize("path", ["/customers/%0D/reservations", "/reservations/%09"])
def test_a_path_parameter_of_a_line_break_or_tab_is_a_bad_request(path: str) -> None:
    # Found by the property tests: the parameter must reach the contract check (400), not be
    # dropped from the path on the way (404, which the contract does not document).
    with TestClient(booking_app(world=WORLD)) as client:
        response = client.get(path)
    assert response.status_code == 400, response.text
    assert response.json()["type"].endswith("/invalid-request")
    assert "path." in response.json()["errors"][0]["location"]
