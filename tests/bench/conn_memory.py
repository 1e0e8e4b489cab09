"""Memory per idle connection (issue 15; a benchmark, not a test): the broker's RSS growth divided
by the number of connections, for idle MQTT connections (CONNECT answered by CONNACK, then
nothing) and joined idle WAMP WebSocket sessions (upgrade, HELLO answered by WELCOME), against
fox --memory and, for MQTT, Debian's mosquitto when it is installed.

  /usr/bin/python3 tests/bench/conn_memory.py [--mqtt 10000] [--wamp 3000] [--fox build/native/fox]

Each run first opens 200 connections (allocator and buffers warm), reads RSS, opens N more,
reads RSS again: (after - before) / N is printed in KiB with one decimal. Everything on
127.0.0.1; the broker's limits are raised for the run (limits.max_connections[_per_ip]).
"""
import argparse
import json
import os
import resource
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)

import harness  # noqa: E402
from harness import Fox, rss_kib, write_config  # noqa: E402
from mqtt_client import connect_packet  # noqa: E402
from raw_wamp import WELCOME, WebSocketClient, hello  # noqa: E402
from mqtt_vs_mosquitto import mosquitto  # noqa: E402

WARM = 200


def mqtt_connection(port, i):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(connect_packet(client_id=f"idle-{i}", keepalive=0))
    got = b""
    while len(got) < 4:
        data = s.recv(4 - len(got))
        if not data:
            raise AssertionError(f"connection {i} closed before its CONNACK")
        got += data
    assert got == b"\x20\x02\x00\x00", got
    return s


def wamp_session(port, i):
    ws = WebSocketClient(port, timeout=10).open()
    ws.send_msg(hello("realm1"))
    msg = ws.recv_msg()
    assert msg[0] == WELCOME, msg
    return ws


def per_connection(pid, open_one, n):
    """KiB of RSS per connection for n connections after WARM warm ones; the open sockets."""
    held = [open_one(i) for i in range(WARM)]
    time.sleep(0.2)   # the broker's last replies written (RSS, not a condition: a figure)
    before = rss_kib(pid)
    held += [open_one(WARM + i) for i in range(n)]
    time.sleep(0.2)
    after = rss_kib(pid)
    return (after - before) / n, before, after, held


def close_all(held):
    for h in held:
        h.close()


def mosquitto_mqtt(n):
    started = mosquitto()
    if not started:
        return None
    proc, port = started
    try:
        kib, _, _, held = per_connection(proc.pid, lambda i: mqtt_connection(port, i), n)
        close_all(held)
        return kib
    finally:
        proc.kill()
        proc.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mqtt", type=int, default=10000)
    ap.add_argument("--wamp", type=int, default=3000)
    ap.add_argument("--fox", default=harness.FOX_BIN)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    harness.FOX_BIN = args.fox
    # Both ends hold every connection open: the soft fd limit up to the hard one (fox and
    # mosquitto inherit it), and no more connections than it allows.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    room = hard - WARM - 200
    if max(args.mqtt, args.wamp) > room:
        print(f"fd limit {hard}: measuring {room} connections", flush=True)
        args.mqtt, args.wamp = min(args.mqtt, room), min(args.wamp, room)
    total = WARM + max(args.mqtt, args.wamp) + 100
    cfg = write_config({"limits": {"max_connections": total, "max_connections_per_ip": total}})
    results = {}
    # One broker per measurement: memory the first one freed would be reused by the second.
    kinds = [("fox_mqtt_kib", args.mqtt, "idle MQTT connections", lambda fox: lambda i: mqtt_connection(fox.mqtt_port, i)),
             ("fox_wamp_ws_kib", args.wamp, "joined idle WAMP WebSocket sessions", lambda fox: lambda i: wamp_session(fox.port, i))]
    for key, n, what, opener in kinds:
        if not n:
            continue
        with Fox("--config", cfg) as fox:
            kib, before, after, held = per_connection(fox.pid, opener(fox), n)
            results[key] = round(kib, 2)
            print(f"fox: {n} {what}: {kib:.1f} KiB each (RSS {before} -> {after} KiB)", flush=True)
            close_all(held)
    if args.mqtt:
        kib = mosquitto_mqtt(args.mqtt)
        if kib is not None:
            results["mosquitto_mqtt_kib"] = round(kib, 2)
            print(f"mosquitto: {args.mqtt} idle MQTT connections: {kib:.1f} KiB each", flush=True)
        else:
            print("mosquitto: not installed (apt-get install mosquitto)", flush=True)
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
