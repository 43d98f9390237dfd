"""A real SNTP server on 127.0.0.1 port 0, in a thread of its own, whose clock is `offset`
seconds ahead of this machine's: the clock fault is injected on the reference's side,
since a test cannot move the clock of the machine it runs on."""

from __future__ import annotations

import socket
import struct
import threading
import time


def ntp_stamp(unix: float) -> bytes:
    ntp = unix + 2_208_988_800
    return struct.pack("!II", int(ntp), int((ntp % 1) * 2**32))


class SntpServer:
    """Answers NTPv4 server-mode replies, stratum 2, with its clock `offset` s ahead."""

    def __init__(self, offset: float = 2.5) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port: int = self.sock.getsockname()[1]
        self.offset = offset
        self.mode = "ok"  # ok | kiss | silent | stranger
        self.requests: list[bytes] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                request, peer = self.sock.recvfrom(512)
            except TimeoutError:
                continue
            self.requests.append(request)
            received = ntp_stamp(time.time() + self.offset)
            if self.mode == "silent":
                continue
            stratum, refid, originate = 2, socket.inet_aton("127.0.0.1"), request[40:48]
            if self.mode == "kiss":
                stratum, refid = 0, b"RATE"
            if self.mode == "stranger":
                originate = ntp_stamp(1e9)
            head = struct.pack("!BBbb", 0 << 6 | 4 << 3 | 4, stratum, 6, -20)
            reply = head + bytes(8) + refid + received + originate + received
            self.sock.sendto(reply + ntp_stamp(time.time() + self.offset), peer)

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(5)
        self.sock.close()
