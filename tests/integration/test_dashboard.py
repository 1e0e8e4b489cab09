"""The dashboard at / (issue 16) in Debian's headless Chromium, driven by playwright-core
(tests/integration/browser, installed with `npm ci` from its lock file next to the fox binary):
the page loads and joins with no console error, shows a WAMP session the test opened, its
message rate moves while the test publishes, and a retained value the test set is found with
the search; with authentication on, it logs in with a ticket. Screenshots go to the build
directory (build/native/dashboard*.png). Skips only when Chromium, node or the npm registry is
missing."""
import asyncio
import json
import os
import select
import shutil
import subprocess
import tempfile
import threading
import time
import unittest

import paho.mqtt.client as paho

from harness import FOX_BIN, Fox, main, npm_ci, wait_for, write_config
from wamp_client import close, connect

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "browser")
CACHE = os.path.join(os.path.dirname(FOX_BIN), "browser")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


class Driver:
    """dashboard.js, read line by line with a deadline."""

    def __init__(self, url, session_cells, prefix, topic, value, screenshot, login=None):
        env = dict(os.environ, CHROMIUM=CHROMIUM)
        if login:
            env["DASH_LOGIN"] = login
        self.stderr = tempfile.TemporaryFile()   # read at the end: a full pipe cannot block it
        self.proc = subprocess.Popen(["node", "dashboard.js", url, json.dumps(session_cells),
                                      prefix, topic, value, screenshot], cwd=CACHE,
                                     stdout=subprocess.PIPE, stderr=self.stderr,
                                     stdin=subprocess.DEVNULL, env=env)
        self.buf = b""

    def line(self, timeout=30.0):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.proc.stdout], [], [], left)[0]:
                raise AssertionError("dashboard.js said nothing in time; so far: " + self.buf.decode())
            chunk = os.read(self.proc.stdout.fileno(), 4096)
            if not chunk:
                raise AssertionError("dashboard.js ended: " + self.buf.decode() +
                                     self.errors())
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        line = line.decode()
        if line.startswith("FAIL"):
            raise AssertionError(line + "\n" + self.errors())
        return line

    def errors(self):
        self.stderr.seek(0)
        return self.stderr.read().decode("utf-8", "replace")

    def finish(self):
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise


class DashboardTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.skip_reason = None
        if not os.path.exists(CHROMIUM):
            cls.skip_reason = "Debian's chromium is not installed"
        else:
            cls.skip_reason = npm_ci(SRC, CACHE, ["dashboard.js"],
                                     os.path.join("node_modules", "playwright-core", "package.json"))

    def setUp(self):
        if self.skip_reason:
            self.skipTest(self.skip_reason)

    def run_dashboard(self, fox, screenshot, retained_topic, login=None):
        """login: "user:secret" (the realm admits no anonymous client: the page logs in, and the
        session the page must show is the MQTT publisher's), else an anonymous WAMP session."""
        async def scenario():
            watched = None if login else await connect(fox)
            publishing = threading.Event()
            stop = threading.Event()
            pub = paho.Client(client_id="dash-pub", protocol=paho.MQTTv311)
            if login:
                user, secret = login.split(":")
                pub.username_pw_set(user + "@realm1", secret)
            pub.connect("127.0.0.1", fox.mqtt_port, keepalive=600)
            pub.loop_start()
            wait_for(pub.is_connected, 5, what="the MQTT publisher connected")
            pub.publish(retained_topic.replace(".", "/"), b"21.5", qos=1, retain=True).wait_for_publish(5)

            def load():
                publishing.wait()
                while not stop.is_set():
                    pub.publish("dash/load", b"x", qos=0)
                    time.sleep(0.01)
            worker = threading.Thread(target=load, daemon=True)
            worker.start()
            prefix = retained_topic.rsplit(".", 1)[0]
            cells = ["mqtt", login.split(":")[0]] if login else [str(watched._session_id)]
            d = Driver(f"http://127.0.0.1:{fox.port}/", cells, prefix, retained_topic, "21.5",
                       screenshot, login)
            try:
                lines = [await asyncio.to_thread(d.line)]
                self.assertEqual(lines[-1], "SESSION_SHOWN")
                lines.append(await asyncio.to_thread(d.line))
                self.assertEqual(lines[-1], "QUIET")
                publishing.set()
                lines.append(await asyncio.to_thread(d.line))
                self.assertTrue(lines[-1].startswith("RATE "), lines)
                self.assertGreater(float(lines[-1].split()[1]), 0)
                stop.set()
                lines.append(await asyncio.to_thread(d.line))
                self.assertEqual(lines[-1], "RETAINED_FOUND")
                result = json.loads(await asyncio.to_thread(d.line))
                self.assertEqual(result["console_errors"], [])
                await asyncio.to_thread(d.finish)
                self.assertEqual(d.proc.returncode, 0)
            finally:
                stop.set()
                publishing.set()
                if d.proc.poll() is None:
                    d.proc.kill()
                    d.proc.wait()
                worker.join(5)
                pub.disconnect()
                pub.loop_stop()
                if watched:
                    await close(watched)
            self.assertTrue(os.path.getsize(screenshot) > 10000)
        asyncio.run(scenario())

    def test_the_dashboard_shows_sessions_rates_and_retained_values(self):
        fox = Fox("--sys-interval", "1")
        try:
            self.run_dashboard(fox, os.path.join(os.path.dirname(FOX_BIN), "dashboard.png"),
                               "dash.probe.temperature")
        finally:
            self.assertEqual(fox.stop(), 0, fox.log())

    def test_with_authentication_it_logs_in_with_a_ticket(self):
        fox = Fox("--sys-interval", "1", "--config", write_config({"realms": {"realm1": {
            "users": {"admin": {"secret": "adm1n", "role": "admin"}},
            "permissions": {"admin": [{"uri": "#", "allow": ["publish", "subscribe", "call",
                                                            "register"]}]}}}}))
        try:
            self.run_dashboard(fox, os.path.join(os.path.dirname(FOX_BIN), "dashboard-login.png"),
                               "dash.secure.level", login="admin:adm1n")
        finally:
            self.assertEqual(fox.stop(), 0, fox.log())


if __name__ == "__main__":
    main()
