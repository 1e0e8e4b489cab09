"""The resource-lock demo (SPEC §5): `fox lock` workers share one mutex built from retained
state with when/watch/will. It must pass from worker to worker, never be held by two at once,
and pass on within a second when the holder is killed with SIGKILL.

Each worker prints "<UTC ISO-8601 ms> locked|released|lost RES by NAME". The released line of one
worker and the locked line of the next are printed on the same router turn (the release is what
grants the next waiter), so they may race by a few milliseconds: an overlap up to OVERLAP_SLACK is
a hand-over, anything longer is two holders at once."""
import datetime
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest

from harness import FOX_BIN, Fox, free_port, main, run_fox, wait_for

OVERLAP_SLACK = 0.1  # seconds
LINE = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z (locked|released|lost) (\S+) by (\S+)\s*$")
DEMO_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "demo"))


def parse_events(lines):
    """(time in seconds since the epoch, 'locked'|'released'|'lost', resource, worker) per lock
    line ('lost': the worker's conditional release was refused, its lock had been taken)."""
    events = []
    for line in lines:
        m = LINE.search(line)
        if m:
            ts = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f").replace(
                tzinfo=datetime.timezone.utc).timestamp()
            events.append((ts, m.group(2), m.group(3), m.group(4)))
    return sorted(events, key=lambda e: e[0])


def holding_intervals(events, end_time, ended=None):
    """[(start, end, worker)]: from each worker's 'locked' to its next 'released' (or, if it never
    released, to `ended[worker]` — e.g. when it was killed — or to end_time)."""
    ended = ended or {}
    open_since = {}
    intervals = []
    for ts, what, _, worker in events:
        if what == "locked":
            if worker in open_since:
                raise AssertionError(f"{worker} locked twice without releasing: {events}")
            open_since[worker] = ts
        elif worker in open_since:
            intervals.append((open_since.pop(worker), ts, worker))
    for worker, start in open_since.items():
        intervals.append((start, ended.get(worker, end_time), worker))
    return sorted(intervals)


def assert_never_two_holders(test, intervals):
    for i, (s1, e1, w1) in enumerate(intervals):
        for s2, e2, w2 in intervals[i + 1:]:
            if w1 == w2:
                continue
            overlap = min(e1, e2) - max(s1, s2)
            test.assertLessEqual(
                overlap, OVERLAP_SLACK,
                f"two holders at once: {w1} held {s1:.3f}..{e1:.3f} and {w2} held "
                f"{s2:.3f}..{e2:.3f} (overlap {overlap:.3f} s)")


def hand_overs(events):
    holders = [w for _, what, _, w in events if what == "locked"]
    return sum(1 for a, b in zip(holders, holders[1:]) if a != b)


class Worker:
    def __init__(self, url, resource, name, hold, loop=True):
        self.name = name
        self.dir = tempfile.mkdtemp(prefix="fox-lock-")
        self.out_path = os.path.join(self.dir, "out")
        self._out = open(self.out_path, "wb")
        self.proc = subprocess.Popen(
            [FOX_BIN, "lock", resource, "--hold", str(hold), "--id", name, "--url", url]
            + (["--loop"] if loop else []),
            stdin=subprocess.DEVNULL, stdout=self._out, stderr=subprocess.STDOUT)
        self.pid = self.proc.pid

    def lines(self):
        with open(self.out_path, "rb") as f:
            return f.read().decode("utf-8", "replace").splitlines()

    def close(self):
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
            self.proc.wait()
        self._out.close()


