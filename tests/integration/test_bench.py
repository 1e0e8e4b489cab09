"""`fox bench` (issue 15): the MQTT load generator against a running fox — every QoS, several
publishers and subscribers, shared and distinct topics, --json figures that add up (published ×
subscribers delivered, nothing lost or duplicated, ordered percentiles), --rate bounding what is
sent, the broker's CPU per message with --pid, WAMP RPC round trips (--rpc), a broker that does not route the publications → every delivery lost and exit 1 at QoS 1,
and bad flags → exit 2."""
import json
import unittest

from harness import Fox, SharedFoxCase, main, run_fox, write_config


def bench(fox, *args, timeout=60):
    rc, out, err = run_fox("bench", "--mqtt", f"127.0.0.1:{fox.mqtt_port}", "--json", *args,
                           timeout=timeout)
    return rc, (json.loads(out) if out.strip() else None), err


class BenchTest(SharedFoxCase):

    def check_complete(self, r, pubs, subs, count):
        self.assertEqual(r["published"], pubs * count)
        self.assertEqual(r["delivered"], pubs * count * subs)
        self.assertEqual(r["lost"], 0)
        self.assertEqual(r["duplicated"], 0)
        lat = r["latency_us"]
        self.assertGreater(lat["p50"], 0)
        self.assertLessEqual(lat["p50"], lat["p90"])
        self.assertLessEqual(lat["p90"], lat["p99"])
        self.assertLessEqual(lat["p99"], lat["p99.9"])
        self.assertLessEqual(lat["p99.9"], lat["max"])
        self.assertGreater(r["msg_per_s"], 0)

    def test_every_qos_many_publishers_and_subscribers(self):
        for qos in (0, 1, 2):
            for topics in ("shared", "distinct"):
                with self.subTest(qos=qos, topics=topics):
                    rc, r, err = bench(self.fox, "--qos", str(qos), "--pubs", "3", "--subs", "2",
                                       "--count", "400", "--topics", topics, "--size", "200")
                    self.assertEqual(rc, 0, err)
                    self.check_complete(r, 3, 2, 400)
                    if qos:
                        self.assertEqual(r["acknowledged"], 1200)

    def test_without_subscribers_the_acks_are_counted(self):
        rc, r, err = bench(self.fox, "--qos", "1", "--subs", "0", "--count", "3000")
        self.assertEqual(rc, 0, err)
        self.assertEqual((r["published"], r["acknowledged"], r["delivered"]), (3000, 3000, 0))

    def test_rate_bounds_what_is_sent(self):
        rc, r, err = bench(self.fox, "--rate", "200", "--duration", "0.5")
        self.assertEqual(rc, 0, err)
        # 200/s for 0.5 s: never more than the rate allows (one per tick may lead).
        self.assertLessEqual(r["published"], 101)
        self.assertGreaterEqual(r["published"], 50)
        self.assertEqual(r["delivered"], r["published"])

    def test_the_broker_cpu_per_message_with_its_pid(self):
        rc, r, err = bench(self.fox, "--count", "20000", "--pid", str(self.fox.pid))
        self.assertEqual(rc, 0, err)
        self.assertGreaterEqual(r["broker_cpu_us_per_msg"], 0)
        self.assertLess(r["broker_cpu_us_per_msg"], 1000)   # a figure, not a budget: sane units
        rc, _, err = run_fox("bench", "--pid", "2147483647")
        self.assertEqual(rc, 2, err)
        self.assertIn("--pid", err)

    def test_wamp_rpc_round_trips(self):
        rc, out, err = run_fox("bench", "--rpc", "--url", f"ws://127.0.0.1:{self.fox.port}/wamp",
                               "--calls", "500", "--outstanding", "4", "--json", timeout=60)
        self.assertEqual(rc, 0, err)
        r = json.loads(out)
        self.assertEqual((r["protocol"], r["scenario"], r["calls"]), ("wamp", "rpc", 500))
        lat = r["latency_us"]
        self.assertGreater(lat["p50"], 0)
        self.assertLessEqual(lat["p50"], lat["p99"])
        self.assertLessEqual(lat["p99"], lat["max"])
        for args in (["--rpc", "--mqtt", "127.0.0.1"], ["--rpc", "--qos", "1"], ["--calls", "5"]):
            with self.subTest(args=args):
                rc, _, err = run_fox("bench", *args)
                self.assertEqual(rc, 2, err)

    def test_bad_flags_are_exit_2(self):
        for args in (["--size", "10"], ["--qos", "3"], ["--subs", "0"], ["--count", "5", "--duration", "1"],
                     ["--topics", "many"], ["--url", "ws://127.0.0.1:1/wamp"], ["extra"],
                     ["--drain", "0"]):
            with self.subTest(args=args):
                rc, _, err = run_fox("bench", *args)
                self.assertEqual(rc, 2, err)
                self.assertIn("fox bench: ", err)


class BenchLossTest(unittest.TestCase):
    def test_publications_not_routed_are_lost_and_qos1_exits_1(self):
        # The role may subscribe but not publish: fox acknowledges and drops every PUBLISH.
        cfg = write_config({"realms": {"realm1": {
            "anonymous": "watcher",
            "permissions": {"watcher": [{"uri": "#", "allow": ["subscribe"]}]}}}})
        with Fox("--config", cfg) as fox:
            rc, r, err = bench(fox, "--qos", "1", "--count", "50", "--subs", "2", "--drain", "0.3")
            self.assertEqual(rc, 1, err)
            self.assertEqual(r["published"], 50)
            self.assertEqual(r["delivered"], 0)
            self.assertEqual(r["lost"], 100)
            # More than a window: the run stops once nothing arrives for --drain, instead of
            # waiting for its overall time limit.
            rc, r, err = bench(fox, "--count", "500", "--window", "10", "--drain", "0.3", timeout=20)
            self.assertEqual(rc, 1, err)
            self.assertIn("nothing delivered or acknowledged for 0.3 s", err)
            self.assertEqual((r["published"], r["delivered"], r["lost"]), (10, 0, 10))


if __name__ == "__main__":
    main()
