"""WAMP over WebSocket fan-out (issue 15; a benchmark, not a test): one RawSocket JSON publisher,
M WebSocket JSON subscribers of one topic, N publications of a small payload; reports deliveries/s
and the broker's own CPU time per delivery (utime + stime from /proc/PID/stat across the run,
which a busy machine disturbs far less than the rate).

  /usr/bin/python3 tests/bench/ws_fanout.py [--subs 100] [--n 5000] [--fox build/native/fox]

The subscribers read raw bytes and only look for the last publication's marker, so they cost
little; the publisher sends in batches of 100, draining the subscribers' sockets between
batches, and acknowledges only the last publication (the broker's session queue is raised for
the run so nothing is dropped).
"""
import argparse
import os
import select
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import harness  # noqa: E402
from harness import Fox, write_config  # noqa: E402
from raw_wamp import (JSON, PUBLISH, SUBSCRIBE, SUBSCRIBED, WELCOME,  # noqa: E402
                      RawSocketClient, WebSocketClient, encode, hello)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(fox, subs, n):
    clients = []
    for _ in range(subs):
        ws = WebSocketClient(fox.port, timeout=30).open()
        ws.send_msg(hello("realm1"))
        assert ws.recv_msg()[0] == WELCOME
        ws.send_msg([SUBSCRIBE, 1, {}, "bench.fan"])
        assert ws.recv_msg()[0] == SUBSCRIBED
        clients.append(ws)
    pub = RawSocketClient(fox.rawsocket_port, JSON, timeout=30.0)
    pub.send_msg(hello("realm1"))
    assert pub.recv_msg()[0] == WELCOME
    end = b"fan-end-marker"
    frames = [encode(JSON, [PUBLISH, i, {}, "bench.fan", [{"i": i, "v": "x" * 40}]])
              for i in range(1, n)]
    last = encode(JSON, [PUBLISH, n, {"acknowledge": True}, "bench.fan", [end.decode()]])
    socks = {ws.sock.fileno(): ws.sock for ws in clients}
    tails = {fd: b"" for fd in socks}
    done = set()
    cpu0, t0 = cpu_seconds(fox.pid), time.monotonic()
    for start in range(0, len(frames), 100):
        for body in frames[start:start + 100]:
            pub.send_frame(body)
        # Keep the subscribers' sockets drained while publishing.
        r, _, _ = select.select(list(socks), [], [], 0)
        for fd in r:
            data = socks[fd].recv(1 << 20)
            tails[fd] = (tails[fd] + data)[-64:]
    pub.send_frame(last)
    deadline = time.monotonic() + 120
    while len(done) < len(socks):
        assert time.monotonic() < deadline, f"{len(done)} of {len(socks)} subscribers got the end"
        r, _, _ = select.select([fd for fd in socks if fd not in done], [], [], 1)
        for fd in r:
            data = socks[fd].recv(1 << 20)
            tails[fd] = (tails[fd] + data)[-64:]
            if end in tails[fd]:
                done.add(fd)
    elapsed = time.monotonic() - t0
    cpu = cpu_seconds(fox.pid) - cpu0
    deliveries = n * subs
    pub.close()
    for ws in clients:
        ws.close()
    return deliveries / elapsed, cpu / deliveries * 1e6


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--subs", type=int, default=100)
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--fox", default=harness.FOX_BIN)
    args = ap.parse_args()
    harness.FOX_BIN = args.fox
    cfg = write_config({"limits": {"session_queue": 1000000}})
    with Fox("--config", cfg) as fox:
        results = [run(fox, args.subs, args.n) for _ in range(args.rounds)]
    results.sort(key=lambda r: r[1])
    rate, us = results[len(results) // 2]
    print(f"WAMP WebSocket JSON fan-out 1 -> {args.subs}, {args.n} publications: "
          f"{rate:,.0f} deliveries/s, {us:.2f} us of broker CPU per delivery (median of "
          f"{args.rounds})", flush=True)


if __name__ == "__main__":
    main()
