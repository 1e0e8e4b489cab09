"""Authentication and authorization (SPEC §6, issue 14) with real clients against the SPEC's
example config exactly (realm1), plus a realm with a salted WAMP-CRA user and no anonymous
access (realm2): python3-autobahn (ticket, wampcra plain and salted, anonymous allowed and
refused, the four actions allowed and denied by role), paho (good and bad password, anonymous,
a denied subscription → SUBACK 0x80, a denied publication not routed)."""
import asyncio
import contextlib
import os
import unittest

import txaio

txaio.use_asyncio()

from autobahn.asyncio.websocket import WampWebSocketClientFactory  # noqa: E402
from autobahn.asyncio.wamp import ApplicationSession  # noqa: E402
from autobahn.wamp import auth  # noqa: E402
from autobahn.wamp.exception import ApplicationError  # noqa: E402
from autobahn.wamp.serializer import JsonSerializer  # noqa: E402
from autobahn.wamp.types import ComponentConfig, PublishOptions, SubscribeOptions  # noqa: E402

import json  # noqa: E402
import signal  # noqa: E402

from harness import Fox, main, wait_for, write_config  # noqa: E402
from fox_client import FoxClient  # noqa: E402
from mqtt_client import MqttClient  # noqa: E402
from raw_wamp import RawSocketClient, hello  # noqa: E402

SPEC_REALM1 = {
    "anonymous": "guest",
    "users": {"joe": {"secret": "joe-secret", "role": "user"},
              "admin": {"secret": "admin-secret", "role": "admin"}},
    "permissions": {
        "admin": [{"uri": "#", "allow": ["publish", "subscribe", "call", "register"]}],
        "user": [{"uri": "sys.#", "allow": []},
                 {"uri": "#", "allow": ["publish", "subscribe", "call", "register"]}],
        "guest": [{"uri": "public.#", "allow": ["subscribe"]}]}}
REALM2 = {"users": {"sam": {"secret": "sam-secret", "role": "admin", "salt": "pepper",
                            "iterations": 100, "keylen": 32}},
          "permissions": {"admin": [{"uri": "#", "allow": ["publish", "subscribe", "call",
                                                           "register"]}]}}


class Client(ApplicationSession):
    def __init__(self, config, methods, authid, secret, joined):
        super().__init__(config)
        self.methods, self.user, self.secret, self.joined = methods, authid, secret, joined

    def onConnect(self):
        kw = {"authmethods": self.methods}
        if self.user:
            kw["authid"] = self.user
        self.join(self.config.realm, **kw)

    def onChallenge(self, challenge):
        if challenge.method == "ticket":
            return self.secret
        key = self.secret
        if "salt" in challenge.extra:
            key = auth.derive_key(self.secret, challenge.extra["salt"],
                                  challenge.extra["iterations"], challenge.extra["keylen"])
        return auth.compute_wcs(key, challenge.extra["challenge"])

    def onJoin(self, details):
        self.details = details
        if not self.joined.done():
            self.joined.set_result(self)

    def onLeave(self, details):
        if not self.joined.done():
            self.joined.set_exception(ApplicationError(details.reason, details.message))
        super().onLeave(details)

    def onDisconnect(self):
        if not self.joined.done():
            self.joined.set_exception(RuntimeError("disconnected before join"))


class WampClients:
    """autobahn sessions joined to self.fox, left at the end of each test."""

    async def asyncSetUp(self):
        self.clients = []

    async def asyncTearDown(self):
        for c in self.clients:
            with contextlib.suppress(Exception):
                c.leave()

    async def join(self, realm="realm1", methods=("anonymous",), authid=None, secret=None):
        loop = asyncio.get_running_loop()
        joined = loop.create_future()
        factory = WampWebSocketClientFactory(
            lambda: Client(ComponentConfig(realm), list(methods), authid, secret, joined),
            url=self.fox.url("/wamp"), serializers=[JsonSerializer()])
        await loop.create_connection(factory, "127.0.0.1", self.fox.port)
        c = await asyncio.wait_for(joined, 5)
        self.clients.append(c)
        return c

    async def refused(self, **kw):
        with self.assertRaises(ApplicationError) as cm:
            await self.join(**kw)
        return cm.exception.error

