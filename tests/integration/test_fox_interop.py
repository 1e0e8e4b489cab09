"""FOX interoperability with the original's own client: the `HyperNetClient` of the npm package
fox-wamp@0.7.28 (reference doc §4) runs tests/integration/fox_node/interop.js against fox's FOX
TCP port: login, echo, subscribe, acknowledged and plain publish (data, event id, headers,
disclose_me, exclude_me), retained values (exact topic and wildcard), `after` history replay,
register + call with progress, callee errors, unknown procedures, unsubscribe, unregister; and,
across protocols, an MQTT retained value read by the FOX client and a FOX publish reaching an
MQTT subscriber. The scenario runs twice: on the memory engine, and on SQLite with event ids past
2^32 (which the client writes back as MessagePack float64).

The npm packages are installed with `npm ci` (pinned by fox_node/package-lock.json) into a cache
next to the fox binary (FOX_BIN's directory/fox_node), reused while the lock file is unchanged.
The test skips when node/npm are missing or the npm registry cannot be reached; any interop
problem fails it.
"""
import fcntl
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import unittest

from harness import FOX_BIN, Fox, main
from mqtt_client import MqttClient

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fox_node")
CACHE = os.path.join(os.path.dirname(FOX_BIN), "fox_node")
NPM_TIMEOUT = 180
NODE_TIMEOUT = 60
NETWORK_TROUBLE = re.compile(
    r"ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH|"
    r"ERR_SOCKET_TIMEOUT|socket hang up|network|proxy|request to \S+ failed|"
    r"getaddrinfo|unable to get local issuer|E403|E5\d\d", re.I)

