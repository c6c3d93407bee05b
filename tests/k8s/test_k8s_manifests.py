"""Every kustomize overlay renders, validates against the Kubernetes schemas offline, and keeps
the invariants a Switchboard deployment depends on."""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from services.config import SERVICES, load_settings
from services.gateway_runner import GatewaySettings
from services.mesh import KUBE_NAMES

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "k8s"
OVERLAYS = sorted(p.name for p in (K8S / "overlays").iterdir() if p.is_dir())
#: the Kubernetes version the manifests are validated against
KUBERNETES_VERSION = "1.32.0"
GRPC_SERVICES = sorted(KUBE_NAMES.values())
#: default ports of the services, as services/config.py knows them
PORTS = {KUBE_NAMES[name]: load_settings().service(name).port for name in SERVICES}
#: seconds a pod gets between SIGTERM and SIGKILL beyond the server's own stop grace: the
#: service's stop work (closing stores, flushing spans) after in-flight calls had their grace
SHUTDOWN_HEADROOM_S = 5


def kustomize(path: Path) -> str:
    """Render with `kubectl kustomize`, or the kustomize that scripts/tools.sh installs."""
    kubectl = shutil.which("kubectl")
    local = REPO / ".tools" / "bin" / "kustomize"
    if kubectl:
        command = [kubectl, "kustomize", str(path)]
    elif local.exists():
        command = [str(local), "build", str(path)]
    else:
        pytest.fail("neither kubectl nor .tools/bin/kustomize: run scripts/tools.sh")
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


@functools.cache
def rendered(overlay: str) -> tuple[dict[str, Any], ...]:
    return tuple(yaml.safe_load_all(kustomize(K8S / "overlays" / overlay)))


