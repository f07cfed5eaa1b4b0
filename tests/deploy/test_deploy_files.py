"""The deployment files agree with the service and with each other (no Docker or cluster needed).

Names of settings, routes, ports, the user, the body cap and the deadline are each
written in several files; these tests hold them to the one source (Settings, the app,
the Dockerfile).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from service.api.app import create_app
from service.api.middleware import _CLIENT_ID
from service.config import Settings

REPO = Path(__file__).resolve().parents[2]
NGINX = REPO / "deploy" / "nginx"
KUBE = REPO / "deploy" / "kubernetes"
SETTINGS = {f"MRNET_{name.upper()}" for name in Settings.model_fields}
NGINX_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def _default(field: str) -> Any:
    return Settings.model_fields[field].default


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def _nginx_values(text: str, directive: str) -> list[str]:
    return re.findall(rf"^\s*{directive}\s+([^;]+);", text, flags=re.MULTILINE)


def _location(text: str, name: str) -> str:
    match = re.search(rf"location {re.escape(name)} \{{(.*?)\n    \}}", text, flags=re.DOTALL)
    assert match, f"no location {name} in mrnet.conf"
    return match.group(1)


def _dockerfile() -> str:
    return (REPO / "Dockerfile").read_text()


def _image_port() -> int:
    (exposed,) = re.findall(r"^EXPOSE (\d+)$", _dockerfile(), flags=re.MULTILINE)
    return int(exposed)


def _env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines, comments skipped; a single-quoted value is literal, as in compose."""
    env = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, value = line.split("=", 1)
            quoted = len(value) > 1 and value[0] == value[-1] == "'"
            env[name] = value[1:-1] if quoted else value
    return env


def _volume_target(volume: str) -> str:
    """The container path of a short-syntax volume; its source may hold ${VAR:-default}."""
    source_and_target, _, mode = volume.rpartition(":")
    if mode not in {"ro", "rw"}:
        source_and_target = volume
    return source_and_target.rpartition(":")[2]


