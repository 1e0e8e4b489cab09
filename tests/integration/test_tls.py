"""TLS (issue 14): a CA and a server certificate made by openssl at test time; python3-autobahn
over wss:// and the status page over https:// trusting that CA; a client trusting another CA is
refused; TLS 1.1 is refused (TLS 1.2 at least); plain bytes to the TLS port close only that
connection; a bad certificate or a key that does not match → exit 2 naming the file."""
import asyncio
import os
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request

import txaio

txaio.use_asyncio()

from autobahn.asyncio.websocket import WampWebSocketClientFactory  # noqa: E402
from autobahn.wamp.serializer import JsonSerializer  # noqa: E402
from autobahn.wamp.types import ComponentConfig  # noqa: E402

from harness import FOX_BIN, Fox, free_port, main  # noqa: E402
from wamp_client import Client  # noqa: E402


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def make_ca(d, name):
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
            "-keyout", f"{name}.key", "-out", f"{name}.pem", cwd=d)
    return os.path.join(d, f"{name}.pem")


# The address as a DNS name too: libwebsockets with mbedTLS 2.28 (fox's wss:// client) matches the
# host only against DNS names; fox's own TLS client (MQTT) matches the IP address name.
SAN = "IP:127.0.0.1,DNS:127.0.0.1"


def make_server_cert(d, ca, ec=False, san=SAN, name="server"):
    if ec:
        openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", f"{name}.key", cwd=d)
    else:
        openssl("genrsa", "-out", f"{name}.key", "2048", cwd=d)
    openssl("req", "-new", "-key", f"{name}.key", "-subj", "/CN=127.0.0.1", "-out", f"{name}.csr",
            cwd=d)
    with open(os.path.join(d, f"{name}.ext"), "w") as f:
        f.write(f"subjectAltName={san}\n")
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
            "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.pem", cwd=d)
    return os.path.join(d, f"{name}.pem"), os.path.join(d, f"{name}.key")