class AuthTest(WampClients, unittest.IsolatedAsyncioTestCase):
    @classmethod
    def setUpClass(cls):
        cls.fox = Fox("--config", write_config({"realms": {"realm1": SPEC_REALM1, "realm2": REALM2}}))

    @classmethod
    def tearDownClass(cls):
        assert cls.fox.stop() == 0, cls.fox.log()

    async def test_logins_and_refusals(self):
        c = await self.join(methods=["ticket"], authid="joe", secret="joe-secret")
        self.assertEqual((c.details.authid, c.details.authrole, c.details.authmethod),
                         ("joe", "user", "ticket"))
        c = await self.join(methods=["wampcra"], authid="admin", secret="admin-secret")
        self.assertEqual((c.details.authrole, c.details.authmethod), ("admin", "wampcra"))
        c = await self.join(realm="realm2", methods=["wampcra"], authid="sam", secret="sam-secret")
        self.assertEqual((c.details.authid, c.details.authrole), ("sam", "admin"))
        c = await self.join()
        self.assertEqual((c.details.authrole, c.details.authmethod), ("guest", "anonymous"))
        self.assertEqual(await self.refused(methods=["ticket"], authid="joe", secret="nope"),
                         "wamp.error.authentication_failed")
        self.assertEqual(await self.refused(methods=["wampcra"], authid="joe", secret="nope"),
                         "wamp.error.authentication_failed")
        self.assertEqual(await self.refused(realm="realm2", methods=["wampcra"], authid="sam",
                                            secret="wrong"), "wamp.error.authentication_failed")
        self.assertEqual(await self.refused(methods=["ticket"], authid="nobody", secret="x"),
                         "wamp.error.authentication_failed")
        self.assertEqual(await self.refused(realm="realm2"), "wamp.error.no_auth_method")

    async def expect_denied(self, coro):
        with self.assertRaises(ApplicationError) as cm:
            await coro
        self.assertEqual(cm.exception.error, "wamp.error.not_authorized")

    async def test_the_four_actions_by_role(self):
        admin = await self.join(methods=["ticket"], authid="admin", secret="admin-secret")
        joe = await self.join(methods=["ticket"], authid="joe", secret="joe-secret")
        guest = await self.join()
        ack = PublishOptions(acknowledge=True)
        # admin: everything, sys.# included.
        await admin.register(lambda: "admin", "sys.status")
        await admin.subscribe(lambda *a: None, "sys.events")
        await admin.publish("sys.events", 1, options=ack)
        self.assertEqual(await admin.call("sys.status"), "admin")
        # joe (user): not sys.#, everything else.
        await self.expect_denied(joe.subscribe(lambda *a: None, "sys.events"))
        await self.expect_denied(joe.publish("sys.events", 1, options=ack))
        await self.expect_denied(joe.call("sys.status"))
        await self.expect_denied(joe.register(lambda: 1, "sys.other"))
        await joe.register(lambda: "joe", "app.echo")
        self.assertEqual(await joe.call("app.echo"), "joe")
        got = asyncio.Queue()
        await joe.subscribe(lambda v: got.put_nowait(v), "app.news")
        await joe.publish("app.news", "hello", options=PublishOptions(acknowledge=True, exclude_me=False))
        self.assertEqual(await asyncio.wait_for(got.get(), 5), "hello")
        # guest: subscribe to public.# only.
        public = asyncio.Queue()
        await guest.subscribe(lambda v: public.put_nowait(v), "public.news")
        await self.expect_denied(guest.subscribe(lambda *a: None, "app.news"))
        await self.expect_denied(guest.publish("public.news", 1, options=ack))
        await self.expect_denied(guest.call("app.echo"))
        await self.expect_denied(guest.register(lambda: 1, "public.proc"))
        await self.expect_denied(guest.call("wamp.session.count"))   # the meta API is a call too
        await admin.publish("public.news", "for all", options=ack)
        self.assertEqual(await asyncio.wait_for(public.get(), 5), "for all")
        # A pattern subscription gets only what the role may subscribe to, topic by topic.
        seen = asyncio.Queue()
        await joe.subscribe(lambda v, details=None: seen.put_nowait(v), ".events",
                            options=SubscribeOptions(match="wildcard", details_arg="details"))
        await admin.publish("sys.events", "secret", options=ack)
        await admin.publish("app.events", "open", options=ack)
        self.assertEqual(await asyncio.wait_for(seen.get(), 5), "open")
        self.assertTrue(seen.empty())

    def test_fox_login_with_users(self):
        with FoxClient(self.fox.fox_port) as c:
            m = c.request("LOGIN", data={"realm": "realm1", "auth": {"authid": "joe", "secret": "nope"}})
            self.assertEqual(m.get("rsp"), "ERR", m)
            self.assertIn("wamp.error.authentication_failed", str(m))
            m = c.request("LOGIN", data={"realm": "realm1", "auth": {"authid": "joe", "secret": "joe-secret"}})
            self.assertEqual(m.get("rsp"), "OK", m)
        with FoxClient(self.fox.fox_port) as c:
            m = c.request("LOGIN", data={"realm": "realm2"})   # the reference's LOGIN: anonymous
            self.assertIn("wamp.error.no_auth_method", str(m))
        with FoxClient(self.fox.fox_port) as c:
            c.login("realm1")   # anonymous: guest, who may subscribe to public.# only
            cid = c.command("TRACE", uri=["app", "x"], opt={})
            m = c.answer(cid)
            self.assertIn("wamp.error.not_authorized", str(m))
            c.trace("public.news")

    def test_mqtt_users_anonymous_and_denials(self):
        fox = self.fox
        joe = MqttClient(fox, username="joe@realm1", password="joe-secret")
        guest = MqttClient(fox)   # no user name: realm1's anonymous role, guest
        try:
            # Refused CONNECTs and their CONNACK codes: 4 bad user name or password, 5 not
            # authorized (realm2 admits no anonymous client; "@realm2" names the realm only).
            for kw, rc in (({"username": "joe@realm1", "password": "wrong"}, 4),
                           ({"username": "joe@realm1"}, 4),
                           ({"username": "nobody@realm2", "password": "x"}, 4),
                           ({"username": "@realm2"}, 5)):
                MqttClient(fox, expect_rc=rc, **kw).close()
            self.assertEqual(guest.subscribe("public/#", qos=1), [1])
            self.assertEqual(guest.subscribe("app/#", qos=1), [0x80])
            self.assertEqual(joe.subscribe("app/#", qos=1), [1])
            self.assertEqual(joe.subscribe("sys/#", qos=1), [0x80])
            # A guest's publication is acknowledged but not routed.
            guest.publish("app/x", b"from guest", qos=1)
            joe.publish("app/x", b"from joe", qos=1)
            msg = joe.messages.wait(1, timeout=5)[0]
            self.assertEqual((msg.topic, msg.payload), ("app/x", b"from joe"))
            self.assertEqual(len(joe.messages.snapshot()), 1)
            joe.publish("public/x", b"news", qos=1)
            self.assertEqual(guest.messages.wait(1, timeout=5)[0].payload, b"news")
        finally:
            joe.close()
            guest.close()
        self.assertIn("may not publish to app.x: not routed", fox.log())


