"""Integration-test harness: starts the real fox binary on free 127.0.0.1 ports, waits for
`fox ready` on its stderr (with a deadline, never a blind sleep), and stops it by pid.

Tests run with /usr/bin/python3 (Debian's python3-autobahn, paho, msgpack, cbor2 live there).
"""
import fcntl
import hashlib
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

FOX_BIN = os.path.abspath(os.environ.get("FOX_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "native", "fox"))


_ports_given = set()

# fox's text log lines start with the time ("2026-12-04T03:25:01.123Z info serve: fox ready"):
# tests read them without it (log(), run_fox()); raw_log() keeps it.
_LOG_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ", re.MULTILINE)


def strip_log_times(text):
    return _LOG_TIME.sub("", text)


# The lines of a session's life (joined/left, MQTT connected/disconnected, at info).
_LIFECYCLE = re.compile(r": (session \d+ (joined|left) realm |'[^']*' (connected to|disconnected from) realm )")


def event_lines(text):
    """The log lines of `text` that are not a session's joining or leaving: what a test of one
    event (a refused message, say) counts."""
    return [l for l in text.splitlines() if not _LIFECYCLE.search(l)]



def free_port():
    """A TCP port that was free a moment ago on 127.0.0.1, and not handed out before by this
    process (the kernel may offer a port just closed again: a test that asks for several ports
    must not get one twice)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _ports_given:
            _ports_given.add(port)
            return port


def wait_for(condition, timeout=5.0, interval=0.02, what="condition"):
    """Polls `condition` until it is truthy or the deadline passes (then fails loudly)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# Set by CMake for the FOX_SANITIZE build (make test-sanitize): fox runs under AddressSanitizer
# and UBSan, slower and bigger; a test with a time or memory figure may scale it by these.
SANITIZED = os.environ.get("FOX_SANITIZED") == "1"
SLOWDOWN = 3 if SANITIZED else 1
# ...and its memory: shadow bytes and a quarantine of freed blocks (ASAN_OPTIONS in CMakeLists.txt).
MEMORY_FACTOR = 2 if SANITIZED else 1

_SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                    "WARNING: AddressSanitizer")


def check_sanitizers(log):
    """Fails with the report if a sanitizer wrote one into a fox log."""
    for mark in _SANITIZER_MARKS:
        at = log.find(mark)
        if at >= 0:
            raise AssertionError("fox's sanitizer report:\n" + log[max(0, at - 200):at + 4000])


class Fox:
    """One running `fox serve`. Use as a context manager, or call stop(). Either fails the test
    if a sanitizer reported an error in fox's log (the FOX_SANITIZE build)."""

    def __init__(self, *args, ready=True, timeout=10.0, port=None, rawsocket_port=None,
                 mqtt_port=None, extra_env=None, memory=True, data_dir=None, fox_port=None):
        """memory=True (the default) passes --memory; memory=False passes --data DIR (data_dir,
        or a fresh directory under the work directory): the SQLite engine."""
        self.port = port or free_port()
        self.rawsocket_port = free_port() if rawsocket_port is None else rawsocket_port
        self.mqtt_port = free_port() if mqtt_port is None else mqtt_port
        self.fox_port = free_port() if fox_port is None else fox_port
        self.workdir = tempfile.mkdtemp(prefix="fox-it-")
        if memory:
            storage = ["--memory"]
            self.data_dir = None
        else:
            self.data_dir = data_dir or os.path.join(self.workdir, "data")
            storage = ["--data", self.data_dir]
        argv = [FOX_BIN, "serve", "--bind", "127.0.0.1", "--port", str(self.port),
                "--rawsocket-port", str(self.rawsocket_port), "--mqtt-port", str(self.mqtt_port),
                "--fox-port", str(self.fox_port)] + storage + list(args)
        env = dict(os.environ)
        env.update(extra_env or {})
        self.stderr_path = os.path.join(self.workdir, "stderr.log")
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self._stderr, cwd=self.workdir, env=env)
        self.pid = self.proc.pid
        if ready:
            self.wait_log("fox ready", timeout)

    def raw_log(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def log(self):
        return strip_log_times(self.raw_log())

    def wait_log(self, text, timeout=10.0):
        def seen():
            if text in self.log():
                return True
            if self.proc.poll() is not None:
                raise AssertionError(f"fox exited with {self.proc.returncode} before '{text}':\n"
                                     + self.log())
            return False
        wait_for(seen, timeout, what=f"'{text}' in the fox log")

    def url(self, path="/wamp"):
        return f"ws://127.0.0.1:{self.port}{path}"

    def stop(self, sig=signal.SIGTERM, timeout=5.0):
        """Signals the process by pid and waits for it; returns the exit code."""
        if self.proc.poll() is None:
            os.kill(self.pid, sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait()
                raise AssertionError(f"fox did not exit within {timeout}s of signal {sig}")
        self._stderr.close()
        check_sanitizers(self.log())
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, exc_type=None, *exc):
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
            self.proc.wait()
        self._stderr.close()
        if exc_type is None:
            check_sanitizers(self.log())


class FoxNode(Fox):
    """One node of a cluster: `fox serve --cluster FILE --node NAME` (its ports come from the
    file: `port`, `mqtt`, `rawsocket`), started in `workdir`; stop() / kill by pid as Fox."""

    def __init__(self, cluster_file, name, node, workdir, ready=True, timeout=20.0, args=()):
        self.name = name
        self.port = node.get("port", 0)
        self.mqtt_port = node.get("mqtt", 0)
        self.rawsocket_port = node.get("rawsocket", 0)
        self.fox_port = node["fox"]
        self.workdir = workdir
        self.data_dir = node.get("data")
        os.makedirs(workdir, exist_ok=True)
        self.stderr_path = os.path.join(workdir, f"{name}.{time.monotonic_ns()}.log")
        self._stderr = open(self.stderr_path, "wb")
        argv = [FOX_BIN, "serve", "--cluster", cluster_file, "--node", name] + list(args)
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self._stderr, cwd=workdir)
        self.pid = self.proc.pid
        if ready:
            self.wait_log("fox ready", timeout)

    def kill(self):
        """kill -9 by pid, and wait for it."""
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
            self.proc.wait()
        self._stderr.close()
        check_sanitizers(self.log())


