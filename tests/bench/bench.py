"""fox throughput benchmark (not a test): SQLite (--data) against memory (--memory), and a
3-node cluster (every role on each node, quorums 2; SPEC §9) on this one machine.

  make bench                      # or: /usr/bin/python3 tests/bench/bench.py [--n N] [--window W]

Measures, for each storage mode, with pipelined clients on 127.0.0.1 (pre-encoded frames, a
window of outstanding requests, no waiting per message):
  - WAMP: acknowledged retained publishes/s over RawSocket (JSON), distinct keys, counted at the
    PUBLISHED answers (each one is sent only after its group commit in --data mode);
  - MQTT: QoS 1 publishes/s over TCP, counted at the PUBACKs (same rule).
  - MQTT QoS 1 ack latency: one publisher, one PUBLISH at a time (window 1), the time from
    PUBLISH to PUBACK, p50/p99 over --latency-n messages.
For the cluster, the publishers write to node N1 and the end-to-end subscriber reads from N2.
Prints one table and the persistent/memory ratio (the target is >= 50 %); the cluster's targets
are >= 20 000 acknowledged publishes/s and an ack p99 <= 20 ms.
"""
import argparse
import os
import socket
import struct
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from harness import Fox, free_port  # noqa: E402
from raw_wamp import JSON, PUBLISHED, RawSocketClient, WELCOME, encode, hello  # noqa: E402
from mqtt_client import connect_packet, publish_packet, subscribe_packet  # noqa: E402


def wamp_retained(fox, n, window):
    c = RawSocketClient(fox.rawsocket_port, JSON, timeout=30.0)
    c.send_msg(hello("realm1"))
    assert c.recv_msg()[0] == WELCOME
    frames = []
    for i in range(1, n + 1):
        body = encode(JSON, [16, i, {"acknowledge": True, "retain": True}, f"bench.key{i}",
                             [{"i": i, "v": "x" * 40}]])
        frames.append(struct.pack(">I", len(body)) + body)
    sock = c.sock
    sent = acked = 0
    start = time.perf_counter()
    while acked < n:
        if sent < n and sent - acked < window:
            upto = min(n, acked + window)
            sock.sendall(b"".join(frames[sent:upto]))
            sent = upto
        msg = c.recv_msg(timeout=30.0)
        assert msg is not None and msg[0] == PUBLISHED, msg
        acked += 1
    elapsed = time.perf_counter() - start
    c.close()
    return n / elapsed


