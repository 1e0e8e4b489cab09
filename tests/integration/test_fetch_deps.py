"""third_party/fetch-deps.sh: the deb-src entry is derived from the machine's own deb entries
(deb822 *.sources and one-line sources.list / *.list), never a host name of fox's.

Runs `fetch-deps.sh --deb-src` with FOX_APT_ETC pointing at a temporary directory: no root, no
network, no fox binary. When apt-get is there, apt itself must accept the file that was written.
"""
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import main

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "third_party",
                      "fetch-deps.sh")
FOX_FILE = "sources.list.d/fox-deb-src.sources"
HEADER = "# Written by fox (third_party/fetch-deps.sh)"

DEB822 = """\
Types: deb
# a comment inside the stanza
URIs: http://127.0.0.1:3142/debian
Suites: bookworm bookworm-updates
Components: main contrib
Architectures: amd64 arm64
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

# a disabled stanza
Types: deb
URIs: http://disabled.invalid/debian
Suites: bookworm
Components: main
Enabled: no

Types: deb
URIs: http://mirror.invalid/debian-security
Suites: bookworm-security
Components: main
Check-Valid-Until: no
Signed-By:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 mDMEZQ
 -----END PGP PUBLIC KEY BLOCK-----
"""

ONE_LINE = """\
# a comment
deb [ arch=amd64,arm64 signed-by=/etc/apt/keyrings/a.gpg,/etc/apt/keyrings/b.gpg ] http://127.0.0.1:3142/debian bookworm main non-free-firmware # trailing
#deb http://disabled.invalid/debian bookworm main
deb\thttp://mirror.invalid/debian-security   bookworm-security main
deb cdrom:[Debian GNU/Linux 12.0.0 _Bookworm_]/ bookworm main
deb [trusted=yes] file:/srv/repo ./
"""


def stanzas(text):
    """The stanzas of a deb822 text as lists of lines (comments dropped)."""
    out, cur = [], []
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        if not line.strip():
            if cur:
                out.append(cur)
            cur = []
        else:
            cur.append(line)
    if cur:
        out.append(cur)
    return out


