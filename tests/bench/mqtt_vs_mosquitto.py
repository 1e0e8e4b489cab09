"""fox against Debian's mosquitto on the same MQTT scenarios (issue 15; a benchmark, not a test),
measured by `fox bench` with each broker's pid: interleaved A/B rounds, medians, ratios, and the
broker's own CPU time per delivered message (stable on a shared machine where rates are not).
Writes build/bench/mqtt.md and prints it. Without mosquitto (apt-get install mosquitto) only
fox's figures are there.

  /usr/bin/python3 tests/bench/mqtt_vs_mosquitto.py [--rounds 3] [--fox build/native/fox]
"""
import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import harness  # noqa: E402
from harness import Fox, free_port, wait_for  # noqa: E402

SCENARIOS = [
    ("1 → 1, QoS 0, 64 B", ["--count", "100000", "--window", "1000"]),
    ("10 → 10, QoS 1, 64 B", ["--qos", "1", "--pubs", "10", "--subs", "10", "--topics", "distinct",
                             "--count", "5000", "--window", "100"]),
    ("1 → 100, QoS 0, 64 B", ["--subs", "100", "--count", "3000", "--window", "200"]),
    ("1 → 1 at 1 000 msg/s", ["--rate", "1000", "--duration", "3"]),
]


def mosquitto():
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not os.path.exists(exe):
        return None
    port = free_port()
    d = tempfile.mkdtemp(prefix="fox-bench-mosq-")
    conf = os.path.join(d, "mosquitto.conf")
    with open(conf, "w") as f:
        # No queue or in-flight limits: the same "nothing dropped" as fox's defaults here.
        f.write(f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_connections -1\n"
                "max_queued_messages 0\nmax_inflight_messages 0\n")
    proc = subprocess.Popen([exe, "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def up():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False
    wait_for(up, 10, what="mosquitto listening")
    return proc, port


def bench(port, pid, args):
    p = subprocess.run([harness.FOX_BIN, "bench", "--mqtt", f"127.0.0.1:{port}", "--pid", str(pid),
                        "--json", "--drain", "5"] + args, capture_output=True, text=True, timeout=300)
    if not p.stdout.strip():
        raise SystemExit(f"fox bench failed: {p.stderr}")
    return json.loads(p.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--fox", default=harness.FOX_BIN)
    args = ap.parse_args()
    harness.FOX_BIN = args.fox
    results = {}   # (scenario, broker) -> [result]
    mosq = mosquitto()
    try:
        with Fox() as fox:
            brokers = [("fox", fox.mqtt_port, fox.pid)]
            if mosq:
                brokers.append(("mosquitto", mosq[1], mosq[0].pid))
            for r in range(args.rounds):
                for name, args_ in SCENARIOS:
                    for broker, port, pid in brokers:   # interleaved
                        print(f"round {r + 1}/{args.rounds}: {name}: {broker}", flush=True)
                        results.setdefault((name, broker), []).append(bench(port, pid, args_))
    finally:
        if mosq:
            mosq[0].kill()
            mosq[0].wait()

    def med(rs, key, sub=None):
        return statistics.median(x[key][sub] if sub else x[key] for x in rs)

    lines = ["| scenario | broker | msg/s | p50 µs | p99 µs | broker CPU µs/msg | lost |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for name, _ in SCENARIOS:
        for broker in ("fox", "mosquitto"):
            rs = results.get((name, broker))
            if not rs:
                continue
            lines.append(f"| {name} | {broker} | {med(rs, 'msg_per_s'):,.0f} | "
                         f"{med(rs, 'latency_us', 'p50'):.0f} | {med(rs, 'latency_us', 'p99'):.0f} | "
                         f"{med(rs, 'broker_cpu_us_per_msg'):.2f} | {max(x['lost'] for x in rs)} |")
        f, m = results.get((name, "fox")), results.get((name, "mosquitto"))
        if f and m:
            lines.append(f"| {name} | fox / mosquitto | {med(f, 'msg_per_s') / med(m, 'msg_per_s'):.1f}× | | "
                         f"{med(f, 'latency_us', 'p99') / med(m, 'latency_us', 'p99'):.2f}× | "
                         f"{med(f, 'broker_cpu_us_per_msg') / max(med(m, 'broker_cpu_us_per_msg'), 1e-9):.2f}× | |")
    table = "\n".join(lines)
    out = os.path.join(HERE, "..", "..", "build", "bench")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "mqtt.md"), "w") as f:
        f.write(f"# MQTT: fox and mosquitto ({args.rounds} interleaved rounds, medians)\n\n{table}\n")
    print(table)


if __name__ == "__main__":
    main()