def mqtt_ack_latency(fox, n):
    """PUBLISH QoS 1 → PUBACK, one at a time: (p50, p99) in ms."""
    s = _connect(fox, "bench-lat")
    payload = b'{"v": "' + b"x" * 40 + b'"}'
    times = []
    for i in range(n):
        pkt = publish_packet("bench/lat", payload, qos=1, pid=(i % 65535) + 1)
        t0 = time.perf_counter()
        s.sendall(pkt)
        got = b""
        while len(got) < 4:
            chunk = s.recv(4 - len(got))
            assert chunk, "connection closed"
            got += chunk
        times.append(time.perf_counter() - t0)
        assert got[0] == 0x40, got
    s.close()
    times.sort()
    return 1000 * times[len(times) // 2], 1000 * times[min(len(times) - 1, (len(times) * 99) // 100)]


def mqtt_qos1(fox, n, window):
    s = socket.create_connection(("127.0.0.1", fox.mqtt_port), timeout=30.0)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.sendall(connect_packet(client_id="bench-pub", clean=True))
    buf = b""
    while len(buf) < 4:
        buf += s.recv(4 - len(buf))
    assert buf[0] == 0x20 and buf[3] == 0, buf
    payload = b'{"v": "' + b"x" * 40 + b'"}'
    packets = [publish_packet(f"bench/m{i % 100}", payload, qos=1, pid=(i % 65535) + 1)
               for i in range(n)]
    sent = acked = 0
    pending = b""
    start = time.perf_counter()
    while acked < n:
        if sent < n and sent - acked < window:
            upto = min(n, acked + window)
            s.sendall(b"".join(packets[sent:upto]))
            sent = upto
        data = s.recv(65536)
        assert data, "connection closed"
        pending += data
        whole = len(pending) // 4       # PUBACK = 40 02 id id
        acked += whole
        pending = pending[whole * 4:]
    elapsed = time.perf_counter() - start
    s.close()
    return n / elapsed


def _connect(fox, client_id):
    s = socket.create_connection(("127.0.0.1", fox.mqtt_port), timeout=30.0)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.sendall(connect_packet(client_id=client_id, clean=True))
    buf = b""
    while len(buf) < 4:
        buf += s.recv(4 - len(buf))
    assert buf[0] == 0x20 and buf[3] == 0, buf
    return s


def mqtt_qos1_end_to_end(fox, n, window, sub_fox=None):
    """QoS 1 from a publisher through fox to a QoS 1 subscriber that PUBACKs every delivery:
    messages/s counted at the subscriber (what a broker is for), the publisher kept `window`
    deliveries ahead. The subscriber's parsing is minimal (fixed topic length). `sub_fox`: the
    subscriber on another node of a cluster."""
    sub = _connect(sub_fox or fox, "bench-sub")
    sub.sendall(subscribe_packet(1, [("bench/e2e", 1)]))
    got = b""
    while len(got) < 5:
        got += sub.recv(5 - len(got))
    assert got[0] == 0x90, got  # SUBACK
    pub = _connect(fox, "bench-pub")
    payload = b'{"v": "' + b"x" * 40 + b'"}'
    packets = [publish_packet("bench/e2e", payload, qos=1, pid=(i % 65535) + 1) for i in range(n)]
    one = len(publish_packet("bench/e2e", payload, qos=1, pid=1))  # every delivery has this size
    sent = acked = delivered = 0
    pub_pending = sub_pending = b""
    pub.setblocking(False)
    start = time.perf_counter()
    while delivered < n:
        # Flow control on deliveries: fox acknowledges the publisher at once, so pacing on its
        # PUBACKs alone would overflow the subscriber's session queue (and measure drops).
        if sent < n and sent - delivered < window:
            upto = min(n, delivered + window)
            pub.setblocking(True)
            pub.sendall(b"".join(packets[sent:upto]))
            pub.setblocking(False)
            sent = upto
        try:
            pub_pending += pub.recv(65536)
            whole = len(pub_pending) // 4
            acked += whole
            pub_pending = pub_pending[whole * 4:]
        except BlockingIOError:
            pass
        data = sub.recv(262144)
        assert data, "subscriber connection closed"
        sub_pending += data
        count = len(sub_pending) // one
        if count:
            acks = b"".join(b"\x40\x02" + sub_pending[i * one + 2 + 2 + 9:i * one + 2 + 2 + 9 + 2]
                            for i in range(count))
            sub.sendall(acks)
            sub_pending = sub_pending[count * one:]
            delivered += count
    elapsed = time.perf_counter() - start
    pub.close()
    sub.close()
    return n / elapsed


def wait_port(fox, port):
    # --log-level warn hides "fox ready": wait until the port answers.
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline or fox.proc.poll() is not None:
                raise RuntimeError("fox did not start:\n" + fox.log())
            time.sleep(0.05)


def figures(fox, args, sub_fox=None):
    wamp_best = max(wamp_retained(fox, args.n, args.window) for _ in range(args.repeat))
    mqtt_best = max(mqtt_qos1(fox, args.n, args.window) for _ in range(args.repeat))
    e2e_best = max(mqtt_qos1_end_to_end(fox, args.n, args.window, sub_fox)
                   for _ in range(args.repeat))
    p50, p99 = min((mqtt_ack_latency(fox, args.latency_n) for _ in range(args.repeat)),
                   key=lambda x: x[1])
    return wamp_best, mqtt_best, e2e_best, p50, p99


def run_cluster(args):
    from harness import FoxNode, cluster_file
    path, doc, workdir = cluster_file(3)
    for node in doc["nodes"].values():
        node["rawsocket"] = free_port()
    import json
    with open(path, "w") as f:
        json.dump(doc, f)
    nodes = [FoxNode(path, name, node, workdir, ready=False, args=("--log-level", "warn"))
             for name, node in doc["nodes"].items()]
    try:
        for n in nodes:
            wait_port(n, n.mqtt_port)
            # An entry listens before a sync quorum accepted it: wait for its first PUBACK.
        deadline = time.monotonic() + 30
        while True:
            try:
                mqtt_ack_latency(nodes[0], 1)
                break
            except (AssertionError, OSError, socket.timeout):
                if time.monotonic() > deadline:
                    raise RuntimeError("the cluster does not acknowledge:\n" + nodes[0].log())
                time.sleep(0.2)
        result = figures(nodes[0], args, sub_fox=nodes[1])
        for n in nodes:
            n.stop()
    finally:
        for n in nodes:
            n.kill()
    return result


def run(mode, args):
    if mode == "cluster3":
        return run_cluster(args)
    if mode == "memory":
        fox = Fox("--log-level", "warn", ready=False)
    else:
        data = tempfile.mkdtemp(prefix="fox-bench-")
        fox = Fox("--log-level", "warn", "--sync", mode.split("-")[1], memory=False,
                  data_dir=data, ready=False)
    try:
        wait_port(fox, fox.mqtt_port)
        result = figures(fox, args)
        fox.stop()
    finally:
        fox.__exit__(None, None, None)
    return result


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--n", type=int, default=20000, help="messages per run (default 20000)")
    p.add_argument("--window", type=int, default=1000, help="outstanding requests (default 1000)")
    p.add_argument("--repeat", type=int, default=3, help="runs per figure, best kept (default 3)")
    p.add_argument("--latency-n", type=int, default=2000,
                   help="messages of the ack latency run (default 2000)")
    p.add_argument("--modes", default="memory,data-normal,data-full,cluster3")
    args = p.parse_args()
    results = {}
    for mode in args.modes.split(","):
        results[mode] = run(mode, args)
    print(f"\nfox bench: n={args.n}, window={args.window}, best of {args.repeat}")
    print(f"{'mode':<14}{'WAMP retained+ack /s':>22}{'MQTT QoS1 pub /s':>18}"
          f"{'MQTT QoS1 pub->sub /s':>23}{'ack p50 ms':>12}{'ack p99 ms':>12}")
    for mode, (w, m, e, p50, p99) in results.items():
        print(f"{mode:<14}{w:>22,.0f}{m:>18,.0f}{e:>23,.0f}{p50:>12.2f}{p99:>12.2f}")
    if "memory" in results:
        mw, mm, me, _, _ = results["memory"]
        for mode, (w, m, e, _, _) in results.items():
            if mode not in ("memory", "cluster3"):
                print(f"{mode}: {100 * w / mw:.0f} % of memory (WAMP), {100 * m / mm:.0f} % "
                      f"(MQTT publish only), {100 * e / me:.0f} % (MQTT publisher -> subscriber)")


if __name__ == "__main__":
    main()