class FetchDepsDebSrcTest(unittest.TestCase):
    def setUp(self):
        self.etc = tempfile.mkdtemp(prefix="fox-it-apt-")
        self.addCleanup(shutil.rmtree, self.etc)
        os.makedirs(os.path.join(self.etc, "sources.list.d"))

    def write(self, rel, text):
        with open(os.path.join(self.etc, rel), "w") as f:
            f.write(text)

    def fox_file(self):
        path = os.path.join(self.etc, FOX_FILE)
        if not os.path.exists(path):
            return None
        with open(path) as f:
            return f.read()

    def run_script(self, expect=0):
        env = dict(os.environ, FOX_APT_ETC=self.etc)
        p = subprocess.run(["bash", SCRIPT, "--deb-src"], env=env, capture_output=True, text=True,
                           timeout=30, stdin=subprocess.DEVNULL)
        self.assertEqual(p.returncode, expect, p.stderr)
        return p

    def assert_apt_accepts(self, expected_uris):
        """apt parses the written file and configures a Sources index for each URI."""
        apt = shutil.which("apt-get")
        if not apt:
            return
        only = tempfile.mkdtemp(prefix="fox-it-apt-parts-")
        self.addCleanup(shutil.rmtree, only)
        shutil.copy(os.path.join(self.etc, FOX_FILE), only)
        p = subprocess.run([apt, "-o", f"Dir::Etc::SourceParts={only}",
                            "-o", "Dir::Etc::SourceList=/dev/null", "indextargets",
                            "--no-release-info", "--format", "$(CREATED_BY) $(URI)"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        for uri in expected_uris:
            self.assertIn(f"Sources {uri}", p.stdout)

    def test_deb822_stanzas_become_deb_src_stanzas(self):
        self.write("sources.list.d/debian.sources", DEB822)
        p = self.run_script()
        self.assertIn("wrote", p.stdout)
        text = self.fox_file()
        self.assertTrue(text.startswith(HEADER), text)
        self.assertEqual(stanzas(text), [
            ["Types: deb-src", "URIs: http://127.0.0.1:3142/debian",
             "Suites: bookworm bookworm-updates", "Components: main contrib",
             "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"],
            ["Types: deb-src", "URIs: http://mirror.invalid/debian-security",
             "Suites: bookworm-security", "Components: main", "Check-Valid-Until: no",
             "Signed-By:", " -----BEGIN PGP PUBLIC KEY BLOCK-----", " .", " mDMEZQ",
             " -----END PGP PUBLIC KEY BLOCK-----"],
        ])
        self.assert_apt_accepts([
            "http://127.0.0.1:3142/debian/dists/bookworm/main/source/Sources",
            "http://127.0.0.1:3142/debian/dists/bookworm-updates/contrib/source/Sources",
            "http://mirror.invalid/debian-security/dists/bookworm-security/main/source/Sources"])

    def test_one_line_entries_become_deb_src_stanzas(self):
        self.write("sources.list", ONE_LINE)
        self.write("sources.list.d/extra.list", "deb http://extra.invalid/debian bookworm main\n")
        self.run_script()
        self.assertEqual(stanzas(self.fox_file()), [
            ["Types: deb-src", "URIs: http://127.0.0.1:3142/debian", "Suites: bookworm",
             "Components: main non-free-firmware",
             "Signed-By: /etc/apt/keyrings/a.gpg /etc/apt/keyrings/b.gpg"],
            ["Types: deb-src", "URIs: http://mirror.invalid/debian-security",
             "Suites: bookworm-security", "Components: main"],
            ["Types: deb-src", "URIs: file:/srv/repo", "Suites: ./", "Trusted: yes"],
            ["Types: deb-src", "URIs: http://extra.invalid/debian", "Suites: bookworm",
             "Components: main"],
        ])
        self.assert_apt_accepts([
            "http://127.0.0.1:3142/debian/dists/bookworm/non-free-firmware/source/Sources",
            "http://extra.invalid/debian/dists/bookworm/main/source/Sources"])

    def test_a_second_run_changes_nothing(self):
        self.write("sources.list.d/debian.sources", DEB822)
        self.run_script()
        path = os.path.join(self.etc, FOX_FILE)
        before = (self.fox_file(), os.stat(path).st_mtime_ns)
        p = self.run_script()
        self.assertEqual(p.stdout, "")
        self.assertEqual((self.fox_file(), os.stat(path).st_mtime_ns), before)

    def test_an_old_hard_coded_fox_file_is_regenerated(self):
        # What an older fetch-deps.sh wrote: deb-src entries of its own choosing, no header.
        self.write(FOX_FILE, "Types: deb-src\nURIs: http://old.invalid/debian\nSuites: bookworm\n"
                             "Components: main\n")
        self.write("sources.list.d/debian.sources", DEB822)
        self.run_script()
        text = self.fox_file()
        self.assertTrue(text.startswith(HEADER), text)
        self.assertNotIn("old.invalid", text)
        self.assertIn("URIs: http://127.0.0.1:3142/debian", text)

    def test_fox_file_follows_a_changed_mirror(self):
        self.write("sources.list", "deb http://127.0.0.1:3142/debian bookworm main\n")
        self.run_script()
        self.write("sources.list", "deb http://mirror.invalid/debian bookworm main\n")
        self.run_script()
        self.assertEqual(stanzas(self.fox_file()), [
            ["Types: deb-src", "URIs: http://mirror.invalid/debian", "Suites: bookworm",
             "Components: main"]])

    def test_existing_deb_src_entries_are_left_alone(self):
        for rel, text in (("sources.list", "deb http://a.invalid/debian bookworm main\n"
                                           "deb-src http://a.invalid/debian bookworm main\n"),
                          ("sources.list.d/own.sources", "Types: deb deb-src\n"
                                                         "URIs: http://a.invalid/debian\n"
                                                         "Suites: bookworm\nComponents: main\n")):
            with self.subTest(file=rel):
                for f in ("sources.list", "sources.list.d/own.sources"):
                    if os.path.exists(os.path.join(self.etc, f)):
                        os.remove(os.path.join(self.etc, f))
                self.write(rel, text)
                p = self.run_script()
                self.assertEqual(p.stdout, "")
                self.assertIsNone(self.fox_file())

    def test_disabled_deb_src_entries_do_not_count(self):
        self.write("sources.list", "deb http://a.invalid/debian bookworm main\n"
                                   "# deb-src http://a.invalid/debian bookworm main\n")
        self.write("sources.list.d/off.sources", "Types: deb-src\nURIs: http://a.invalid/debian\n"
                                                 "Suites: bookworm\nComponents: main\n"
                                                 "Enabled: no\n")
        self.run_script()
        self.assertIn("URIs: http://a.invalid/debian", self.fox_file())

    def test_someone_elses_file_of_that_name_is_left_alone(self):
        own = ("# my own deb-src entries\nTypes: deb-src\nURIs: http://a.invalid/debian\n"
               "Suites: bookworm\nComponents: main\n")
        self.write(FOX_FILE, own)
        self.write("sources.list", "deb http://b.invalid/debian bookworm main\n")
        self.run_script()
        self.assertEqual(self.fox_file(), own)

    def test_no_deb_entry_fails_with_one_line_saying_what_to_add(self):
        self.write("sources.list", "# deb http://a.invalid/debian bookworm main\n")
        self.write("sources.list.d/off.sources", "Types: deb\nURIs: http://a.invalid/debian\n"
                                                 "Suites: bookworm\nEnabled: no\n")
        p = self.run_script(expect=1)
        lines = p.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, p.stderr)
        self.assertIn("no enabled 'deb' entry", lines[0])
        self.assertIn("Types: deb-src", lines[0])
        self.assertIsNone(self.fox_file())

    def test_the_script_names_no_host(self):
        with open(SCRIPT) as f:
            text = f.read()
        self.assertNotIn("debian.org", text)
        self.assertNotIn("://", text)


if __name__ == "__main__":
    main()
