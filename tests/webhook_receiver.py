"""A webhook receiver for tests: an HTTP/1.1 keep-alive server on 127.0.0.1, in a thread.

It records every request (path, headers, raw body, and what it answered) and answers each path
as told: a status code, a sequence of them, after a delay, or not at all (`hold`: the request is
kept unanswered until `release`, then its connection is closed without a word).
"""

import socket
import threading
import time
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SIGNATURE_HEADER = "Partnercenter-Signature"
WAIT_AT_MOST = 30.0  # seconds: no test waits longer for anything


@dataclass
class Received:
    path: str
    headers: Message
    body: bytes
    at: float  # time.monotonic() when it arrived
    status: int | None = None  # what it was answered; None: nothing (held, or the write failed)

    @property
    def event_id(self) -> str | None:
        return self.headers.get("Partnercenter-Event-Id")


@dataclass
class _Answer:
    statuses: list[int]  # one per request in turn; the last repeats
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    hold: bool = False  # hold the first request unanswered until release()


class _Ipv6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


class Receiver:
    def __init__(self, host: str = "127.0.0.1"):
        self.requests: list[Received] = []
        self._answers: dict[str, _Answer] = {}
        self._lock = threading.Lock()
        self.held = threading.Event()  # set when a held request has arrived
        self._released = threading.Event()
        self.host = host
        server = _Ipv6Server if ":" in host else ThreadingHTTPServer
        self._server = server((host, 0), _Handler)
        self._server.daemon_threads = True
        self._server.receiver = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def url(self, path: str) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{path}"

    def answer(self, path: str, *statuses: int, delay: float = 0.0, **headers: str) -> None:
        """Answer requests to `path` with these statuses in turn (the last one repeats)."""
        self._answers[path] = _Answer(list(statuses), delay, headers)

    def hold(self, path: str, then: int = 204) -> None:
        """Keep the first request to `path` unanswered until `release()`, then drop its
        connection; answer the next ones with `then`."""
        self._answers[path] = _Answer([then], hold=True)

    def release(self) -> None:
        self._released.set()

    def to(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def _handle(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        received = Received(handler.path, handler.headers, body, time.monotonic())
        with self._lock:
            self.requests.append(received)
            answer = self._answers.get(handler.path, _Answer([204]))
            first = len([r for r in self.requests if r.path == handler.path]) == 1
            status = answer.statuses[0] if len(answer.statuses) == 1 else answer.statuses.pop(0)
        if answer.hold and first:
            self.held.set()
            self._released.wait(WAIT_AT_MOST)
            handler.close_connection = True  # closed unanswered
            return
        if answer.delay:
            time.sleep(answer.delay)
        received.status = status  # before the answer leaves: the sender may look at once
        try:
            handler.send_response(status)
            for name, value in answer.headers.items():
                handler.send_header(name.replace("_", "-"), value)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            handler.wfile.flush()
        except OSError:  # the sender gave up waiting (a timeout) and closed the connection
            received.status = None
            handler.close_connection = True

    def __enter__(self) -> "Receiver":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(WAIT_AT_MOST)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the sender's connection pools expect

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.receiver._handle(self, body)

    def log_message(self, format, *args):  # quiet
        pass


def wait_until(condition, what: str, seconds: float = WAIT_AT_MOST, every: float = 0.05):
    """Poll `condition` until it returns something true, for at most `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"Waited {seconds:g} s for {what}")
        time.sleep(every)
