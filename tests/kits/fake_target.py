"""A local HTTP server on 127.0.0.1 (a random port, in a thread) that the integration fakes build on,
with the faults the tests need: down for a while (the port closed), the next N requests answered 500,
and the next N replies lost after the request was carried out (the connection closed, no answer)."""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeHandler(BaseHTTPRequestHandler):
    server: FakeServer  # type: ignore[assignment]

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def date_time_string(self, timestamp: float | None = None) -> str:  # the Date header, by the server's clock
        return super().date_time_string(
            time.time() + self.server.fake.clock_offset_s if timestamp is None else timestamp
        )

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _answer(self, status: int, payload: object) -> None:
        raw = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _handle(self, method: str) -> None:
        fake = self.server.fake
        raw = self._body()
        declared = self.headers.get("Content-Length")
        if (method in ("POST", "PUT") and declared is None) or len(raw) < int(declared or 0):
            # the sender died mid-request (a SIGKILLed station): the headers or the body are cut short
            # (http.server hands on the headers it read before the end), and a real server (werkzeug under
            # ERPNext and Odoo) drops such a request unprocessed, so the sender sends it again later
            with fake.lock:
                fake.truncated += 1
            self.close_connection = True
            return
        with fake.lock:
            fake.requests += 1
            if fake.moved_to is not None:  # moved: a POST is told to go elsewhere, where a GET finds a page
                if method == "POST":
                    self.send_response(301)
                    self.send_header("Location", fake.moved_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                else:
                    self._answer(200, {"page": "moved here"})
                return
            if fake.fail_next > 0:
                fake.fail_next -= 1
                fake.failed += 1
                self._answer(500, {"error": "Internal Server Error"})
                return
            status, payload = fake.handle(method, self.path, dict(self.headers.items()), raw)
            if fake.drop_next > 0:  # carried out, but the reply is lost
                fake.drop_next -= 1
                fake.dropped += 1
                self.close_connection = True
                return
        self._answer(status, payload)

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def do_GET(self) -> None:  # noqa: N802
        self._handle("GET")

    def do_PUT(self) -> None:  # noqa: N802
        self._handle("PUT")


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], fake: FakeTarget):
        self.fake = fake
        super().__init__(address, FakeHandler)

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client killed mid-request is expected here
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class FakeTarget:
    """Subclasses implement handle(method, path, headers, body) -> (status, JSON payload)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.requests = self.failed = self.dropped = self.truncated = 0
        self.fail_next = self.drop_next = 0
        self.moved_to: str | None = None
        self.clock_offset_s = 0.0  # this server's clock against the station's (its Date header, its checks)
        self.port = 0
        self._server: FakeServer | None = None
        self._thread: threading.Thread | None = None

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, object]:
        raise NotImplementedError

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def up(self) -> FakeTarget:
        self._server = FakeServer(("127.0.0.1", self.port), self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            assert self._thread is not None
            self._thread.join(5)
            self._server = self._thread = None

    def __enter__(self) -> FakeTarget:
        return self.up() if self._server is None else self

    def __exit__(self, *exc: object) -> None:
        self.down()
