"""fox delivery latency benchmark (not a test): publisher -> subscriber time of WAMP events.

  /usr/bin/python3 tests/bench/latency.py [--subscribers 1,100] [--modes memory,data-normal]

One publisher and S subscribers (RawSocket, JSON) on 127.0.0.1, all in this process; every
publication carries its send time, every subscriber notes the receive time. Two loads:
  - light: one publication every 2 ms (the broker idles between them);
  - saturated: a burst of pipelined publications (a window of 500 outstanding deliveries).
Prints p50/p99 per (mode, subscribers, load) in ms. With --data (SQLite) a subscriber gets a
publication after the commit of the loop turn that appended it; with --memory at once.
"""
import argparse
import os
import selectors
import socket
import struct
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from harness import Fox  # noqa: E402
from raw_wamp import (EVENT, JSON, SUBSCRIBE, SUBSCRIBED, WELCOME, RawSocketClient, decode,  # noqa: E402
                      encode, hello)


def client(fox):
    c = RawSocketClient(fox.rawsocket_port, JSON, timeout=30.0)
    c.send_msg(hello("realm1"))
    assert c.recv_msg()[0] == WELCOME
    return c


class Reader:
    """Reads RawSocket frames of one subscriber without blocking; calls on_event(args)."""

    def __init__(self, c, on_event):
        self.sock = c.sock
        self.sock.setblocking(False)
        self.buf = bytearray(c.stream.buf)   # what the handshake read ahead
        self.on_event = on_event

    def readable(self):
        data = self.sock.recv(1 << 20)
        if not data:
            raise RuntimeError("subscriber closed")
        self.buf += data
        while len(self.buf) >= 4:
            (word,) = struct.unpack_from(">I", self.buf)
            length = word & 0xFFFFFF
            if len(self.buf) < 4 + length:
                break
            payload = bytes(self.buf[4:4 + length])
            del self.buf[:4 + length]
            if word >> 24 == 0:
                msg = decode(JSON, payload)
                if msg[0] == EVENT:
                    self.on_event(msg[4])


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))] * 1000


def measure(fox, subscribers, light, count, window):
    subs = []
    for _ in range(subscribers):
        c = client(fox)
        c.send_msg([SUBSCRIBE, 1, {}, "lat.t"])
        assert c.recv_msg()[0] == SUBSCRIBED
        subs.append(c)
    pub = client(fox)
    latencies = []
    state = {"delivered": 0}

    def on_event(args):
        latencies.append(time.perf_counter() - args[0])
        state["delivered"] += 1

    sel = selectors.DefaultSelector()
    for c in subs:
        sel.register(c.sock, selectors.EVENT_READ, Reader(c, on_event))
    psock = pub.sock
    sent = 0
    target = count * subscribers
    next_send = time.perf_counter()
    while state["delivered"] < target:
        now = time.perf_counter()
        if light:
            if sent < count and now >= next_send:
                body = encode(JSON, [16, sent + 1, {}, "lat.t", [time.perf_counter()]])
                psock.sendall(struct.pack(">I", len(body)) + body)
                sent += 1
                next_send += 0.002
            timeout = max(0.0, next_send - time.perf_counter()) if sent < count else 1.0
        else:
            if sent < count and sent * subscribers - state["delivered"] < window * subscribers:
                burst = []
                upto = min(count, sent + 50)
                for i in range(sent, upto):
                    body = encode(JSON, [16, i + 1, {}, "lat.t", [time.perf_counter()]])
                    burst.append(struct.pack(">I", len(body)) + body)
                psock.sendall(b"".join(burst))
                sent = upto
            timeout = 0.0 if sent < count else 1.0
        for key, _ in sel.select(timeout):
            key.data.readable()
    sel.close()
    for c in subs + [pub]:
        c.sock.setblocking(True)
        c.close()
    return percentile(latencies, 50), percentile(latencies, 99)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--subscribers", default="1,100")
    p.add_argument("--modes", default="memory,data-normal")
    p.add_argument("--light", type=int, default=1000, help="publications of the light load")
    p.add_argument("--saturated", type=int, default=20000, help="publications of the saturated load (1 subscriber; divided by S)")
    p.add_argument("--window", type=int, default=500)
    args = p.parse_args()
    rows = []
    for mode in args.modes.split(","):
        for s in (int(x) for x in args.subscribers.split(",")):
            if mode == "memory":
                fox = Fox("--log-level", "warn", ready=False)
            else:
                fox = Fox("--log-level", "warn", "--sync", mode.split("-")[1], memory=False,
                          data_dir=tempfile.mkdtemp(prefix="fox-lat-"), ready=False)
            try:
                deadline = time.monotonic() + 10
                while True:
                    try:
                        socket.create_connection(("127.0.0.1", fox.rawsocket_port), timeout=1).close()
                        break
                    except OSError:
                        if time.monotonic() > deadline or fox.proc.poll() is not None:
                            raise RuntimeError("fox did not start:\n" + fox.log())
                        time.sleep(0.05)
                light = measure(fox, s, True, args.light, args.window)
                sat = measure(fox, s, False, max(200, args.saturated // s), max(5, args.window // s))
                rows.append((mode, s, light, sat))
                fox.stop()
            finally:
                fox.__exit__(None, None, None)
    print(f"\nfox latency (ms, publisher -> subscriber), light = 1 pub / 2 ms, "
          f"saturated = pipelined")
    print(f"{'mode':<13}{'subs':>5}{'light p50':>11}{'light p99':>11}{'sat p50':>10}{'sat p99':>10}")
    for mode, s, (l50, l99), (s50, s99) in rows:
        print(f"{mode:<13}{s:>5}{l50:>11.3f}{l99:>11.3f}{s50:>10.2f}{s99:>10.2f}")


if __name__ == "__main__":
    main()
