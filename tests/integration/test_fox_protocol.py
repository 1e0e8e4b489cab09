"""The FOX protocol (fox-wamp's "hyper", reference doc §4.2) as fox serves it on --fox-port and as
WebSocket at /fox: LOGIN, ECHO, TRACE/EVENT, UNTRACE, PUSH, retained/after/snapshot, REG/CALL/
TASK/YIELD (EMIT, OK, ERR), UNREG, simultaneousTaskLimit, float64 ids, GOODBYE; and that /fox
takes no subprotocol while /wamp still needs one.

Raw clients (fox_client.py), one fox for the whole file, unique topics per test. "Nothing more
was sent" is proved with a barrier (an ECHO: the server answers a connection's commands in order).
"""
import time
import urllib.error
import urllib.request

from fox_client import FoxClient, FoxWsClient
from harness import SharedFoxCase, main, wait_for
from raw_wamp import WebSocketClient


class FoxCase(SharedFoxCase):
    def client(self, login=True, ws=False):
        c = FoxWsClient(self.fox.port) if ws else FoxClient(self.fox.fox_port)
        self.addCleanup(c.close)
        if login:
            c.login()
        return c

    def topic(self, name="t"):
        return ["fox", self._testMethodName, name]


class LoginTest(FoxCase):
    def test_login_answers_ok_with_the_command_id(self):
        c = self.client(login=False)
        self.assertEqual(c.request("LOGIN", id=7, data={"realm": "realm1"}), {"id": 7, "rsp": "OK"})

    def test_commands_before_login_are_refused_and_the_connection_stays_open(self):
        c = self.client(login=False)
        for ft, fields in (("ECHO", {"data": {"kv": 1}}), ("TRACE", {"uri": ["a"]}),
                           ("PUSH", {"uri": ["a"], "data": {"kv": 1}, "ack": True}),
                           ("REG", {"uri": ["a"]}), ("CALL", {"uri": ["a"]})):
            with self.subTest(ft=ft):
                m = c.request(ft, **fields)
                self.assertEqual(m["rsp"], "ERR", m)
                self.assertEqual(m["data"]["code"], "wamp.error.not_authorized", m)
                self.assertIsInstance(m["data"]["message"], str)
        c.login()
        self.assertEqual(c.request("ECHO", data={"kv": 1})["rsp"], "OK")

    def test_an_invalid_realm_is_an_err_and_a_valid_login_may_follow(self):
        c = self.client(login=False)
        for realm in ("Bad Realm!", ""):
            m = c.request("LOGIN", data={"realm": realm})
            self.assertEqual(m["rsp"], "ERR", m)
            self.assertEqual(m["data"]["code"], "wamp.error.no_such_realm", m)
        m = c.request("LOGIN", data={})
        self.assertEqual((m["rsp"], m["data"]["code"]), ("ERR", "wamp.error.invalid_argument"), m)
        m = c.request("LOGIN", data={"realm": ["realm1"]})
        self.assertEqual((m["rsp"], m["data"]["code"]), ("ERR", "wamp.error.invalid_argument"), m)
        c.login()
        self.assertEqual(c.request("ECHO", data=None)["rsp"], "OK")

    def test_a_second_login_is_an_err_and_the_session_stays_in_its_realm(self):
        a = self.client()
        m = a.request("LOGIN", data={"realm": "other_realm"})
        self.assertEqual(m["rsp"], "ERR", m)
        self.assertEqual(m["data"]["code"], "fox.error.already_logged_in", m)
        self.assertIn("realm1", m["data"]["message"])
        # still in realm1: a publication there reaches it
        trace_id, _ = a.trace(self.topic())
        b = self.client()
        eid = b.push(self.topic(), {"kv": "still here"})
        (ev,) = a.events(trace_id, 1)
        self.assertEqual((ev["qid"], ev["data"]), (eid, {"kv": "still here"}))

    def test_goodbye_closes_the_connection(self):
        c = self.client()
        c.send({"ft": "GOODBYE"})
        self.assertTrue(c.closed(3), "GOODBYE left the connection open")
        self.assertEqual(c.inbox, [])


class EchoTest(FoxCase):
    def test_echo_returns_the_same_body(self):
        c = self.client()
        for data in ({"kv": {"a": [1, 2.5, None, True], "s": "täxt"}}, {"kv": b"\x00\xff"},
                     {"args": [1, 2], "kwargs": {"k": "v"}}, None):
            with self.subTest(data=data):
                m = c.request("ECHO", data=data)
                self.assertEqual(m, {"id": m["id"], "rsp": "OK", "data": data})
        cid = c.command("ECHO")   # no data at all
        self.assertEqual(c.answer(cid), {"id": cid, "rsp": "OK", "data": None})


