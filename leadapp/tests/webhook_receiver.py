"""A real HTTP receiver on loopback for the webhook tests: it records what it is sent and
answers 200, 500 or nothing (too slowly) as the test asks."""

import threading
import time
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: Message  # case-insensitive, as HTTP headers are
    body: bytes


class Receiver:
    def __init__(self):
        self.requests: list[Received] = []
        self.answers: list[int | str] = []  # consumed one per request; then ``default``
        self.default: int | str = 200
        self.slow_seconds = 3.0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    receiver.requests.append(Received(self.path, self.headers, body))
                    answer = receiver.answers.pop(0) if receiver.answers else receiver.default
                if answer == "slow":
                    time.sleep(receiver.slow_seconds)
                    answer = 200
                reply = b"ok" if answer < 300 else b"receiver error"
                try:
                    self.send_response(answer)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(reply)))
                    self.end_headers()
                    self.wfile.write(reply)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the sender gave up waiting (a timeout test)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/leadapp"

    def __enter__(self):
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, count: int, timeout: float = 30) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count:
            assert time.monotonic() < deadline, f"the receiver got {len(self.requests)} of {count} requests"
            time.sleep(0.05)
        return self.requests
