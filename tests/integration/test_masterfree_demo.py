"""The masterfree demo (demo/masterfree.supervisord.ini, SPEC §9): 3 sync, 3 ndb and 3 entry
processes under supervisord, each a node of demo/masterfree.json. A temp copy runs on free ports
with its data, socket and pid file in a temp dir. mosquitto_pub on one entry and `fox pub` on
another reach mosquitto_sub and `fox sub` on the others, in the same order; kill -9 of an ndb and
of a sync node (supervisorctl signal KILL) does not stop it."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest

from harness import FOX_BIN, free_port, main, run_fox, wait_for
from mqtt_client import MosquittoSub, mosquitto_pub

DEMO_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "demo"))


class MasterfreeDemoTest(unittest.TestCase):
    def setUp(self):
        if not shutil.which("supervisord"):
            self.skipTest("supervisord (Debian package supervisor) is not installed")
        self.dir = tempfile.mkdtemp(prefix="fox-mf-")
        with open(os.path.join(DEMO_DIR, "masterfree.json")) as f:
            doc = json.load(f)
        for node in doc["nodes"].values():
            for key in ("fox", "port", "mqtt"):
                if key in node:
                    node[key] = free_port()
        self.doc = doc
        with open(os.path.join(self.dir, "masterfree.json"), "w") as f:
            json.dump(doc, f)
        with open(os.path.join(DEMO_DIR, "masterfree.supervisord.ini")) as f:
            ini = f.read()
        ini = ini.replace("%(here)s/../build/native/fox", FOX_BIN)
        ini = ini.replace("%(here)s/prefix-log.sh", os.path.join(DEMO_DIR, "prefix-log.sh"))
        ini = ini.replace("/tmp/fox-masterfree-", os.path.join(self.dir, "fox-masterfree-"))
        ini = ini.replace("directory=/tmp", "directory=" + self.dir)
        self.ini = os.path.join(self.dir, "masterfree.supervisord.ini")
        with open(self.ini, "w") as f:
            f.write(ini)
        self.log = []
        self.proc = subprocess.Popen(["supervisord", "-n", "-c", self.ini], cwd=self.dir,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.subs = []

    def _read(self):
        for raw in self.proc.stdout:
            self.log.append(raw.decode("utf-8", "replace").rstrip("\n"))

    def tearDown(self):
        for s in self.subs:
            s.stop()
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.reader.join(5)
        self.proc.stdout.close()

    def ready(self, program):
        return any(l.startswith(f"[{program}] ") and "fox ready" in l for l in self.log)

    def ctl(self, *args):
        return subprocess.run(["supervisorctl", "-c", self.ini] + list(args), capture_output=True,
                              timeout=20, stdin=subprocess.DEVNULL)

    def test_publish_on_one_entry_reaches_the_others(self):
        wait_for(lambda: all(self.ready(f"entry{i}") for i in (1, 2, 3)), 30,
                 what="the three entries ready:\n" + "\n".join(self.log))
        nodes = self.doc["nodes"]
        sub2 = MosquittoSub(nodes["E2"]["mqtt"], "demo/#", qos=1, timeout=10).subscribed()
        sub3 = MosquittoSub(nodes["E3"]["mqtt"], "demo/#", qos=1, timeout=10).subscribed()
        self.subs += [sub2, sub3]
        err_path = os.path.join(self.dir, "fox-sub.err")
        with open(err_path, "wb") as err_file:
            fox_sub = subprocess.Popen([FOX_BIN, "sub", "demo.x", "--count", "6", "--url",
                                        f"ws://127.0.0.1:{nodes['E3']['port']}/wamp"],
                                       stdout=subprocess.PIPE, stderr=err_file,
                                       stdin=subprocess.DEVNULL)
        try:
            def subscribed():
                with open(err_path, "rb") as f:
                    return b"subscribed" in f.read()
            wait_for(subscribed, 10, what="fox sub subscribed")
            for i in range(3):
                mosquitto_pub(nodes["E1"]["mqtt"], "demo/x", json.dumps(f"mqtt-{i}").encode(), qos=1)
                rc, _, err = run_fox("pub", "demo.x", json.dumps(f"wamp-{i}"), "--ack", "--url",
                                     f"ws://127.0.0.1:{nodes['E2']['port']}/wamp", timeout=20)
                self.assertEqual(rc, 0, err)
            got2 = [m.payload for m in sub2.messages.wait(6, timeout=15)]
            got3 = [m.payload for m in sub3.messages.wait(6, timeout=15)]
            self.assertEqual(got2, got3, "both entries deliver the same order")
            self.assertEqual(sorted(json.loads(p) for p in got2),
                             sorted([f"mqtt-{i}" for i in range(3)] + [f"wamp-{i}" for i in range(3)]))
            out, _ = fox_sub.communicate(timeout=15)
            events = [json.loads(l) for l in out.decode().splitlines()]
            ids = [e["publication"] for e in events]
            self.assertEqual(ids, sorted(ids))
            self.assertEqual([e["args"][0] for e in events], [json.loads(p) for p in got3])
        finally:
            if fox_sub.poll() is None:
                fox_sub.kill()
                fox_sub.wait()

        # kill -9 one ndb and one sync node: a quorum of each is left.
        for program in ("ndb1", "sync1"):
            self.assertEqual(self.ctl("signal", "KILL", program).returncode, 0)
        mosquitto_pub(nodes["E1"]["mqtt"], "demo/x", b'"after-kill"', qos=1, timeout=20)
        wait_for(lambda: any(m.payload == b'"after-kill"' for m in sub3.messages.snapshot()), 15,
                 what="the publication after the kills on E3")
        self.assertTrue(any(l.startswith("[sync2] ") for l in self.log))
        self.assertTrue(any(l.startswith("[ndb3] ") for l in self.log))


if __name__ == "__main__":
    main()