class PubSubTest(FoxCase):
    def test_trace_ack_then_events_with_ids_body_headers_and_options(self):
        sub, pub = self.client(), self.client()
        trace_id, qid = sub.trace(self.topic())
        self.assertIsInstance(qid, int)
        eid = pub.push(self.topic(), {"kv": {"n": 1, "list": [1, "two"]}}, hdr={"h": "v"})
        self.assertIsInstance(eid, int)
        self.assertGreater(eid, 0)
        (ev,) = sub.events(trace_id, 1)
        self.assertEqual(ev, {"id": trace_id, "rsp": "EVENT", "uri": self.topic(), "qid": eid,
                              "opt": {}, "hdr": {"h": "v"},
                              "data": {"kv": {"n": 1, "list": [1, "two"]}}})
        self.assertNotIn("sid", ev, "the publisher is disclosed only with disclose_me")
        eid2 = pub.push(self.topic(), {"kv": 2})
        (ev,) = sub.events(trace_id, 1)
        self.assertEqual((ev["qid"], ev["data"], ev["hdr"]), (eid2, {"kv": 2}, {}))
        self.assertGreater(eid2, eid)

    def test_disclose_me_gives_the_publisher_session_as_sid(self):
        sub, pub = self.client(), self.client()
        trace_id, _ = sub.trace(self.topic())
        pub.push(self.topic(), {"kv": 1}, opt={"disclose_me": True})
        (ev,) = sub.events(trace_id, 1)
        self.assertIsInstance(ev.get("sid"), int, ev)
        self.assertGreater(ev["sid"], 0)

    def test_a_wildcard_trace_gets_the_concrete_topic(self):
        sub, pub = self.client(), self.client()
        trace_id, _ = sub.trace(["fox", self._testMethodName, "*"])
        trace_all, _ = sub.trace(["fox", self._testMethodName, "#"])
        pub.push(self.topic("x"), {"kv": "x"})
        pub.push(["fox", self._testMethodName, "deep", "er"], {"kv": "deeper"})
        (one,) = sub.events(trace_id, 1)
        self.assertEqual((one["uri"], one["data"]), (self.topic("x"), {"kv": "x"}))
        both = sub.events(trace_all, 2)
        self.assertEqual([e["uri"] for e in both],
                         [self.topic("x"), ["fox", self._testMethodName, "deep", "er"]])
        self.assertEqual(sub.barrier(), [], "the * trace matched two parts")

    def test_a_push_without_ack_is_delivered_and_not_answered(self):
        sub, pub = self.client(), self.client()
        trace_id, _ = sub.trace(self.topic())
        cid = pub.command("PUSH", uri=self.topic(), data={"kv": "quiet"})
        (ev,) = sub.events(trace_id, 1)
        self.assertEqual(ev["data"], {"kv": "quiet"})
        self.assertEqual(pub.barrier(), [], f"PUSH {cid} without ack was answered")

    def test_push_with_ack_answers_ok_with_the_event_id_in_qid(self):
        sub, pub = self.client(), self.client()
        trace_id, _ = sub.trace(self.topic())
        cid = pub.command("PUSH", uri=self.topic(), data={"kv": 5}, ack=True)
        m = pub.answer(cid)
        self.assertEqual(set(m), {"id", "rsp", "qid"}, m)
        self.assertEqual(m["rsp"], "OK")
        (ev,) = sub.events(trace_id, 1)
        self.assertEqual(ev["qid"], m["qid"])

    def test_the_presence_of_opt_acknowledge_asks_for_the_ack_too(self):
        pub = self.client()
        cid = pub.command("PUSH", uri=self.topic(), data={"kv": 5}, opt={"acknowledge": True})
        self.assertEqual(pub.answer(cid)["rsp"], "OK")

    def test_a_bad_body_with_ack_is_an_err_and_without_ack_is_dropped(self):
        sub, pub = self.client(), self.client()
        trace_id, _ = sub.trace(self.topic())
        for data in (5, "text", {"args": "no list"}, {"other": 1}):
            with self.subTest(data=data):
                m = pub.request("PUSH", uri=self.topic(), data=data, ack=True)
                self.assertEqual((m["rsp"], m["data"]["code"]),
                                 ("ERR", "wamp.error.invalid_argument"), m)
        pub.command("PUSH", uri=self.topic(), data=5)
        self.assertEqual(pub.barrier(), [])
        m = pub.request("PUSH", uri=".".join(self.topic()), data={"kv": "dotted"}, ack=True)
        self.assertEqual(m["rsp"], "OK", m)   # a dotted string is taken too
        (ev,) = sub.events(trace_id, 1)
        self.assertEqual(ev["data"], {"kv": "dotted"})
        m = pub.request("PUSH", uri=5, data={"kv": 1}, ack=True)
        self.assertEqual(m["rsp"], "ERR", m)
        m = pub.request("PUSH", uri=self.topic()[:2] + ["*"], data={"kv": 1}, ack=True)
        self.assertEqual((m["rsp"], m["data"]["code"]), ("ERR", "wamp.error.invalid_uri"), m)
        pub.push(self.topic(), {"kv": "last"})
        (ev,) = sub.events(trace_id, 1)
        self.assertEqual(ev["data"], {"kv": "last"}, "a refused PUSH was delivered")

    def test_exclude_me_defaults_to_true_and_can_be_turned_off(self):
        c = self.client()
        trace_id, _ = c.trace(self.topic())
        eid = c.push(self.topic(), {"kv": "own"})
        self.assertEqual(c.barrier(), [], "the publisher got its own event by default")
        eid2 = c.push(self.topic(), {"kv": "own2"}, opt={"exclude_me": False})
        (ev,) = c.events(trace_id, 1)
        self.assertEqual(ev["qid"], eid2)
        self.assertNotEqual(eid, eid2)

    def test_untrace_ends_the_trace_then_answers_and_no_event_follows(self):
        sub, pub = self.client(), self.client()
        trace_id, qid = sub.trace(self.topic())
        cid = sub.command("UNTRACE", unr=qid)
        self.assertEqual(sub.recv(), {"id": trace_id, "rsp": "OK", "qid": qid})
        self.assertEqual(sub.recv(), {"id": cid, "rsp": "OK"})
        pub.push(self.topic(), {"kv": "after untrace"})
        # a second trace of another topic, published after: the barrier for the first
        trace2, _ = sub.trace(self.topic("other"))
        pub.push(self.topic("other"), {"kv": "marker"})
        (ev,) = sub.events(trace2, 1)
        self.assertEqual(sub.barrier(), [])
        self.assertEqual(ev["data"], {"kv": "marker"})

    def test_untrace_of_an_unknown_or_ended_subscription_is_an_err(self):
        sub = self.client()
        _, qid = sub.trace(self.topic())
        sub.ok("UNTRACE", unr=qid)
        sub.take_inbox()
        for unr in (qid, 987654, "x", None):
            with self.subTest(unr=unr):
                m = sub.request("UNTRACE", unr=unr)
                self.assertEqual((m["rsp"], m["data"]["code"]),
                                 ("ERR", "wamp.error.no_such_subscription"), m)
        m = sub.request("UNTRACE")
        self.assertEqual(m["data"]["code"], "wamp.error.no_such_subscription", m)

    def test_two_traces_of_one_topic_each_get_events_and_each_ends_with_its_untrace(self):
        sub, pub = self.client(), self.client()
        t1, q1 = sub.trace(self.topic())
        t2, q2 = sub.trace(self.topic())
        self.assertNotEqual(q1, q2)
        eid = pub.push(self.topic(), {"kv": 1})
        got = sorted(sub.expect(lambda m: m.get("rsp") == "EVENT")["id"] for _ in range(2))
        self.assertEqual(got, sorted([t1, t2]))
        self.assertEqual(sub.barrier(), [])
        cid = sub.command("UNTRACE", unr=q1)
        self.assertEqual(sub.recv(), {"id": t1, "rsp": "OK", "qid": q1})
        self.assertEqual(sub.recv(), {"id": cid, "rsp": "OK"})
        eid2 = pub.push(self.topic(), {"kv": 2})
        (ev,) = sub.events(t2, 1)
        self.assertEqual(ev["qid"], eid2)
        self.assertEqual(sub.barrier(), [], "the ended trace still got the event")
        cid = sub.command("UNTRACE", unr=q2)
        self.assertEqual(sub.recv(), {"id": t2, "rsp": "OK", "qid": q2})
        self.assertEqual(sub.recv(), {"id": cid, "rsp": "OK"})
        pub.push(self.topic(), {"kv": 3})
        self.assertEqual(sub.barrier(), [])
        self.assertLess(eid, eid2)

    def test_a_replay_goes_only_to_the_trace_that_asked_for_it(self):
        sub, pub = self.client(), self.client()
        first = pub.push(self.topic(), {"kv": "old"}, opt={"retain": True})
        t1, _ = sub.trace(self.topic())
        live = pub.push(self.topic(), {"kv": "live"}, opt={"retain": True})
        (ev,) = sub.events(t1, 1)
        self.assertEqual(ev["qid"], live)
        # A second TRACE of the topic asks for the retained value and the history: only it
        # gets them; the first one, which saw `live` already, gets nothing again.
        t2, _ = sub.trace(self.topic(), {"retained": True})
        (ev,) = sub.events(t2, 1)
        self.assertEqual((ev["qid"], ev["opt"]), (live, {"retained": True}))
        t3, _ = sub.trace(self.topic(), {"after": 0})
        got = [e["qid"] for e in sub.events(t3, 2)]
        self.assertEqual(got, [first, live])
        self.assertEqual(sub.barrier(), [], "another trace got the replay")
        # Live events still go to every trace.
        nxt = pub.push(self.topic(), {"kv": "next"})
        got = sorted(sub.expect(lambda m: m.get("rsp") == "EVENT")["id"] for _ in range(3))
        self.assertEqual(got, sorted([t1, t2, t3]))
        self.assertLess(live, nxt)

    def test_match_prefix_and_wildcard_options(self):
        sub, pub = self.client(), self.client()
        base = "_".join(self.topic())
        tp, _ = sub.trace(base + ".pre", {"match": "prefix"})
        tw, _ = sub.trace(base + "..end", {"match": "wildcard"})
        e1 = pub.push(base + ".prefixed.more", {"kv": 1})
        (ev,) = sub.events(tp, 1)
        self.assertEqual(ev["qid"], e1)
        e2 = pub.push(base + ".mid.end", {"kv": 2})
        (ev,) = sub.events(tw, 1)
        self.assertEqual(ev["qid"], e2)
        self.assertEqual(sub.barrier(), [])
        m = sub.request("TRACE", uri=["a"], opt={"match": "fuzzy"})
        self.assertEqual((m["rsp"], m["data"]["code"]), ("ERR", "wamp.error.invalid_argument"), m)

    def test_ids_sent_as_float64_are_accepted(self):
        # The reference client writes every integer outside 32 bits as a MessagePack float64.
        sub = self.client(login=False)
        big = float(2 ** 40)
        self.assertEqual(sub.request("LOGIN", id=big, data={"realm": "realm1"}),
                         {"id": 2 ** 40, "rsp": "OK"})
        tid = float(2 ** 41)
        sub.send({"ft": "TRACE", "id": tid, "uri": self.topic(), "opt": {}})
        ack = sub.answer(2 ** 41, "ACK")
        pub = self.client()
        eid = pub.push(self.topic(), {"kv": "f"})
        ev = sub.answer(2 ** 41, "EVENT")
        self.assertEqual((ev["qid"], ev["data"]), (eid, {"kv": "f"}))
        sub.send({"ft": "UNTRACE", "id": float(2 ** 42), "unr": float(ack["qid"])})
        self.assertEqual(sub.recv(), {"id": 2 ** 41, "rsp": "OK", "qid": ack["qid"]})
        self.assertEqual(sub.recv(), {"id": 2 ** 42, "rsp": "OK"})
        self.assertEqual(sub.request("ECHO", id=float(2 ** 53), data=None)["id"], 2 ** 53)