class ReloadTest(unittest.TestCase):
    """SIGHUP reads the config file again: new users log in, changed rules apply to the next
    check of every session (which keeps its role), one log line says what changed; a broken file
    changes nothing; a changed listener is named as needing a restart."""

    def realm(self, users, joe_rules):
        return {"realms": {"realm1": {
            "users": {u: {"secret": f"{u}-secret", "role": "user" if u == "joe" else "admin"}
                      for u in users},
            "permissions": {"user": joe_rules,
                            "admin": [{"uri": "#", "allow": ["publish", "subscribe", "call",
                                                             "register"]}]}}}}

    def write(self, path, doc):
        with open(path, "w") as f:
            f.write(doc if isinstance(doc, str) else json.dumps(doc))

    def reload(self, fox, count):
        os.kill(fox.pid, signal.SIGHUP)
        wait_for(lambda: fox.log().count("SIGHUP: ") >= count, what=f"reload {count} logged")
        return [line for line in fox.log().splitlines() if "SIGHUP: " in line][-1]

    def test_sighup_applies_new_users_and_rules(self):
        everything = [{"uri": "#", "allow": ["publish", "subscribe"]}]
        path = write_config(self.realm(["joe"], everything))
        with Fox("--config", path) as fox:
            joe = MqttClient(fox, username="joe@realm1", password="joe-secret")
            try:
                MqttClient(fox, username="ann@realm1", password="ann-secret", expect_rc=4).close()
                self.assertEqual(joe.subscribe("app/a", qos=1), [1])
                self.assertIn("no change to users, rules", self.reload(fox, 1))

                self.write(path, self.realm(["joe", "ann"], [{"uri": "app.#", "allow": []}] + everything))
                line = self.reload(fox, 2)
                self.assertIn("realm realm1: users +ann, rules of roles ~user", line)
                self.assertNotIn("restart", line)
                ann = MqttClient(fox, username="ann@realm1", password="ann-secret")
                ann.close()
                # joe keeps his session and role; the new rules decide his next subscription.
                self.assertEqual(joe.subscribe("app/b", qos=1), [0x80])
                self.assertEqual(joe.subscribe("other/b", qos=1), [1])

                self.write(path, "{ not json")
                line = self.reload(fox, 3)
                self.assertIn("the running configuration stays", line)
                MqttClient(fox, username="ann@realm1", password="ann-secret").close()

                changed = self.realm(["joe"], everything)
                changed["limits"] = {"max_connections": 50}
                self.write(path, changed)
                line = self.reload(fox, 4)
                self.assertIn("users -ann", line)
                self.assertIn("applied only at a restart: limits", line)
                MqttClient(fox, username="ann@realm1", password="ann-secret", expect_rc=4).close()
            finally:
                joe.close()
            self.assertEqual(fox.stop(), 0)


