// `fox sub TOPIC`: prints one JSON line per event until --count events, a revocation (the end of
// a --snapshot), or SIGINT/SIGTERM.
#include <cstdio>

#include "cli/client_tool.hpp"
#include "cli/commands.hpp"
#include "core/payload.hpp"

namespace fox::cli {
namespace {

const char kHelp[] =
    "usage: fox sub TOPIC [--retained] [--after ID] [--snapshot] [--filter JSON] [--count N]\n"
    "               [--match prefix|wildcard] [--url URL] [--realm REALM]\n"
    "       fox sub TOPIC --fox HOST[:PORT] [--retained] [--after ID] ...  (the same over FOX)\n"
    "       fox sub FILTER --mqtt HOST[:PORT] [--qos 0|1|2] [--count N] [--realm REALM]\n"
    "               [--user NAME] [--password SECRET]\n"
    "\n"
    "Prints one JSON line per event to stdout (flushed at once):\n"
    "  {\"topic\":T,\"args\":[...],\"kwargs\":{...},\"publication\":ID,\"retained\":BOOL}\n"
    "A line \"fox sub: subscribed to TOPIC\" goes to stderr once the subscription stands.\n"
    "  --retained     first the current retained values matching TOPIC, then live events\n"
    "  --after ID     first the history after event ID (0: all the history kept)\n"
    "  --snapshot     replay only: the router ends the subscription after the replay; fox sub\n"
    "                 then exits 0\n"
    "  --filter JSON  deliver only events whose first argument matches JSON\n"
    "  --count N      exit 0 after N events\n"
    "  --match M      WAMP pattern matching: prefix or wildcard (default exact; the in-band\n"
    "                 wildcards * and # work without it)\n"
    "  --mqtt HOST[:PORT]  subscribe over MQTT 3.1.1 (port default 1883; FILTER in MQTT form,\n"
    "                 a/+/#); args come from the payload as the broker maps it for WAMP: JSON\n"
    "                 (an array is the args, another value the one arg, null or empty none);\n"
    "                 other bytes are one binary arg, printed \"\\u0000\"+base64; publication is\n"
    "                 null\n"
    "  --qos 0|1|2    MQTT subscription QoS (default 0); QoS 2 messages are acknowledged with\n"
    "                 PUBREC/PUBCOMP and printed once\n"
    "  --realm REALM  with --mqtt: sent in the user name, NAME@REALM (without --user: the client\n"
    "                 id fox-sub-PID@REALM); no --realm: the broker's default realm\n"
    "  --user NAME    MQTT user name (NAME@REALM selects the realm too)\n"
    "  --password SECRET  MQTT password (needs --user)\n";

// {"topic":..,"args":..,"kwargs":..,"publication":..,"retained":..} in this order.
std::string event_line(const Json& topic, const Json& args, const Json& kwargs,
                       const Json& publication, bool retained) {
  return "{\"topic\":" + dump_json(topic) + ",\"args\":" + dump_json(args) + ",\"kwargs\":" +
         dump_json(kwargs) + ",\"publication\":" + dump_json(publication) +
         ",\"retained\":" + (retained ? "true" : "false") + "}";
}

struct Counter {
  long long limit = 0;  // 0 = no limit
  long long seen = 0;
  bool done = false;
  // True when this event may be printed; sets done at the limit.
  bool take() {
    if (done) return false;
    ++seen;
    if (limit > 0 && seen >= limit) done = true;
    return true;
  }
};

int sub_mqtt(const ParsedArgs& a, const std::string& filter, long long count) {
  for (const char* f : {"--after", "--snapshot", "--filter", "--match"}) {
    if (a.has(f)) return usage_error("sub", std::string(f) + " is not available with --mqtt");
  }
  long long qos = 0;
  if (a.has("--qos") && !parse_count(a.value("--qos"), 0, 2, &qos)) {
    return usage_error("sub", "--qos must be 0, 1 or 2");
  }
  ClientLoop loop;
  MqttClient client(loop.loop(), loop.timers());
  Counter counter{count};
  loop.on_signal([&](int) { client.disconnect([&] { loop.finish(0); }); });
  int rc = start_mqtt(loop, client, a, "sub", [&] {
    client.subscribe(
        filter, static_cast<std::uint8_t>(qos),
        [&](std::uint8_t granted) {
          if (granted == mqtt::kSubackFailure) {
            std::fprintf(stderr, "fox sub: the broker refused the subscription to %s\n",
                         filter.c_str());
            client.disconnect([&] { loop.finish(1); });
            return;
          }
          std::fprintf(stderr, "fox sub: subscribed to %s\n", filter.c_str());
        },
        [&](const mqtt::Publish& p) {
          if (!counter.take()) return;
          // The broker's own mapping (core/payload.hpp), so the line is what a WAMP subscriber
          // of the same topic prints.
          Json args = args_from_payload(p.payload);
          print_line(event_line(Json(p.topic), args.is_null() ? Json::array() : args,
                                Json::object(), nullptr, p.retain));
          if (counter.done) client.disconnect([&] { loop.finish(0); });
        });
  });
  if (rc != 0) return rc;
  return loop.run();
}

// The subscription over WAMP or FOX.
template <class Client>
int subscribe(const ParsedArgs& a, const std::string& topic, const Json& options, long long count) {
  ClientLoop loop;
  Client client(loop.loop(), loop.timers());
  Counter counter{count};
  loop.on_signal([&](int) { leave_and_finish(loop, client, 0); });
  int rc = start_session(loop, client, a, "sub", [&] {
    client.subscribe(
        topic, options,
        [&](const wamp::Event& ev) {
          if (!counter.take()) return;
          auto t = ev.details.find("topic");
          print_line(event_line(t != ev.details.end() && t->is_string() ? *t : Json(topic),
                                ev.args.is_null() ? Json::array() : ev.args,
                                ev.kwargs.is_null() ? Json::object() : ev.kwargs,
                                Json(ev.publication), json_true(ev.details, "retained")));
          if (counter.done) leave_and_finish(loop, client, 0);
        },
        [&](Id, const WampError* e) {
          if (e) {
            print_wamp_error("sub", *e);
            leave_and_finish(loop, client, 1);
            return;
          }
          std::fprintf(stderr, "fox sub: subscribed to %s\n", topic.c_str());
        },
        [&](const Json&) {
          // The router ended the subscription (the end of a snapshot, or a revocation).
          if (!counter.done) {
            counter.done = true;
            leave_and_finish(loop, client, 0);
          }
        });
  });
  if (rc != 0) return rc;
  return loop.run();
}

}  // namespace

int sub_main(const std::vector<std::string>& argv) {
  ParsedArgs a;
  std::string error;
  if (!parse_flags(argv,
                   {{"--retained", false}, {"--after", true}, {"--snapshot", false},
                    {"--filter", true}, {"--count", true}, {"--match", true}, {"--qos", true},
                    {"--user", true}, {"--password", true}},
                   &a, &error)) {
    return usage_error("sub", error);
  }
  if (a.help) {
    std::fputs(kHelp, stdout);
    std::fputs(kCommonHelp, stdout);
    return 0;
  }
  if (a.positional.empty()) return usage_error("sub", "missing TOPIC");
  if (a.positional.size() > 1) return usage_error("sub", "one TOPIC only");
  std::string topic = a.positional[0];
  long long count = 0;
  if (a.has("--count") && !parse_count(a.value("--count"), 1, 1'000'000'000'000LL, &count)) {
    return usage_error("sub", "--count must be a positive integer");
  }
  if (!a.mqtt.empty()) return sub_mqtt(a, topic, count);
  if (int rc = refuse_mqtt_only_flags(a, "sub"); rc != 0) return rc;

  Json options = Json::object();
  if (a.has("--retained")) options["retained"] = true;
  if (a.has("--snapshot")) options["snapshot"] = true;
  if (a.has("--after")) {
    // 0 is "before the first event": the whole history the router keeps.
    long long id = 0;
    if (!parse_count(a.value("--after"), 0, 9007199254740992LL, &id)) {
      return usage_error("sub", "--after must be an event id 0..9007199254740992");
    }
    options["after"] = id;
  }
  if (a.has("--filter")) {
    Json f;
    if (!parse_json_strict(a.value("--filter"), &f)) return usage_error("sub", "--filter must be JSON");
    options["filter"] = f;
  }
  if (a.has("--match")) {
    std::string m = a.value("--match");
    if (m != "prefix" && m != "wildcard" && m != "exact") {
      return usage_error("sub", "--match must be prefix or wildcard");
    }
    if (m != "exact") options["match"] = m;
  }

  return a.fox.empty() ? subscribe<WampClient>(a, topic, options, count)
                       : subscribe<FoxToolClient>(a, topic, options, count);
}

}  // namespace fox::cli