class RetainedTest(FoxCase):
    def test_a_retained_value_is_replayed_to_a_trace_asking_for_it(self):
        pub = self.client()
        eid = pub.push(self.topic(), {"kv": {"v": 42}}, opt={"retain": True})
        plain = self.client()
        plain_id, _ = plain.trace(self.topic())
        self.assertEqual(plain.barrier(), [], "a trace without `retained` got the retained value")
        sub = self.client()
        trace_id, _ = sub.trace(self.topic(), opt={"retained": True})
        (ev,) = sub.events(trace_id, 1)
        self.assertEqual((ev["uri"], ev["data"], ev["opt"]),
                         (self.topic(), {"kv": {"v": 42}}, {"retained": True}))
        self.assertIsInstance(ev["qid"], int)
        self.assertGreaterEqual(ev["qid"], eid)
        # then live events, without the retained flag
        eid2 = pub.push(self.topic(), {"kv": {"v": 43}}, opt={"retain": True})
        (ev,) = sub.events(trace_id, 1)
        self.assertEqual((ev["qid"], ev["data"], ev["opt"]), (eid2, {"kv": {"v": 43}}, {}))
        (ev,) = plain.events(plain_id, 1)
        self.assertEqual(ev["data"], {"kv": {"v": 43}})

    def test_a_pattern_trace_replays_every_matching_key_and_an_empty_push_deletes(self):
        pub = self.client()
        for i in range(3):
            pub.push(self.topic(f"k{i}"), {"kv": i}, opt={"retain": True})
        pub.push(self.topic("k1"), None, opt={"retain": True})   # deletes k1
        sub = self.client()
        trace_id, _ = sub.trace(["fox", self._testMethodName, "*"], opt={"retained": True})
        evs = sub.events(trace_id, 2)
        self.assertEqual(sorted((e["uri"][-1], e["data"]["kv"]) for e in evs), [("k0", 0), ("k2", 2)])
        self.assertEqual(sub.barrier(), [])

    def test_a_snapshot_trace_replays_then_ends_with_ok(self):
        pub = self.client()
        pub.push(self.topic(), {"kv": "snap"}, opt={"retain": True})
        sub = self.client()
        cid = sub.command("TRACE", uri=self.topic(), opt={"retained": True, "snapshot": True})
        ack = sub.recv()
        self.assertEqual((ack["id"], ack["rsp"]), (cid, "ACK"), ack)
        ev = sub.recv()
        self.assertEqual((ev["id"], ev["rsp"], ev["data"], ev["opt"]),
                         (cid, "EVENT", {"kv": "snap"}, {"retained": True}), ev)
        end = sub.recv()
        self.assertEqual(end, {"id": cid, "rsp": "OK", "qid": ack["qid"]})
        pub.push(self.topic(), {"kv": "live"})
        self.assertEqual(sub.barrier(), [], "an ended snapshot got a live event")
        m = sub.request("UNTRACE", unr=ack["qid"])
        self.assertEqual(m["data"]["code"], "wamp.error.no_such_subscription", m)

    def test_a_snapshot_with_nothing_to_replay_ends_at_once(self):
        sub = self.client()
        cid = sub.command("TRACE", uri=self.topic("empty"), opt={"retained": True, "snapshot": True})
        ack = sub.recv()
        self.assertEqual((ack["id"], ack["rsp"]), (cid, "ACK"), ack)
        self.assertEqual(sub.recv(), {"id": cid, "rsp": "OK", "qid": ack["qid"]})

    def test_after_replays_the_history_after_an_event_id_then_live_events(self):
        pub = self.client()
        ids = [pub.push(self.topic(), {"kv": i}) for i in range(4)]
        sub = self.client()
        trace_id, _ = sub.trace(self.topic(), opt={"after": ids[1]})
        evs = sub.events(trace_id, 2)
        self.assertEqual([(e["qid"], e["data"]) for e in evs],
                         [(ids[2], {"kv": 2}), (ids[3], {"kv": 3})])
        eid = pub.push(self.topic(), {"kv": "live"})
        (ev,) = sub.events(trace_id, 1)
        self.assertEqual((ev["qid"], ev["data"]), (eid, {"kv": "live"}))
        self.assertEqual(sub.barrier(), [])

    def test_after_as_float64_like_the_reference_client_writes_big_ids(self):
        pub = self.client()
        ids = [pub.push(self.topic(), {"kv": i}) for i in range(2)]
        sub = self.client()
        trace_id, _ = sub.trace(self.topic(), opt={"after": float(ids[0])})
        (ev,) = sub.events(trace_id, 1)
        self.assertEqual((ev["qid"], ev["data"]), (ids[1], {"kv": 1}))
        self.assertEqual(sub.barrier(), [])

    def test_retained_with_after_replays_history_and_the_retained_value(self):
        pub = self.client()
        first = pub.push(self.topic(), {"kv": "v1"}, opt={"retain": True})
        second = pub.push(self.topic(), {"kv": "v2"}, opt={"retain": True})
        sub = self.client()
        trace_id, _ = sub.trace(self.topic(), opt={"after": first, "retained": True})
        evs = sub.events(trace_id, 2)
        history = [e for e in evs if e["opt"] == {}]
        retained = [e for e in evs if e["opt"] == {"retained": True}]
        self.assertEqual([(e["qid"], e["data"]) for e in history], [(second, {"kv": "v2"})], evs)
        self.assertEqual([e["data"] for e in retained], [{"kv": "v2"}], evs)
        self.assertEqual(sub.barrier(), [])

    def test_bad_trace_options_are_an_err(self):
        sub = self.client()
        for opt in ({"snapshot": "yes"}, {"retained": 1}, {"after": "abc"}):
            with self.subTest(opt=opt):
                m = sub.request("TRACE", uri=self.topic(), opt=opt)
                self.assertEqual((m["rsp"], m["data"]["code"]),
                                 ("ERR", "wamp.error.invalid_argument"), m)
        m = sub.request("TRACE", uri=[], opt={})
        self.assertEqual((m["rsp"], m["data"]["code"]), ("ERR", "wamp.error.invalid_uri"), m)


