"""Two minimal, hand-written WAMP clients for black-box tests that need to send *bad* bytes
(no autobahn): a RawSocket client and an RFC 6455 WebSocket client over a plain socket.

Every wait has a deadline (socket timeouts); nothing sleeps for luck. A read that hits its
deadline raises socket.timeout; a peer that closed the connection gives None (recv_*) or True
(closed()).
"""
import base64
import hashlib
import json
import os
import socket
import struct
import time

import cbor2
import msgpack

JSON, MSGPACK, CBOR = 1, 2, 3
SERIALIZER_BY_NAME = {"json": JSON, "msgpack": MSGPACK, "cbor": CBOR}
SUBPROTOCOL = {JSON: "wamp.2.json", MSGPACK: "wamp.2.msgpack", CBOR: "wamp.2.cbor"}

# WAMP message type codes.
HELLO, WELCOME, ABORT, GOODBYE, ERROR = 1, 2, 3, 6, 8
PUBLISH, PUBLISHED, SUBSCRIBE, SUBSCRIBED, UNSUBSCRIBE, UNSUBSCRIBED, EVENT = 16, 17, 32, 33, 34, 35, 36
CALL, CANCEL, RESULT = 48, 49, 50
REGISTER, REGISTERED, UNREGISTER, UNREGISTERED, INVOCATION, INTERRUPT, YIELD = 64, 65, 66, 67, 68, 69, 70

ROLES = {"publisher": {}, "subscriber": {}, "caller": {}, "callee": {}}

_CLOSED_ERRORS = (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)


def encode(serializer, msg):
    if serializer == JSON:
        return json.dumps(msg, separators=(",", ":")).encode("utf-8")
    if serializer == MSGPACK:
        return msgpack.packb(msg, use_bin_type=True)
    if serializer == CBOR:
        return cbor2.dumps(msg)
    raise ValueError(f"unknown serializer {serializer}")


def decode(serializer, data):
    if serializer == JSON:
        return json.loads(data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data)
    if serializer == MSGPACK:
        return msgpack.unpackb(data, raw=False, strict_map_key=False)
    if serializer == CBOR:
        return cbor2.loads(data)
    raise ValueError(f"unknown serializer {serializer}")


def hello(realm="realm1", **details):
    d = {"roles": ROLES}
    d.update(details)
    return [HELLO, realm, d]


class _Stream:
    """A socket plus a read buffer with deadline-bounded exact reads."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()
        self.eof = False

    def _fill(self, deadline):
        """Reads more bytes; False on EOF/reset. Raises socket.timeout past the deadline."""
        if self.eof:
            return False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("deadline passed")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except _CLOSED_ERRORS:
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def read_exact(self, n, deadline):
        """n bytes, or None if the peer closed first."""
        while len(self.buf) < n:
            if not self._fill(deadline):
                return None
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def read_until(self, marker, deadline):
        """Bytes up to and including `marker`, or what was read (maybe b"") if the peer closed."""
        while True:
            i = self.buf.find(marker)
            if i >= 0:
                out = bytes(self.buf[:i + len(marker)])
                del self.buf[:i + len(marker)]
                return out
            if not self._fill(deadline):
                out = bytes(self.buf)
                self.buf.clear()
                return out

    def wait_eof(self, deadline):
        """Discards bytes until the peer closes; True if that happened before the deadline."""
        try:
            while True:
                self.buf.clear()
                if not self._fill(deadline):
                    return True
        except socket.timeout:
            return False

    def sendall(self, data):
        self.sock.settimeout(5.0)
        self.sock.sendall(data)


# ---- RawSocket ---------------------------------------------------------------------------------

class RawSocketClient:
    """WAMP RawSocket (WAMP spec, "RawSocket Transport").

    RawSocketClient(port, serializer) connects and does the 4-byte handshake
    (0x7F, max_len_exp << 4 | serializer, 0, 0); the server's reply is in .reply (also returned by
    handshake()). Pass handshake=False to send your own bytes with handshake(raw=...) or send_raw().
    """

    def __init__(self, port, serializer=JSON, max_len_exp=15, handshake=True, timeout=5.0,
                 host="127.0.0.1"):
        self.serializer = serializer
        self.max_len_exp = max_len_exp
        self.timeout = timeout
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.stream = _Stream(sock)
        self.reply = None
        if handshake:
            self.handshake()

    @property
    def sock(self):
        return self.stream.sock

    def handshake(self, raw=None, timeout=None):
        """Sends the handshake (or `raw`) and returns the server's reply: 4 bytes, or fewer
        (possibly b"") if the server closed the connection before sending 4."""
        if raw is None:
            raw = bytes([0x7F, (self.max_len_exp << 4) | self.serializer, 0, 0])
        self.send_raw(raw)
        deadline = time.monotonic() + (timeout or self.timeout)
        got = self.stream.read_exact(4, deadline)
        if got is None:
            got = bytes(self.stream.buf)
            self.stream.buf.clear()
        self.reply = got
        return got

    def send_raw(self, data):
        self.stream.sendall(data)

    def send_frame(self, payload, frame_type=0):
        self.send_raw(struct.pack(">I", (frame_type << 24) | len(payload)) + payload)

    def send_msg(self, msg):
        self.send_frame(encode(self.serializer, msg))

    def recv_raw(self, timeout=None):
        """The next frame as (frame_type, payload), or None if the server closed."""
        deadline = time.monotonic() + (timeout or self.timeout)
        header = self.stream.read_exact(4, deadline)
        if header is None:
            return None
        (word,) = struct.unpack(">I", header)
        ftype, length = word >> 24, word & 0xFFFFFF
        payload = self.stream.read_exact(length, deadline)
        if payload is None:
            return None
        return ftype, payload

    def recv_msg(self, timeout=None):
        """The next WAMP message (decoded list), or None if the server closed. Server PINGs are
        answered with PONG and skipped."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            frame = self.recv_raw(max(deadline - time.monotonic(), 0.001))
            if frame is None:
                return None
            ftype, payload = frame
            if ftype == 0:
                return decode(self.serializer, payload)
            if ftype == 1:
                self.send_frame(payload, 2)

    def closed(self, timeout=None):
        """True when the server closed the socket within `timeout` (anything it sent meanwhile is
        discarded)."""
        return self.stream.wait_eof(time.monotonic() + (timeout or self.timeout))

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ---- WebSocket ---------------------------------------------------------------------------------

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class UpgradeResponse:
    """What the server answered to the HTTP upgrade. status is None if it closed without a
    status line."""

    def __init__(self, raw):
        self.raw = raw
        text = raw.decode("iso-8859-1")
        lines = text.split("\r\n")
        self.status_line = lines[0] if lines and lines[0] else ""
        self.status = None
        parts = self.status_line.split(" ", 2)
        if len(parts) >= 2 and parts[0].startswith("HTTP/") and parts[1].isdigit():
            self.status = int(parts[1])
        self.headers = {}
        for line in lines[1:]:
            if not line:
                break
            if ":" in line:
                k, v = line.split(":", 1)
                self.headers[k.strip().lower()] = v.strip()

    def __repr__(self):
        return f"UpgradeResponse({self.status_line!r}, {self.headers!r})"