class LoginLimitTest(WampClients, unittest.IsolatedAsyncioTestCase):
    """Failed logins per address (limits.login_failures within a minute): then logins with
    credentials are refused unchecked, over every protocol, until the block (limits.login_block)
    ends; one log line; anonymous joins still work; after the block the count starts again."""

    @classmethod
    def setUpClass(cls):
        cls.fox = Fox("--config", write_config({
            "limits": {"login_failures": 3, "login_block": 1},
            "realms": {"realm1": SPEC_REALM1}}))

    @classmethod
    def tearDownClass(cls):
        assert cls.fox.stop() == 0, cls.fox.log()

    async def test_blocked_after_failures_everywhere_then_cleared(self):
        fox = self.fox
        good = {"username": "joe@realm1", "password": "joe-secret"}
        MqttClient(fox, **good).close()
        for _ in range(2):
            MqttClient(fox, username="joe@realm1", password="wrong", expect_rc=4).close()
        self.assertEqual(await self.refused(methods=["ticket"], authid="joe", secret="nope"),
                         "wamp.error.authentication_failed")   # the third: a block starts
        wait_for(lambda: "too many failed logins, its logins are refused for 1 s" in fox.log(),
                 what="the block's log line")
        # Right credentials, refused unchecked: MQTT CONNACK 3, WAMP and FOX authentication_failed.
        MqttClient(fox, expect_rc=3, **good).close()
        with self.assertRaises(ApplicationError) as cm:
            await self.join(methods=["ticket"], authid="joe", secret="joe-secret")
        self.assertIn("too many failed logins", str(cm.exception))
        with FoxClient(fox.fox_port) as c:
            m = c.request("LOGIN", data={"realm": "realm1",
                                         "auth": {"authid": "joe", "secret": "joe-secret"}})
            self.assertIn("too many failed logins", str(m))
        # Anonymous clients are not blocked.
        guest = await self.join()
        self.assertEqual(guest.details.authrole, "guest")
        MqttClient(fox).close()
        # The block ends (1 s) and the count starts again.
        def joe_gets_in():
            c = MqttClient(fox, expect_rc=None, **good)
            rc = c.connack_rc
            c.close()
            return rc == 0
        wait_for(joe_gets_in, timeout=5, interval=0.2, what="the block to end")
        for _ in range(2):
            MqttClient(fox, username="joe@realm1", password="wrong", expect_rc=4).close()
        MqttClient(fox, **good).close()   # two failures, not three: not blocked


class LoginLimitAtAuthenticateTest(unittest.TestCase):
    """A WAMP session that said HELLO before its address was blocked gets no guess past the
    limit: its AUTHENTICATE is refused unchecked too (else many held CHALLENGEs = many guesses)."""

    def test_a_hello_before_the_block_is_refused_at_authenticate(self):
        with Fox("--config", write_config({"limits": {"login_failures": 3, "login_block": 60},
                                           "realms": {"realm1": SPEC_REALM1}})) as fox:
            def challenged():
                c = RawSocketClient(fox.rawsocket_port)
                c.send_msg(hello(authmethods=["ticket"], authid="joe"))
                self.assertEqual(c.recv_msg()[0], 4)   # CHALLENGE
                return c
            held = [challenged() for _ in range(4)]
            for c in held[:3]:
                c.send_msg([5, "wrong", {}])
                m = c.recv_msg()
                self.assertEqual((m[0], m[2]), (3, "wamp.error.authentication_failed"), m)
            held[3].send_msg([5, "joe-secret", {}])   # the right ticket, after the block began
            m = held[3].recv_msg()
            self.assertEqual(m[0], 3, m)               # ABORT, not WELCOME
            self.assertEqual(m[2], "wamp.error.authentication_failed")
            self.assertIn("too many failed logins", str(m[1]))
            for c in held:
                c.close()
            self.assertEqual(fox.stop(), 0, fox.log())


if __name__ == "__main__":
    main()
