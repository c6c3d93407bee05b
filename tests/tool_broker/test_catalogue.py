"""The tool catalogue derived from OpenAPI 3.1 documents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from services.catalogue import Catalogue
from services.runtime.errors import ConfigError
from services.tool_broker.config import Backend

CONTRACT = Path(__file__).parent / "contracts" / "travel.yaml"
BOOKING = Path(__file__).resolve().parents[2] / "mocks" / "booking" / "openapi.yaml"


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return Catalogue.load({"travel": Backend(openapi=CONTRACT, base_url="http://127.0.0.1:1")})


def _load_document(tmp_path: Path, document: Any, name: str = "broken") -> Catalogue:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return Catalogue.load({name: Backend(openapi=path, base_url="http://127.0.0.1:1")})


def _document(**operation: Any) -> dict[str, Any]:
    op = {
        "operationId": "getThing",
        "summary": "A thing.",
        "responses": {"200": {"description": "ok"}},
    }
    op.update(operation)
    return {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {"/things": {"get": op}},
    }


def test_tools_are_derived_from_operations(catalogue: Catalogue) -> None:
    assert [t.name for t in catalogue.tools()] == [
        "addNote",
        "createCharge",
        "getFlightStatus",
        "searchFlights",
    ]
    status = catalogue.get("getFlightStatus")
    assert status is not None
    assert (status.backend, status.method, status.path) == (
        "travel",
        "GET",
        "/flights/{flight_number}/status",
    )
    assert status.description == "Live status of a flight."
    assert status.read_only and not status.confirm
    assert status.media == "card"
    assert status.pii_types == frozenset()
    assert status.parameters == {
        "type": "object",
        "properties": {
            "flight_number": {
                "type": "string",
                "pattern": "^[A-Z0-9]{2}[0-9]{1,4}$",
                "description": "Carrier code and number, for example UA123.",
            },
            "date": {"type": "string", "format": "date", "description": "Day of departure."},
        },
        "required": ["flight_number"],
        "additionalProperties": False,
    }
    # $refs are inlined; only JSON bodies of numbered statuses appear in responses.
    assert status.responses[200]["properties"]["status"]["enum"][0] == "scheduled"
    assert "$ref" not in str(status.responses)
    assert sorted(status.responses) == [200, 404]


def test_json_body_is_flattened_and_idempotency_key_is_not_an_argument(
    catalogue: Catalogue,
) -> None:
    charge = catalogue.get("createCharge")
    binding = catalogue.binding("createCharge")
    assert charge is not None and binding is not None
    assert not charge.read_only and charge.confirm
    assert charge.pii_types == frozenset({"CARD"})
    assert sorted(charge.parameters["properties"]) == [
        "amount",
        "card_number",
        "currency",
        "customer_id",
    ]
    assert charge.parameters["required"] == ["amount", "currency", "card_number"]
    assert binding.idempotent
    assert binding.of("body") == ["amount", "currency", "card_number", "customer_id"]
    assert binding.of("header") == []


def test_valid_arguments_pass(catalogue: Catalogue) -> None:
    assert catalogue.validate_arguments("getFlightStatus", {"flight_number": "UA123"}) == []
    assert (
        catalogue.validate_arguments(
            "getFlightStatus", {"flight_number": "UA123", "date": "2026-11-25"}
        )
        == []
    )


def test_invalid_arguments_get_precise_messages(catalogue: Catalogue) -> None:
    assert catalogue.validate_arguments("getFlightStatus", {"flight_number": "XX"}) == [
        "getFlightStatus: flight_number 'XX' does not match '^[A-Z0-9]{2}[0-9]{1,4}$'"
    ]
    assert catalogue.validate_arguments(
        "getFlightStatus", {"flight_number": "UA1", "date": "2026-13-40"}
    ) == ["getFlightStatus: date '2026-13-40' is not a 'date'"]
    assert catalogue.validate_arguments("getFlightStatus", {"seat": "1A"}) == [
        "getFlightStatus: 'flight_number' is a required property",
        "getFlightStatus: Additional properties are not allowed ('seat' was unexpected)",
    ]


def test_unknown_tool_is_reported(catalogue: Catalogue) -> None:
    assert catalogue.get("bookHotel") is None
    assert catalogue.validate_arguments("bookHotel", {}) == ["unknown tool 'bookHotel'"]


def test_placeholders_pass_patterns_only_when_allowed(catalogue: Catalogue) -> None:
    arguments = {"amount": 500, "currency": "USD", "card_number": "<CARD_1>"}
    assert catalogue.validate_arguments("createCharge", arguments) == [
        "createCharge: card_number '<CARD_1>' does not match '^[0-9]{16}$'"
    ]
    assert catalogue.validate_arguments("createCharge", arguments, allow_placeholders=True) == []
    # A placeholder where the contract wants a number is still wrong.
    wrong_type = {**arguments, "amount": "<CARD_2>"}
    assert catalogue.validate_arguments("createCharge", wrong_type, allow_placeholders=True) == [
        "createCharge: amount '<CARD_2>' is not of type 'integer'"
    ]


def test_responses_are_validated(catalogue: Catalogue) -> None:
    good = {
        "flight_number": "UA123",
        "status": "on_time",
        "delay_minutes": 0,
        "estimated_departure": None,
    }
    assert catalogue.validate_response("getFlightStatus", 200, good) == []
    assert catalogue.validate_response("getFlightStatus", 200, {**good, "status": "late"}) == [
        "getFlightStatus: response 200: status 'late' is not one of "
        "['scheduled', 'on_time', 'delayed', 'cancelled', 'boarding', 'departed', 'landed']"
    ]
    assert catalogue.validate_response(
        "getFlightStatus", 200, {**good, "estimated_departure": "soon"}
    ) == ["getFlightStatus: response 200: estimated_departure 'soon' is not a 'date-time'"]
    assert catalogue.validate_response("getFlightStatus", 500, {}) == [
        "getFlightStatus: response status 500 is not documented"
    ]
    # A status range covers its statuses.
    problem = {"title": "Card declined", "status": 402}
    assert catalogue.validate_response("createCharge", 402, problem) == []
    assert catalogue.validate_response("createCharge", 402, {"title": "x"}) == [
        "createCharge: response 402: 'status' is a required property"
    ]


def test_missing_document_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(
        ConfigError, match=r"nope\.yaml: cannot read the OpenAPI document of backend 'x'"
    ):
        Catalogue.load({"x": Backend(openapi=missing, base_url="http://127.0.0.1:1")})


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ({"openapi": "3.0.3", "paths": {}}, r"'openapi' must be a 3\.1 version, got '3\.0\.3'"),
        (_document(operationId="get-thing"), r"operationId must match"),
        (_document(summary=None), r"has no summary"),
        (
            _document(
                parameters=[
                    {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
                ]
            ),
            r"path template parameters \[\] do not match the declared path parameters \['id'\]",
        ),
        (
            _document(
                responses={
                    "200": {
                        "description": "ok",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Nope"}}
                        },
                    }
                }
            ),
            r"\$ref '#/components/schemas/Nope' points at nothing",
        ),
        (
            _document(
                responses={
                    "200": {
                        "description": "ok",
                        "content": {"application/json": {"schema": {"type": "strin"}}},
                    }
                }
            ),
            r"response 200 schema is invalid",
        ),
        (
            _document(
                parameters=[{"name": "q", "in": "query", "schema": {"type": "string"}}],
                requestBody={
                    "content": {
                        "application/json": {
                            "schema": {"type": "object", "properties": {"q": {"type": "string"}}}
                        }
                    }
                },
            ),
            r"argument 'q' is declared twice \(as a query argument and as a body argument\)",
        ),
        (
            _document(**{"x-switchboard": {"media": "hologram"}}),
            r"x-switchboard\.media must be one of",
        ),
        (
            _document(**{"x-switchboard": {"readonly": True}}),
            r"x-switchboard has unknown keys \['readonly'\]",
        ),
    ],
)
def test_broken_documents_fail_with_file_and_reason(
    tmp_path: Path, document: Any, reason: str
) -> None:
    with pytest.raises(ConfigError, match=r"broken\.yaml: .*" + reason):
        _load_document(tmp_path, document)


def test_recursive_schema_is_refused(tmp_path: Path) -> None:
    document = _document(
        responses={
            "200": {
                "description": "ok",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Node"}}},
            }
        }
    )
    document["components"] = {
        "schemas": {
            "Node": {
                "type": "object",
                "properties": {"next": {"$ref": "#/components/schemas/Node"}},
            }
        }
    }
    with pytest.raises(ConfigError, match="recursive \\$ref cannot be inlined"):
        _load_document(tmp_path, document)


def test_tool_names_are_unique_across_backends(tmp_path: Path) -> None:
    path = tmp_path / "copy.yaml"
    path.write_text(CONTRACT.read_text(encoding="utf-8"), encoding="utf-8")
    backends = {
        "travel": Backend(openapi=CONTRACT, base_url="http://127.0.0.1:1"),
        "zcopy": Backend(openapi=path, base_url="http://127.0.0.1:2"),
    }
    with pytest.raises(
        ConfigError, match="operationId 'getFlightStatus' is already a tool of backend 'travel'"
    ):
        Catalogue.load(backends)


@pytest.mark.skipif(not BOOKING.exists(), reason="the booking mock's contract is not written yet")
def test_booking_contract_loads_and_defines_get_flight_status() -> None:
    catalogue = Catalogue.load({"booking": Backend(openapi=BOOKING, base_url="http://127.0.0.1:1")})
    assert catalogue.validate_arguments("getFlightStatus", {"flight_number": "UA123"}) == []
    assert catalogue.validate_arguments("getFlightStatus", {"flight_number": "XX"}) == [
        "getFlightStatus: flight_number 'XX' does not match '^[A-Z0-9]{2}[0-9]{1,4}$'"
    ]


def _public_document(schema: Any) -> dict[str, Any]:
    response = {"description": "ok", "content": {"application/json": {"schema": schema}}}
    return _document(responses={"200": response})


def test_strings_under_a_public_mark_are_found_and_nothing_else() -> None:
    from services.catalogue.public import PUBLIC, public_strings

    schema = {
        "type": "object",
        "properties": {
            "office": {
                PUBLIC: True,
                "type": "object",
                "properties": {"name": {"type": "string"}, "phones": {"type": "array"}},
            },
            "patients": {"type": "array", "items": {"type": "string"}},
            "notes": {"type": "object", "additionalProperties": {PUBLIC: True}},
            "either": {"anyOf": [{PUBLIC: True}, {"type": "string"}]},
        },
    }
    body = {
        "office": {"name": "Bright Smile Dental", "phones": ["+12175550101"], "seats": 3},
        "patients": ["Sam Okafor"],
        "notes": {"hours": "9-5", "parking": "yes"},
        "either": "Sam",
        "unknown": "Jordan",
    }
    assert public_strings(schema, body) == [
        ("office", "name"),
        ("office", "phones", 0),
        ("notes", "hours"),
        ("notes", "parking"),
    ]  # never "patients", "either" (a mark inside anyOf) or a property the schema lacks
    assert public_strings(None, body) == []
    assert public_strings({PUBLIC: True}, "Austin") == [()]


def test_a_string_the_schema_enumerates_is_public_without_a_mark() -> None:
    from services.catalogue.public import public_strings

    schema = {
        "type": "object",
        "properties": {
            "class": {"type": "string", "enum": ["preventive", "basic"]},
            "kind": {"const": "benefits"},
            "names": {"type": "array", "items": {"type": "string", "enum": ["Sam"]}},
            "note": {"type": "string"},
            "tier": {"type": ["string", "null"], "enum": ["gold", None]},
        },
    }
    body = {
        "class": "preventive",
        "kind": "benefits",
        "names": ["Sam", "Jordan"],
        "note": "preventive",
        "tier": "gold",
    }
    # "Jordan" is not among the values the schema lists, so it stays private (a response that
    # breaks its contract is refused anyway); neither is a free-text note, whatever it says.
    assert public_strings(schema, body) == [("class",), ("kind",), ("names", 0), ("tier",)]


def test_a_public_mark_beside_a_ref_is_kept_and_a_bad_one_names_its_place(
    tmp_path: Path,
) -> None:
    document = _public_document(
        {
            "type": "array",
            "items": {"$ref": "#/components/schemas/Office", "x-switchboard-public": True},
        }
    )
    document["components"] = {"schemas": {"Office": {"type": "object"}}}
    catalogue = _load_document(tmp_path, document, "offices")
    assert catalogue.public_strings("getThing", 200, [{"name": "Austin Dental"}]) == [(0, "name")]
    assert catalogue.public_strings("getThing", 404, [{"name": "x"}]) == []
    assert catalogue.public_strings("noSuchTool", 200, [{"name": "x"}]) == []
    bad = _public_document(
        {"type": "object", "properties": {"name": {"x-switchboard-public": "yes"}}}
    )
    with pytest.raises(
        ConfigError, match=r"x-switchboard-public at properties/name must be true or false"
    ):
        _load_document(tmp_path, bad)


def test_the_shipped_contracts_mark_reference_data_public_and_customer_data_not() -> None:
    mocks = BOOKING.parents[1]
    catalogue = Catalogue.load(
        {
            name: Backend(openapi=mocks / name / "openapi.yaml", base_url="http://127.0.0.1:1")
            for name in ("booking", "claims", "crm", "knowledge")
        }
    )
    office = {"provider_id": "P-7001", "name": "Bright Smile Dental", "city": "Austin"}
    assert catalogue.public_strings("searchProviders", 200, {"providers": [office]}) == [
        ("providers", 0, "provider_id"),
        ("providers", 0, "name"),
        ("providers", 0, "city"),
    ]
    customer = {"customer_id": "C-1001", "first_name": "Ana", "last_name": "Silva"}
    assert catalogue.public_strings("getCustomer", 200, customer) == []
    # A plan's name and the procedure classes the contract enumerates are the insurer's words.
    benefits = {
        "member_id": "M-3001",
        "plan_name": "Switchboard Dental PPO Plus",
        "coverage": [{"procedure_class": "preventive", "coverage_percent": 100}],
    }
    assert catalogue.public_strings("getBenefits", 200, benefits) == [
        ("plan_name",),
        ("coverage", 0, "procedure_class"),
    ]
