"""fox serve: start-up, GET /, graceful stop, bad flags and config (issue 2)."""
import json
import os
import re
import signal
import socket
import tempfile
import time
import unittest
import urllib.request

from harness import Fox, free_port, main, run_fox, write_config


def http_get(port, path="/"):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
        return r.status, r.read().decode()


class ServeTest(unittest.TestCase):
    def test_get_root_answers_200_and_sigterm_exits_0_quickly(self):
        fox = Fox()
        status, body = http_get(fox.port)
        self.assertEqual(status, 200)
        self.assertIn("fox", body)
        t0 = time.monotonic()
        self.assertEqual(fox.stop(signal.SIGTERM, timeout=5.0), 0)
        self.assertLess(time.monotonic() - t0, 2.0, "graceful stop must take under 2 s")

    def test_sigint_exits_0(self):
        fox = Fox()
        self.assertEqual(fox.stop(signal.SIGINT), 0)

    def test_unknown_path_answers_404(self):
        with Fox() as fox:
            with self.assertRaises(urllib.error.HTTPError) as cm:
                http_get(fox.port, "/nope")
            self.assertEqual(cm.exception.code, 404)

    def test_logs_one_line_per_listener_then_ready(self):
        with Fox() as fox:
            log = fox.log()
            self.assertIn(f"listening on 127.0.0.1:{fox.port}", log)
            self.assertLess(log.index("listening on"), log.index("fox ready"))

    def test_bad_flag_exits_2_with_a_clear_message(self):
        code, _, err = run_fox("serve", "--no-such-flag")
        self.assertEqual(code, 2)
        self.assertIn("--no-such-flag", err)

    def test_bad_flag_value_exits_2_naming_the_flag(self):
        for args in (["--port", "70000"], ["--port", "abc"], ["--bind", "not-an-ip"],
                     ["--log-level", "loud"], ["--port"]):
            code, _, err = run_fox("serve", *args)
            self.assertEqual(code, 2, args)
            self.assertIn(args[0], err)
            self.assertEqual(len(err.strip().splitlines()), 1, err)

    def test_bad_config_exits_2_naming_file_and_key(self):
        d = tempfile.mkdtemp()
        cases = {"{\"port\": \"9000\"}": "port", "{\"colour\": 1}": "colour",
                 "{\"limits\": {\"session_queue\": -1}}": "limits.session_queue",
                 "[1]": "object", "{not json": "JSON"}
        for text, needle in cases.items():
            path = os.path.join(d, "fox.json")
            with open(path, "w") as f:
                f.write(text)
            code, _, err = run_fox("serve", "--config", path)
            self.assertEqual(code, 2, text)
            self.assertIn(path, err)
            self.assertIn(needle, err)

    def test_config_file_is_used_and_flags_win(self):
        d = tempfile.mkdtemp()
        file_port, flag_port = free_port(), free_port()
        path = os.path.join(d, "fox.json")
        with open(path, "w") as f:
            json.dump({"bind": "127.0.0.1", "port": file_port, "log_level": "debug",
                       "rawsocket_port": 0, "mqtt_port": 0, "fox_port": 0, "memory": True}, f)
        with Fox("--config", path) as fox:  # harness passes --port: the flag wins
            self.assertEqual(http_get(fox.port)[0], 200)
        with Fox("--config", path, port=flag_port) as fox:
            self.assertEqual(http_get(flag_port)[0], 200)

    def test_the_example_config_in_boards_starts_and_restricts_realms(self):
        # boards/fox.json is the README's example: it must stay a config fox accepts. The
        # harness's flags (127.0.0.1, free ports, --memory) win over its bind, ports and data.
        example = os.path.join(os.path.dirname(__file__), "..", "..", "boards", "fox.json")
        with Fox("--config", example) as fox:
            from raw_wamp import ABORT, WELCOME, RawSocketClient, hello
            for realm, expected in (("home", WELCOME), ("lab", WELCOME), ("realm1", ABORT)):
                c = RawSocketClient(fox.rawsocket_port)
                c.send_msg(hello(realm))
                answer = c.recv_msg()
                self.assertEqual(answer[0], expected, (realm, answer))
                if expected == ABORT:
                    self.assertEqual(answer[2], "wamp.error.no_such_realm")
                c.close()
            # mqtt_default_realm: an MQTT client without a user name publishes into "home".
            from mqtt_client import MqttClient
            from raw_wamp import EVENT, SUBSCRIBE, SUBSCRIBED
            w = RawSocketClient(fox.rawsocket_port)
            w.send_msg(hello("home"))
            self.assertEqual(w.recv_msg()[0], WELCOME)
            w.send_msg([SUBSCRIBE, 1, {}, "sensor.t"])
            self.assertEqual(w.recv_msg()[0], SUBSCRIBED)
            c = MqttClient(fox)
            c.publish("sensor/t", b"21.5", qos=1)
            event = w.recv_msg()
            self.assertEqual((event[0], event[4]), (EVENT, [21.5]))
            c.disconnect()
            w.close()

    def test_port_in_use_exits_1(self):
        for which in ("port", "rawsocket_port", "mqtt_port"):
            with self.subTest(listener=which), socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                s.listen()
                port = s.getsockname()[1]
                fox = Fox(ready=False, **{which: port})
                self.assertEqual(fox.proc.wait(10), 1)
                self.assertIn(str(port), fox.log())
                fox.stop()

    def test_a_port_in_use_is_one_fox_line_without_libwebsockets_lines(self):
        # lws logs three ERR lines of its own while failing to bind ("ERROR on binding fd 11 to
        # port ..."); fox's one "cannot listen on" line is the whole story.
        for which in ("port", "rawsocket_port", "mqtt_port"):
            with self.subTest(listener=which), socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                s.listen()
                port = s.getsockname()[1]
                fox = Fox(ready=False, **{which: port})
                self.assertEqual(fox.proc.wait(10), 1)
                fox.stop()
                lines = fox.log().splitlines()
                naming = [l for l in lines if re.search(rf"(?<!\d){port}(?!\d)", l)]
                self.assertEqual(len(naming), 1, lines)
                self.assertTrue(naming[0].startswith("error "), naming)
                self.assertIn(f"cannot listen on 127.0.0.1:{port}", naming[0])
                self.assertEqual([l for l in lines if l.startswith("error lws:")], [], lines)
                self.assertEqual([l for l in lines if l.startswith("error ")], naming, lines)

    def test_safe_defaults_warning_beyond_loopback_with_open_realms(self):
        # fox never really listens beyond loopback here: its first listener's port is held on
        # 127.0.0.1, so --bind 0.0.0.0 fails to listen (exit 1) after the start-up warning.
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen()
            port = s.getsockname()[1]
            secured = {"realms": {"realm1": {"anonymous": "guest",
                                             "users": {"joe": {"secret": "s", "role": "user"}},
                                             "permissions": {"guest": [{"uri": "public.#",
                                                                        "allow": ["subscribe"]}]}}}}
            for args, warned in ((["--bind", "0.0.0.0"], True),
                                 (["--bind", "0.0.0.0", "--config", write_config(secured)], False)):
                with self.subTest(args=args):
                    fox = Fox(*args, ready=False, port=port)
                    self.assertEqual(fox.proc.wait(10), 1)
                    fox.stop()
                    lines = [l for l in fox.log().splitlines() if "beyond loopback" in l]
                    self.assertEqual(len(lines), 1 if warned else 0, fox.log())
                    if warned:
                        self.assertTrue(lines[0].startswith("warn "), lines)
                        self.assertIn("every realm admits anonymous clients with full rights",
                                      lines[0])
        with Fox() as fox:   # the harness binds 127.0.0.1: no warning
            self.assertNotIn("beyond loopback", fox.log())

    def test_bind_127_0_0_1_opens_no_wildcard_socket(self):
        # libwebsockets 4.1 with IPv6 binds an IPv4 literal to every address unless told not to
        # (ARCHITECTURE.md pitfall 1). The kernel's socket table shows what was really bound.
        with Fox() as fox:
            pid = fox.pid
            inodes = set()
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
            listening = []
            for table in ("/proc/net/tcp", "/proc/net/tcp6"):
                with open(table) as f:
                    for line in f.readlines()[1:]:
                        cols = line.split()
                        local, state, inode = cols[1], cols[3], cols[9]
                        if state == "0A" and inode in inodes:  # 0A = LISTEN
                            listening.append((table, local))
            self.assertTrue(listening, "fox has no listening socket")
            for table, local in listening:
                self.assertEqual(table, "/proc/net/tcp", f"IPv6 listener {local}")
                addr_hex = local.split(":")[0]
                self.assertEqual(addr_hex, "0100007F", f"listener on {local} is not 127.0.0.1")

    def test_connections_per_ip_are_limited_across_listeners(self):
        d = tempfile.mkdtemp()
        path = os.path.join(d, "fox.json")
        with open(path, "w") as f:
            json.dump({"limits": {"max_connections_per_ip": 2}}, f)
        connect = b"\x10\x0d\x00\x04MQTT\x04\x02\x00\x3c\x00\x01a"
        with Fox("--config", path) as fox:
            held = [socket.create_connection(("127.0.0.1", fox.mqtt_port), timeout=5),
                    socket.create_connection(("127.0.0.1", fox.rawsocket_port), timeout=5)]
            # Both are admitted once they get answers (accept order across listeners is free).
            held[0].sendall(connect)
            self.assertEqual(held[0].recv(4)[:1], b"\x20")
            held[1].sendall(b"\x7f\xf1\x00\x00")
            self.assertEqual(held[1].recv(4)[:1], b"\x7f")
            third = socket.create_connection(("127.0.0.1", fox.mqtt_port), timeout=5)
            third.sendall(connect)
            try:
                answer = third.recv(4)
            except ConnectionResetError:  # closed with our CONNECT unread: a reset
                answer = b""
            self.assertEqual(answer, b"", "the third connection must be closed")
            third.close()
            fox.wait_log("limits.max_connections_per_ip")
            held.pop().close()  # one slot frees up
            deadline = time.monotonic() + 5
            while True:  # the server notices the close asynchronously
                s = socket.create_connection(("127.0.0.1", fox.mqtt_port), timeout=5)
                s.sendall(connect)
                try:
                    got = s.recv(4)
                except ConnectionResetError:
                    got = b""
                s.close()
                if got or time.monotonic() > deadline:
                    break
            self.assertEqual(got[:1], b"\x20", "a CONNACK once a slot is free")
            for h in held:
                h.close()

    def test_version_names_every_library(self):
        code, out, _ = run_fox("version")
        self.assertEqual(code, 0)
        for lib in ("libuv", "libwebsockets", "SQLite", "mbedTLS", "nlohmann_json", "raft"):
            self.assertIn(lib, out)
        # LGPL-3.0 4(a): the raft notice, and where its licence is.
        self.assertIn("LGPL-3.0", out)
        self.assertIn("third_party/licenses/", out)

    def test_unknown_command_exits_2(self):
        code, _, err = run_fox("frobnicate")
        self.assertEqual(code, 2)
        self.assertIn("frobnicate", err)


if __name__ == "__main__":
    main()
