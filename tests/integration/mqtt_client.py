"""MQTT helpers for the integration tests (SPEC §7): paho clients with deadlines, a thread-safe
message collector, mosquitto_pub / mosquitto_sub subprocesses, and a hand-written raw MQTT 3.1.1
client (so any byte can be sent and acknowledgements can be withheld).

Every wait has a deadline and fails loudly; nothing sleeps for luck. "Nothing else arrived" is
proved with a barrier: a marker message sent after the thing that must not arrive, on a path that
would have delivered it first.
"""
import collections
import os
import select
import signal
import socket
import struct
import subprocess
import threading
import time

import itertools
import unittest
import zlib

import paho.mqtt.client as paho

from harness import Fox
from raw_wamp import _Stream

MQTTv31, MQTTv311 = paho.MQTTv31, paho.MQTTv311

MARKER = b"marker-"  # barrier payloads; other clients' markers are left out of until_marker()
Message = collections.namedtuple("Message", "topic payload qos retain mid dup")


class Collector:
    """A paho on_message callback that keeps every message; wait(n) blocks (with a deadline) until
    n have arrived. Thread-safe."""

    def __init__(self):
        self._cond = threading.Condition()
        self.items = []

    def __call__(self, client, userdata, msg):
        self.add(Message(msg.topic, bytes(msg.payload), msg.qos, bool(msg.retain), msg.mid,
                         bool(msg.dup)))

    def add(self, message):
        with self._cond:
            self.items.append(message)
            self._cond.notify_all()

    def snapshot(self):
        with self._cond:
            return list(self.items)

    def clear(self):
        with self._cond:
            self.items.clear()

    def wait(self, n=1, timeout=5.0):
        """The first n messages (a copy of the list); AssertionError past the deadline."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.items) >= n, timeout):
                raise AssertionError(f"timed out after {timeout}s waiting for {n} MQTT message(s); "
                                     f"got {len(self.items)}: {repr(self.items)[:2000]}")
            return list(self.items)

    def wait_for(self, predicate, timeout=5.0, what="a matching message"):
        """The first message satisfying predicate."""
        with self._cond:
            found = []

            def check():
                for m in self.items:
                    if predicate(m):
                        found.append(m)
                        return True
                return False
            if not self._cond.wait_for(check, timeout):
                raise AssertionError(f"timed out after {timeout}s waiting for {what}; "
                                     f"got {repr(self.items)[:2000]}")
            return found[0]

    def until_marker(self, marker_payload, timeout=5.0):
        """Waits for the message whose payload is marker_payload; returns the messages that came
        before it, leaving out other barriers' markers (the marker is removed from the list)."""
        self.wait_for(lambda m: m.payload == marker_payload, timeout, f"marker {marker_payload!r}")
        with self._cond:
            i = next(i for i, m in enumerate(self.items) if m.payload == marker_payload)
            before = [m for m in self.items[:i] if not m.payload.startswith(MARKER)]
            del self.items[i]
            return before


_ids = itertools.count(1)


def unique_id(prefix="it"):
    return f"{prefix}-{os.getpid()}-{next(_ids)}"


class MqttError(AssertionError):
    pass


