"""Debian's nginx with deploy/nginx/mrnet.conf in front of two real `mrnet serve` replicas.

The server configuration is the project's file, included as compose includes it; only
the replica list (compose's server parameters on loopback ports) and the listen address
are written here.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from service.domain import PLANES
from service.store.writer import write_package

from factories import draft, random_states

pytestmark = pytest.mark.deploy

REPO = Path(__file__).resolve().parents[2]
SERVER_CONF = REPO / "deploy" / "nginx" / "mrnet.conf"
COMPOSE_UPSTREAM = REPO / "deploy" / "nginx" / "compose" / "upstream.conf"
STARTUP_TIMEOUT_S = 90.0
REQUESTS, CLIENTS, KILL_AFTER = 60, 4, 20
PREDICTIONS = "/v1/predictions"


@dataclass
class Replica:
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def served(self) -> set[str]:
        """Request ids of the predictions this replica answered with 200 (its access log)."""
        ids = set()
        for line in self.log.read_text().splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if record.get("route") == PREDICTIONS and record.get("status") == 200:
                ids.add(record["request_id"])
        return ids


@dataclass
class Cluster:
    url: str
    replicas: list[Replica]
    access_log: Path
    error_log: Path

    def proxied(self) -> list[dict[str, Any]]:
        """nginx's access log, one record per request."""
        return [json.loads(line) for line in self.access_log.read_text().splitlines() if line]


def _nginx() -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if found is None:
        pytest.fail("nginx is not installed: `make tools` installs it (Debian's nginx)")
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _server_parameters() -> str:
    """Compose's per-replica parameters (max_fails, fail_timeout), without DNS `resolve`."""
    line = next(
        line.strip()
        for line in COMPOSE_UPSTREAM.read_text().splitlines()
        if line.strip().startswith("server ")
    )
    _, _, *parameters = line.rstrip(";").split()
    return " ".join(p for p in parameters if p != "resolve")


_MAIN_CONF = """\
{user}daemon off;
worker_processes 1;
pid {root}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 256; }}
http {{
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    include {server_conf};
}}
"""


def _nginx_conf(root: Path, ports: list[int], listen: int) -> Path:
    """A main nginx.conf in `root` that includes the project's server configuration."""
    (root / "mrnet").mkdir(parents=True)
    servers = "".join(f"server 127.0.0.1:{port} {_server_parameters()};\n" for port in ports)
    (root / "mrnet" / "upstream.conf").write_text(servers)
    (root / "mrnet" / "listen.conf").write_text(f"listen 127.0.0.1:{listen};\n")
    # As root the workers would switch to `nobody`, who cannot write the temp folders.
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf = root / "nginx.conf"
    conf.write_text(_MAIN_CONF.format(user=user, root=root, server_conf=SERVER_CONF))
    return conf


