"""SQLite persistence (SPEC §8): crash safety of acknowledged publications (kill -9 during a
pipelined burst), event ids never reused, MQTT persistent sessions across a restart, wills
applied at start, refusal of a corrupt or newer database, --sync full.

Every fox here runs with --data DIR (Fox(memory=False)); the data directory is shared by the
process and its successor.
"""
import os
import signal
import struct
import sqlite3
import tempfile
import threading
import time
import unittest

from harness import Fox, main, wait_for
from mqtt_client import MqttClient
from raw_wamp import (encode, EVENT, PUBLISH, PUBLISHED, SUBSCRIBE, SUBSCRIBED, WELCOME, JSON,
                      RawSocketClient, hello)


def wamp(fox):
    c = RawSocketClient(fox.rawsocket_port, JSON, timeout=10.0)
    c.send_msg(hello("realm1"))
    msg = c.recv_msg()
    assert msg and msg[0] == WELCOME, msg
    return c


def retained_values(fox, prefix):
    """{topic: (publication id, args)} of every retained value under `prefix` (a topic prefix),
    read with a `retained: true` subscription; a PUBLISHED barrier ends the replay."""
    c = wamp(fox)
    try:
        c.send_msg([SUBSCRIBE, 1, {"retained": True, "match": "prefix"}, prefix])
        c.send_msg([PUBLISH, 2, {"acknowledge": True}, "barrier.topic", []])
        values = {}
        subscribed = False
        while True:
            msg = c.recv_msg(timeout=20.0)
            assert msg is not None, "connection closed during the replay"
            if msg[0] == SUBSCRIBED:
                subscribed = True
            elif msg[0] == EVENT:
                assert msg[3].get("retained") is True, msg
                values[msg[3]["topic"]] = (msg[2], msg[4] if len(msg) > 4 else None)
            elif msg[0] == PUBLISHED and msg[1] == 2:
                assert subscribed
                return values, msg[2]
            else:
                raise AssertionError(f"unexpected {msg}")
    finally:
        c.close()


def publish_acked(c, request, topic, args, options=None):
    opts = {"acknowledge": True}
    opts.update(options or {})
    c.send_msg([PUBLISH, request, opts, topic, args])
    msg = c.recv_msg()
    assert msg and msg[0] == PUBLISHED and msg[1] == request, msg
    return msg[2]


class CrashTest(unittest.TestCase):
    N = 5000
    KILL_AT = 2500

    def test_kill9_keeps_every_acknowledged_value(self):
        data = tempfile.mkdtemp(prefix="fox-data-")
        fox = Fox(memory=False, data_dir=data)
        acked = {}   # request -> publication id
        try:
            c = wamp(fox)
            frames = []
            for i in range(1, self.N + 1):
                frames.append([PUBLISH, i, {"acknowledge": True, "retain": True},
                               f"crash.k{i}", [{"i": i, "text": f"value-{i}-" + "x" * (i % 50)}]])

            progress = threading.Condition()
            killed = []

            def sender():
                # Pipelined: chunks of 100 frames without waiting for their PUBLISHED, at most
                # ~1000 outstanding (so the kill lands in the middle of the burst, not after it).
                try:
                    for start in range(0, len(frames), 100):
                        with progress:
                            progress.wait_for(lambda: killed or start - len(acked) <= 1000, 20)
                            if killed:
                                return
                        c.send_raw(b"".join(
                            struct.pack(">I", len(b)) + b
                            for b in (encode(JSON, f) for f in frames[start:start + 100])))
                except OSError:
                    pass  # the broker died under us: expected
            t = threading.Thread(target=sender, daemon=True)
            t.start()
            outstanding_seen = 0
            while len(acked) < self.KILL_AT:
                msg = c.recv_msg(timeout=20.0)
                self.assertIsNotNone(msg, "connection closed before the kill")
                self.assertEqual(msg[0], PUBLISHED, msg)
                with progress:
                    acked[msg[1]] = msg[2]
                    progress.notify_all()
            os.kill(fox.pid, signal.SIGKILL)
            with progress:
                killed.append(True)
                progress.notify_all()
            fox.proc.wait(5)
            # Whatever was already on the wire counts as acknowledged too.
            try:
                while True:
                    msg = c.recv_msg(timeout=0.5)
                    if msg is None:
                        break
                    if msg[0] == PUBLISHED:
                        with progress:
                            acked[msg[1]] = msg[2]
            except OSError:
                pass
            t.join(10)
            c.close()
            outstanding_seen = len(acked)
        finally:
            fox.__exit__(None, None, None)
        self.assertGreaterEqual(outstanding_seen, self.KILL_AT)

        fox2 = Fox(memory=False, data_dir=data)
        try:
            values, barrier_id = retained_values(fox2, "crash.")
            for request, pub_id in acked.items():
                topic = f"crash.k{request}"
                self.assertIn(topic, values, f"acknowledged {topic} lost by the crash")
                got_id, args = values[topic]
                self.assertEqual(got_id, pub_id, topic)
                self.assertEqual(args, frames[request - 1][4], topic)
            # Nothing unacknowledged is half-written either: every present value is intact.
            for topic, (got_id, args) in values.items():
                i = int(topic[len("crash.k"):])
                self.assertEqual(args, frames[i - 1][4])
            print(f"\n  crash test: {len(acked)} PUBLISHED received before the kill, "
                  f"{len(values)} values present after the restart", flush=True)
            max_acked = max(acked.values())
            self.assertGreater(barrier_id, max_acked)
            c = wamp(fox2)
            new_id = publish_acked(c, 1, "crash.after", ["new"], {"retain": True})
            self.assertGreater(new_id, max_acked)
            self.assertLessEqual(new_id, 2 ** 53)
            c.close()
            self.assertEqual(fox2.stop(), 0)
        finally:
            fox2.__exit__(None, None, None)