class MqttClient:
    """One paho client driven by its own network thread (client.loop), WITHOUT paho's automatic
    reconnect: a connection the broker closes stays closed (.disconnected is set, .disconnect_rc
    holds paho's reason).

    connect=True connects at once and (unless expect_rc is given) asserts CONNACK 0.
    """

    def __init__(self, fox, client_id=None, clean_session=True, username=None, password=None,
                 will=None, protocol=MQTTv311, transport="tcp", keepalive=60, timeout=5.0,
                 connect=True, expect_rc=0, on_message=None, port=None):
        self.fox = fox
        self.timeout = timeout
        self.messages = Collector()
        ws = transport in ("websocket", "websockets", "ws")
        if client_id is None:
            client_id = unique_id()
        self.client = paho.Client(client_id=client_id, clean_session=clean_session,
                                  protocol=protocol, transport="websockets" if ws else "tcp")
        if ws:
            self.client.ws_set_options(path="/mqtt")
        self.port = port or (fox.port if ws else fox.mqtt_port)
        if username is not None:
            self.client.username_pw_set(username, password)
        if will:
            self.client.will_set(will["topic"], will.get("payload"), will.get("qos", 0),
                                 will.get("retain", False))
        self.client.on_message = on_message or self.messages
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_unsubscribe = self._on_unsubscribe
        self._lock = threading.Condition()
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.connack_rc = None
        self.session_present = None
        self.disconnect_rc = None
        self._subacks = {}
        self._unsubacks = set()
        self._stop = False
        self._thread = None
        self.keepalive = keepalive
        if connect:
            self.connect(expect_rc=expect_rc)

    # -- callbacks (network thread)

    def _on_connect(self, client, userdata, flags, rc):
        self.connack_rc = rc
        self.session_present = bool(flags.get("session present"))
        self.connected.set()

    def _on_disconnect(self, client, userdata, rc):
        self.disconnect_rc = rc
        self.disconnected.set()

    def _on_subscribe(self, client, userdata, mid, granted_qos):
        with self._lock:
            self._subacks[mid] = list(granted_qos)
            self._lock.notify_all()

    def _on_unsubscribe(self, client, userdata, mid):
        with self._lock:
            self._unsubacks.add(mid)
            self._lock.notify_all()

    # -- network thread

    def _run(self):
        while not self._stop:
            rc = self.client.loop(0.02)
            if rc != paho.MQTT_ERR_SUCCESS:
                if not self.disconnected.is_set():
                    self.disconnect_rc = rc
                    self.disconnected.set()
                return

    def connect(self, expect_rc=0):
        """TCP (or WebSocket) connect + CONNECT; waits for CONNACK. Returns the CONNACK code."""
        self.client.connect("127.0.0.1", self.port, keepalive=self.keepalive)
        self._thread = threading.Thread(target=self._run, daemon=True, name="paho-loop")
        self._thread.start()
        if not self.connected.wait(self.timeout):
            if self.disconnected.is_set():
                raise MqttError(f"connection closed before CONNACK (rc {self.disconnect_rc})")
            raise MqttError(f"no CONNACK within {self.timeout}s")
        if expect_rc is not None and self.connack_rc != expect_rc:
            raise MqttError(f"CONNACK return code {self.connack_rc}, expected {expect_rc}")
        return self.connack_rc

    # -- operations (each waits for its acknowledgement)

    def subscribe(self, topic, qos=0):
        """topic: a filter or a list of (filter, qos). Returns the granted QoS list of SUBACK."""
        rc, mid = self.client.subscribe(topic, qos) if isinstance(topic, str) else \
            self.client.subscribe(topic)
        if rc != paho.MQTT_ERR_SUCCESS:
            raise MqttError(f"subscribe failed locally: rc {rc}")
        with self._lock:
            if not self._lock.wait_for(lambda: mid in self._subacks, self.timeout):
                raise MqttError(f"no SUBACK within {self.timeout}s for {topic!r}")
            return self._subacks.pop(mid)

    def unsubscribe(self, topic):
        rc, mid = self.client.unsubscribe(topic)
        if rc != paho.MQTT_ERR_SUCCESS:
            raise MqttError(f"unsubscribe failed locally: rc {rc}")
        with self._lock:
            if not self._lock.wait_for(lambda: mid in self._unsubacks, self.timeout):
                raise MqttError(f"no UNSUBACK within {self.timeout}s for {topic!r}")
            self._unsubacks.discard(mid)

    def publish(self, topic, payload=b"", qos=0, retain=False, wait=True):
        """Publishes; with wait, returns once the QoS flow completed (QoS 0: once written)."""
        info = self.client.publish(topic, payload, qos, retain)
        if wait:
            deadline = time.monotonic() + self.timeout
            while not info.is_published():
                if self.disconnected.is_set():
                    raise MqttError(f"connection lost while publishing to {topic!r}")
                if time.monotonic() > deadline:
                    raise MqttError(f"publish to {topic!r} (QoS {qos}) not completed within "
                                    f"{self.timeout}s")
                info.wait_for_publish(0.05)
        return info

    def disconnect(self):
        """Clean DISCONNECT; waits until paho has closed the socket."""
        if not self.disconnected.is_set():
            self.client.disconnect()
            self.disconnected.wait(self.timeout)
        self._join()

    def drop(self):
        """Closes the connection without DISCONNECT (as a crashed client would)."""
        self._join()
        sock = self.client.socket()
        if sock is not None:
            try:
                if hasattr(sock, "shutdown"):
                    sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                sock.close()
            except OSError:
                pass

    def wait_disconnected(self, timeout=None):
        """True if the broker closed the connection within the timeout."""
        return self.disconnected.wait(self.timeout if timeout is None else timeout)

    def _join(self):
        self._stop = True
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(self.timeout)
            self._thread = None

    def close(self):
        """Cleanup for tests: disconnect if still connected, never raises."""
        try:
            if not self.disconnected.is_set() and self.connected.is_set():
                self.disconnect()
            else:
                self.drop()
        except Exception:  # noqa: BLE001 - cleanup
            pass

    def roundtrip(self, topic, timeout=5.0, qos=2):
        """A barrier: publishes a unique marker to `topic` (which this client must be subscribed
        to) and returns the messages that arrived before the marker. The marker goes at QoS 2 by
        default: paho hands a QoS 2 message to on_message only at PUBREL, so an earlier QoS 2
        delivery is seen before a later marker only if the marker takes the same path."""
        marker = MARKER + os.urandom(6).hex().encode()
        self.publish(topic, marker, qos)
        return self.messages.until_marker(marker, timeout)


