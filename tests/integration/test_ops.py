"""Operating fox (issue 16): GET /metrics scraped around a workload of real clients (paho MQTT,
autobahn WAMP) — every line parsed as the Prometheus text format 0.0.4, the counters moved by the
workload's exact numbers, the gauges are the state's; $SYS/broker/... seen by mosquitto_sub (and
kept from a `#` subscriber, refused to a role without the right to read it); fox.stats for WAMP
(retained: a late subscriber gets it at once); log lines with timestamps, and --log-format json."""
import asyncio
import calendar
import json
import re
import subprocess
import time
import unittest
import urllib.request

import paho.mqtt.client as paho
from autobahn.wamp.types import SubscribeOptions

from harness import Fox, main, wait_for, write_config
from wamp_client import Collector, close, connect

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})?'
                    r' (-?[0-9.eE+-]+|\+Inf|NaN)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\.)*)"')


def scrape(fox):
    with urllib.request.urlopen(f"http://127.0.0.1:{fox.port}/metrics", timeout=5) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4"), r.headers
        return r.read().decode()


def parse(text, test):
    """Checks every line of an exposition; returns {(name, frozenset(labels)): value}."""
    types, helps, samples = {}, set(), {}
    test.assertTrue(text.endswith("\n"))
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name = line.split(" ")[2]
            test.assertNotIn(name, helps, line)
            helps.add(name)
            continue
        if line.startswith("# TYPE "):
            parts = line.split(" ")
            test.assertEqual(len(parts), 4, line)
            test.assertIn(parts[3], ("counter", "gauge", "histogram"), line)
            test.assertNotIn(parts[2], types, line)
            types[parts[2]] = parts[3]
            continue
        m = SAMPLE.match(line)
        test.assertIsNotNone(m, f"not a sample line: {line!r}")
        name, labels = m.group(1), frozenset(LABEL.findall(m.group(2) or ""))
        family = re.sub(r"_(bucket|sum|count)$", "", name) if name not in types else name
        test.assertIn(family, types, f"{line!r}: no # TYPE before it")
        test.assertIn(family, helps, f"{line!r}: no # HELP")
        test.assertTrue(family.startswith("fox_"), line)
        if types[family] == "counter":
            test.assertTrue(family.endswith("_total"), line)
        test.assertNotIn((name, labels), samples, f"duplicate sample {line!r}")
        samples[(name, labels)] = float(m.group(3))
    for family, kind in types.items():
        if kind != "histogram":
            continue
        buckets = sorted(((float("inf") if dict(k[1])["le"] == "+Inf" else float(dict(k[1])["le"]), v)
                          for k, v in samples.items() if k[0] == family + "_bucket"))
        test.assertTrue(buckets, family)
        test.assertEqual([v for _, v in buckets], sorted(v for _, v in buckets), family)
        test.assertEqual(buckets[-1][1], samples[(family + "_count", frozenset())], family)
    return samples


def value(samples, name, **labels):
    return samples[(name, frozenset(labels.items()))]


def mqtt_client(fox, client_id, **kw):
    c = paho.Client(client_id=client_id, protocol=paho.MQTTv311, **kw)
    c.connect("127.0.0.1", fox.mqtt_port, keepalive=600)
    c.loop_start()
    wait_for(c.is_connected, 5, what=f"{client_id} connected")
    return c