STEPS = ["login", "second login rejected", "echo", "subscribe", "publish with acknowledge",
         "publish without acknowledge, headers, disclose_me, null", "exclude_me", "retained",
         "after", "mqtt", "register", "call with progress", "callee error", "unsubscribe",
         "unregister"]


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def prepare_node():
    """Installs fox-wamp into CACHE (once per lock file). Returns None when ready, else the reason
    to skip."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        return "node and npm are needed for the fox-wamp client (not installed)"
    os.makedirs(CACHE, exist_ok=True)
    stamp = hashlib.sha256(read_bytes(os.path.join(SRC, "package-lock.json")) +
                           read_bytes(os.path.join(SRC, "package.json"))).hexdigest()
    stamp_path = os.path.join(CACHE, ".installed")
    with open(os.path.join(CACHE, ".lock"), "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)   # one installer at a time for this build tree
        shutil.copyfile(os.path.join(SRC, "interop.js"), os.path.join(CACHE, "interop.js"))
        client = os.path.join(CACHE, "node_modules", "fox-wamp", "lib", "hyper", "net_transport.js")
        if (os.path.exists(stamp_path) and read_bytes(stamp_path).decode() == stamp
                and os.path.exists(client)):
            return None
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(os.path.join(SRC, name), os.path.join(CACHE, name))
        if os.path.exists(stamp_path):
            os.remove(stamp_path)
        env = dict(os.environ, npm_config_update_notifier="false", npm_config_loglevel="warn")
        try:
            p = subprocess.run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund",
                                "--prefer-offline", "--fetch-retries=1", "--fetch-retry-mintimeout=2000",
                                "--fetch-retry-maxtimeout=5000"], cwd=CACHE, env=env, capture_output=True,
                               timeout=NPM_TIMEOUT, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return f"npm ci did not finish within {NPM_TIMEOUT}s (registry unreachable?)"
        out = (p.stdout + p.stderr).decode("utf-8", "replace")
        if p.returncode != 0:
            if NETWORK_TROUBLE.search(out):
                lines = [l for l in out.splitlines() if l.startswith("npm error") and
                         ("code" in l or "request to" in l or "network" in l)]
                return ("npm cannot reach the registry, the fox-wamp client is not installed: " +
                        " | ".join(lines[:3] or [out.strip()[-300:]]))
            raise AssertionError(f"npm ci failed ({p.returncode}) in {CACHE}:\n{out[-3000:]}")
        if not os.path.exists(client):
            raise AssertionError(f"npm ci succeeded but {client} is missing:\n{out[-2000:]}")
        with open(stamp_path, "w") as f:
            f.write(stamp)
    return None


class FoxNodeInteropTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.skip_reason = prepare_node()

    def setUp(self):
        if self.skip_reason:
            self.skipTest(self.skip_reason)

    def start(self, **kwargs):
        self.fox = Fox(**kwargs)
        self.addCleanup(self.fox.__exit__)
        return self.fox

    def run_node(self, *args):
        try:
            p = subprocess.run(["node", "interop.js", str(self.fox.fox_port)] + list(args),
                               cwd=CACHE, capture_output=True, timeout=NODE_TIMEOUT,
                               stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as e:
            self.fail(f"node interop.js hung past {NODE_TIMEOUT}s:\n{e.stdout!r}\n{e.stderr!r}\n"
                      + self.fox.log())
        out, err = p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
        report = f"\n--- node stdout\n{out}\n--- node stderr\n{err}\n--- fox log\n{self.fox.log()}"
        self.assertEqual(p.returncode, 0, "the fox-wamp client scenario failed" + report)
        # the client prints this for an answer whose id it does not know
        self.assertNotIn("UNKNOWN PACKAGE", out, report)
        self.assertNotIn("protocol violation", self.fox.log(), report)
        summary = [line for line in out.splitlines() if line.startswith("SUMMARY ")]
        self.assertEqual(len(summary), 1, report)
        return json.loads(summary[0][len("SUMMARY "):]), report

    def scenario(self):
        """Runs interop.js against self.fox; returns its summary."""
        mqtt = MqttClient(self.fox, client_id="fox-interop-mqtt")
        self.addCleanup(mqtt.close)
        mqtt.publish("fox/interop/mqtt", b'{"from":"mqtt","n":[1,2]}', qos=1, retain=True)
        self.assertEqual(mqtt.subscribe("fox/interop/cross", 1), [1])

        summary, report = self.run_node()
        self.assertEqual(summary["steps"], STEPS, report)
        ids = summary["event_ids"]
        self.assertEqual(ids, sorted(set(ids)), report)
        self.assertEqual(summary["progress"], [{"step": 1}, {"step": 2}], report)
        self.assertEqual(summary["callee_error"],
                         {"code": "error.callee_failure", "message": "deliberate failure: x"})

        # the FOX publish {kv: {from: fox, ok: true}} with ack: true reached MQTT as QoS 1 JSON
        [m] = mqtt.messages.wait(1)
        self.assertEqual(m.topic, "fox/interop/cross")
        self.assertEqual(json.loads(m.payload), {"from": "fox", "ok": True})
        self.assertEqual(m.qos, 1)
        self.assertFalse(m.retain)
        mqtt.disconnect()
        self.assertEqual(self.fox.stop(), 0, self.fox.log())
        return summary

    def test_reference_client_scenario(self):
        self.start()
        self.scenario()

    def test_ids_beyond_32_bits(self):
        """Event ids past 2^32 (a long-lived SQLite store): the client reads them as numbers and
        writes them back (`after`) as MessagePack float64."""
        seed = 2 ** 40
        fox = self.start(memory=False)
        data_dir = fox.data_dir
        self.assertEqual(fox.stop(), 0, fox.log())
        db = sqlite3.connect(os.path.join(data_dir, "fox.db"))
        with db:
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('reserved_id', ?)", (seed,))
        db.close()
        self.start(memory=False, data_dir=data_dir)
        summary = self.scenario()
        self.assertTrue(all(i > seed for i in summary["event_ids"]), summary)
        self.assertGreater(summary["retained_id"], seed)


if __name__ == "__main__":
    main()