class LockWorkersTest(unittest.TestCase):
    def setUp(self):
        self.server = Fox()
        self.url = self.server.url("/wamp")
        self.workers = []

    def tearDown(self):
        for w in self.workers:
            w.close()
        self.server.stop()

    def start_workers(self, resource, hold):
        self.workers = [Worker(self.url, resource, f"w{i}", hold) for i in (1, 2, 3)]

    def events(self):
        return parse_events([l for w in self.workers for l in w.lines()])

    def test_three_workers_hand_the_lock_over_and_never_hold_it_together(self):
        self.start_workers("it.lock.res", 1)
        t_end = time.monotonic() + 10
        while time.monotonic() < t_end:
            for w in self.workers:
                self.assertIsNone(w.proc.poll(), f"{w.name} exited: {w.lines()}")
            time.sleep(0.1)
        now = time.time()
        for w in self.workers:
            os.kill(w.pid, signal.SIGTERM)
        for w in self.workers:
            self.assertEqual(w.proc.wait(5), 0, f"{w.name} did not exit 0 on SIGTERM")
        events = [e for e in self.events() if e[0] <= now]
        self.assertTrue(events, "no lock lines at all: " + repr([w.lines() for w in self.workers]))
        assert_never_two_holders(self, holding_intervals(events, now))
        self.assertGreaterEqual(hand_overs(events), 2, events)
        self.assertGreaterEqual(len({e[3] for e in events if e[1] == "locked"}), 2, events)

    def test_kill_9_of_the_holder_hands_the_lock_on_within_a_second(self):
        # A long hold, so only the router's will (not an ordinary release) can explain a quick
        # hand-over.
        self.start_workers("it.lock.kill", 5)

        def current_holder():
            intervals = holding_intervals(self.events(), time.time() + 100)
            open_ = [(s, w) for s, e, w in intervals if e > time.time() + 50]
            return open_[0] if open_ else None

        start, holder = wait_for(current_holder, 10, what="a worker holding the lock")
        victim = next(w for w in self.workers if w.name == holder)
        os.kill(victim.pid, signal.SIGKILL)
        killed_at = time.time()
        victim.proc.wait(5)

        def next_lock():
            later = [e for e in self.events()
                     if e[1] == "locked" and e[3] != holder and e[0] >= start]
            return later[0] if later else None

        ts, _, _, successor = wait_for(next_lock, 3, what="another worker taking the lock")
        self.assertLess(ts - killed_at, 1.0,
                        f"{successor} took the lock {ts - killed_at:.3f} s after the kill")
        self.assertLess(ts - start, 4.0, "the hand-over must not wait for the 5 s hold to end")
        time.sleep(0.5)
        events = self.events()
        assert_never_two_holders(self, holding_intervals(events, time.time(), {holder: killed_at}))

    def test_a_worker_whose_lock_was_taken_does_not_delete_the_new_value(self):
        # The release is conditional on what this acquisition wrote: when the key changed while
        # the worker held it (here another client overwrote it; in a cluster, a will fired for a
        # cut-off node), the release is refused, the worker says "lost" and the new value stays.
        res = "it.lock.lost"
        w = Worker(self.url, res, "w1", 2, loop=False)
        self.workers = [w]
        wait_for(lambda: any(e[1] == "locked" for e in self.events()), 5, what="w1 holding")
        rc, out, err = run_fox("pub", res, '{"id": "intruder"}', "--retain", "--ack",
                               "--url", self.url)
        self.assertEqual(rc, 0, err)
        self.assertEqual(w.proc.wait(10), 0, w.lines())
        self.assertTrue(any(LINE.search(l) and LINE.search(l).group(2) == "lost"
                            for l in w.lines()), w.lines())
        rc, out, err = run_fox("sub", res, "--retained", "--snapshot", "--url", self.url)
        self.assertEqual(rc, 0, err)
        self.assertIn('"intruder"', out, "the release deleted the value that replaced the lock")


class SupervisordDemoTest(unittest.TestCase):
    """Runs demo/resource-lock.supervisord.ini (a temp copy on a free port, with its socket and
    pid file in a temp dir) and reads its combined, program-prefixed log."""

    def setUp(self):
        if not shutil.which("supervisord"):
            self.skipTest("supervisord (Debian package supervisor) is not installed")
        self.dir = tempfile.mkdtemp(prefix="fox-sv-")
        port = free_port()
        with open(os.path.join(DEMO_DIR, "resource-lock.supervisord.ini")) as f:
            ini = f.read()
        ini = ini.replace("%(here)s", DEMO_DIR)
        ini = ini.replace("/tmp/fox-resource-lock-", os.path.join(self.dir, "fox-resource-lock-"))
        ini = ini.replace("9100", str(port))
        ini = ini.replace(os.path.join(DEMO_DIR, "../build/native/fox"), FOX_BIN)
        self.ini = os.path.join(self.dir, "demo.ini")
        with open(self.ini, "w") as f:
            f.write(ini)
        self.log = []
        self.proc = subprocess.Popen(["supervisord", "-n", "-c", self.ini], cwd=self.dir,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.proc.stdout:
            self.log.append(raw.decode("utf-8", "replace").rstrip("\n"))

    def tearDown(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.reader.join(5)
        self.proc.stdout.close()

    def test_demo_log_shows_hand_overs_and_never_two_holders(self):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            self.assertIsNone(self.proc.poll(), "supervisord exited:\n" + "\n".join(self.log))
            if hand_overs(parse_events(list(self.log))) >= 2 and \
                    time.monotonic() > deadline - 5:
                break
            time.sleep(0.2)
        now = time.time()
        os.kill(self.proc.pid, signal.SIGTERM)
        self.proc.wait(15)
        self.reader.join(5)
        lock_lines = [l for l in self.log if LINE.search(l)]
        for l in lock_lines:
            self.assertRegex(l, r"^\[worker[123]\] ", "every line carries its program name")
        for l in lock_lines:
            m = LINE.search(l)
            self.assertEqual(l.split("]")[0][1:], m.group(4), "prefix and lock owner agree")
        events = [e for e in parse_events(lock_lines) if e[0] <= now]
        self.assertTrue(any(l.startswith("[router] ") for l in self.log), "\n".join(self.log))
        assert_never_two_holders(self, holding_intervals(events, now))
        self.assertGreaterEqual(hand_overs(events), 2, "\n".join(self.log))


if __name__ == "__main__":
    main()