class MetricsTest(unittest.TestCase):

    def test_metrics_follow_a_workload_exactly(self):
        fox = Fox("--sys-interval", "0", memory=False)
        try:
            before = parse(scrape(fox), self)
            self.assertEqual(value(before, "fox_build_info", version=value_label(before, "fox_build_info")), 1)
            got = []
            sub = mqtt_client(fox, "m-sub")
            sub.on_message = lambda c, u, msg: got.append(msg.payload)
            subscribed = []
            sub.on_subscribe = lambda *a: subscribed.append(1)
            sub.subscribe("ops/t", qos=0)
            wait_for(lambda: subscribed, 5, what="SUBACK")
            pub = mqtt_client(fox, "m-pub")
            n, payload = 50, b"x" * 100
            infos = [pub.publish("ops/t", payload, qos=1) for _ in range(n)]
            infos.append(pub.publish("ops/kept", b"v", qos=1, retain=True))
            for i in infos:
                i.wait_for_publish(5)
            wait_for(lambda: len(got) == n, 5, what="50 deliveries")

            during = parse(scrape(fox), self)
            self.assertEqual(value(during, "fox_connections", protocol="mqtt", transport="tcp"), 2)
            self.assertEqual(value(during, "fox_sessions", realm="realm1"), 2)
            self.assertEqual(value(during, "fox_subscriptions", realm="realm1"), 1)
            self.assertEqual(value(during, "fox_retained_keys", realm="realm1"), 1)
            self.assertEqual(value(during, "fox_history_rows", realm="realm1"), n + 1)
            self.assertGreater(value(during, "fox_sqlite_commit_seconds_count"), 0)
            self.assertGreater(value(during, "fox_resident_memory_bytes"), 1 << 20)
            self.assertGreater(value(during, "fox_open_fds"), 3)

            pub.disconnect()
            sub.disconnect()
            pub.loop_stop()
            sub.loop_stop()
            wait_for(lambda: value(parse(scrape(fox), self), "fox_connections", protocol="mqtt",
                                   transport="tcp") == 0, 5, what="both connections closed")
            after = parse(scrape(fox), self)

            def moved(name, **labels):
                return value(after, name, **labels) - value(before, name, **labels)

            self.assertEqual(moved("fox_publications_received_total", protocol="mqtt"), n + 1)
            self.assertEqual(moved("fox_publications_sent_total", protocol="mqtt"), n)
            # Received: 2 CONNECT, SUBSCRIBE, 51 PUBLISH, 2 DISCONNECT. Sent: 2 CONNACK, SUBACK,
            # 51 PUBACK, 50 PUBLISH.
            self.assertEqual(moved("fox_messages_received_total", protocol="mqtt"), 2 + 1 + n + 1 + 2)
            self.assertEqual(moved("fox_messages_sent_total", protocol="mqtt"), 2 + 1 + n + 1 + n)
            self.assertGreater(moved("fox_received_bytes_total", protocol="mqtt"), n * len(payload))
            self.assertGreater(moved("fox_sent_bytes_total", protocol="mqtt"), n * len(payload))
            for p in ("wamp", "fox"):
                self.assertEqual(moved("fox_messages_received_total", protocol=p), 0)
            self.assertEqual(value(after, "fox_sessions", realm="realm1"), 0)
        finally:
            self.assertEqual(fox.stop(), 0, fox.log())

    def test_wamp_traffic_and_auth_failures(self):
        fox = Fox("--sys-interval", "0", "--config", write_config({"realms": {"realm1": {
            "users": {"alice": {"secret": "s3cret", "role": "user"}},
            "anonymous": "user"}}}))
        try:
            before = parse(scrape(fox), self)

            async def run():
                a = await connect(fox)
                b = await connect(fox)
                got = Collector()
                await b.subscribe(got, "ops.w")
                for i in range(20):
                    a.publish("ops.w", i)
                await got.wait(20)
                await close(a)
                await close(b)
            asyncio.run(run())
            rc = subprocess.run(["mosquitto_pub", "-p", str(fox.mqtt_port), "-u", "alice@realm1", "-P",
                                 "wrong", "-t", "x", "-m", "1"], capture_output=True, timeout=10)
            self.assertNotEqual(rc.returncode, 0)
            after = parse(scrape(fox), self)
            moved = lambda name, **l: value(after, name, **l) - value(before, name, **l)  # noqa: E731
            self.assertEqual(moved("fox_publications_received_total", protocol="wamp"), 20)
            self.assertEqual(moved("fox_publications_sent_total", protocol="wamp"), 20)
            self.assertEqual(moved("fox_auth_failures_total"), 1)
        finally:
            self.assertEqual(fox.stop(), 0, fox.log())


def value_label(samples, name):
    for (n, labels) in samples:
        if n == name:
            return dict(labels)["version"]
    raise AssertionError(name)


# $SYS/broker/... topics in one round: 12 broker figures, 6 loads x 3 windows, and the realm's
# retained and subscription counts.
ROUND = 12 + 18 + 2