# ---- mosquitto command-line clients -----------------------------------------------------------

def mosquitto_pub(port, topic, payload=b"", qos=0, retain=False, extra=(), timeout=10.0):
    """Runs mosquitto_pub (payload from stdin, so any bytes); asserts exit 0."""
    argv = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-t", topic, "-q", str(qos)]
    if retain:
        argv.append("-r")
    argv += list(extra)
    argv += ["-n"] if payload == b"" else ["-s"]
    p = subprocess.run(argv, input=payload, capture_output=True, timeout=timeout)
    if p.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {p.returncode}: {p.stderr.decode()!r}")
    return p


class MosquittoSub:
    """mosquitto_sub as a subprocess with debug output: .subscribed() waits for its SUBACK;
    messages (with QoS, retain flag and exact payload bytes via hex) land in .messages."""

    def __init__(self, port, topic, qos=0, extra=(), timeout=5.0, max_seconds=50):
        self.timeout = timeout
        # stdbuf: mosquitto_sub's debug lines (the SUBACK) are block-buffered into a pipe
        argv = ["stdbuf", "-oL", "mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-t", topic, "-q", str(qos),
                "-d", "-F", "MSG %q %r %t %x", "-W", str(max_seconds)] + list(extra)
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        self.pid = self.proc.pid
        self.messages = Collector()
        self.lines = []
        self._suback = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.lines.append(line)
            if "received SUBACK" in line:
                self._suback.set()
            elif line.startswith("MSG "):
                parts = line.split(" ")
                qos, retain, topic = int(parts[1]), parts[2] == "1", parts[3]
                payload = bytes.fromhex(parts[4]) if len(parts) > 4 else b""
                self.messages.add(Message(topic, payload, qos, retain, None, False))

    def subscribed(self):
        if not self._suback.wait(self.timeout):
            raise AssertionError(f"mosquitto_sub got no SUBACK within {self.timeout}s: {self.lines}")
        return self

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait()
        self._reader.join(5)
        self.proc.stdout.close()


# ---- a raw MQTT 3.1.1 client ------------------------------------------------------------------

CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT = 8, 9, 10, 11, 12, 13, 14


