"""Shared support for the end-to-end guarantee tests: a mesh whose planner talks to the scripted
model, the PII corpus, log capture, and readers for what the mesh left behind (model requests,
backend request logs, spans, session rows)."""

from __future__ import annotations

import functools
import json
import logging
import re
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import grpc
import httpx
import pytest
import yaml
from google.protobuf import json_format
from harness import LoopThread, Turn, ephemeral_settings
from harness import send_turn as harness_send_turn
from opentelemetry.sdk.trace import ReadableSpan
from pydantic import SecretStr

import mocks.knowledge.app as knowledge_app
from mocks.model.script import ScriptEntry
from mocks.server import start_mocks
from services.mesh import Mesh, start_mesh
from services.runtime.telemetry import JsonFormatter
from switchboard.v1 import session_pb2, session_pb2_grpc

CORPUS_DIR = Path(__file__).resolve().parent / "corpus"
CONVERSATIONS = CORPUS_DIR / "conversations.yaml"
INJECTED_ARTICLES = CORPUS_DIR / "injected_articles.yaml"

TURN_TIMEOUT_S = 150


# --------------------------------------------------------------------------- the corpus


@dataclass(frozen=True)
class PiiValue:
    """One piece of personal data in a conversation."""

    type: str
    value: str
    detector_gap: str = ""


@dataclass(frozen=True)
class Conversation:
    """A multi-turn conversation and the personal data it carries."""

    id: str
    domain: str
    turns: tuple[str, ...]
    pii: tuple[PiiValue, ...]
    customer_id: str = ""

    @property
    def session_id(self) -> str:
        return f"guarantee-{self.id}"


def load_corpus(path: Path = CONVERSATIONS) -> list[Conversation]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        Conversation(
            id=item["id"],
            domain=item["domain"],
            turns=tuple(item["turns"]),
            pii=tuple(PiiValue(**p) for p in item["pii"]),
            customer_id=item.get("customer_id", ""),
        )
        for item in raw
    ]


def variants(value: str) -> set[str]:
    """The forms a leaked value could take: as written, without separators, URL-encoded."""
    forms = {value, quote(value, safe=""), quote_plus(value)}
    compact = re.sub(r"[\s\-().]", "", value)
    if len(compact) >= 6 and compact != value:
        forms |= {compact, quote(compact, safe=""), quote_plus(compact)}
    return forms


_UNICODE_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def normalised(text: str) -> str:
    """Text with JSON unicode escapes decoded (Jinja's tojson writes < as \\u003c, json.dumps
    writes non-ASCII letters as escapes), so a value hidden behind them is still found."""
    return _UNICODE_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)


class LeakFinder:
    """Finds labelled values, in any of their :func:`variants`, in texts (case-insensitive).

    One alternation of every form is searched once per text: the corpus has hundreds of forms
    and a DEBUG run logs tens of thousands of lines.
    """

    def __init__(self, values: Iterable[tuple[str, str]]) -> None:
        self._labels: dict[str, str] = {}
        for label, value in values:
            for form in variants(value):
                self._labels.setdefault(form.casefold(), label)
        forms = sorted(self._labels, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(form) for form in forms))

    def find(self, haystack: str) -> set[str]:
        """The labels of the values found in the text."""
        text = normalised(haystack).casefold()
        found: set[str] = set()
        position = 0
        # Overlapping forms (a value inside another) each count: restart one past each match.
        while match := self._pattern.search(text, position):
            found.add(self._labels[match.group()])
            position = match.start() + 1
        return found


def summary(found: Iterable[str], limit: int = 12) -> str:
    """A short, sorted account of what was found."""
    items = sorted(found)
    more = f" ... and {len(items) - limit} more" if len(items) > limit else ""
    return f"{len(items)} found: {items[:limit]}{more}"


# --------------------------------------------------------------------------- the mesh


def start_scripted_mesh(loop_thread: LoopThread, data_dir: Path) -> Mesh:
    """The whole mesh on ephemeral ports, its planner on the mocks' scripted model server.

    The knowledge backend serves its own articles plus ``corpus/injected_articles.yaml`` (articles
    carrying instructions, for the injection tests).
    """
    settings = ephemeral_settings(data_dir)
    # Logging every record at DEBUG (cel-python alone writes thousands per turn) slows the whole
    # process down; wide budgets keep every turn on its normal path instead of a timeout's.
    settings.router.turn_deadline_s = 120
    settings.router.understand_timeout_s = 30
    settings.tool_broker.peer_timeout_s = 30
    settings.tool_broker.call_timeout_s = 30
    settings.pii.detect_timeout_s = 30
    settings.planner.model.timeout_s = 60
    settings.planner.model.first_token_timeout_s = 30
    articles = data_dir / "articles.yaml"
    shipped = yaml.safe_load(knowledge_app.ARTICLES.read_text(encoding="utf-8"))
    injected = yaml.safe_load(INJECTED_ARTICLES.read_text(encoding="utf-8"))
    articles.write_text(yaml.safe_dump(shipped + injected), encoding="utf-8")

    async def start() -> Mesh:
        # start_mocks builds the knowledge app with its default articles; serve ours instead.
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(
                knowledge_app,
                "create_app",
                functools.partial(knowledge_app.create_app, articles=articles),
            )
            cluster = await start_mocks(settings.mocks)
        try:
            settings.mocks.ports.update(cluster.ports)
            for backend, url in cluster.base_urls.items():
                if backend in settings.tool_broker.backends:
                    settings.tool_broker.backends[backend].base_url = url
            settings.planner.model.enabled = True
            settings.planner.model.base_url = cluster.base_urls["model"] + "/v1"
            settings.planner.model.api_key = SecretStr("sk-guarantees")
            mesh = await start_mesh(settings, mocks=False)
        except BaseException:
            await cluster.stop()
            raise
        mesh.mocks = cluster
        return mesh

    return loop_thread.run(start(), timeout=180)


