"""Every grpcurl command in clients/README.md, run verbatim against a live mesh."""

from __future__ import annotations

import json
import re
import subprocess

from clients_support import REPO, tool, tool_env

from services.mesh import Mesh

README = REPO / "clients" / "README.md"
#: every public RPC must have an example that calls it
PUBLIC_RPCS = ("SendTurn", "Converse", "GetTranscript")


def examples() -> list[str]:
    """The commands of the first bash block under '## grpcurl', joined across line breaks."""
    section = README.read_text().split("## grpcurl", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "no bash block in the grpcurl section"
    commands: list[str] = []
    current = ""
    in_heredoc = False
    for line in block.group(1).splitlines():
        if not current and (not line.strip() or line.startswith("#")):
            continue
        current += line + "\n"
        if "<<'EOF'" in line:
            in_heredoc = True
        elif in_heredoc:
            in_heredoc = line != "EOF"
        if not in_heredoc and not line.endswith("\\"):
            commands.append(current)
            current = ""
    return commands


def run(command: str, router: str) -> subprocess.CompletedProcess[str]:
    # As written for `make up`, but pointed at this test's mesh.
    command = command.replace("localhost:50051", router)
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", command],
        env=tool_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def json_objects(text: str) -> list[dict[str, object]]:
    """grpcurl prints each response as a pretty-printed JSON object, one after another."""
    decoder, objects, index = json.JSONDecoder(), [], 0
    while index < len(text):
        if text[index].isspace():
            index += 1
            continue
        obj, index = decoder.raw_decode(text, index)
        objects.append(obj)
    return objects


def test_the_readme_lists_describes_and_calls_every_public_rpc() -> None:
    commands = examples()
    assert any(" list" in c for c in commands)
    assert any("describe switchboard.v1.RouterService" in c for c in commands)
    for rpc in PUBLIC_RPCS:
        assert any(f"switchboard.v1.RouterService/{rpc}" in c for c in commands), rpc


def test_every_readme_example_runs_against_the_mesh(mesh: Mesh) -> None:
    tool("grpcurl")
    outputs: dict[str, str] = {}
    for command in examples():
        result = run(command, mesh.target("router"))
        assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
        outputs[command] = result.stdout

    def output_of(fragment: str) -> str:
        (found,) = [out for command, out in outputs.items() if fragment in command]
        return found

    listed = output_of(" list").split()
    assert "switchboard.v1.RouterService" in listed and "grpc.health.v1.Health" in listed
    described = output_of("describe switchboard.v1.RouterService")
    for rpc in PUBLIC_RPCS:
        assert f"rpc {rpc} (" in described
    assert "session_id" in output_of("describe switchboard.v1.SendTurnRequest")

    events = [obj["event"] for obj in json_objects(output_of("RouterService/SendTurn"))]
    assert "turn_started" in events[0] and "turn_completed" in events[-1]  # type: ignore[operator]

    conversed = [obj["event"] for obj in json_objects(output_of("RouterService/Converse"))]
    ended = {e["turn_id"] for e in conversed if "turn_completed" in e}  # type: ignore[index,operator]
    assert ended == {"t1", "t2"}

    transcript = json_objects(output_of("RouterService/GetTranscript"))[0]
    assert transcript["session_id"] == "grpcurl-1"
    assert len(transcript["turns"]) == 1  # type: ignore[arg-type]

    assert json_objects(output_of("Health/Check"))[0] == {"status": "SERVING"}


def test_bad_input_is_an_invalid_argument_status(mesh: Mesh) -> None:
    result = run(
        'grpcurl -plaintext -d \'{"session_id": "x"}\' localhost:50051 '
        "switchboard.v1.RouterService/SendTurn",
        mesh.target("router"),
    )
    assert result.returncode != 0
    assert "Code: InvalidArgument" in result.stderr