def cluster_file(n=3, roles=("entry", "ndb", "sync"), sync_quorum=2, storage_quorum=2,
                 secret="it-secret"):
    """A cluster of n nodes N1..Nn with every role on free 127.0.0.1 ports, data under a fresh
    directory; returns (path, doc, workdir)."""
    workdir = tempfile.mkdtemp(prefix="fox-it-cluster-")
    nodes = {}
    for i in range(1, n + 1):
        nodes[f"N{i}"] = {"host": "127.0.0.1", "fox": free_port(), "roles": list(roles),
                          "port": free_port(), "mqtt": free_port(),
                          "data": os.path.join(workdir, f"n{i}")}
    doc = {"syncQuorum": sync_quorum, "storageQuorum": storage_quorum, "secret": secret,
           "nodes": nodes}
    path = os.path.join(workdir, "cluster.json")
    with open(path, "w") as f:
        json.dump(doc, f)
    return path, doc, workdir


class SharedFoxCase(unittest.TestCase):
    """A test class whose tests share one `fox serve` (started with FOX_ARGS), which must exit 0
    at the end."""
    FOX_ARGS = ()

    @classmethod
    def setUpClass(cls):
        cls.fox = Fox(*cls.FOX_ARGS)

    @classmethod
    def tearDownClass(cls):
        assert cls.fox.stop() == 0, cls.fox.log()


def write_config(obj):
    """A JSON config file (for --config) in a fresh temporary directory; returns its path."""
    d = tempfile.mkdtemp(prefix="fox-it-cfg-")
    path = os.path.join(d, "fox.json")
    with open(path, "w") as f:
        json.dump(obj, f)
    return path


def rss_kib(pid):
    """The resident set size of process `pid` in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def run_fox(*args, timeout=10.0):
    """Runs a short fox command; returns (exit code, stdout, stderr)."""
    p = subprocess.run([FOX_BIN] + list(args), capture_output=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout.decode(), strip_log_times(p.stderr.decode())


NPM_TIMEOUT = 180
NETWORK_TROUBLE = re.compile(
    r"ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH|"
    r"ERR_SOCKET_TIMEOUT|socket hang up|network|proxy|request to \S+ failed|"
    r"getaddrinfo|unable to get local issuer|E403|E5\d\d", re.I)


def _read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def npm_ci(src, cache, scripts, required):
    """`npm ci` of src's package.json and package-lock.json into the directory `cache` (next to
    the fox binary), once per lock file; the `scripts` of src are copied there each time.
    `required` (relative to cache) must exist after it. Returns None when ready, else the reason
    to skip (no node/npm, or the registry cannot be reached); any other failure raises."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        return "node and npm are needed (not installed)"
    os.makedirs(cache, exist_ok=True)
    stamp = hashlib.sha256(_read_bytes(os.path.join(src, "package-lock.json")) +
                           _read_bytes(os.path.join(src, "package.json"))).hexdigest()
    stamp_path = os.path.join(cache, ".installed")
    required = os.path.join(cache, required)
    with open(os.path.join(cache, ".lock"), "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)   # one installer at a time for this build tree
        for name in scripts:
            shutil.copyfile(os.path.join(src, name), os.path.join(cache, name))
        if (os.path.exists(stamp_path) and _read_bytes(stamp_path).decode() == stamp
                and os.path.exists(required)):
            return None
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(os.path.join(src, name), os.path.join(cache, name))
        if os.path.exists(stamp_path):
            os.remove(stamp_path)
        env = dict(os.environ, npm_config_update_notifier="false", npm_config_loglevel="warn")
        try:
            p = subprocess.run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund",
                                "--prefer-offline", "--fetch-retries=1", "--fetch-retry-mintimeout=2000",
                                "--fetch-retry-maxtimeout=5000"], cwd=cache, env=env, capture_output=True,
                               timeout=NPM_TIMEOUT, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return f"npm ci did not finish within {NPM_TIMEOUT}s (registry unreachable?)"
        out = (p.stdout + p.stderr).decode("utf-8", "replace")
        if p.returncode != 0:
            if NETWORK_TROUBLE.search(out):
                lines = [l for l in out.splitlines() if l.startswith("npm error") and
                         ("code" in l or "request to" in l or "network" in l)]
                return ("npm cannot reach the registry, the packages are not installed: " +
                        " | ".join(lines[:3] or [out.strip()[-300:]]))
            raise AssertionError(f"npm ci failed ({p.returncode}) in {cache}:\n{out[-3000:]}")
        if not os.path.exists(required):
            raise AssertionError(f"npm ci succeeded but {required} is missing:\n{out[-2000:]}")
        with open(stamp_path, "w") as f:
            f.write(stamp)
    return None


def main():
    unittest.main(verbosity=2)
