"""A local stand-in for the Hugging Face Hub's file endpoint (HEAD for metadata, GET with Range), so
the real download code runs end to end without a network. Set ``HF_ENDPOINT`` to ``server.url``."""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeHub:
    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files          # "repo_id/filename" -> content
        self.ranges: list[str | None] = []  # the Range header of each GET, in order
        self.etag_override: dict[str, str] = {}
        self.seconds_per_mb = 0.0   # > 0: a slow line, so a test can cancel half-way
        self.url = ""

    def etag(self, key: str) -> str:
        return self.etag_override.get(key) or hashlib.sha256(self.files[key]).hexdigest()


def _handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            return None

        def _key(self) -> str | None:
            match = re.fullmatch(r"/(.+)/resolve/main/(.+)", self.path)
            if not match:
                return None
            key = f"{match.group(1)}/{match.group(2)}"
            return key if key in hub.files else None

        def do_HEAD(self) -> None:  # noqa: N802
            key = self._key()
            if key is None:
                self.send_response(404)
                self.send_header("X-Error-Code", "EntryNotFound")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("ETag", f'"{hub.etag(key)}"')
            self.send_header("X-Repo-Commit", "0" * 40)
            self.send_header("Content-Length", str(len(hub.files[key])))
            self.end_headers()

        def do_GET(self) -> None:  # noqa: N802
            key = self._key()
            rng = self.headers.get("Range")
            hub.ranges.append(rng)
            if key is None:
                self.send_response(404)
                self.end_headers()
                return
            data = hub.files[key]
            start = 0
            if rng:
                start = int(re.fullmatch(r"bytes=(\d+)-", rng).group(1))  # type: ignore[union-attr]
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            self.send_header("Content-Length", str(len(data) - start))
            self.end_headers()
            try:
                view = memoryview(data)[start:]
                for i in range(0, len(view), 1 << 20):
                    self.wfile.write(view[i:i + (1 << 20)])
                    if hub.seconds_per_mb:
                        time.sleep(hub.seconds_per_mb)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client stopped (a cancel)

    return Handler


@contextmanager
def fake_hub(files: dict[str, bytes]) -> Iterator[FakeHub]:
    hub = FakeHub(files)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hub))
    server.daemon_threads = True
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hub
    finally:
        server.shutdown()
        server.server_close()
