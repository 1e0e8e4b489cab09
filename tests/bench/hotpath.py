"""CPU instructions per message on fox's publish hot path (not a test): a fixed workload run under
`valgrind --tool=callgrind`, so the figure is the same on a busy machine (instructions, not time).

  /usr/bin/python3 tests/bench/hotpath.py [--n 20000] [--fox build/native/fox] [--data]

Workload: one WAMP RawSocket JSON publisher sends N publications `[{"x": i, "s": "text", ...}]`
to `bench.t`; one WAMP RawSocket JSON subscriber and one MQTT QoS 0 subscriber receive them all.
fox runs twice (N and 2N messages); the difference of the two instruction totals divided by N is
the cost of one message through decode, routing, two encodings and two writes (start-up and
shutdown cancel out). Prints `Ir/message`.
"""
import argparse
import os
import re
import socket
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import harness  # noqa: E402
from raw_wamp import (EVENT, JSON, SUBSCRIBE, SUBSCRIBED, WELCOME, RawSocketClient, encode,  # noqa: E402
                      hello)
from mqtt_client import connect_packet, subscribe_packet  # noqa: E402


def workload(fox, n):
    sub = RawSocketClient(fox.rawsocket_port, JSON, timeout=120.0)
    sub.send_msg(hello("realm1"))
    assert sub.recv_msg()[0] == WELCOME
    sub.send_msg([SUBSCRIBE, 1, {}, "bench.t"])
    assert sub.recv_msg()[0] == SUBSCRIBED
    mq = socket.create_connection(("127.0.0.1", fox.mqtt_port), timeout=120.0)
    mq.sendall(connect_packet(client_id="hotpath", clean=True))
    got = b""
    while len(got) < 4:
        got += mq.recv(4 - len(got))
    mq.sendall(subscribe_packet(1, [("bench/t", 0)]))
    got = b""
    while len(got) < 5:
        got += mq.recv(5 - len(got))
    pub = RawSocketClient(fox.rawsocket_port, JSON, timeout=120.0)
    pub.send_msg(hello("realm1"))
    assert pub.recv_msg()[0] == WELCOME
    frames = []
    for i in range(1, n + 1):
        body = encode(JSON, [16, i, {}, "bench.t",
                             [{"x": i, "s": "text", "nested": {"b": 2, "a": 1}, "list": [1, 2, 3]}]])
        frames.append(struct.pack(">I", len(body)) + body)
    pub.sock.sendall(b"".join(frames))
    for _ in range(n):
        msg = sub.recv_msg(timeout=120.0)
        assert msg is not None and msg[0] == EVENT, msg
    # The MQTT side: count PUBLISH bytes until n packets (QoS 0, small: parse lengths).
    buf = bytearray()
    count = 0
    while count < n:
        chunk = mq.recv(1 << 16)
        assert chunk, "MQTT subscriber closed"
        buf += chunk
        while True:
            if len(buf) < 2:
                break
            mult, length, i = 1, 0, 1
            while True:
                if i >= len(buf):
                    length = None
                    break
                b = buf[i]
                length += (b & 0x7F) * mult
                mult *= 128
                i += 1
                if not b & 0x80:
                    break
            if length is None or len(buf) < i + length:
                break
            del buf[:i + length]
            count += 1
    for c in (sub, pub):
        c.close()
    mq.close()


def instructions(fox_bin, n, data=False):
    out = tempfile.mktemp(prefix="fox-callgrind-")
    wrapper = tempfile.mktemp(prefix="fox-vg-", suffix=".sh")
    with open(wrapper, "w") as f:
        f.write(f"#!/bin/sh\nexec valgrind --tool=callgrind --callgrind-out-file={out} "
                f"{os.path.abspath(fox_bin)} \"$@\"\n")
    os.chmod(wrapper, 0o755)
    harness.FOX_BIN = wrapper
    fox = harness.Fox(timeout=120.0, memory=not data)
    try:
        workload(fox, n)
        assert fox.stop(timeout=120.0) == 0, fox.log()
    finally:
        fox.__exit__()
    text = subprocess.run(["callgrind_annotate", out], capture_output=True, text=True).stdout
    m = re.search(r"([\d,]+)\s+(?:\(100\.0%\)\s+)?PROGRAM TOTALS", text)
    os.unlink(out)
    os.unlink(wrapper)
    return int(m.group(1).replace(",", ""))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--n", type=int, default=20000)
    p.add_argument("--fox", default=os.path.join(HERE, "..", "..", "build", "native", "fox"))
    p.add_argument("--data", action="store_true", help="the SQLite engine (--data) instead of --memory")
    a = p.parse_args()
    small = instructions(a.fox, a.n, a.data)
    large = instructions(a.fox, 2 * a.n, a.data)
    print(f"fox {a.fox}: {small:,} Ir for {a.n} messages, {large:,} Ir for {2 * a.n}")
    print(f"Ir/message: {(large - small) / a.n:,.0f}")


if __name__ == "__main__":
    main()