def _replica_env(store: Path, queue_delay_ms: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MRNET_")}
    env.update(
        MRNET_MODEL_STORE=str(store),
        MRNET_DEVICE="cpu",
        MRNET_TORCH_THREADS="1",
        MRNET_DATASETS="{}",
        MRNET_MAX_QUEUE_DELAY_MS=str(queue_delay_ms),
        MRNET_LOG_LEVEL="info",
    )
    return env


def _start_replica(store: Path, logs: Path, queue_delay_ms: int) -> Replica:
    port = _free_port()
    log = logs / f"replica-{port}.log"
    command = [sys.executable, "-m", "service", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--graceful-shutdown-s", "2"]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command, env=_replica_env(store, queue_delay_ms), stdout=sink, stderr=subprocess.STDOUT
        )
    return Replica(port, process, log)


def _wait_until(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        assert process.poll() is None, f"{process.args[0]} exited:\n{log.read_text()[-3000:]}"
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} not ready in {STARTUP_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")


def _pending(replica: Replica) -> float:
    """The replica's admitted predictions not answered yet (its own /metrics)."""
    page = httpx.get(f"http://127.0.0.1:{replica.port}/metrics", timeout=5).text
    (value,) = re.findall(r"^mrnet_pending_requests (\S+)$", page, flags=re.MULTILINE)
    return float(value)


def _eventually(check: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    """Logs are written just after the response goes out: give them a moment."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Two replicas and nginx, shared by the tests in file order (the last two kill replicas)."""
    nginx = _nginx()
    root = tmp_path_factory.mktemp("deploy")
    write_package(root / "store", draft(), random_states(3))
    processes: list[subprocess.Popen[bytes]] = []
    try:
        # The first replica's worker waits a second for company before it computes, so a
        # prediction sent to it stays there long enough to be caught by SIGKILL.
        replicas = [_start_replica(root / "store", root, delay) for delay in (1000, 20)]
        processes += [replica.process for replica in replicas]
        listen = _free_port()
        conf = _nginx_conf(root / "nginx", [replica.port for replica in replicas], listen)
        access_log, error_log = root / "nginx-access.log", root / "nginx-error.log"
        command = [nginx, "-p", str(conf.parent), "-c", str(conf), "-e", "stderr"]
        with access_log.open("wb") as out, error_log.open("wb") as err:
            processes.append(subprocess.Popen(command, stdout=out, stderr=err))
        url = f"http://127.0.0.1:{listen}"
        _wait_until(f"{url}/nginx-health", processes[-1], error_log)
        for replica in replicas:
            ready = f"http://127.0.0.1:{replica.port}/health/ready"
            _wait_until(ready, replica.process, replica.log)
        yield Cluster(url, replicas, access_log, error_log)
    finally:
        for process in processes:
            _stop(process)


def _exam(seed: int) -> dict[str, tuple[str, bytes, str]]:
    rng = np.random.default_rng(seed)
    files = {}
    for plane, slices in zip(PLANES, (3, 4, 5), strict=True):
        buffer = io.BytesIO()
        np.save(buffer, rng.integers(0, 256, (slices, 64, 64), dtype=np.uint8))
        files[plane] = (f"{plane}.npy", buffer.getvalue(), "application/octet-stream")
    return files


def _raw_request(url: str, head: str) -> tuple[int, dict[str, str], bytes]:
    """Send a request head without its body and read the answer (nginx answers early).

    Reads exactly the answer: nginx keeps the connection open a while for the body it
    refused (lingering close), so reading to the end would wait for that.
    """
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(head.encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += connection.recv(65536)
        head_bytes, _, body = answer.partition(b"\r\n\r\n")
        status_line, *lines = head_bytes.decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
        while len(body) < int(headers["content-length"]):
            body += connection.recv(65536)
    return int(status_line.split()[1]), headers, body


def test_request_ids_pass_through_and_nginx_generates_missing_ones(cluster: Cluster) -> None:
    with httpx.Client(base_url=cluster.url, timeout=30) as client:
        assert client.get("/health/ready").status_code == 200
        sent = client.post(PREDICTIONS, files=_exam(1), headers={"X-Request-ID": "client-id.1"})
        generated = client.post(PREDICTIONS, files=_exam(2))
    assert sent.status_code == 200, sent.text
    assert sent.headers["x-request-id"] == "client-id.1" == sent.json()["request_id"]
    assert generated.status_code == 200, generated.text
    request_id = generated.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id), request_id  # nginx's $request_id
    assert generated.json()["request_id"] == request_id
    # The replica worked under nginx's id, and nginx logged the same one.
    assert _eventually(lambda: any(request_id in r.served() for r in cluster.replicas))
    assert _eventually(lambda: request_id in {r["request_id"] for r in cluster.proxied()})


def test_nginx_refuses_a_body_over_the_service_cap_as_a_problem(cluster: Cluster) -> None:
    cap = 64 * 1024 * 1024  # MRNET_MAX_UPLOAD_BYTES default; test_deploy_files pins both
    head = (
        f"POST {PREDICTIONS} HTTP/1.1\r\nHost: mrnet\r\nX-Request-ID: too-big-1\r\n"
        "Content-Type: multipart/form-data; boundary=b\r\n"
        f"Content-Length: {cap + 1}\r\nConnection: close\r\n\r\n"
    )
    status, headers, body = _raw_request(cluster.url, head)
    assert status == 413
    assert headers["content-type"] == "application/problem+json"
    assert headers["x-request-id"] == "too-big-1"
    problem = json.loads(body)
    assert problem["status"] == 413 and problem["request_id"] == "too-big-1"
    assert str(cap) in problem["detail"]
    assert all("too-big-1" not in replica.served() for replica in cluster.replicas)


def test_a_replica_killed_under_load_costs_no_request(cluster: Cluster) -> None:
    """SIGKILL one replica mid-load: every prediction still answers 200 with its own id."""
    first, second = cluster.replicas
    load_ids = {f"load-{index}" for index in range(REQUESTS)}
    done = threading.Semaphore(0)

    def post(index: int) -> httpx.Response:
        request_id = f"load-{index}"
        with httpx.Client(base_url=cluster.url, timeout=60) as client:
            response = client.post(
                PREDICTIONS, files=_exam(index), headers={"X-Request-ID": request_id}
            )
        done.release()
        return response

    with ThreadPoolExecutor(CLIENTS) as pool:
        pending = [pool.submit(post, index) for index in range(REQUESTS)]
        for _ in range(KILL_AFTER):
            assert done.acquire(timeout=60)
        # Killed while it holds a prediction that nginx has already sent it.
        assert _eventually(lambda: bool(first.served() & load_ids) and _pending(first) > 0, 30)
        first.process.send_signal(signal.SIGKILL)
        responses = [future.result(timeout=120) for future in pending]

    for index, response in enumerate(responses):
        assert response.status_code == 200, (index, response.status_code, response.text)
        assert response.headers["x-request-id"] == f"load-{index}"
        assert response.json()["request_id"] == f"load-{index}"
    assert first.served() & load_ids and second.served() & load_ids  # both took a share
    retried = [
        r for r in cluster.proxied() if r["request_id"] in load_ids and "," in r["upstream_addr"]
    ]
    assert retried, "no request went to a second replica"
    # The prediction the killed replica held was resent: nginx does that for a POST the
    # replica had already received only with non_idempotent.
    dropped = r"(Connection reset by peer|prematurely closed connection) while reading response"
    assert re.search(dropped, cluster.error_log.read_text()), cluster.error_log.read_text()


def test_with_every_replica_gone_nginx_answers_503_with_retry_after(cluster: Cluster) -> None:
    for replica in cluster.replicas:
        if replica.process.poll() is None:
            replica.process.send_signal(signal.SIGKILL)
            replica.process.wait()
    with httpx.Client(base_url=cluster.url, timeout=30) as client:
        response = client.post(PREDICTIONS, files=_exam(0), headers={"X-Request-ID": "late-1"})
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "5"
    assert response.headers["x-request-id"] == "late-1" == response.json()["request_id"]
