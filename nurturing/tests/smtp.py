"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, for the tests and
the benchmark. It can hold a message mid-DATA (to kill the sending worker meanwhile) and
refuse a recipient temporarily, as a greylisting server does."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SMTPSink:
    def __init__(self, *, keep: bool = True):
        self.keep = keep  # False: count only (the benchmark)
        self.messages: list[EmailMessage] = []
        self.count = 0
        self._lock = threading.Lock()
        self.hold: set[str] = set()  # recipients whose DATA waits for ``release``
        self.holding = threading.Event()
        self.release = threading.Event()
        self.greylist: set[str] = set()  # recipients refused once with a 451 at DATA
        self.refuse_rcpt: dict[str, int] = {}  # recipient → reply code at RCPT TO (once for 4xx)
        self.port = free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SMTPSink:
        self._controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self._controller.stop()

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        code = self.refuse_rcpt.get(address)
        if code:
            if code < 500:
                del self.refuse_rcpt[address]
                return f"{code} 4.2.0 Mailbox busy, try again later"
            return f"{code} 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        recipients = set(envelope.rcpt_tos)
        if recipients & self.hold:
            self.holding.set()
            while not self.release.is_set():
                await asyncio.sleep(0.05)
            return "451 4.3.0 Not accepted"  # the client is gone by now: nothing delivered
        refused = recipients & self.greylist
        if refused:
            self.greylist -= refused
            return "451 4.7.1 Greylisted, try again later"
        with self._lock:
            self.count += 1
            if self.keep:
                self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        with self._lock:
            return [m for m in self.messages if address in m["To"]]

    def wait_for(self, count: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.count < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"the SMTP server received {self.count} of {count} messages")
            time.sleep(0.05)
