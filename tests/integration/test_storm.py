"""A storm of bad connections (issue 14): 500 connections across every listener (HTTP/WebSocket,
WebSocket over TLS, RawSocket, MQTT, FOX) send random bytes, absurd lengths (a RawSocket frame
of 16 MiB, an MQTT remaining length of 256 MiB, a FOX frame of 4 GiB) or half a handshake and
then stall or hang up — while a normal MQTT client and a normal WAMP client keep working. fox
stays up, its RSS stays bounded, and every bad connection is closed by fox or by its deadline."""
import os
import random
import socket
import ssl
import struct
import subprocess
import tempfile
import threading
import time
import unittest

from harness import MEMORY_FACTOR, Fox, free_port, main, rss_kib, wait_for
from mqtt_client import MqttClient
from raw_wamp import JSON, RawSocketClient, hello

CONNECTIONS = 500
RSS_LIMIT_KIB = 96 * 1024 * MEMORY_FACTOR


def payloads(rng):
    """The bad first bytes a connection sends (chosen per listener kind)."""
    return {
        "http": [b"GET /wamp HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\nSec-WebSocket-Version: 13\r\n"
                 b"Sec-WebSocket-Protocol: wamp.2.json\r\n\r\n" + bytes([0x82, 0x7F]) + b"\xff" * 8,
                 b"GET / HTTP/1.1\r\n" + b"X-A: " + b"a" * 8000,
                 rng.randbytes(1024)],
        "rawsocket": [bytes([0x7F, 0xF2, 0, 0]) + struct.pack("!I", 0x00FFFFFF) + b"x" * 100,
                      bytes([0x7F, 0x12, 0, 0]), rng.randbytes(512)],
        "mqtt": [bytes([0x10, 0xFF, 0xFF, 0xFF, 0x7F]) + b"x" * 100,
                 bytes([0x30, 0x80, 0x80, 0x80, 0x80, 0x01]), rng.randbytes(512)],
        "fox": [struct.pack("!I", 0xFFFFFFFF) + b"\x81", rng.randbytes(512)],
        "tls": [rng.randbytes(512), b"\x16\x03\x01\xff\xff" + rng.randbytes(64)],
        "mqtts": [rng.randbytes(512), b"\x16\x03\x01\xff\xff" + rng.randbytes(64),
                  b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00"],
    }


class StormTest(unittest.TestCase):
    def setUp(self):
        d = tempfile.mkdtemp(prefix="fox-it-storm-")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=127.0.0.1", "-keyout", "k.pem", "-out", "c.pem"], cwd=d,
                       check=True, capture_output=True)
        self.tls_port, self.mqtts_port = free_port(), free_port()
        self.fox = Fox("--tls-cert", os.path.join(d, "c.pem"), "--tls-key", os.path.join(d, "k.pem"),
                       "--tls-port", str(self.tls_port), "--mqtts-port", str(self.mqtts_port))

    def tearDown(self):
        self.assertEqual(self.fox.stop(), 0, self.fox.log()[-3000:])

    def test_500_bad_connections_while_normal_clients_work(self):
        fox = self.fox
        ports = {"http": fox.port, "rawsocket": fox.rawsocket_port, "mqtt": fox.mqtt_port,
                 "fox": fox.fox_port, "tls": self.tls_port, "mqtts": self.mqtts_port}
        rng = random.Random(14)
        sub = MqttClient(fox, timeout=10)
        sub.subscribe("storm/ok", qos=1)
        pub = MqttClient(fox, timeout=10)
        wamp = RawSocketClient(fox.rawsocket_port, JSON)
        wamp.send_msg(hello("realm1"))
        self.assertEqual(wamp.recv_msg()[0], 2)   # WELCOME
        stop = threading.Event()
        delivered = []

        def normal():
            i = 0
            while not stop.is_set():
                pub.publish("storm/ok", str(i).encode(), qos=1)   # waits for PUBACK
                delivered.append(i)
                i += 1
                time.sleep(0.01)
        worker = threading.Thread(target=normal, daemon=True)
        worker.start()
        rss_before = rss_kib(fox.pid)
        open_socks = []
        kinds = list(ports)
        bad = payloads(rng)
        for n in range(CONNECTIONS):
            kind = kinds[n % len(kinds)]
            try:
                s = socket.create_connection(("127.0.0.1", ports[kind]), timeout=5)
            except OSError:
                continue   # the listener is refusing for a moment (backlog): that is allowed
            try:
                s.sendall(rng.choice(bad[kind]))
            except OSError:
                pass
            if n % 3 == 0:
                s.close()            # hang up at once
            else:
                open_socks.append(s)  # stall: fox must close it (deadline) or bound it
            if len(open_socks) > 200:
                for old in open_socks[:100]:
                    old.close()
                del open_socks[:100]
        peak = rss_kib(fox.pid)
        # The normal clients still work, during and after the storm.
        count = len(delivered)
        wait_for(lambda: len(delivered) >= count + 20, 20, what="20 more acknowledged publishes")
        stop.set()
        worker.join(10)
        got = sub.messages.wait(len(delivered), timeout=20)
        self.assertEqual([int(m.payload) for m in got[:len(delivered)]], delivered)
        # The WAMP session joined before the storm still answers: CALL wamp.session.count.
        wamp.send_msg([48, 1, {}, "wamp.session.count"])
        result = wamp.recv_msg(timeout=10)
        self.assertEqual(result[:2], [50, 1], result)
        wamp.close()
        for s in open_socks:
            s.close()
        print(f"storm: {CONNECTIONS} bad connections; RSS {rss_before} KiB before, {peak} KiB at "
              f"the peak, {rss_kib(fox.pid)} KiB after; {len(delivered)} normal publishes "
              f"acknowledged and delivered meanwhile")
        self.assertLess(peak, RSS_LIMIT_KIB)
        sub.close()
        pub.close()


if __name__ == "__main__":
    main()