class RpcTest(FoxCase):
    def reg(self, callee, uri, opt=None):
        cid = callee.command("REG", uri=uri, opt=opt or {})
        m = callee.answer(cid)
        self.assertEqual(m["rsp"], "ACK", m)
        return cid, m["qid"]

    def test_call_task_emit_and_final_ok(self):
        callee, caller = self.client(), self.client()
        reg_id, reg_qid = self.reg(callee, self.topic("proc"))
        cid = caller.command("CALL", uri=self.topic("proc"), data={"kv": {"x": 5}}, opt={})
        task = callee.answer(reg_id, "TASK")
        self.assertEqual((task["uri"], task["data"], task["opt"]),
                         (self.topic("proc"), {"kv": {"x": 5}}, {}))
        self.assertIsInstance(task["qid"], int)
        for i in range(2):
            callee.send({"ft": "YIELD", "qid": task["qid"], "rqt": "EMIT", "data": {"kv": f"p{i}"},
                         "opt": None})
            self.assertEqual(caller.recv(), {"id": cid, "rsp": "EMIT", "data": {"kv": f"p{i}"}})
        callee.send({"ft": "YIELD", "qid": task["qid"], "rqt": "OK", "data": {"kv": [1, 2]}})
        self.assertEqual(caller.recv(), {"id": cid, "rsp": "OK", "data": {"kv": [1, 2]}})
        # a late answer to a finished invocation reaches nobody
        callee.send({"ft": "YIELD", "qid": task["qid"], "rqt": "OK", "data": {"kv": "late"}})
        self.assertEqual(caller.barrier(), [])
        self.assertEqual(callee.barrier(), [])
        self.assertNotEqual(reg_qid, None)

    def test_a_call_with_no_data_and_a_yield_without_data(self):
        callee, caller = self.client(), self.client()
        reg_id, _ = self.reg(callee, self.topic("p"))
        cid = caller.command("CALL", uri=self.topic("p"))
        task = callee.answer(reg_id, "TASK")
        self.assertIsNone(task["data"])
        callee.send({"ft": "YIELD", "qid": task["qid"]})   # rqt defaults to OK
        self.assertEqual(caller.answer(cid), {"id": cid, "rsp": "OK", "data": None})

    def test_a_callee_err_reaches_the_caller_as_err_with_code_and_message(self):
        callee, caller = self.client(), self.client()
        reg_id, _ = self.reg(callee, self.topic("fail"))
        cid = caller.command("CALL", uri=self.topic("fail"), data={"kv": 1})
        task = callee.answer(reg_id, "TASK")
        # as the reference client sends it: err uri, the message as a plain string
        callee.send({"ft": "YIELD", "qid": task["qid"], "rqt": "ERR", "err": "error.callee_failure",
                     "data": "it broke"})
        self.assertEqual(caller.answer(cid), {"id": cid, "rsp": "ERR", "data": {
            "code": "error.callee_failure", "message": "it broke"}})
        cid = caller.command("CALL", uri=self.topic("fail"), data={"kv": 2})
        task = callee.answer(reg_id, "TASK")
        callee.send({"ft": "YIELD", "qid": task["qid"], "rqt": "ERR", "err": "app.error.custom"})
        m = caller.answer(cid)
        self.assertEqual((m["rsp"], m["data"]["code"]), ("ERR", "app.error.custom"), m)

    def test_a_call_timeout_ends_the_call_with_an_err_and_the_late_yield_is_dropped(self):
        callee, caller = self.client(), self.client()
        reg_id, _ = self.reg(callee, self.topic("slow"))
        start = time.monotonic()
        cid = caller.command("CALL", uri=self.topic("slow"), data={"kv": 1}, opt={"timeout": 200})
        task = callee.answer(reg_id, "TASK")
        m = caller.answer(cid, timeout=5)
        self.assertEqual(m["rsp"], "ERR", m)
        self.assertEqual(m["data"]["code"], "wamp.error.canceled", m)   # as for WAMP callers
        self.assertGreaterEqual(time.monotonic() - start, 0.15)
        callee.send({"ft": "YIELD", "qid": task["qid"], "data": {"kv": "too late"}})
        self.assertEqual(caller.barrier(), [])
        # the slot is free again: the next call is invoked
        cid = caller.command("CALL", uri=self.topic("slow"), data={"kv": 2})
        task = callee.answer(reg_id, "TASK")
        callee.send({"ft": "YIELD", "qid": task["qid"], "data": {"kv": "ok"}})
        self.assertEqual(caller.answer(cid)["data"], {"kv": "ok"})

    def test_a_call_without_callee_is_an_err_no_such_procedure(self):
        caller = self.client()
        m = caller.request("CALL", uri=self.topic("nobody"), data={"kv": 1})
        self.assertEqual((m["rsp"], m["data"]["code"]), ("ERR", "wamp.error.no_such_procedure"), m)
        self.assertIsInstance(m["data"]["message"], str)

    def test_a_second_reg_of_one_procedure_is_an_err(self):
        a, b = self.client(), self.client()
        self.reg(a, self.topic("once"))
        m = b.request("REG", uri=self.topic("once"), opt={})
        self.assertEqual((m["rsp"], m["data"]["code"]), ("ERR", "wamp.error.procedure_already_exists"), m)

    def test_unreg_then_calls_fail_and_an_unknown_unreg_is_an_err(self):
        callee, caller = self.client(), self.client()
        _, reg_qid = self.reg(callee, self.topic("gone"))
        self.assertEqual(callee.request("UNREG", unr=float(reg_qid))["rsp"], "OK")
        m = caller.request("CALL", uri=self.topic("gone"))
        self.assertEqual(m["data"]["code"], "wamp.error.no_such_procedure", m)
        for unr in (reg_qid, 123456789, None):
            with self.subTest(unr=unr):
                m = callee.request("UNREG", unr=unr)
                self.assertEqual((m["rsp"], m["data"]["code"]),
                                 ("ERR", "wamp.error.no_such_registration"), m)
        other = self.client()
        _, other_qid = self.reg(other, self.topic("theirs"))
        m = callee.request("UNREG", unr=other_qid)   # not this session's
        self.assertEqual(m["data"]["code"], "wamp.error.no_such_registration", m)

    def test_a_callee_leaving_fails_its_pending_call(self):
        callee, caller = self.client(), self.client()
        reg_id, _ = self.reg(callee, self.topic("leaver"))
        cid = caller.command("CALL", uri=self.topic("leaver"))
        callee.answer(reg_id, "TASK")
        callee.close()
        m = caller.answer(cid)
        self.assertEqual(m["rsp"], "ERR", m)
        self.assertIsInstance(m["data"]["code"], str)

    def busy_tasks(self, callee, caller, reg_id, uri, calls):
        """Sends `calls` CALLs; returns (their ids, the TASKs the callee has got meanwhile)."""
        cids = [caller.command("CALL", uri=uri, data={"kv": i}) for i in range(calls)]
        caller.barrier()    # every CALL was routed
        return cids, [m for m in callee.barrier() if m.get("rsp") == "TASK" and m["id"] == reg_id]

    def test_one_task_at_a_time_by_default(self):
        callee, caller = self.client(), self.client()
        uri = self.topic("serial")
        reg_id, _ = self.reg(callee, uri)
        cids, tasks = self.busy_tasks(callee, caller, reg_id, uri, 3)
        self.assertEqual([t["data"] for t in tasks], [{"kv": 0}], "more than one task at a time")
        for i in range(3):
            callee.send({"ft": "YIELD", "qid": tasks[0]["qid"], "data": {"kv": f"r{i}"}})
            self.assertEqual(caller.answer(cids[i]), {"id": cids[i], "rsp": "OK",
                                                      "data": {"kv": f"r{i}"}})
            if i < 2:
                tasks = [callee.answer(reg_id, "TASK")]
                self.assertEqual(tasks[0]["data"], {"kv": i + 1})

    def test_progress_does_not_free_a_task_slot(self):
        # reference bug §10.8: each progressive result decremented the concurrency counter
        callee, caller = self.client(), self.client()
        uri = self.topic("progress")
        reg_id, _ = self.reg(callee, uri)
        cids, tasks = self.busy_tasks(callee, caller, reg_id, uri, 2)
        self.assertEqual(len(tasks), 1)
        for _ in range(3):
            callee.send({"ft": "YIELD", "qid": tasks[0]["qid"], "rqt": "EMIT", "data": {"kv": "p"}})
        for _ in range(3):
            self.assertEqual(caller.answer(cids[0])["rsp"], "EMIT")
        self.assertEqual([m for m in callee.barrier() if m.get("rsp") == "TASK"], [],
                         "a progressive result let a second task start")

    def test_simultaneous_task_limit_allows_that_many_tasks(self):
        callee, caller = self.client(), self.client()
        uri = self.topic("parallel")
        reg_id, _ = self.reg(callee, uri, opt={"simultaneousTaskLimit": 2})
        cids, tasks = self.busy_tasks(callee, caller, reg_id, uri, 3)
        self.assertEqual([t["data"] for t in tasks], [{"kv": 0}, {"kv": 1}])
        callee.send({"ft": "YIELD", "qid": tasks[1]["qid"], "data": {"kv": "second"}})
        self.assertEqual(caller.answer(cids[1])["data"], {"kv": "second"})
        third = callee.answer(reg_id, "TASK")
        self.assertEqual(third["data"], {"kv": 2})
        m = callee.request("REG", uri=self.topic("bad"), opt={"simultaneousTaskLimit": "two"})
        self.assertEqual((m["rsp"], m["data"]["code"]), ("ERR", "wamp.error.invalid_argument"), m)

    def test_yield_qid_as_float64(self):
        callee, caller = self.client(), self.client()
        reg_id, _ = self.reg(callee, self.topic("f"))
        cid = caller.command("CALL", uri=self.topic("f"))
        task = callee.answer(reg_id, "TASK")
        callee.send({"ft": "YIELD", "qid": float(task["qid"]), "rqt": "OK", "data": {"kv": 1}})
        self.assertEqual(caller.answer(cid)["data"], {"kv": 1})