def _settings_from(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings built from these variables, as the service would read them."""
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():  # compose-only MRNET_* names too: the service ignores them
        monkeypatch.setenv(name, value)
    return Settings()


def _routes() -> set[str]:
    """The paths of the service's OpenAPI schema."""
    return set(create_app(Settings()).openapi()["paths"])


# ---- nginx


def test_nginx_body_cap_is_the_service_default() -> None:
    conf = (NGINX / "mrnet.conf").read_text()
    (size,) = _nginx_values(conf, "client_max_body_size")
    match = re.fullmatch(r"(\d+)([kmg]?)", size.lower())
    assert match, size
    number, unit = match.groups()
    cap = _default("max_upload_bytes")
    assert int(number) * NGINX_UNITS[unit] == cap
    assert f"upload cap of {cap} bytes" in _location(conf, "@too_large")


def test_nginx_outwaits_the_service_deadline() -> None:
    """The replica's own 504 problem must reach the client before nginx gives up."""
    conf = (NGINX / "mrnet.conf").read_text()
    (read_timeout,) = _nginx_values(conf, "proxy_read_timeout")
    assert int(read_timeout.removesuffix("s")) > _default("request_timeout_s")


def test_nginx_accepts_the_request_ids_the_service_echoes() -> None:
    conf = (NGINX / "mrnet.conf").read_text()
    patterns = re.findall(r'"~(\^[^"]+\$)"\s+\$http_x_request_id;', conf)
    assert patterns == [_CLIENT_ID.pattern]


def test_nginx_retries_predictions_but_not_failures_that_would_repeat() -> None:
    conf = (NGINX / "mrnet.conf").read_text()
    (predictions,) = _nginx_values(_location(conf, "= /v1/predictions"), "proxy_next_upstream")
    (inherited,) = [v for v in _nginx_values(conf, "proxy_next_upstream") if v != predictions]
    server_level = inherited.split()
    assert predictions.split() == [*server_level, "non_idempotent"]
    assert {"error", "timeout", "http_503"} <= set(server_level)
    assert not {"http_500", "http_504", "non_idempotent"} & set(server_level)
    (tries,) = _nginx_values(conf, "proxy_next_upstream_tries")
    assert 2 <= int(tries) <= 5
    assert _nginx_values(conf, "proxy_request_buffering") == ["on"]


def test_nginx_proxies_health_and_answers_its_own() -> None:
    conf = (NGINX / "mrnet.conf").read_text()
    assert "location = /nginx-health" in conf
    assert {"/health/live", "/health/ready"} <= _routes()  # reached through location /
    assert "proxy_pass http://mrnet;" in _location(conf, "/")


# ---- compose


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = _yaml(REPO / "docker-compose.yml")
    return document


def test_compose_nginx_runs_the_repository_configuration(compose: dict[str, Any]) -> None:
    nginx = compose["services"]["nginx"]
    mounts = dict(volume.rsplit(":", 2)[:2] for volume in nginx["volumes"])
    assert mounts["./deploy/nginx/mrnet.conf"] == "/etc/nginx/conf.d/default.conf"
    assert mounts["./deploy/nginx/compose"] == "/etc/nginx/mrnet"
    assert all((REPO / source).exists() for source in mounts)
    (listen,) = _nginx_values((NGINX / "compose" / "listen.conf").read_text(), "listen")
    (published,) = nginx["ports"]
    assert published.rsplit(":", 1)[1] == listen


def test_compose_upstream_names_the_replicas_on_the_image_port(compose: dict[str, Any]) -> None:
    upstream = (NGINX / "compose" / "upstream.conf").read_text()
    (server,) = _nginx_values(upstream, "server")
    host, port = server.split()[0].split(":")
    assert int(port) == _image_port()
    assert f'"--port", "{port}"' in _dockerfile()
    assert host in compose["services"]
    gpu = compose["services"]["mrnet-gpu"]
    assert host in gpu["networks"]["default"]["aliases"]  # GPU replicas join the pool


def test_compose_gpu_profile_reserves_a_gpu_and_builds_cuda(compose: dict[str, Any]) -> None:
    gpu = compose["services"]["mrnet-gpu"]
    assert gpu["profiles"] == ["gpu"]
    (device,) = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"]
    assert "/whl/cu" in gpu["build"]["args"]["TORCH_INDEX"]
    assert re.search(r"^ARG TORCH_INDEX=", _dockerfile(), flags=re.MULTILINE)
    assert gpu["environment"]["MRNET_DEVICE"] == "cuda"
    assert compose["services"]["mrnet"]["environment"]["MRNET_DEVICE"] == "cpu"


def test_compose_settings_and_mounts_are_the_service_ones(compose: dict[str, Any]) -> None:
    (store,) = re.findall(r"MRNET_MODEL_STORE=(\S+)", _dockerfile())
    for name in ("mrnet", "mrnet-gpu"):
        service = compose["services"][name]
        assert set(service["environment"]) <= SETTINGS, name
        targets = {_volume_target(volume) for volume in service["volumes"]}
        assert {store, "/app/data"} <= targets, name
        assert service["env_file"] == [{"path": ".env", "required": False}]


def test_env_example_holds_settings_or_compose_variables(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    example = _env_file(REPO / ".env.example")
    compose_text = (REPO / "docker-compose.yml").read_text()
    for name in example:
        assert name in SETTINGS or "${" + name in compose_text, name
    settings = _settings_from(example, monkeypatch)
    assert settings.api_keys and settings.datasets == {"demo": Path("data/demo")}


# ---- Kubernetes


@pytest.fixture(scope="module")
def base() -> dict[str, dict[str, Any]]:
    """The base manifests by kind, each file of the kustomization loaded."""
    kustomization = _yaml(KUBE / "base" / "kustomization.yaml")
    documents = [_yaml(KUBE / "base" / name) for name in kustomization["resources"]]
    return {document["kind"]: document for document in documents}


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return dict(container)


def test_kubernetes_settings_are_valid_service_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    config = _env_file(KUBE / "base" / "config.env")
    assert set(config) <= SETTINGS
    settings = _settings_from(config, monkeypatch)
    assert settings.device == "cpu" and settings.datasets == {}
    secret = _yaml(KUBE / "base" / "secret.example.yaml")
    assert set(secret["stringData"]) <= SETTINGS


def test_kubernetes_probes_hit_the_health_routes(base: dict[str, dict[str, Any]]) -> None:
    container = _container(base["Deployment"])
    routes = _routes()
    kinds = ("startupProbe", "livenessProbe", "readinessProbe")
    probes = {kind: container[kind]["httpGet"] for kind in kinds}
    assert probes["readinessProbe"]["path"] == "/health/ready"
    assert probes["livenessProbe"]["path"] == "/health/live"
    (port,) = container["ports"]
    assert port["containerPort"] == _image_port()
    for probe in probes.values():
        assert probe["path"] in routes and probe["port"] == port["name"]


def test_kubernetes_pod_fits_the_image(base: dict[str, dict[str, Any]]) -> None:
    deployment = base["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    container = _container(deployment)
    (uid,) = re.findall(r"^USER (\d+):", _dockerfile(), flags=re.MULTILINE)
    assert pod["securityContext"]["runAsUser"] == int(uid)
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert "HOME=/tmp" in _dockerfile()  # the one writable path, mounted below
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/tmp"}
    threads = _env_file(KUBE / "base" / "config.env")["MRNET_TORCH_THREADS"]
    assert container["resources"]["requests"]["cpu"] == threads
    refs = [next(iter(source.values()))["name"] for source in container["envFrom"]]
    kustomization = _yaml(KUBE / "base" / "kustomization.yaml")
    secret = _yaml(KUBE / "base" / "secret.example.yaml")
    assert refs == [kustomization["configMapGenerator"][0]["name"], secret["metadata"]["name"]]


def test_kubernetes_objects_select_the_deployment(base: dict[str, dict[str, Any]]) -> None:
    deployment = base["Deployment"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert "replicas" not in deployment["spec"]  # the autoscaler owns the count
    for kind in ("Service", "PodDisruptionBudget"):
        spec = base[kind]["spec"]
        selector = spec["selector"].get("matchLabels", spec["selector"])
        assert selector.items() <= labels.items(), kind
    (port,) = base["Service"]["spec"]["ports"]
    assert port["targetPort"] == _container(deployment)["ports"][0]["name"]
    target = base["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])


def test_kubernetes_gpu_overlay_asks_for_a_gpu(base: dict[str, dict[str, Any]]) -> None:
    overlay = KUBE / "overlays" / "gpu"
    kustomization = _yaml(overlay / "kustomization.yaml")
    assert kustomization["resources"] == ["../../base"]
    patches = {patch["path"]: _yaml(overlay / patch["path"]) for patch in kustomization["patches"]}
    deployment = patches["deployment-gpu.yaml"]
    assert deployment["metadata"]["name"] == base["Deployment"]["metadata"]["name"]
    assert _container(deployment)["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert deployment["spec"]["replicas"] >= 1  # no autoscaler in this overlay
    removed = patches["hpa-delete.yaml"]
    assert removed["$patch"] == "delete"
    assert removed["metadata"]["name"] == base["HorizontalPodAutoscaler"]["metadata"]["name"]
    (config,) = kustomization["configMapGenerator"]
    assert config["behavior"] == "merge" and "MRNET_DEVICE=cuda" in config["literals"]
    assert kustomization["images"] == [{"name": "mrnet-service", "newTag": "cuda"}]


# ---- the image


def test_dockerignore_lets_in_only_what_the_dockerfile_copies() -> None:
    patterns = [line for line in (REPO / ".dockerignore").read_text().splitlines() if line.strip()]
    patterns = [line for line in patterns if not line.startswith("#")]
    assert patterns[0] == "*"  # .venv, data/ (gigabytes), runs/, .git stay out
    allowed = [line[1:].rstrip("/") for line in patterns if line.startswith("!")]
    copies = re.findall(r"^COPY (?!--from)(.+?) \S+$", _dockerfile(), flags=re.MULTILINE)
    sources = [source for line in copies for source in line.split()]
    assert sources
    for source in sources:
        assert any(source == a or source.startswith(a + "/") for a in allowed), source
        assert (REPO / source).exists(), source


@pytest.mark.slow  # builds a wheel (pip, setuptools in an isolated environment)
def test_the_wheel_the_image_installs_ships_every_package_file(tmp_path: Path) -> None:
    """As the Dockerfile builds it: a wheel of pyproject.toml, README.md and service/."""
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(
        REPO / "service", source / "service", ignore=shutil.ignore_patterns("__pycache__")
    )
    wheels = tmp_path / "wheels"
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels)]
    subprocess.run([*build, str(source)], check=True, capture_output=True)
    (wheel,) = wheels.glob("*.whl")
    check = [sys.executable, str(REPO / "deploy" / "docker" / "check_wheel.py")]
    result = subprocess.run(
        [*check, str(wheel), str(source / "service")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