class MqttSessionRestart(unittest.TestCase):
    def test_persistent_session_survives_graceful_restart(self):
        data = tempfile.mkdtemp(prefix="fox-data-")
        fox = Fox(memory=False, data_dir=data)
        try:
            # A retained value first: the restored subscription must NOT replay it.
            pub = MqttClient(fox)
            pub.publish("persist/t", b"retained-before", qos=1, retain=True)
            sub = MqttClient(fox, client_id="persist-sub", clean_session=False)
            self.assertEqual(sub.subscribe("persist/#", qos=1), [1])
            sub.messages.wait(1)  # the retained replay of the first subscribe
            sub.disconnect()
            for i in range(100):
                pub.publish("persist/t", f"m{i}".encode(), qos=1)
            pub.disconnect()
            self.assertEqual(fox.stop(), 0)
        finally:
            fox.__exit__(None, None, None)

        fox2 = Fox(memory=False, data_dir=data)
        try:
            self.assertIn("1 MQTT persistent session(s) restored", fox2.log())
            sub = MqttClient(fox2, client_id="persist-sub", clean_session=False)
            self.assertTrue(sub.session_present)
            got = sub.messages.wait(100, timeout=10)
            self.assertEqual([m.payload for m in got[:100]], [f"m{i}".encode() for i in range(100)])
            self.assertTrue(all(m.qos == 1 for m in got[:100]))
            # Live messages still arrive through the restored subscription, and nothing else
            # (no retained replay) came before them.
            p2 = MqttClient(fox2)
            p2.publish("persist/t", b"live", qos=1)
            got = sub.messages.wait(101, timeout=5)
            self.assertEqual(got[100].payload, b"live")
            self.assertEqual(len(got), 101)
            p2.disconnect()
            sub.disconnect()
        finally:
            fox2.__exit__(None, None, None)

    def test_clean_session_discards_the_stored_session(self):
        data = tempfile.mkdtemp(prefix="fox-data-")
        fox = Fox(memory=False, data_dir=data)
        try:
            sub = MqttClient(fox, client_id="gone-sub", clean_session=False)
            sub.subscribe("gone/#", qos=1)
            sub.disconnect()
            again = MqttClient(fox, client_id="gone-sub", clean_session=True)
            again.disconnect()
            self.assertEqual(fox.stop(), 0)
        finally:
            fox.__exit__(None, None, None)
        fox2 = Fox(memory=False, data_dir=data)
        try:
            self.assertIn("0 MQTT persistent session(s) restored", fox2.log())
        finally:
            fox2.__exit__(None, None, None)


class Wills(unittest.TestCase):
    def test_will_applied_at_start_after_kill9(self):
        data = tempfile.mkdtemp(prefix="fox-data-")
        fox = Fox(memory=False, data_dir=data)
        try:
            c = wamp(fox)
            publish_acked(c, 1, "will.replaced", ["alive"], {"retain": True, "will": "gone"})
            publish_acked(c, 2, "will.deleted", ["alive"], {"retain": True, "will": None})
            publish_acked(c, 3, "will.kept", ["kept"], {"retain": True})
            os.kill(fox.pid, signal.SIGKILL)
            fox.proc.wait(5)
            c.close()
        finally:
            fox.__exit__(None, None, None)
        fox2 = Fox(memory=False, data_dir=data)
        try:
            self.assertIn("2 will(s) applied", fox2.log())
            values, _ = retained_values(fox2, "will.")
            self.assertEqual(values["will.replaced"][1], ["gone"])
            self.assertNotIn("will.deleted", values)
            self.assertEqual(values["will.kept"][1], ["kept"])
            self.assertEqual(fox2.stop(), 0)
        finally:
            fox2.__exit__(None, None, None)
        # Applied once: a third start has nothing left to apply.
        fox3 = Fox(memory=False, data_dir=data)
        try:
            self.assertIn("0 will(s) applied", fox3.log())
        finally:
            fox3.__exit__(None, None, None)