class TlsTest(unittest.IsolatedAsyncioTestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="fox-it-tls-")
        cls.ca = make_ca(cls.dir, "ca")
        cls.other_ca = make_ca(cls.dir, "other")
        cls.cert, cls.key = make_server_cert(cls.dir, "ca", ec=True)
        cls.tls_port, cls.mqtts_port, cls.rawsocket_tls_port = free_port(), free_port(), free_port()
        cls.fox = Fox("--tls-cert", cls.cert, "--tls-key", cls.key, "--tls-port", str(cls.tls_port),
                      "--mqtts-port", str(cls.mqtts_port),
                      "--rawsocket-tls-port", str(cls.rawsocket_tls_port))

    @classmethod
    def tearDownClass(cls):
        assert cls.fox.stop() == 0, cls.fox.log()

    async def join_wss(self, cafile):
        loop = asyncio.get_running_loop()
        joined, left = loop.create_future(), loop.create_future()
        ctx = ssl.create_default_context(cafile=cafile)
        factory = WampWebSocketClientFactory(lambda: Client(ComponentConfig("realm1"), joined, left),
                                             url=f"wss://127.0.0.1:{self.tls_port}/wamp",
                                             serializers=[JsonSerializer()])
        await asyncio.wait_for(loop.create_connection(factory, "127.0.0.1", self.tls_port, ssl=ctx,
                                                      server_hostname="127.0.0.1"), 5)
        return await asyncio.wait_for(joined, 5)

    async def test_wss_and_https_with_the_right_ca(self):
        c = await self.join_wss(self.ca)
        got = asyncio.Queue()
        await c.subscribe(lambda v: got.put_nowait(v), "tls.t")
        from autobahn.wamp.types import PublishOptions
        await c.publish("tls.t", "over tls", options=PublishOptions(acknowledge=True, exclude_me=False))
        self.assertEqual(await asyncio.wait_for(got.get(), 5), "over tls")
        c.leave()
        ctx = ssl.create_default_context(cafile=self.ca)
        body = await asyncio.to_thread(
            lambda: urllib.request.urlopen(f"https://127.0.0.1:{self.tls_port}/", context=ctx, timeout=5).read())
        self.assertIn(b"fox", body)

    async def test_a_client_trusting_another_ca_is_refused(self):
        with self.assertRaises(ssl.SSLError):
            await self.join_wss(self.other_ca)

    def test_tls_1_1_is_refused_and_1_2_accepted(self):
        for version, ok in ((ssl.TLSVersion.TLSv1_1, False), (ssl.TLSVersion.TLSv1_2, True)):
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.load_verify_locations(self.ca)
            ctx.minimum_version = ctx.maximum_version = version
            try:
                ctx.set_ciphers("ALL:@SECLEVEL=0")
            except ssl.SSLError:
                pass
            with socket.create_connection(("127.0.0.1", self.tls_port), timeout=5) as raw:
                if ok:
                    with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                        self.assertEqual(s.version(), "TLSv1.2")
                else:
                    # The server's protocol_version alert (not a client that would not offer it).
                    with self.assertRaises(ssl.SSLError) as cm:
                        ctx.wrap_socket(raw, server_hostname="127.0.0.1")
                    self.assertIn("PROTOCOL_VERSION", str(cm.exception).upper())

    async def test_plain_bytes_to_the_tls_port_close_only_that_connection(self):
        with socket.create_connection(("127.0.0.1", self.tls_port), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + os.urandom(512))
            s.settimeout(5)
            try:
                while s.recv(4096):
                    pass
            except (ConnectionResetError, socket.timeout):
                pass
        c = await self.join_wss(self.ca)   # still serving
        c.leave()

    def test_mqtts_with_paho_and_mosquitto_sub(self):
        import paho.mqtt.client as paho
        got = []
        done = threading.Event()

        def on_message(client, userdata, msg):
            got.append((msg.topic, msg.payload))
            done.set()
        sub = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(self.mqtts_port),
                                "--cafile", self.ca, "-t", "tls/m", "-C", "1", "-W", "10"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            c = paho.Client(client_id="tls-paho")
            c.tls_set(ca_certs=self.ca)
            c.on_message = on_message
            connected = threading.Event()
            c.on_connect = lambda *a: connected.set()
            c.connect("127.0.0.1", self.mqtts_port)
            c.loop_start()
            self.assertTrue(connected.wait(5))
            c.subscribe("tls/m", qos=1)
            # mosquitto_sub is subscribed once a retained-free publish reaches it: publish until.
            deadline = time.monotonic() + 10
            while sub.poll() is None and time.monotonic() < deadline:
                c.publish("tls/m", b"over mqtts", qos=1).wait_for_publish(5)
                time.sleep(0.05)
            out, err = sub.communicate(timeout=10)
            self.assertEqual(sub.returncode, 0, err)
            self.assertEqual(out.strip(), b"over mqtts")
            self.assertTrue(done.wait(5))
            self.assertEqual(got[0], ("tls/m", b"over mqtts"))
            c.loop_stop()
            c.disconnect()
        finally:
            if sub.poll() is None:
                sub.kill()
                sub.wait()
        # A client that trusts another CA is refused.
        bad = subprocess.run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(self.mqtts_port),
                              "--cafile", self.other_ca, "-t", "x", "-C", "1", "-W", "3"],
                             capture_output=True, timeout=10)
        self.assertNotEqual(bad.returncode, 0)

    def test_rawsocket_over_tls(self):
        ctx = ssl.create_default_context(cafile=self.ca)
        with socket.create_connection(("127.0.0.1", self.rawsocket_tls_port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                s.sendall(bytes([0x7F, 0xF1, 0, 0]))   # RawSocket handshake: json, max length
                self.assertEqual(s.recv(4)[:2], bytes([0x7F, 0xF1]))
                hello = b'[1,"realm1",{"roles":{"subscriber":{}}}]'
                s.sendall(bytes([0]) + len(hello).to_bytes(3, "big") + hello)
                head = s.recv(4)
                body = b""
                n = int.from_bytes(head[1:4], "big")
                while len(body) < n:
                    body += s.recv(n - len(body))
                self.assertTrue(body.startswith(b"[2,"), body)   # WELCOME

    def tool(self, *args):
        return subprocess.run([FOX_BIN, *args], capture_output=True, timeout=30, text=True)

    def test_fox_pub_and_sub_over_mqtts_trusting_the_ca(self):
        mqtts = ["--mqtt", f"127.0.0.1:{self.mqtts_port}", "--mqtt-tls", "--cafile", self.ca]
        p = self.tool("pub", "tls/tool", "over mqtts", "--retain", "--qos", "1", *mqtts)
        self.assertEqual(p.returncode, 0, p.stderr)
        p = self.tool("sub", "tls/tool", "--count", "1", *mqtts)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("over mqtts", p.stdout)
        # Trusting another CA: refused before anything is sent, saying why.
        p = self.tool("pub", "tls/tool", "x", "--mqtt", f"127.0.0.1:{self.mqtts_port}", "--mqtt-tls",
                      "--cafile", self.other_ca)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("certificate", p.stderr)
        self.assertIn("not correctly signed", p.stderr)
        # Plain MQTT to the TLS port: the broker closes it, the tool says so.
        p = self.tool("pub", "tls/tool", "x", "--mqtt", f"127.0.0.1:{self.mqtts_port}")
        self.assertEqual(p.returncode, 1, p.stderr)
        # A CA file that holds no certificate, flags that do not go together: clear errors.
        p = self.tool("pub", "t", "--mqtt", "127.0.0.1", "--mqtt-tls", "--cafile", self.key + ".none")
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("cannot be read", p.stderr)
        p = self.tool("pub", "t", "--mqtt-tls")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("--mqtt-tls is for --mqtt", p.stderr)
        p = self.tool("pub", "t", "--cafile", self.ca)
        self.assertEqual(p.returncode, 2, p.stderr)

    def test_fox_pub_over_wss_trusting_the_ca(self):
        url = f"wss://127.0.0.1:{self.tls_port}/wamp"
        p = self.tool("pub", "tls.tool", "over wss", "--ack", "--url", url, "--cafile", self.ca)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout.strip(), r"^\d+$")   # the publication id
        p = self.tool("call", "wamp.session.count", "--url", url, "--cafile", self.ca)
        self.assertEqual(p.returncode, 0, p.stderr)
        p = self.tool("pub", "tls.tool", "x", "--ack", "--url", url, "--cafile", self.other_ca)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("cannot connect", p.stderr)

    def test_fox_mqtt_client_checks_the_address_the_certificate_names(self):
        # A certificate of the right CA, but for another address: refused.
        d = tempfile.mkdtemp(prefix="fox-it-tls-name-")
        cert, key = make_server_cert(d, os.path.join(self.dir, "ca"), san="IP:10.9.9.9",
                                     name="elsewhere")
        port = free_port()
        with Fox("--tls-cert", cert, "--tls-key", key, "--tls-port", "0",
                 "--mqtts-port", str(port)) as other:
            p = self.tool("pub", "t", "x", "--mqtt", f"127.0.0.1:{port}", "--mqtt-tls", "--cafile", self.ca)
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertIn("certificate", p.stderr)
            self.assertIn("CN", p.stderr)   # mbedTLS: "The certificate Common Name (CN) does not match"
            self.assertEqual(other.stop(), 0, other.log())

    def test_tls_only_with_every_plain_listener_off(self):
        tls_port, mqtts_port = free_port(), free_port()
        with Fox("--tls-cert", self.cert, "--tls-key", self.key, "--tls-port", str(tls_port),
                 "--mqtts-port", str(mqtts_port), "--port", "0", "--mqtt-port", "0",
                 "--rawsocket-port", "0", "--fox-port", "0") as fox:
            for port in (fox.port, fox.mqtt_port, fox.rawsocket_port, fox.fox_port):
                with self.assertRaises(ConnectionRefusedError):
                    socket.create_connection(("127.0.0.1", port), timeout=5).close()
            p = self.tool("pub", "tls.only", "x", "--ack", "--url",
                          f"wss://127.0.0.1:{tls_port}/wamp", "--cafile", self.ca)
            self.assertEqual(p.returncode, 0, p.stderr)
            p = self.tool("pub", "tls/only", "x", "--qos", "1", "--mqtt", f"127.0.0.1:{mqtts_port}",
                          "--mqtt-tls", "--cafile", self.ca)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(fox.stop(), 0, fox.log())
            self.assertEqual(fox.log().count("listening on"), 2, fox.log())
        # Without TLS the plain HTTP listener cannot be off: nothing would serve /wamp.
        p = subprocess.run([FOX_BIN, "serve", "--memory", "--port", "0"], capture_output=True,
                           timeout=10, text=True)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("--port 0", p.stderr)

    def test_bad_certificate_or_key_exit_2_naming_the_file(self):
        d = tempfile.mkdtemp(prefix="fox-it-tls-bad-")
        not_pem = os.path.join(d, "not.pem")
        with open(not_pem, "w") as f:
            f.write("hello\n")
        other_cert, other_key = make_server_cert(d, os.path.join(self.dir, "ca"))
        for cert, key, named in ((not_pem, self.key, not_pem), (self.cert, not_pem, not_pem),
                                 (self.cert, other_key, other_key),
                                 (os.path.join(d, "missing.pem"), self.key, "missing.pem")):
            p = subprocess.run([FOX_BIN, "serve", "--memory", "--port", str(free_port()),
                                "--tls-cert", cert, "--tls-key", key], capture_output=True,
                               timeout=10, text=True)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn(named, p.stderr)
        p = subprocess.run([FOX_BIN, "serve", "--memory", "--tls-cert", self.cert],
                           capture_output=True, timeout=10, text=True)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("--tls-key", p.stderr)


if __name__ == "__main__":
    main()