class WebSocketClient:
    """A tiny RFC 6455 client. connect() does the upgrade and returns the UpgradeResponse
    (.status, .status_line, .headers) so a refused upgrade can be asserted; when it is 101 the
    Sec-WebSocket-Accept and the chosen Sec-WebSocket-Protocol are checked (.protocol) and the
    serializer follows from the protocol. open() = connect() + assert it was accepted.

    After a close frame from the server, .close_code / .close_reason hold its status.
    """

    def __init__(self, port, path="/wamp", subprotocols=("wamp.2.json",), timeout=5.0,
                 host="127.0.0.1"):
        self.port, self.path, self.host = port, path, host
        self.subprotocols = list(subprotocols)
        self.timeout = timeout
        self.stream = None
        self.response = None
        self.protocol = None
        self.serializer = None
        self.close_code = None
        self.close_reason = None
        self.close_received = False
        self._close_sent = False

    @property
    def sock(self):
        return self.stream.sock

    def connect(self):
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.stream = _Stream(sock)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {self.path} HTTP/1.1", f"Host: {self.host}:{self.port}",
                 "Upgrade: websocket", "Connection: Upgrade", f"Sec-WebSocket-Key: {key}",
                 "Sec-WebSocket-Version: 13"]
        if self.subprotocols:
            lines.append("Sec-WebSocket-Protocol: " + ", ".join(self.subprotocols))
        self.stream.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        raw = self.stream.read_until(b"\r\n\r\n", time.monotonic() + self.timeout)
        self.response = UpgradeResponse(raw)
        if self.response.status == 101:
            expected = base64.b64encode(hashlib.sha1((key + _WS_GUID).encode()).digest()).decode()
            accept = self.response.headers.get("sec-websocket-accept")
            if accept != expected:
                raise AssertionError(f"bad Sec-WebSocket-Accept {accept!r}, expected {expected!r}")
            self.protocol = self.response.headers.get("sec-websocket-protocol")
            # none offered (FOX at /fox): none may be chosen
            if self.protocol not in (self.subprotocols or [None]):
                raise AssertionError(f"server chose subprotocol {self.protocol!r}, "
                                     f"not one of {self.subprotocols or [None]}")
            self.serializer = {v: k for k, v in SUBPROTOCOL.items()}.get(self.protocol)
        return self.response

    def read_body(self, timeout=None):
        """The body of a refused upgrade's response (its Content-Length bytes, or what arrived
        before the server closed)."""
        n = int(self.response.headers.get("content-length", "0"))
        deadline = time.monotonic() + (timeout or self.timeout)
        body = self.stream.read_exact(n, deadline)
        if body is None:
            body = bytes(self.stream.buf)
            self.stream.buf.clear()
        return body

    def open(self):
        r = self.connect()
        if r.status != 101:
            raise AssertionError(f"WebSocket upgrade refused: {r!r}")
        return self

    # -- sending

    def send_frame(self, opcode, payload, fin=True, rsv=0):
        """One masked client frame."""
        b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
        n = len(payload)
        if n < 126:
            header = struct.pack("!BB", b0, 0x80 | n)
        elif n < 65536:
            header = struct.pack("!BBH", b0, 0x80 | 126, n)
        else:
            header = struct.pack("!BBQ", b0, 0x80 | 127, n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload)) if n < 4096 else \
            _mask_fast(payload, mask)
        self.stream.sendall(header + mask + masked)

    def _data_opcode(self):
        return OP_TEXT if self.serializer in (JSON, None) else OP_BINARY

    def send_text(self, text):
        self.send_frame(OP_TEXT, text.encode("utf-8") if isinstance(text, str) else text)

    def send_binary(self, data):
        self.send_frame(OP_BINARY, data)

    def send_data(self, data):
        """Bytes as one message in the frame type of the negotiated serializer."""
        self.send_frame(self._data_opcode(), data)

    def send_fragments(self, parts, opcode=None):
        """One message sent as len(parts) frames (first text/binary, then continuations)."""
        opcode = self._data_opcode() if opcode is None else opcode
        for i, part in enumerate(parts):
            self.send_frame(opcode if i == 0 else OP_CONT, part, fin=(i == len(parts) - 1))

    def send_msg(self, msg):
        self.send_data(encode(self.serializer, msg))

    def send_close(self, code=1000, reason=b""):
        if not self._close_sent:
            self._close_sent = True
            try:
                self.send_frame(OP_CLOSE, struct.pack("!H", code) + reason)
            except OSError:
                pass

    # -- receiving

    def recv_frame(self, timeout=None):
        """The next frame as (fin, opcode, payload), or None if the connection closed. A close
        frame is returned too (and recorded in close_code/close_reason)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        head = self.stream.read_exact(2, deadline)
        if head is None:
            return None
        b0, b1 = head
        n = b1 & 0x7F
        if n == 126:
            ext = self.stream.read_exact(2, deadline)
            if ext is None:
                return None
            (n,) = struct.unpack("!H", ext)
        elif n == 127:
            ext = self.stream.read_exact(8, deadline)
            if ext is None:
                return None
            (n,) = struct.unpack("!Q", ext)
        mask = None
        if b1 & 0x80:  # servers must not mask, but read it anyway
            mask = self.stream.read_exact(4, deadline)
            if mask is None:
                return None
        payload = self.stream.read_exact(n, deadline) if n else b""
        if payload is None:
            return None
        if mask:
            payload = _mask_fast(payload, mask)
        opcode = b0 & 0x0F
        if opcode == OP_CLOSE:
            self.close_received = True
            if len(payload) >= 2:
                (self.close_code,) = struct.unpack("!H", payload[:2])
                self.close_reason = payload[2:].decode("utf-8", "replace")
            else:
                self.close_code = 1005  # "no status received"
        return bool(b0 & 0x80), opcode, payload

    def recv_data(self, timeout=None):
        """The next complete data message as (opcode, bytes), or None on close (a close frame is
        answered). Pings are answered with pongs."""
        deadline = time.monotonic() + (timeout or self.timeout)
        opcode, data = None, b""
        while True:
            f = self.recv_frame(max(deadline - time.monotonic(), 0.001))
            if f is None:
                return None
            fin, op, payload = f
            if op == OP_CLOSE:
                self.send_close(self.close_code if self.close_code not in (None, 1005, 1006)
                                else 1000)
                return None
            if op == OP_PING:
                self.send_frame(OP_PONG, payload)
                continue
            if op == OP_PONG:
                continue
            if op != OP_CONT:
                opcode, data = op, b""
            data += payload
            if fin:
                return opcode, data

    def recv_msg(self, timeout=None):
        """The next WAMP message (decoded list), or None if the connection closed."""
        got = self.recv_data(timeout)
        if got is None:
            return None
        return decode(self.serializer, got[1])

    def closed(self, timeout=None):
        """True when the server closed the connection (close frame or TCP close) within
        `timeout`; data received meanwhile is discarded."""
        deadline = time.monotonic() + (timeout or self.timeout)
        try:
            while True:
                if self.close_received or self.stream.eof:
                    return True
                if self.recv_data(max(deadline - time.monotonic(), 0.001)) is None:
                    return True
        except socket.timeout:
            return False

    def close(self):
        if self.stream:
            try:
                self.stream.sock.close()
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _mask_fast(payload, mask):
    n = len(payload)
    key = int.from_bytes((mask * (n // 4 + 1))[:n], "big") if n else 0
    return (int.from_bytes(payload, "big") ^ key).to_bytes(n, "big") if n else b""
