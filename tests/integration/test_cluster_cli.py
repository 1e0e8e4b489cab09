"""`fox serve --cluster FILE --node NAME [--role R]` (SPEC §9): the cluster file is validated at
start — every problem is exit 2 with one line naming the file, the key and the problem. A valid
node logs its roles and runs them (test_cluster.py has a whole cluster)."""
import unittest

from harness import FoxNode, cluster_file, main, run_fox, write_config


def three_nodes():
    return {"syncQuorum": 2, "storageQuorum": 2, "secret": "change-me",
            "nodes": {f"N{i}": {"host": "127.0.0.1", "fox": 1734 + i,
                                "roles": ["entry", "ndb", "sync"], "port": 9030 + i,
                                "mqtt": 1880 + i, "data": f"./data/n{i}"} for i in (1, 2, 3)}}


class ClusterCliTest(unittest.TestCase):
    def serve(self, *args):
        return run_fox("serve", *args)

    def test_bad_cluster_files_exit_2_naming_file_and_key(self):
        doc = three_nodes()
        doc["nodes"]["N2"]["mqtt"] = 1881
        path = write_config(doc)
        rc, _, err = self.serve("--cluster", path, "--node", "N1")
        self.assertEqual(rc, 2, err)
        self.assertEqual(err.strip(), f'fox serve: cluster {path}: key "nodes.N2.mqtt": '
                                      "port 1881 is also nodes.N1.mqtt")
        doc = three_nodes()
        doc["syncQuorum"] = 3
        rc, _, err = self.serve("--cluster", write_config(doc), "--node", "N1")
        self.assertEqual(rc, 2, err)
        self.assertIn('key "syncQuorum": must be 2, the majority of the 3 sync nodes', err)
        rc, _, err = self.serve("--cluster", "/nonexistent/c.json", "--node", "N1")
        self.assertEqual((rc, err.strip()),
                         (2, "fox serve: cluster /nonexistent/c.json: cannot be read"))
        bad = write_config({})
        with open(bad, "w") as f:
            f.write('{"syncQuorum": 2,\n "nodes" {}}')
        rc, _, err = self.serve("--cluster", bad, "--node", "N1")
        self.assertEqual(rc, 2, err)
        self.assertIn(f"cluster {bad}: not valid JSON at line 2", err)

    def test_flags_that_do_not_go_with_cluster_exit_2(self):
        path = write_config(three_nodes())
        for argv, text in [
            (["--cluster", path], "--cluster needs --node NAME"),
            (["--node", "N1"], "flag --node needs --cluster FILE"),
            (["--cluster", path, "--node", "N9"], f"cluster {path}: no node N9 (nodes: N1, N2, N3)"),
            (["--cluster", path, "--node", "N1", "--role", "boss"], "flag --role boss: expected"),
            (["--cluster", path, "--node", "N1", "--port", "9000"],
             "flag --port: with --cluster the node's ports and data come from"),
            (["--cluster", path, "--node", "N1", "--memory"], "flag --memory: with --cluster"),
        ]:
            rc, _, err = self.serve(*argv)
            self.assertEqual(rc, 2, (argv, err))
            self.assertIn(text, err, argv)
            self.assertEqual(len(err.strip().splitlines()), 1, err)

    def test_a_valid_node_logs_its_roles_and_stops_cleanly(self):
        path, doc, workdir = cluster_file(3)
        node = FoxNode(path, "N2", doc["nodes"]["N2"], workdir, ready=False, args=("--role", "ndb"))
        try:
            # An ndb-only node serves no clients: it is ready once its storage and links are.
            node.wait_log("fox ready", 10)
            log = node.log()
            self.assertIn("info cluster: " + path + ": node N2 (ndb), 3 nodes, sync quorum 2, "
                          "storage quorum 2", log)
            self.assertIn("node links listening on 127.0.0.1:" + str(doc["nodes"]["N2"]["fox"]), log)
            self.assertNotIn("raft", log)          # not a sync here
            self.assertNotIn("http: listening", log)   # nor an entry
            self.assertEqual(node.stop(), 0, node.log())
        finally:
            node.kill()

    def test_a_node_that_cannot_listen_exits_1(self):
        path, doc, workdir = cluster_file(3)
        import socket
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", doc["nodes"]["N1"]["fox"]))
            s.listen()
            rc, _, err = self.serve("--cluster", path, "--node", "N1")
        self.assertEqual(rc, 1, err)
        self.assertIn("node links: cannot listen on 127.0.0.1:" + str(doc["nodes"]["N1"]["fox"]), err)

    def test_an_entry_opens_its_listeners_once_accepted_and_exits_1_if_it_cannot(self):
        # One node with every role (quorums 1): raft elects it at once, it accepts itself.
        path, doc, workdir = cluster_file(1, sync_quorum=1, storage_quorum=1)
        node_conf = doc["nodes"]["N1"]
        node = FoxNode(path, "N1", node_conf, workdir, ready=False)
        try:
            node.wait_log("fox ready", 20)
            log = node.log()
            self.assertLess(log.index("accepted by a sync quorum"), log.index("mqtt: listening"))
            self.assertEqual(node.stop(), 0, node.log())
        finally:
            node.kill()
        import socket
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", node_conf["mqtt"]))
            s.listen()
            node = FoxNode(path, "N1", node_conf, workdir, ready=False)
            try:
                node.proc.wait(20)
                self.assertEqual(node.proc.returncode, 1, node.log())
                self.assertIn("cannot listen on 127.0.0.1:" + str(node_conf["mqtt"]), node.log())
                self.assertNotIn("fox ready", node.log())
            finally:
                node.kill()


if __name__ == "__main__":
    main()