def stop_mesh(loop_thread: LoopThread, mesh: Mesh) -> None:
    loop_thread.run(mesh.stop())


def base_url(mesh: Mesh, name: str) -> str:
    return str(mesh.mocks.base_urls[name])


def set_script(mesh: Mesh, entries: list[ScriptEntry]) -> None:
    """Replace the scripted model's script."""
    body = [entry.model_dump(mode="json") for entry in entries]
    httpx.put(f"{base_url(mesh, 'model')}/_admin/script", json=body).raise_for_status()


def model_requests(mesh: Mesh) -> list[dict[str, Any]]:
    """Every chat completion request the scripted model received, oldest first."""
    response = httpx.get(f"{base_url(mesh, 'model')}/_admin/requests")
    response.raise_for_status()
    requests: list[dict[str, Any]] = response.json()
    return requests


def backend_requests(mesh: Mesh, name: str) -> list[dict[str, Any]]:
    """The request log of a mock backend."""
    response = httpx.get(f"{base_url(mesh, name)}/_admin/requests")
    response.raise_for_status()
    records: list[dict[str, Any]] = response.json()["requests"]
    return records


def clear_logs(mesh: Mesh) -> None:
    """Clear the request logs of the model and of every backend."""
    for name in mesh.mocks.base_urls:
        httpx.delete(f"{base_url(mesh, name)}/_admin/requests").raise_for_status()


MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def mutations(mesh: Mesh, *names: str) -> list[dict[str, Any]]:
    """The requests of the named backends that could change something."""
    return [
        r for name in names for r in backend_requests(mesh, name) if r["method"] in MUTATING_METHODS
    ]


# --------------------------------------------------------------------------- turns


def send_turn(mesh: Mesh, session_id: str, text: str, customer_id: str = "") -> Turn:
    """One turn through the mesh's router; it must start and complete."""
    turn = harness_send_turn(
        mesh.target("router"), session_id, text, customer_id, timeout=TURN_TIMEOUT_S
    )
    assert turn.kinds[0] == "turn_started" and turn.kinds[-1] == "turn_completed", turn.kinds
    return turn


def list_turns(mesh: Mesh, session_id: str) -> list[session_pb2.TurnRecord]:
    with grpc.insecure_channel(mesh.target("session")) as channel:
        stub = session_pb2_grpc.SessionServiceStub(channel)
        response = stub.ListTurns(
            session_pb2.ListTurnsRequest(session_id=session_id, page_size=1000), timeout=10
        )
    return list(response.turns)


def record_text(record: session_pb2.TurnRecord) -> str:
    return json_format.MessageToJson(record, ensure_ascii=False)


# --------------------------------------------------------------------------- what the mesh left


def sqlite_dump(path: Path) -> str:
    """Every cell of every table of a SQLite file, as text (BLOBs decoded as UTF-8, lossily)."""
    lines: list[str] = []
    with sqlite3.connect(path) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in db.execute(f'SELECT * FROM "{table}"'):  # noqa: S608 - names from the file
                for cell in row:
                    if isinstance(cell, bytes):
                        lines.append(cell.decode("utf-8", errors="replace"))
                    else:
                        lines.append(str(cell))
    return "\n".join(lines)


def span_texts(spans: Iterable[ReadableSpan]) -> Iterator[tuple[str, str]]:
    """(span name, the span as the local JSON-lines exporter writes it) for each span."""
    for span in spans:
        yield span.name, span.to_json(indent=None)


@dataclass
class CapturedLogs(logging.Handler):
    """Keeps every record logged while installed on the root logger."""

    records: list[logging.LogRecord] = field(default_factory=list)

    def __post_init__(self) -> None:
        logging.Handler.__init__(self, logging.DEBUG)

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def lines(self) -> Iterator[tuple[logging.LogRecord, str]]:
        """Each record with its text line, and again with the JSON line services write."""
        text = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        as_json = JsonFormatter()
        for record in list(self.records):
            yield record, text.format(record)
            yield record, as_json.format(record)

    def __hash__(self) -> int:
        return id(self)


@dataclass
class LogCapture:
    """Root logger at DEBUG with a capturing handler, restored on close."""

    handler: CapturedLogs = field(default_factory=CapturedLogs)
    _level: int = logging.WARNING
    _others: dict[logging.Handler, int] = field(default_factory=dict)

    def __enter__(self) -> CapturedLogs:
        root = logging.getLogger()
        self._level = root.level
        # The handlers already there (pytest's report capture) keep their usual level: formatting
        # every DEBUG record twice more would only slow the run down.
        self._others = {h: h.level for h in root.handlers}
        for other in self._others:
            other.setLevel(max(other.level, logging.WARNING))
        root.addHandler(self.handler)
        root.setLevel(logging.DEBUG)
        return self.handler

    def __exit__(self, *exc: object) -> None:
        root = logging.getLogger()
        root.removeHandler(self.handler)
        root.setLevel(self._level)
        for other, level in self._others.items():
            other.setLevel(level)


def request_text(request: dict[str, Any]) -> str:
    return json.dumps(request, ensure_ascii=False)