def remaining_length(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def mqtt_string(s):
    b = s.encode("utf-8") if isinstance(s, str) else bytes(s)
    return struct.pack("!H", len(b)) + b


def packet(first_byte, body=b""):
    return bytes([first_byte]) + remaining_length(len(body)) + body


def connect_packet(client_id="raw", clean=True, keepalive=60, will=None, username=None,
                   password=None, protocol_name="MQTT", level=4):
    flags = 0x02 if clean else 0
    payload = mqtt_string(client_id)
    if will:
        flags |= 0x04 | (will.get("qos", 0) << 3) | (0x20 if will.get("retain") else 0)
        payload += mqtt_string(will["topic"]) + mqtt_string(will.get("payload", b""))
    if username is not None:
        flags |= 0x80
        payload += mqtt_string(username)
    if password is not None:
        flags |= 0x40
        payload += mqtt_string(password)
    body = mqtt_string(protocol_name) + bytes([level, flags]) + struct.pack("!H", keepalive)
    return packet(CONNECT << 4, body + payload)


def publish_packet(topic, payload=b"", qos=0, retain=False, pid=None, dup=False):
    first = (PUBLISH << 4) | (0x08 if dup else 0) | (qos << 1) | (1 if retain else 0)
    body = mqtt_string(topic)
    if qos:
        body += struct.pack("!H", pid)
    return packet(first, body + payload)


def subscribe_packet(pid, filters):
    body = struct.pack("!H", pid)
    for f, q in filters:
        body += mqtt_string(f) + bytes([q])
    return packet((SUBSCRIBE << 4) | 0x02, body)


def ack_packet(kind, pid):
    return packet((kind << 4) | (0x02 if kind == PUBREL else 0), struct.pack("!H", pid))


Publish = collections.namedtuple("Publish", "topic payload qos retain dup pid")


def parse_publish(flags, body):
    (n,) = struct.unpack("!H", body[:2])
    topic = body[2:2 + n].decode("utf-8")
    rest = body[2 + n:]
    qos = (flags >> 1) & 3
    pid = None
    if qos:
        (pid,) = struct.unpack("!H", rest[:2])
        rest = rest[2:]
    return Publish(topic, bytes(rest), qos, bool(flags & 1), bool(flags & 8), pid)


class RawMqtt:
    """A plain TCP socket speaking MQTT by hand. read_packet() returns (type, flags, body) or
    None when the broker closed the connection; a read past its deadline raises socket.timeout."""

    def __init__(self, port, timeout=5.0, host="127.0.0.1"):
        self.timeout = timeout
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.stream = _Stream(sock)

    @property
    def sock(self):
        return self.stream.sock

    def send(self, data):
        self.stream.sendall(data)

    def read_packet(self, timeout=None):
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        head = self.stream.read_exact(1, deadline)
        if head is None:
            return None
        n, shift = 0, 0
        for _ in range(4):
            b = self.stream.read_exact(1, deadline)
            if b is None:
                return None
            n |= (b[0] & 0x7F) << shift
            shift += 7
            if not b[0] & 0x80:
                break
        body = self.stream.read_exact(n, deadline) if n else b""
        if body is None:
            return None
        return head[0] >> 4, head[0] & 0x0F, body

    def expect(self, kind, timeout=None):
        p = self.read_packet(timeout)
        if p is None:
            raise AssertionError(f"connection closed while waiting for packet type {kind}")
        if p[0] != kind:
            raise AssertionError(f"expected packet type {kind}, got {p!r}")
        return p

    def connect(self, client_id="raw", clean=True, keepalive=60, **kw):
        """Sends CONNECT and returns (session_present, return_code) from CONNACK."""
        self.send(connect_packet(client_id, clean, keepalive, **kw))
        _, _, body = self.expect(CONNACK)
        return bool(body[0] & 1), body[1]

    def subscribe(self, pid, filters):
        """Returns the SUBACK return codes."""
        self.send(subscribe_packet(pid, filters))
        _, _, body = self.expect(SUBACK)
        assert struct.unpack("!H", body[:2])[0] == pid, body
        return list(body[2:])

    def next_publish(self, timeout=None):
        """The next PUBLISH (skipping nothing else: another packet type is an error)."""
        _, flags, body = self.expect(PUBLISH, timeout)
        return parse_publish(flags, body)

    def closed(self, timeout=None):
        """True when the broker closed the connection within the timeout."""
        return self.stream.wait_eof(time.monotonic() + (self.timeout if timeout is None else timeout))

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ---- a child process with a will (for kill -9) -------------------------------------------------

_WILL_CHILD = r"""
import sys, paho.mqtt.client as paho
port, cid, topic, payload, qos, retain = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6] == "1"
c = paho.Client(client_id=cid, clean_session=True)
c.will_set(topic, bytes.fromhex(payload), qos, retain)
def on_connect(client, userdata, flags, rc):
    print("CONNACK", rc, flush=True)
c.on_connect = on_connect
c.connect("127.0.0.1", int(port), keepalive=60)
c.loop_forever()
"""


class WillChild:
    """A separate python process holding a paho connection with a will; kill() sends SIGKILL by
    pid (the OS then closes the socket without DISCONNECT)."""

    def __init__(self, port, client_id, topic, payload, qos=0, retain=False, timeout=10.0):
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", "-c", _WILL_CHILD, str(port), client_id, topic, payload.hex(),
             str(qos), "1" if retain else "0"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.pid = self.proc.pid
        deadline = time.monotonic() + timeout
        line = b""
        while not line.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.proc.poll() is not None:
                self.kill()
                raise AssertionError(f"will child did not connect: {line!r} "
                                     f"{self.proc.stderr.read().decode()!r}")
            r, _, _ = select.select([self.proc.stdout], [], [], remaining)
            if r:
                ch = os.read(self.proc.stdout.fileno(), 1)
                if not ch:
                    continue
                line += ch
        if line.strip() != b"CONNACK 0":
            self.kill()
            raise AssertionError(f"will child: {line!r}")

    def kill(self):
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
        self.proc.wait(10)
        for f in (self.proc.stdout, self.proc.stderr):
            f.close()


# ---- base test case ----------------------------------------------------------------------------

class MqttTestCase(unittest.TestCase):
    """One fox per class (setUpClass); clients made with client()/raw() are closed after each
    test."""
    fox_args = ()

    @classmethod
    def setUpClass(cls):
        cls.fox = Fox(*cls.fox_args)

    @classmethod
    def tearDownClass(cls):
        code = cls.fox.stop()
        assert code == 0, f"fox exited {code}:\n{cls.fox.log()}"

    def client(self, **kw):
        c = MqttClient(self.fox, **kw)
        self.addCleanup(c.close)
        return c

    def raw(self, port=None):
        r = RawMqtt(port or self.fox.mqtt_port)
        self.addCleanup(r.close)
        return r

    def topic(self, name):
        """A topic unique to this test (retained values live as long as the class's fox)."""
        return f"t{zlib.crc32(self.id().encode()):08x}/{name}"

    def assert_alive(self):
        if self.fox.proc.poll() is not None:
            raise AssertionError(f"fox exited with {self.fox.proc.returncode}:\n{self.fox.log()}")