class Refusals(unittest.TestCase):
    def start_and_fail(self, data):
        fox = Fox(memory=False, data_dir=data, ready=False)
        try:
            wait_for(lambda: fox.proc.poll() is not None, 10, what="fox to exit")
            return fox.proc.returncode, fox.log()
        finally:
            fox.__exit__(None, None, None)

    def test_corrupt_database_refused(self):
        data = tempfile.mkdtemp(prefix="fox-data-")
        path = os.path.join(data, "fox.db")
        with open(path, "wb") as f:
            f.write(b"this is not a database " * 500)
        rc, log = self.start_and_fail(data)
        self.assertEqual(rc, 1, log)
        errors = [line for line in log.splitlines() if path in line]
        self.assertEqual(len(errors), 1, log)
        self.assertNotIn("fox ready", log)

    def test_corrupt_pages_refused(self):
        # A valid header, garbage pages: the integrity check catches it.
        data = tempfile.mkdtemp(prefix="fox-data-")
        fox = Fox(memory=False, data_dir=data)
        try:
            c = wamp(fox)
            for i in range(200):
                publish_acked(c, i + 1, f"corrupt.k{i}", ["v" * 200], {"retain": True})
            c.close()
            self.assertEqual(fox.stop(), 0)
        finally:
            fox.__exit__(None, None, None)
        path = os.path.join(data, "fox.db")
        with sqlite3.connect(path) as db:   # move the WAL into the main file
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = os.path.getsize(path)
        with open(path, "r+b") as f:
            f.seek(4096)
            f.write(os.urandom(size - 4096))
        rc, log = self.start_and_fail(data)
        self.assertEqual(rc, 1, log)
        self.assertIn(path, log)

    def test_newer_schema_refused(self):
        data = tempfile.mkdtemp(prefix="fox-data-")
        path = os.path.join(data, "fox.db")
        with sqlite3.connect(path) as db:
            db.execute("PRAGMA user_version = 99")
        rc, log = self.start_and_fail(data)
        self.assertEqual(rc, 1, log)
        self.assertIn(path, log)
        self.assertIn("newer", log)


class SyncFull(unittest.TestCase):
    def test_sync_full(self):
        data = tempfile.mkdtemp(prefix="fox-data-")
        fox = Fox("--sync", "full", memory=False, data_dir=data)
        try:
            self.assertIn("synchronous=full", fox.log())
            c = wamp(fox)
            first = publish_acked(c, 1, "sync.k", [{"a": 1}], {"retain": True})
            c.close()
            self.assertEqual(fox.stop(), 0)
        finally:
            fox.__exit__(None, None, None)
        fox2 = Fox("--sync", "full", memory=False, data_dir=data)
        try:
            values, barrier = retained_values(fox2, "sync.")
            self.assertEqual(values["sync.k"], (first, [{"a": 1}]))
            self.assertGreater(barrier, first)
        finally:
            fox2.__exit__(None, None, None)


class History(unittest.TestCase):
    def test_after_replays_history_across_a_restart(self):
        data = tempfile.mkdtemp(prefix="fox-data-")
        fox = Fox(memory=False, data_dir=data)
        try:
            c = wamp(fox)
            ids = [publish_acked(c, i + 1, f"hist.{'a' if i % 2 else 'b'}.x", [i]) for i in range(10)]
            c.close()
            self.assertEqual(fox.stop(), 0)
        finally:
            fox.__exit__(None, None, None)
        fox2 = Fox(memory=False, data_dir=data)
        try:
            c = wamp(fox2)
            c.send_msg([SUBSCRIBE, 1, {"after": ids[2]}, "hist.a.#"])
            c.send_msg([PUBLISH, 2, {"acknowledge": True}, "barrier", []])
            events = []
            while True:
                msg = c.recv_msg()
                if msg[0] == EVENT:
                    events.append((msg[2], msg[4]))
                elif msg[0] == PUBLISHED:
                    break
            expected = [(ids[i], [i]) for i in range(10) if i % 2 and ids[i] > ids[2]]
            self.assertEqual(events, expected)
            c.close()
        finally:
            fox2.__exit__(None, None, None)


if __name__ == "__main__":
    main()
