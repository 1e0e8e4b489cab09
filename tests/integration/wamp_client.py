"""python3-autobahn (asyncio flavour) clients for the integration tests, over WebSocket or
RawSocket with the json, msgpack or cbor serializer. (autobahn's asyncio `run()` helper does not
work on Python 3.11, so the factories are driven directly.)"""
import asyncio
import contextlib
import unittest

import txaio

txaio.use_asyncio()

from autobahn.asyncio.rawsocket import WampRawSocketClientFactory  # noqa: E402
from autobahn.asyncio.websocket import WampWebSocketClientFactory  # noqa: E402
from autobahn.asyncio.wamp import ApplicationSession  # noqa: E402
from autobahn.wamp.serializer import (CBORSerializer, JsonSerializer,  # noqa: E402
                                      MsgPackSerializer)
from autobahn.wamp.types import ComponentConfig  # noqa: E402

SERIALIZERS = {"json": JsonSerializer, "msgpack": MsgPackSerializer, "cbor": CBORSerializer}
TRANSPORTS = ("websocket", "rawsocket")


class Client(ApplicationSession):
    """A session whose join/leave are awaitable."""

    def __init__(self, config, joined, left):
        super().__init__(config)
        self._joined, self._left = joined, left
        self.leave_details = None

    def onJoin(self, details):
        self.join_details = details
        if not self._joined.done():
            self._joined.set_result(self)

    def onLeave(self, details):
        self.leave_details = details
        if not self._joined.done():
            self._joined.set_exception(RuntimeError(f"left before join: {details.reason}"))
        super().onLeave(details)

    def onDisconnect(self):
        if not self._left.done():
            self._left.set_result(self.leave_details)
        if not self._joined.done():
            self._joined.set_exception(RuntimeError("disconnected before join"))


async def connect(fox, transport="websocket", serializer="json", realm="realm1", timeout=5.0,
                  authid=None):
    """Joins `realm` on the running fox; returns the Client (client.left is a future)."""
    loop = asyncio.get_running_loop()
    joined, left = loop.create_future(), loop.create_future()
    config = ComponentConfig(realm)

    def make():
        s = Client(config, joined, left)
        if authid:
            orig = s.join
            s.join = lambda realm, **kw: orig(realm, authid=authid, **kw)
        return s

    ser = SERIALIZERS[serializer]()
    if transport == "websocket":
        url = fox.url("/wamp")
        factory = WampWebSocketClientFactory(make, url=url, serializers=[ser])
        port = fox.port
    else:
        factory = WampRawSocketClientFactory(make, serializer=ser)
        port = fox.rawsocket_port
    _, protocol = await asyncio.wait_for(loop.create_connection(factory, "127.0.0.1", port),
                                         timeout)
    if transport == "rawsocket" and not hasattr(protocol, "transport_details"):
        # autobahn 22.7's asyncio RawSocket client never sets transport_details, and its
        # onWelcome needs it (the client then ABORTs itself): give it one before the handshake.
        from autobahn.wamp.types import TransportDetails
        protocol.transport_details = TransportDetails(channel_type=TransportDetails.CHANNEL_TYPE_TCP,
                                                      channel_framing=TransportDetails.CHANNEL_FRAMING_RAWSOCKET)
    client = await asyncio.wait_for(joined, timeout)
    client.left = left
    return client


async def close(client, timeout=5.0):
    if client.is_attached():
        client.leave()
    await asyncio.wait_for(client.left, timeout)


class Collector:
    """Collects calls of a handler; `await wait(n)` waits (with a deadline) for n of them."""

    def __init__(self):
        self.items = []
        self._cond = asyncio.Condition()

    def __call__(self, *args, **kwargs):
        self.items.append((args, kwargs))
        asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self):
        async with self._cond:
            self._cond.notify_all()

    async def wait(self, n=1, timeout=5.0):
        async def enough():
            async with self._cond:
                await self._cond.wait_for(lambda: len(self.items) >= n)
        await asyncio.wait_for(enough(), timeout)
        return self.items


class WampTestCase(unittest.IsolatedAsyncioTestCase):
    """One fox per test class; `await self.join(transport, serializer)` gives a joined client that
    is closed after the test."""

    @classmethod
    def setUpClass(cls):
        from harness import Fox
        cls.fox = Fox()

    @classmethod
    def tearDownClass(cls):
        assert cls.fox.stop() == 0, cls.fox.log()

    async def asyncSetUp(self):
        self.clients = []

    async def asyncTearDown(self):
        for c in self.clients:
            with contextlib.suppress(Exception):  # already gone
                await close(c)

    async def join(self, transport="websocket", serializer="json"):
        c = await connect(self.fox, transport, serializer)
        self.clients.append(c)
        return c