class WebSocketTest(FoxCase):
    def test_fox_over_websocket_logs_in_traces_pushes_and_calls(self):
        ws = self.client(ws=True)
        tcp = self.client()
        trace_id, _ = ws.trace(self.topic())
        eid = tcp.push(self.topic(), {"kv": b"\x01\x02"})
        (ev,) = ws.events(trace_id, 1)
        self.assertEqual((ev["qid"], ev["data"]), (eid, {"kv": b"\x01\x02"}))
        cid, reg = ws.command("REG", uri=self.topic("p"), opt={}), None
        reg = ws.answer(cid)
        self.assertEqual(reg["rsp"], "ACK")
        call = tcp.command("CALL", uri=self.topic("p"), data={"kv": 3})
        task = ws.answer(cid, "TASK")
        ws.send({"ft": "YIELD", "qid": task["qid"], "data": {"kv": task["data"]["kv"] * 2}})
        self.assertEqual(tcp.answer(call)["data"], {"kv": 6})
        self.assertEqual(set(ws.opcodes), {0x2}, "FOX over WebSocket answers in binary messages")

    def test_commands_before_login_over_websocket(self):
        ws = self.client(login=False, ws=True)
        m = ws.request("ECHO", data=None)
        self.assertEqual(m["data"]["code"], "wamp.error.not_authorized", m)
        self.assertIsNone(ws.response.headers.get("sec-websocket-protocol"))

    def refused(self, path, subprotocols):
        mark = len(self.fox.log())
        c = WebSocketClient(self.fox.port, path=path, subprotocols=subprotocols)
        self.addCleanup(c.close)
        r = c.connect()
        body = c.read_body().decode()
        self.assertTrue(c.closed(3), "the connection stayed open after the refusal")
        wait_for(lambda: "refused a WebSocket upgrade" in self.fox.log()[mark:], 3,
                 what="the refusal's log line")
        return r.status, body

    def test_an_upgrade_offering_a_subprotocol_at_fox_is_refused(self):
        for offered in (["wamp.2.msgpack"], ["fox"], ["mqtt"]):
            with self.subTest(offered=offered):
                status, body = self.refused("/fox", offered)
                self.assertEqual(status, 400)
                self.assertIn("/fox takes no subprotocol", body)

    def test_wamp_still_refuses_an_upgrade_without_subprotocol(self):
        status, body = self.refused("/wamp", [])
        self.assertEqual(status, 400)
        self.assertIn("wamp.2.json", body)
        status, _ = self.refused("/mqtt", [])
        self.assertEqual(status, 400)

    def test_the_status_page_still_works(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.fox.port}/", timeout=5) as r:
            self.assertEqual(r.status, 200)
            self.assertIn("text/html", r.headers["Content-Type"])
            self.assertGreater(len(r.read()), 0)

    def test_a_get_of_fox_without_upgrade_is_not_found(self):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.fox.port}/fox", timeout=5) as r:
                status = r.status
        except urllib.error.HTTPError as e:
            status = e.code
        self.assertEqual(status, 404)


if __name__ == "__main__":
    main()
