"""The cluster's node links over TLS (issue 14: the cluster file's `tls` key). A CA and one
certificate per node (IP:127.0.0.1) made by openssl at test time; three `fox serve --cluster`
nodes with every role form one broker over TLS links (paho: a QoS 1 publish on N1 reaches the
subscribers of N2 and N3, which needs raft over its TLS relay), and stay one after kill -9 of
the raft leader. On the wire: Python's ssl with the cluster CA sees N1's certificate, a client
without a certificate is refused, and plain FOX bytes are closed. A node whose certificate is
from another CA is refused by its peers and never becomes ready; a missing CA file → exit 2
naming it."""
import json
import os
import re
import socket
import ssl
import tempfile
import unittest

import msgpack

from harness import FoxNode, cluster_file, main, run_fox, wait_for
from mqtt_client import MqttClient
from test_cluster_links import first_message
from test_tls import make_ca, make_server_cert


def tls_cluster(dir, n=3):
    """cluster_file(n) with `tls` ({node}.pem / {node}.key from the CA `ca` in `dir`)."""
    path, doc, workdir = cluster_file(n)
    doc["tls"] = {"ca": os.path.join(dir, "ca.pem"), "cert": os.path.join(dir, "{node}.pem"),
                  "key": os.path.join(dir, "{node}.key")}
    with open(path, "w") as f:
        json.dump(doc, f)
    return path, doc, workdir


class ClusterTlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="fox-it-cluster-tls-")
        make_ca(cls.dir, "ca")
        make_ca(cls.dir, "rogue")
        for name in ("N1", "N2", "N3"):
            make_server_cert(cls.dir, "ca", ec=True, san="IP:127.0.0.1", name=name)

    def setUp(self):
        self.nodes = {}
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            c.close()
        for n in self.nodes.values():
            n.kill()

    def start(self, path, doc, workdir, ready=True):
        for name, node in doc["nodes"].items():
            self.nodes[name] = FoxNode(path, name, node, workdir, ready=False)
        if ready:
            for n in self.nodes.values():
                n.wait_log("fox ready", 30)

    def test_three_nodes_over_tls_are_one_broker(self):
        path, doc, workdir = tls_cluster(self.dir)
        self.start(path, doc, workdir)
        for n in self.nodes.values():
            self.assertIn("(TLS, CA ", n.log())
        subs = {}
        for name in ("N2", "N3"):
            m = MqttClient(self.nodes[name], timeout=10)
            self.clients.append(m)
            m.subscribe("tls/ev", qos=1)
            subs[name] = m
        pub = MqttClient(self.nodes["N1"], timeout=20)
        self.clients.append(pub)
        # 20 small ones and one of 300 KB: many TLS records per link message.
        big = os.urandom(300_000)
        payloads = [f"e{i}".encode() for i in range(20)] + [big]
        for p in payloads:
            pub.publish("tls/ev", p, qos=1)
        for name, m in subs.items():
            got = m.messages.wait(21, timeout=20)
            self.assertEqual([x.payload for x in got], payloads, name)

        # The raft leader dies: the other two elect again over new TLS links and go on.
        def terms(name):
            return [int(t) for t in re.findall(r"raft: leader in term (\d+)", self.nodes[name].log())]
        wait_for(lambda: any(terms(name) for name in self.nodes), 10, what="a raft leader")
        leader = max((name for name in self.nodes if terms(name)), key=lambda n: max(terms(n)))
        self.nodes[leader].kill()
        alive = [name for name in self.nodes if name != leader]
        sub = next(m for name, m in subs.items() if name in alive)
        publisher = pub if leader != "N1" else MqttClient(self.nodes[alive[0]], timeout=20)
        if publisher is not pub:
            self.clients.append(publisher)
        sub.messages.items.clear()
        publisher.publish("tls/ev", b"after", qos=1)
        got = sub.messages.wait(1, timeout=20)
        self.assertEqual(got[0].payload, b"after")

    def test_the_link_port_speaks_tls_with_the_cluster_ca(self):
        path, doc, workdir = tls_cluster(self.dir)
        node = doc["nodes"]["N2"]
        self.nodes["N2"] = FoxNode(path, "N2", node, workdir, args=("--role", "ndb"))
        port = node["fox"]

        # A client with the cluster CA and a node certificate: N2's certificate names
        # 127.0.0.1 and chains to the CA; inside, the link handshake answers a LINK.
        ctx = ssl.create_default_context(cafile=os.path.join(self.dir, "ca.pem"))
        ctx.load_cert_chain(os.path.join(self.dir, "N1.pem"), os.path.join(self.dir, "N1.key"))
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                self.assertEqual(s.getpeercert()["subjectAltName"], (("IP Address", "127.0.0.1"),))
                s.sendall(msgpack.packb({"ft": "LINK", "node": "N1", "nonce": os.urandom(16)}))
                self.assertEqual(first_message(self, s)["rsp"], "CHALLENGE")

        # No client certificate: refused in the handshake, with a log line.
        bare = ssl.create_default_context(cafile=os.path.join(self.dir, "ca.pem"))
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            with self.assertRaises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
                with bare.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                    s.sendall(b"x")
                    self.assertEqual(s.recv(10), b"")   # TLS 1.3: the refusal comes after
        self.nodes["N2"].wait_log("refused: TLS handshake", 5)

        # Plain FOX bytes to a TLS link port: that connection is closed (before the handshake
        # deadline), and no CHALLENGE comes back.
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(msgpack.packb({"ft": "LINK", "node": "N1", "nonce": os.urandom(16)}))
            s.settimeout(4)   # under the 5 s handshake deadline: the close is fox's answer
            got = b""
            try:
                while True:
                    data = s.recv(4096)
                    if not data:
                        break
                    got += data
            except ConnectionResetError:
                pass
            self.assertNotIn(b"CHALLENGE", got)
        self.assertEqual(self.nodes["N2"].stop(), 0, self.nodes["N2"].log())

    def n3_with(self, cert_name):
        """N1, N2 with their certificates and N3 with `cert_name`'s (a cluster file of its own
        naming those files); N1 ready."""
        path, doc, workdir = tls_cluster(self.dir)
        rogue = dict(doc, tls=dict(doc["tls"], cert=os.path.join(self.dir, f"{cert_name}.pem"),
                                   key=os.path.join(self.dir, f"{cert_name}.key")))
        rogue_path = os.path.join(workdir, "rogue.json")
        with open(rogue_path, "w") as f:
            json.dump(rogue, f)
        for name in ("N1", "N2"):
            self.nodes[name] = FoxNode(path, name, doc["nodes"][name], workdir, ready=False)
        self.nodes["N3"] = FoxNode(rogue_path, "N3", doc["nodes"]["N3"], workdir, ready=False)
        self.nodes["N1"].wait_log("fox ready", 30)

    def test_a_node_with_a_certificate_of_another_ca_is_refused(self):
        make_server_cert(self.dir, "rogue", ec=True, san="IP:127.0.0.1", name="R3")
        self.n3_with("R3")
        # N1 as the server refuses N3's client certificate, as the dialer N3's server one.
        self.nodes["N1"].wait_log("link from an unknown peer refused: TLS: the client's "
                                  "certificate is refused: The certificate is not correctly "
                                  "signed by the trusted CA", 10)
        self.nodes["N1"].wait_log("link to N3 not up yet: TLS: the server's certificate is "
                                  "refused: The certificate is not correctly signed", 10)
        self.nodes["N3"].wait_log("link to N1 not up yet: TLS", 10)
        self.assertNotIn("fox ready", self.nodes["N3"].log())

    def test_a_certificate_not_naming_the_host_is_refused_by_the_dialer(self):
        # The right CA, but for 127.0.0.2: a server only checks the chain (N1 accepts N3's links),
        # the dialer also the host (N1 refuses to link to N3).
        make_server_cert(self.dir, "ca", ec=True, san="IP:127.0.0.2", name="W3")
        self.n3_with("W3")
        self.nodes["N1"].wait_log("link to N3 not up yet: TLS: the server's certificate is "
                                  "refused: The certificate Common Name (CN) does not match", 10)
        self.assertNotIn("link to N3 up", self.nodes["N1"].log())
        self.nodes["N3"].wait_log("link to N1 up", 10)

    def test_a_missing_ca_file_is_exit_2_naming_it(self):
        path, doc, workdir = tls_cluster(self.dir)
        doc["tls"]["ca"] = os.path.join(self.dir, "nope.pem")
        with open(path, "w") as f:
            json.dump(doc, f)
        rc, _, err = run_fox("serve", "--cluster", path, "--node", "N1")
        self.assertEqual(rc, 2, err)
        self.assertIn("nope.pem: cannot be read", err)


if __name__ == "__main__":
    main()