class SysTopicsTest(unittest.TestCase):

    def sys_lines(self, fox, count, *extra):
        p = subprocess.run(["mosquitto_sub", "-p", str(fox.mqtt_port), "-t", "$SYS/#", "-F",
                            "%t\t%p", "-C", str(count), "-W", "10", *extra], capture_output=True,
                           timeout=15)
        return p.returncode, p.stdout.decode().splitlines()

    def test_mosquitto_sub_sees_the_broker_figures(self):
        fox = Fox("--sys-interval", "1")
        try:
            for i in range(7):
                subprocess.run(["mosquitto_pub", "-p", str(fox.mqtt_port), "-t", "ops/sys", "-m",
                                str(i), "-q", "1"], check=True, timeout=10)
            # The whole set at once (retained: one round of ROUND topics), then the next round a
            # second later: the last values seen are from after the 7 publications.
            rc, lines = self.sys_lines(fox, 2 * ROUND)
            self.assertEqual(rc, 0, lines)
            self.assertTrue(all(l.startswith("$SYS/broker/") for l in lines), lines)
            figures = dict(line.split("\t", 1) for line in lines)
            self.assertEqual(len(figures), ROUND, sorted(figures))
            self.assertTrue(figures["$SYS/broker/version"].startswith("fox "), figures)
            self.assertRegex(figures["$SYS/broker/uptime"], r"^\d+ seconds$")
            self.assertEqual(figures["$SYS/broker/clients/connected"], "1")   # this subscriber
            self.assertEqual(figures["$SYS/broker/publish/messages/received"], "7")
            self.assertEqual(figures["$SYS/broker/subscriptions/count"], "1")
            for name in ("messages/received", "messages/sent", "bytes/received", "bytes/sent",
                         "load/publish/received/5min", "load/bytes/sent/15min",
                         "retained messages/count", "store/messages/count"):
                self.assertIn("$SYS/broker/" + name, figures)
            self.assertGreater(float(figures["$SYS/broker/load/publish/received/1min"]), 0)
            uptimes = [int(l.split("\t")[1].split()[0]) for l in lines
                       if l.startswith("$SYS/broker/uptime\t")]
            self.assertEqual(len(uptimes), 2)
            self.assertGreater(uptimes[1], uptimes[0])   # published every second
            # `#` does not match $SYS topics (MQTT 4.7.2), retained or live.
            got = []
            c = mqtt_client(fox, "hash")
            c.on_message = lambda cl, u, msg: got.append(msg.topic)
            c.subscribe("#")
            self.sys_lines(fox, ROUND + 1)   # a live round went out meanwhile
            c.publish("ops/marker", b"1", qos=1).wait_for_publish(5)
            wait_for(lambda: "ops/marker" in got, 5, what="the marker")
            self.assertEqual([t for t in got if t.startswith("$")], [])
            c.disconnect()
            c.loop_stop()
        finally:
            self.assertEqual(fox.stop(), 0, fox.log())

    def test_sys_respects_permissions(self):
        fox = Fox("--sys-interval", "1", "--config", write_config({"realms": {"realm1": {
            "users": {"ops": {"secret": "pw", "role": "ops"}},
            "anonymous": "guest",
            "permissions": {"ops": [{"uri": "$SYS.#", "allow": ["subscribe"]}],
                            "guest": [{"uri": "public.#", "allow": ["subscribe", "publish"]}]}}}}))
        try:
            rc, lines = self.sys_lines(fox, 3, "-u", "ops@realm1", "-P", "pw")
            self.assertEqual(rc, 0, lines)
            self.assertTrue(all(l.startswith("$SYS/broker/") for l in lines), lines)
            p = subprocess.run(["mosquitto_sub", "-p", str(fox.mqtt_port), "-t", "$SYS/#", "-C",
                                "1", "-W", "3"], capture_output=True, timeout=10)
            self.assertEqual(p.stdout, b"")   # refused (SUBACK 0x80), nothing delivered
        finally:
            self.assertEqual(fox.stop(), 0, fox.log())


class FoxStatsTest(unittest.TestCase):

    def test_a_wamp_client_gets_fox_stats(self):
        fox = Fox("--sys-interval", "1")
        try:
            async def run():
                c = await connect(fox)
                got = Collector()
                await c.subscribe(got, "fox.stats", options=SubscribeOptions(get_retained=True))
                items = await got.wait(1, timeout=5)
                stats = items[0][0][0]
                self.assertEqual(stats["realms"]["realm1"]["sessions"], 1)
                self.assertEqual(stats["connections"]["wamp"]["websocket"], 1)
                self.assertIn("mqtt", stats["traffic"])
                self.assertGreaterEqual(stats["uptime_s"], 0)
                await got.wait(2, timeout=5)   # and again a second later
                await close(c)
            asyncio.run(run())
        finally:
            self.assertEqual(fox.stop(), 0, fox.log())


class LogTest(unittest.TestCase):

    def test_text_lines_start_with_the_time(self):
        fox = Fox()
        try:
            lines = fox.raw_log().splitlines()
            self.assertTrue(lines)
            for line in lines:
                self.assertRegex(line, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (debug|info|warn|error) [a-z]+: ")
                stamp = calendar.timegm(time.strptime(line[:19], "%Y-%m-%dT%H:%M:%S"))
                self.assertLess(abs(stamp - time.time()), 300)
        finally:
            self.assertEqual(fox.stop(), 0, fox.log())

    def test_json_lines_and_connects_at_info(self):
        fox = Fox("--log-format", "json")
        try:
            subprocess.run(["mosquitto_pub", "-p", str(fox.mqtt_port), "-i", "logged-client", "-t",
                            "ops/log", "-m", "1"], timeout=10)
            fox.wait_log("logged-client")
        finally:
            self.assertEqual(fox.stop(), 0, fox.log())
        entries = [json.loads(line) for line in fox.raw_log().splitlines()]
        for e in entries:
            self.assertEqual(list(e)[:4], ["time", "level", "component", "message"], e)
            self.assertRegex(e["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertIn("fox ready", [e["message"] for e in entries])
        mqtt = [e for e in entries if e["component"] == "mqtt" and "logged-client" in e["message"]]
        self.assertTrue(any(e["level"] == "info" and "connected" in e["message"] for e in mqtt), mqtt)


if __name__ == "__main__":
    main()
