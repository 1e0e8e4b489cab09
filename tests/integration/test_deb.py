"""The Debian package (issue 16): boards/deb/build-deb.sh packs the fox binary under test
(FOX_BIN) as fox_<version>_amd64.deb; `dpkg-deb --info` / `--contents` show what it holds (the
static binary, the systemd unit, /etc/fox/fox.json as a conffile, the licence notices); then it
is installed with dpkg into an empty root (`dpkg --root`, maintainer scripts chrootless) and
`fox serve --config /etc/fox/fox.json` runs chrooted there — nothing but the package's files and
/dev/urandom in the root — and serves an MQTT client and /metrics. The install needs root (CI
runs as root); elsewhere that part skips."""
import os
import platform
import re
import shutil
import signal
import subprocess
import tempfile
import unittest
import urllib.request

from harness import FOX_BIN, free_port, main, run_fox, strip_log_times, wait_for

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
SCRIPT = os.path.join(TOP, "boards", "deb", "build-deb.sh")


def version():
    rc, out, _ = run_fox("version")
    assert rc == 0
    return re.match(r"fox (\S+) ", out).group(1)


class DebTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="fox-deb-")
        cls.version = version()
        p = subprocess.run(["bash", SCRIPT, "amd64", FOX_BIN, cls.tmp, cls.version],
                           capture_output=True, timeout=120)
        assert p.returncode == 0, p.stderr.decode()
        cls.deb = p.stdout.decode().strip()

    def test_info_and_contents(self):
        self.assertEqual(os.path.basename(self.deb), f"fox_{self.version}_amd64.deb")
        info = subprocess.run(["dpkg-deb", "--info", self.deb], capture_output=True, check=True).stdout.decode()
        for field in ("Package: fox", f"Version: {self.version}", "Architecture: amd64",
                      "Depends: adduser", "Section: net"):
            self.assertIn(field, info)
        for script in ("postinst", "prerm", "postrm", "conffiles"):
            self.assertIn(script, info)
        conffiles = subprocess.run(["dpkg-deb", "-I", self.deb, "conffiles"], capture_output=True,
                                   check=True).stdout.decode().split()
        self.assertEqual(conffiles, ["/etc/fox/fox.json"])
        contents = subprocess.run(["dpkg-deb", "--contents", self.deb], capture_output=True,
                                  check=True).stdout.decode()
        files = {line.split()[-1]: line.split()[0] for line in contents.splitlines()}
        self.assertEqual(files["./usr/bin/fox"], "-rwxr-xr-x")
        for f in ("./lib/systemd/system/fox.service", "./etc/fox/fox.json",
                  "./usr/lib/sysusers.d/fox.conf",
                  "./usr/share/doc/fox/copyright", "./usr/share/doc/fox/raft.txt",
                  "./usr/share/doc/fox/LGPL-3.0.txt", "./usr/share/doc/fox/mbedtls.txt",
                  "./usr/share/doc/fox/libwebsockets.txt", "./usr/share/doc/fox/libuv.txt",
                  "./usr/share/doc/fox/sqlite.txt", "./usr/share/doc/fox/nlohmann_json.txt"):
            self.assertIn(f, files)
        self.assertTrue(all("root/root" in l for l in contents.splitlines()), contents)
        unit = subprocess.run(["dpkg-deb", "--fsys-tarfile", self.deb], capture_output=True,
                              check=True).stdout
        self.assertIn(b"ExecStart=/usr/bin/fox serve --config /etc/fox/fox.json", unit)
        self.assertIn(b"StateDirectory=fox", unit)
        self.assertIn(b"User=fox", unit)

    @unittest.skipUnless(os.geteuid() == 0 and platform.machine() == "x86_64",
                         "installing into a root with dpkg and chroot needs root on amd64")
    def test_installs_into_an_empty_root_and_serves(self):
        kind = subprocess.run(["file", "-L", FOX_BIN], capture_output=True).stdout.decode()
        if "statically linked" not in kind:   # the sanitizer build needs its shared libraries
            self.skipTest("the fox under test is not the static binary: " + kind.strip())
        root = os.path.join(self.tmp, "root")
        for d in ("var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers", "dev"):
            os.makedirs(os.path.join(root, d), exist_ok=True)
        open(os.path.join(root, "var/lib/dpkg/status"), "w").close()
        p = subprocess.run(["dpkg", "--root", root, "--force-script-chrootless", "--force-depends",
                            "--log=/dev/null", "-i", self.deb], capture_output=True, timeout=120)
        self.assertEqual(p.returncode, 0, (p.stdout + p.stderr).decode())
        status = subprocess.run(["dpkg", "--root", root, "-s", "fox"], capture_output=True,
                                check=True).stdout.decode()
        self.assertIn("Status: install ok installed", status)
        self.assertTrue(os.access(os.path.join(root, "usr/bin/fox"), os.X_OK))
        if shutil.which("systemd-sysusers"):   # the postinst made the service's user there
            with open(os.path.join(root, "etc/passwd")) as f:
                self.assertRegex(f.read(), r"(?m)^fox:x:\d+:\d+:")
        # The root holds the package's files only; lws needs /dev/urandom; systemd would make
        # the state directory (StateDirectory=fox).
        os.mknod(os.path.join(root, "dev/urandom"), 0o666 | 0o020000, os.makedev(1, 9))
        os.makedirs(os.path.join(root, "var/lib/fox"), exist_ok=True)
        port, mqtt = free_port(), free_port()
        log_path = os.path.join(self.tmp, "chroot.log")
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(["chroot", root, "/usr/bin/fox", "serve", "--config",
                                     "/etc/fox/fox.json", "--port", str(port), "--mqtt-port",
                                     str(mqtt), "--rawsocket-port", "0", "--fox-port", "0"],
                                    stdout=subprocess.DEVNULL, stderr=log, stdin=subprocess.DEVNULL)

        def text():
            with open(log_path, "rb") as f:
                return strip_log_times(f.read().decode("utf-8", "replace"))
        try:
            wait_for(lambda: "fox ready" in text() or proc.poll() is not None, 10,
                     what="fox ready in the chroot")
            self.assertIsNone(proc.poll(), text())
            self.assertIn("listening on 127.0.0.1:", text())   # the package's bind
            pub = subprocess.run(["mosquitto_pub", "-p", str(mqtt), "-t", "deb/t", "-m", "42",
                                  "-r", "-q", "1"], capture_output=True, timeout=10)
            self.assertEqual(pub.returncode, 0, pub.stderr)
            got = subprocess.run(["mosquitto_sub", "-p", str(mqtt), "-t", "deb/t", "-C", "1",
                                  "-W", "10"], capture_output=True, timeout=15)
            self.assertEqual(got.stdout, b"42\n")
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                self.assertIn(b'fox_retained_keys{realm="realm1"} 1', r.read())
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(10), 0, text())
        self.assertTrue(os.path.exists(os.path.join(root, "var/lib/fox/fox.db")))


if __name__ == "__main__":
    main()
