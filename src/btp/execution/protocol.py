"""Length-prefixed JSON frames over raw pipe file descriptors.

Used on both channels: host <-> sandbox worker, and worker <-> program process. Frames are JSON
(never pickle) because the reading side must treat the other side's bytes as untrusted.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import select
import struct
import time

_HEADER = struct.Struct(">I")
MAX_FRAME = 256 * 1024 * 1024


class FrameError(Exception):
    """The peer sent bytes that are not a well-formed frame."""


_JSON = json.JSONEncoder(separators=(",", ":"))  # json.dumps with options builds one per call


def encode(obj) -> bytes:
    data = _JSON.encode(obj).encode("ascii")
    return _HEADER.pack(len(data)) + data


def send(fd: int, obj) -> None:
    """Write one frame; raises OSError (e.g. EPIPE) if the reader is gone."""
    view = memoryview(encode(obj))
    while view:
        n = os.write(fd, view)
        view = view[n:]


class Reader:
    """Reads frames from ``fd``; keeps partial data between calls."""

    def __init__(self, fd: int, max_frame: int = MAX_FRAME) -> None:
        self.fd = fd
        self.max_frame = max_frame
        self.buf = bytearray()
        self.eof = False

    def feed(self) -> bool:
        """One read(2); returns False at end of file."""
        chunk = os.read(self.fd, 1 << 16)  # a pipe holds 64 KiB; 1 MiB reads cost an mmap each
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def pop(self):
        """A complete frame from the buffer, or None when none is complete yet."""
        if len(self.buf) < 4:
            return None
        (size,) = _HEADER.unpack_from(self.buf)
        if size > self.max_frame:
            raise FrameError(f"frame of {size} bytes exceeds {self.max_frame}")
        if len(self.buf) < 4 + size:
            return None
        data = bytes(self.buf[4:4 + size])
        del self.buf[:4 + size]
        try:
            return json.loads(data)
        except (ValueError, UnicodeDecodeError, RecursionError, MemoryError) as e:  # e.g. "[" * 10**5
            raise FrameError(f"bad frame: {type(e).__name__}") from None

    def read(self, deadline: float | None = None):
        """Block for the next frame. None at EOF; TimeoutError past ``deadline`` (monotonic)."""
        while True:
            frame = self.pop()
            if frame is not None:
                return frame
            if self.eof:
                return None
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no frame before deadline")
                ready, _, _ = select.select([self.fd], [], [], left)
                if not ready:
                    continue
            self.feed()


def _pad(key: bytes, nonce: str, data: bytes) -> bytes:
    stream = hashlib.shake_256(key + b"\0" + nonce.encode()).digest(len(data))
    return (int.from_bytes(data, "little") ^ int.from_bytes(stream, "little")).to_bytes(len(data), "little")


def seal(key: bytes, nonce: str, text: str) -> str:
    """``text`` (an assert test's code: the expected values are in it) encrypted for the judge.

    The host seals each assert test with the judge's key (the judge made it and told only the
    host); the zygote relays the sealed text without being able to read it. Program processes are
    forks of the template, which never sees a request; sealing keeps the expected values out of
    the zygote's memory too, should a program process ever start from it (when they were the
    zygote's forks, the next program found the previous one's tests there). ``nonce`` must never
    repeat under one key."""
    data = text.encode("utf-8", "surrogatepass")
    return nonce + ":" + base64.b64encode(_pad(key, nonce, data)).decode("ascii")


def unseal(key: bytes, sealed: str) -> str:
    """The text ``seal`` sealed; ValueError if ``sealed`` is not one."""
    nonce, sep, body = sealed.rpartition(":")
    if not sep:
        raise ValueError("not a sealed text")
    data = base64.b64decode(body, validate=True)
    return _pad(key, nonce, data).decode("utf-8", "surrogatepass")
