"""fox pub / sub / call / register with --fox HOST[:PORT]: the client tools over FOX (fox/client,
cli/fox_tool_client) against a real `fox serve`, next to the same tools over WAMP."""
import unittest

from harness import Fox, free_port, main, run_fox
from test_client_tools import Tool


class FoxTools(unittest.TestCase):
    def setUp(self):
        self.fox = Fox()
        self.addr = f"127.0.0.1:{self.fox.fox_port}"
        self.tools = []

    def tearDown(self):
        for t in self.tools:
            t.close()
        self.fox.stop()

    def tool(self, *args):
        t = Tool(*args)
        self.tools.append(t)
        return t

    def test_pub_over_fox_reaches_fox_and_wamp_subscribers_exactly(self):
        fsub = self.tool("sub", "tools.a", "--fox", self.addr, "--count", "2")
        wsub = self.tool("sub", "tools.a", "--url", self.fox.url(), "--count", "2")
        fsub.wait_stderr("subscribed to tools.a")
        wsub.wait_stderr("subscribed to tools.a")
        rc, out, err = run_fox("pub", "tools.a", "hello", "--fox", self.addr, "--ack")
        self.assertEqual(rc, 0, err)
        first_id = int(out.strip())
        # Several args and kwargs travel as {args, kwargs}: a WAMP subscriber sees them as sent.
        rc, _, err = run_fox("pub", "tools.a", "1", "[2]", "--kw", '{"k":3}', "--fox", self.addr)
        self.assertEqual(rc, 0, err)
        self.assertEqual(fsub.wait_exit(), 0, fsub.stderr())
        self.assertEqual(wsub.wait_exit(), 0, wsub.stderr())
        w = wsub.json_lines()
        self.assertEqual([(e["args"], e["kwargs"]) for e in w],
                         [(["hello"], {}), ([1, [2]], {"k": 3})])
        self.assertEqual(w[0]["publication"], first_id)
        f = fsub.json_lines()
        self.assertEqual([(e["topic"], e["args"], e["kwargs"], e["publication"]) for e in f],
                         [("tools.a", ["hello"], {}, first_id),
                          ("tools.a", [1, [2]], {"k": 3}, w[1]["publication"])])

    def test_wamp_publication_reaches_fox_sub_with_its_args_and_kwargs(self):
        fsub = self.tool("sub", "tools.b", "--fox", self.addr, "--count", "1")
        fsub.wait_stderr("subscribed to tools.b")
        rc, _, err = run_fox("pub", "tools.b", "1", "2", "--kw", '{"x":true}', "--url", self.fox.url())
        self.assertEqual(rc, 0, err)
        self.assertEqual(fsub.wait_exit(), 0, fsub.stderr())
        (e,) = fsub.json_lines()
        self.assertEqual((e["args"], e["kwargs"]), ([1, 2], {"x": True}))

    def test_topics_are_wamp_text_both_ways_escapes_included(self):
        # MQTT r/x.y is the WAMP text r.x%2Ey; over FOX it is the parts [r, x.y].
        fsub = self.tool("sub", "r.x%2Ey", "--fox", self.addr, "--count", "1")
        psub = self.tool("sub", "r.*", "--fox", self.addr, "--count", "1")
        fsub.wait_stderr("subscribed to")
        psub.wait_stderr("subscribed to")
        rc, _, err = run_fox("pub", "r/x.y", "1", "--mqtt", f"127.0.0.1:{self.fox.mqtt_port}")
        self.assertEqual(rc, 0, err)
        for sub in (fsub, psub):
            self.assertEqual(sub.wait_exit(), 0, sub.stderr())
            (e,) = sub.json_lines()
            self.assertEqual((e["topic"], e["args"]), ("r.x%2Ey", [1]))

    def test_sub_match_prefix_over_fox(self):
        sub = self.tool("sub", "tools.pre", "--match", "prefix", "--fox", self.addr, "--count", "1")
        sub.wait_stderr("subscribed to")
        rc, _, err = run_fox("pub", "tools.prefixed.x", "1", "--fox", self.addr)
        self.assertEqual(rc, 0, err)
        self.assertEqual(sub.wait_exit(), 0, sub.stderr())
        (e,) = sub.json_lines()
        self.assertEqual((e["topic"], e["args"]), ("tools.prefixed.x", [1]))

    def test_register_and_call_over_fox_and_across_protocols(self):
        callee = self.tool("register", "tools.echo", "--echo", "--fox", self.addr)
        callee.wait_stderr("registered tools.echo")
        for transport in (["--fox", self.addr], ["--url", self.fox.url()]):
            rc, out, err = run_fox("call", "tools.echo", "1", '{"a":2}', "--kw", '{"k":3}', *transport)
            self.assertEqual(rc, 0, err)
            self.assertEqual(out.strip(), '{"args":[1,{"a":2}],"kwargs":{"k":3}}', transport)
            rc, out, err = run_fox("call", "tools.echo", '"one"', *transport)
            self.assertEqual(out.strip(), '{"args":["one"],"kwargs":{}}', transport)
        # A FOX caller of a WAMP callee.
        wcallee = self.tool("register", "tools.wecho", "--echo", "--url", self.fox.url())
        wcallee.wait_stderr("registered tools.wecho")
        rc, out, err = run_fox("call", "tools.wecho", "[1]", "--fox", self.addr)
        self.assertEqual((rc, out.strip()), (0, '{"args":[[1]],"kwargs":{}}'), err)
        self.assertEqual(callee.stop(), 0, callee.stderr())

    def test_exec_callee_error_reaches_the_fox_caller_with_its_uri(self):
        callee = self.tool("register", "tools.fail", "--exec", "exit 3", "--fox", self.addr)
        callee.wait_stderr("registered tools.fail")
        rc, _, err = run_fox("call", "tools.fail", "--fox", self.addr)
        self.assertEqual(rc, 1)
        self.assertIn("fox call: fox.error.exec_failed: command exited with code 3", err)

    def test_retained_snapshot_over_fox_exits_after_the_replay(self):
        rc, _, err = run_fox("pub", "tools.k", '{"v":1}', "--retain", "--fox", self.addr)
        self.assertEqual(rc, 0, err)
        sub = self.tool("sub", "tools.k", "--retained", "--snapshot", "--fox", self.addr)
        self.assertEqual(sub.wait_exit(), 0, sub.stderr())
        (e,) = sub.json_lines()
        self.assertEqual((e["args"], e["retained"]), ([{"v": 1}], True))

    def test_call_errors_and_waiting_for_a_callee(self):
        rc, _, err = run_fox("call", "tools.nobody", "--fox", self.addr)
        self.assertEqual(rc, 1)
        self.assertIn("fox call: wamp.error.no_such_procedure", err)
        caller = self.tool("call", "tools.late", "7", "--wait", "5", "--fox", self.addr)
        callee = self.tool("register", "tools.late", "--echo", "--fox", self.addr)
        callee.wait_stderr("registered tools.late")
        self.assertEqual(caller.wait_exit(), 0, caller.stderr())
        self.assertEqual(caller.stdout().strip(), '{"args":[7],"kwargs":{}}')

    def test_a_lost_connection_is_a_failure_not_an_end(self):
        sub = self.tool("sub", "tools.gone", "--fox", self.addr)
        sub.wait_stderr("subscribed to tools.gone")
        self.fox.stop()
        self.assertEqual(sub.wait_exit(), 1, sub.stderr())
        self.assertIn("closed the connection", sub.stderr())

    def test_connection_and_login_failures(self):
        rc, _, err = run_fox("pub", "t", "1", "--fox", f"127.0.0.1:{free_port()}")
        self.assertEqual(rc, 1)
        self.assertIn("cannot connect to 127.0.0.1:", err)
        rc, _, err = run_fox("pub", "t", "1", "--fox", self.addr, "--realm", "Bad Realm")
        self.assertEqual(rc, 1)
        self.assertIn("refused: wamp.error.no_such_realm", err)

    def test_bad_usage(self):
        for argv, text in [
            (["pub", "t", "--fox", self.addr, "--mqtt", "127.0.0.1"], "exclude each other"),
            (["sub", "t", "--fox", self.addr, "--url", self.fox.url()], "exclude each other"),
            (["pub", "t", "--fox", "host:notaport"], "--fox: "),
            (["lock", "k", "--fox", self.addr], "--fox is for pub, sub, call and register"),
            (["pub", "t", "--fox", self.addr, "--qos", "1"], "--qos needs --mqtt"),
        ]:
            rc, _, err = run_fox(*argv)
            self.assertEqual(rc, 2, (argv, err))
            self.assertIn(text, err, argv)


if __name__ == "__main__":
    main()
