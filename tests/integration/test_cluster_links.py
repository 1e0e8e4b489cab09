"""Bad input on a cluster node's link port (SPEC §9, the node links): whatever a stranger sends —
garbage, a LINK from a node not in the file, a wrong proof, a huge first message, nothing at all,
a flood of connections — gets that one connection closed with a log line, and the node goes on
(it still stops cleanly). Raw sockets and python3-msgpack, on 127.0.0.1."""
import os
import socket
import time
import unittest

import msgpack

from harness import FoxNode, cluster_file, main, wait_for


def closed_by_peer(sock, timeout=3.0):
    """True once the node closed the connection (EOF or reset) within the timeout."""
    sock.settimeout(timeout)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            data = sock.recv(65536)
            if not data:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False
    return False


def first_message(test, sock):
    """The first FOX (MessagePack) message the node sends on `sock`."""
    unpacker = msgpack.Unpacker(raw=False)
    while True:
        data = sock.recv(4096)
        test.assertTrue(data, "closed before the first message")
        unpacker.feed(data)
        for m in unpacker:
            return m


class ClusterLinksBadInputTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        path, doc, workdir = cluster_file(3)
        cls.port = doc["nodes"]["N2"]["fox"]
        # An ndb-only node: ready at once, nothing else needed to receive links.
        cls.node = FoxNode(path, "N2", doc["nodes"]["N2"], workdir, args=("--role", "ndb"))

    @classmethod
    def tearDownClass(cls):
        try:
            assert cls.node.stop() == 0, cls.node.log()
        finally:
            cls.node.kill()

    def connect(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        self.addCleanup(s.close)
        return s

    def test_garbage_is_closed(self):
        s = self.connect()
        s.sendall(b"\xc1\xc1\xc1 not a FOX map")
        self.assertTrue(closed_by_peer(s))
        self.node.wait_log("refused: malformed", 5)

    def test_a_node_not_in_the_file_is_refused(self):
        s = self.connect()
        s.sendall(msgpack.packb({"ft": "LINK", "node": "X9", "nonce": os.urandom(16)}))
        self.assertTrue(closed_by_peer(s))
        self.node.wait_log("node X9 is not a peer in the cluster file", 5)

    def test_a_wrong_proof_is_refused_and_the_challenge_proves_the_node(self):
        s = self.connect()
        s.sendall(msgpack.packb({"ft": "LINK", "node": "N1", "nonce": os.urandom(16)}))
        s.settimeout(5)
        challenge = first_message(self, s)
        self.assertEqual(challenge["rsp"], "CHALLENGE")
        self.assertEqual(challenge["node"], "N2")
        self.assertEqual(len(challenge["nonce"]), 16)
        self.assertEqual(len(challenge["proof"]), 32)
        self.assertNotIn(b"it-secret", msgpack.packb(challenge))   # never on the wire
        s.sendall(msgpack.packb({"ft": "PROOF", "proof": b"\0" * 32}))
        self.assertTrue(closed_by_peer(s))
        self.node.wait_log("node N1 does not know the cluster secret", 5)

    def test_a_huge_first_message_is_closed_without_buffering_it(self):
        s = self.connect()
        # A map announcing a 1 MiB string: over the 4 KiB allowed before authentication.
        s.sendall(b"\x81\xa2ft\xdb" + (1 << 20).to_bytes(4, "big") + b"x" * 8192)
        self.assertTrue(closed_by_peer(s))

    def test_silence_is_closed_after_the_handshake_deadline(self):
        s = self.connect()
        started = time.monotonic()
        self.assertTrue(closed_by_peer(s, timeout=8))
        self.assertGreater(time.monotonic() - started, 4)
        self.node.wait_log("no handshake within the time limit", 5)

    def test_a_flood_of_connections_is_bounded(self):
        socks = []
        try:
            for _ in range(80):
                socks.append(socket.create_connection(("127.0.0.1", self.port), timeout=5))
            self.node.wait_log("connections have not authenticated yet: refusing more", 5)
            closed = sum(1 for s in socks[64:] if closed_by_peer(s, timeout=1))
            self.assertGreaterEqual(closed, 10)
        finally:
            for s in socks:
                s.close()
        # ... and a stranger's connection is still served afterwards.
        s = self.connect()
        s.sendall(msgpack.packb({"ft": "LINK", "node": "N3", "nonce": os.urandom(16)}))
        s.settimeout(5)
        wait_for(lambda: s.recv(4096), 5, what="a CHALLENGE after the flood")


if __name__ == "__main__":
    main()