def of_kind(docs: tuple[dict[str, Any], ...], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def containers(docs: tuple[dict[str, Any], ...]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, deployment in of_kind(docs, "Deployment").items():
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            yield name, container


def image_of(deployment: dict[str, Any]) -> str:
    """The first container's image without its tag."""
    return str(deployment["spec"]["template"]["spec"]["containers"][0]["image"]).rsplit(":", 1)[0]


def switchboard_deployments(docs: tuple[dict[str, Any], ...]) -> dict[str, dict[str, Any]]:
    """The Deployments that run Switchboard's own image (not Redis or the collector)."""
    deployments = of_kind(docs, "Deployment").items()
    return {name: d for name, d in deployments if image_of(d).endswith("switchboard")}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_validates_against_the_kubernetes_schemas(overlay: str) -> None:
    docs = rendered(overlay)
    assert docs
    for doc in docs:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_validator_rejects_what_kubernetes_would() -> None:
    deployment = dict(switchboard_deployments(rendered("local"))["router"])
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["grpc"]["port"] = "grpc"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_has_its_deployment_service_and_account(overlay: str) -> None:
    docs = rendered(overlay)
    deployments = of_kind(docs, "Deployment")
    services = of_kind(docs, "Service")
    accounts = of_kind(docs, "ServiceAccount")
    for name in [*GRPC_SERVICES, "gateway"]:
        assert name in deployments and name in services and name in accounts, name
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == name
        assert name in accounts
        assert pod["automountServiceAccountToken"] is False


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_grpc_services_have_named_ports_and_native_grpc_probes(overlay: str) -> None:
    docs = rendered(overlay)
    deployments = of_kind(docs, "Deployment")
    services = of_kind(docs, "Service")
    for name in GRPC_SERVICES:
        (container,) = deployments[name]["spec"]["template"]["spec"]["containers"]
        assert container["args"] == ["serve", name]
        (port,) = container["ports"]
        assert port == {"name": "grpc", "containerPort": PORTS[name], "protocol": "TCP"}
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert container[probe]["grpc"] == {"port": PORTS[name]}, (name, probe)
        (service_port,) = services[name]["spec"]["ports"]
        assert service_port["name"] == "grpc" and service_port["targetPort"] == "grpc"
        assert service_port["port"] == PORTS[name]
        # Headless: DNS gives every ready pod, so clients can spread their streams.
        assert services[name]["spec"]["clusterIP"] == "None"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_containers_are_hardened_and_bounded(overlay: str) -> None:
    docs = rendered(overlay)
    for name, deployment in of_kind(docs, "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        for container in pod["containers"]:
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["capabilities"]["drop"] == ["ALL"], name
            for bound in ("requests", "limits"):
                assert set(container["resources"][bound]) == {"cpu", "memory"}, (name, bound)
            assert "livenessProbe" in container and "readinessProbe" in container, name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_termination_grace_matches_the_servers_stop_grace(
    overlay: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    docs = rendered(overlay)
    config = switchboard_config(docs, monkeypatch, tmp_path)
    for name, deployment in switchboard_deployments(docs).items():
        grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        if name == "mocks":
            expected = config.mocks.stop_grace_s
        elif name == "gateway":
            expected = GatewaySettings().drain_s
        else:
            expected = config.service(name.replace("-", "_")).stop_grace_s
        assert grace == expected + SHUTDOWN_HEADROOM_S, name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_selectors_match_the_pods_they_select(overlay: str) -> None:
    docs = rendered(overlay)
    deployments = of_kind(docs, "Deployment")

    def labels_of(name: str) -> dict[str, str]:
        return dict(deployments[name]["spec"]["template"]["metadata"]["labels"])

    def selected(selector: dict[str, str]) -> list[str]:
        return [n for n in deployments if selector.items() <= labels_of(n).items()]

    for name, deployment in deployments.items():
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels_of(name).items()
    for name, service in of_kind(docs, "Service").items():
        assert selected(service["spec"]["selector"]) == [name], name
        container_ports = {
            port["name"]
            for container in deployments[name]["spec"]["template"]["spec"]["containers"]
            for port in container["ports"]
        }
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in container_ports, (name, port)
    for name, budget in of_kind(docs, "PodDisruptionBudget").items():
        assert selected(budget["spec"]["selector"]["matchLabels"]) == [name]
    for hpa in of_kind(docs, "HorizontalPodAutoscaler").values():
        target = hpa["spec"]["scaleTargetRef"]
        assert target["kind"] == "Deployment" and target["name"] in deployments
        assert "replicas" not in deployments[target["name"]]["spec"], "the HPA owns replicas"
    # A policy selects every pod, or pods that run here (or a part an overlay may leave out).
    optional = {"mocks", "redis", "otel-collector"}
    for name, policy in of_kind(docs, "NetworkPolicy").items():
        selector = policy["spec"]["podSelector"].get("matchLabels", {})
        app = selector.get("app.kubernetes.io/name")
        assert not selector or selected(selector) or app in optional, name


def switchboard_config(
    docs: tuple[dict[str, Any], ...], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Any:
    """The settings every pod loads: the mounted file, then the switchboard-env variables."""
    maps = of_kind(docs, "ConfigMap")
    (config_name,) = [n for n in maps if n.startswith("switchboard-config")]
    (env_name,) = [n for n in maps if n.startswith("switchboard-env")]
    for key, value in maps[env_name]["data"].items():
        if not key.startswith("SWITCHBOARD_GATEWAY__"):  # the gateway reads its own
            monkeypatch.setenv(key, value)
    config_file = tmp_path / "switchboard.yaml"
    config_file.write_text(maps[config_name]["data"]["switchboard.yaml"])
    return load_settings(config_file)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_mounted_settings_load_and_name_real_services(
    overlay: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    docs = rendered(overlay)
    config = switchboard_config(docs, monkeypatch, tmp_path)
    services = of_kind(docs, "Service")
    for name in SERVICES:
        section = config.service(name)
        assert section.host == "0.0.0.0"
        host, port = section.target.rsplit(":", 1)
        assert host == KUBE_NAMES[name] and host in services
        assert int(port) == section.port == PORTS[KUBE_NAMES[name]]
    if "redis" in services:
        assert config.session.store == "redis"
        assert re.match(r"redis://redis:6379/", config.session.redis_url)
        assert config.pii.vault_store == "redis"
        assert re.match(r"redis://redis:6379/", config.pii.redis_url)
    if "mocks" in services:
        for backend in config.tool_broker.backends.values():
            assert backend.base_url.startswith("http://mocks:")
    if "otel-collector" in services:
        assert "otel-collector:4317" in config.telemetry.otlp_endpoint
    # Every pod mounts the file it is told to load.
    for name, deployment in switchboard_deployments(docs).items():
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e.get("value") for e in container.get("env", [])}
        assert env["SWITCHBOARD_CONFIG"] == "/etc/switchboard/switchboard.yaml", name
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        assert "/etc/switchboard" in mounts


def test_production_denies_by_default_and_allows_each_caller() -> None:
    docs = rendered("production")
    policies = of_kind(docs, "NetworkPolicy")
    deny = policies["default-deny"]["spec"]
    assert deny["podSelector"] == {} and sorted(deny["policyTypes"]) == ["Egress", "Ingress"]
    for caller in ("gateway", "router", "tool-broker", "planner", "session"):
        assert f"{caller}-egress" in policies, caller
    # The router reaches every other service, and each of them lets the router in.
    for callee in ("planner", "tool-broker", "governance", "pii", "session"):
        ingress = policies[f"{callee}-from-router"]["spec"]["ingress"][0]
        assert ingress["from"][0]["podSelector"]["matchLabels"] == {
            "app.kubernetes.io/name": "router"
        }
        assert ingress["ports"] == [{"protocol": "TCP", "port": PORTS[callee]}]
    assert "mocks" not in of_kind(docs, "Deployment")
    assert {"router", "tool-broker"} == set(of_kind(docs, "HorizontalPodAutoscaler"))


def test_the_gateway_runs_with_tls_in_production_and_in_front_of_the_router() -> None:
    docs = rendered("production")
    gateway = of_kind(docs, "Deployment")["gateway"]
    (container,) = gateway["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["gateway", "run"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert json.loads(env["SWITCHBOARD_GATEWAY__ROUTER_TARGETS"]) == [f"router:{PORTS['router']}"]
    maps = of_kind(docs, "ConfigMap")
    (env_name,) = [n for n in maps if n.startswith("switchboard-env")]
    cert = maps[env_name]["data"]["SWITCHBOARD_GATEWAY__TLS_CERT_FILE"]
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert str(Path(cert).parent) in mounts
    assert container["readinessProbe"]["httpGet"]["scheme"] == "HTTPS"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_runs_a_command_the_image_has(overlay: str) -> None:
    from services.cli import SERVE_NAMES

    dockerfile = (REPO / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["switchboard"]' in dockerfile
    for name, deployment in switchboard_deployments(rendered(overlay)).items():
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        args = container["args"]
        if name == "gateway":
            assert args == ["gateway", "run"]
        else:
            assert args == ["serve", name] and name in SERVE_NAMES, name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_gateway_settings_in_the_manifests_are_valid(
    overlay: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = rendered(overlay)
    maps = of_kind(docs, "ConfigMap")
    (env_name,) = [n for n in maps if n.startswith("switchboard-env")]
    (container,) = of_kind(docs, "Deployment")["gateway"]["spec"]["template"]["spec"]["containers"]
    env = {**maps[env_name]["data"], **{e["name"]: e["value"] for e in container["env"]}}
    for key, value in env.items():
        if key.startswith("SWITCHBOARD_GATEWAY__"):
            monkeypatch.setenv(key, value)
    settings = load_settings().gateway
    assert (settings.host, settings.port) == ("0.0.0.0", 8080)
    assert settings.router_targets == [f"router:{PORTS['router']}"]
    if overlay == "production":
        assert settings.cors_origins == ["https://chat.example.com"]
        assert settings.tls_cert_file and settings.tls_key_file
    if "otel-collector" in of_kind(docs, "Service"):
        assert settings.otlp_endpoint == "otel-collector:4317"
