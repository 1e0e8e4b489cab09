"""A small raw FOX client for black-box tests (fox-wamp's "hyper" protocol, reference doc §4):
over TCP a stream of concatenated MessagePack maps (read with a streaming msgpack.Unpacker), over
WebSocket (`/fox`, no subprotocol) one map per binary message (raw_wamp.WebSocketClient).

Every wait has a deadline; nothing sleeps for luck. Messages that arrive while waiting for
something else are kept in `inbox`, in arrival order, so a test can wait for "the answer to
command 7" and still look at the EVENTs that came first. `barrier()` (an ECHO and its answer) proves
"nothing else was sent before this point": the server answers a connection's commands in order.
"""
import itertools
import socket
import time

import msgpack

from raw_wamp import WebSocketClient, _CLOSED_ERRORS

REALM = "realm1"


def pack(message):
    return msgpack.packb(message, use_bin_type=True)


class FoxError(AssertionError):
    pass


class _Base:
    """What both transports share: ids, the inbox, waits and the commands."""

    def __init__(self, timeout):
        self.timeout = timeout
        self.inbox = []
        self.eof = False
        self._ids = itertools.count(1)

    # -- to be provided: _send_bytes(data), _read(deadline) -> a message, or None at EOF

    def next_id(self):
        return next(self._ids)

    def send(self, message):
        """One message (a dict, or any value for bad-input tests) as MessagePack."""
        self._send_bytes(pack(message))

    def send_raw(self, data):
        self._send_bytes(data)

    def command(self, ft, id=None, **fields):
        """Sends {ft, id, **fields}; returns the id (a fresh one unless given)."""
        cid = self.next_id() if id is None else id
        message = {"ft": ft, "id": cid}
        message.update(fields)
        self.send(message)
        return cid

    def recv(self, timeout=None):
        """The next message (inbox first), or None when the server closed the connection.
        Raises socket.timeout past the deadline."""
        if self.inbox:
            return self.inbox.pop(0)
        return self._read(time.monotonic() + (self.timeout if timeout is None else timeout))

    def expect(self, predicate, timeout=None, what="a matching message"):
        """The first message (inbox first) for which predicate holds; removed from the inbox,
        the others stay. AssertionError if the connection closes or the deadline passes."""
        for i, m in enumerate(self.inbox):
            if predicate(m):
                return self.inbox.pop(i)
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            try:
                m = self._read(deadline)
            except socket.timeout:
                raise FoxError(f"timed out waiting for {what}; inbox: {self.inbox!r:.2000}")
            if m is None:
                raise FoxError(f"connection closed while waiting for {what}; inbox: "
                               f"{self.inbox!r:.2000}")
            if predicate(m):
                return m
            self.inbox.append(m)

    def answer(self, cid, rsp=None, timeout=None):
        """The next message carrying `id` cid (and `rsp`, if given)."""
        return self.expect(lambda m: isinstance(m, dict) and m.get("id") == cid and
                           (rsp is None or m.get("rsp") == rsp), timeout,
                           f"an answer to id {cid}" + (f" with rsp {rsp}" if rsp else ""))

    def request(self, ft, timeout=None, **fields):
        """A command and its first answer."""
        return self.answer(self.command(ft, **fields), timeout=timeout)

    def ok(self, ft, **fields):
        """A command whose answer must be OK (or ACK); returns the answer."""
        m = self.request(ft, **fields)
        if m.get("rsp") not in ("OK", "ACK"):
            raise FoxError(f"{ft} {fields!r:.200}: {m!r}")
        return m

    def barrier(self, timeout=None):
        """An ECHO and its answer: everything the server sent before is in the inbox then."""
        token = f"barrier-{time.monotonic_ns()}"
        m = self.request("ECHO", data={"kv": token}, timeout=timeout)
        if m != {"id": m.get("id"), "rsp": "OK", "data": {"kv": token}}:
            raise FoxError(f"barrier ECHO answered {m!r}")
        return self.take_inbox()

    def take_inbox(self):
        out, self.inbox = self.inbox, []
        return out

    def closed(self, timeout=None):
        """True when the server closed the connection within the timeout (messages that arrive
        meanwhile go to the inbox)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        try:
            while True:
                m = self._read(deadline)
                if m is None:
                    return True
                self.inbox.append(m)
        except socket.timeout:
            return False

    # -- commands

    def login(self, realm=REALM):
        m = self.request("LOGIN", data={"realm": realm})
        if m.get("rsp") != "OK":
            raise FoxError(f"LOGIN {realm}: {m!r}")
        return m

    def trace(self, uri, opt=None):
        """TRACE; returns (the TRACE's id, the subscription qid)."""
        fields = {"uri": uri_parts(uri), "opt": opt or {}}
        cid = self.command("TRACE", **fields)
        m = self.answer(cid)
        if m.get("rsp") != "ACK":
            raise FoxError(f"TRACE {uri}: {m!r}")
        return cid, m["qid"]

    def push(self, uri, data, ack=True, opt=None, hdr=None):
        """PUSH; with ack returns the event id (the OK's qid)."""
        fields = {"uri": uri_parts(uri), "data": data, "opt": opt or {}}
        if hdr is not None:
            fields["hdr"] = hdr
        if ack:
            fields["ack"] = True
        cid = self.command("PUSH", **fields)
        if not ack:
            return None
        m = self.answer(cid)
        if m.get("rsp") != "OK" or "qid" not in m:
            raise FoxError(f"PUSH {uri}: {m!r}")
        return m["qid"]

    def events(self, trace_id, n, timeout=None):
        """n EVENTs of the TRACE with id trace_id (others stay in the inbox)."""
        return [self.answer(trace_id, "EVENT", timeout) for _ in range(n)]

    def close(self):
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def uri_parts(uri):
    return uri.split(".") if isinstance(uri, str) else list(uri)


class FoxClient(_Base):
    """FOX over TCP (--fox-port)."""

    def __init__(self, port, timeout=5.0, host="127.0.0.1"):
        super().__init__(timeout)
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)

    def _send_bytes(self, data):
        self.sock.settimeout(self.timeout)
        self.sock.sendall(data)

    def _read(self, deadline):
        while True:
            try:
                return next(self.unpacker)
            except StopIteration:
                pass
            if self.eof:
                return None
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
                return None
            self.unpacker.feed(chunk)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class FoxWsClient(_Base):
    """FOX over WebSocket (/fox on the HTTP port, no subprotocol, binary messages).
    .ws is the raw_wamp.WebSocketClient (close_code, send_frame, ...)."""

    def __init__(self, port, timeout=5.0, path="/fox", subprotocols=()):
        super().__init__(timeout)
        self.ws = WebSocketClient(port, path=path, subprotocols=subprotocols, timeout=timeout)
        self.response = self.ws.connect()
        if self.response.status != 101:
            self.ws.close()
            raise FoxError(f"WebSocket upgrade to {path} refused: {self.response!r}")
        self.opcodes = []   # the opcode of every data message received

    def _send_bytes(self, data):
        self.ws.send_binary(data)

    def _read(self, deadline):
        if self.eof:
            return None
        got = self.ws.recv_data(max(deadline - time.monotonic(), 0.001))
        if got is None:
            self.eof = True
            return None
        opcode, data = got
        self.opcodes.append(opcode)
        return msgpack.unpackb(data, raw=False, strict_map_key=False)

    @property
    def close_code(self):
        return self.ws.close_code

    def close(self):
        self.ws.close()
