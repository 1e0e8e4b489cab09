// `fox pub TOPIC [ARG...]`: one publication (WAMP, or MQTT with --mqtt), then leave.
#include <cstdio>

#include "cli/client_tool.hpp"
#include "cli/commands.hpp"
#include "core/payload.hpp"

namespace fox::cli {
namespace {

const char kHelp[] =
    "usage: fox pub TOPIC [ARG...] [--kw JSON] [--retain] [--merge] [--ack]\n"
    "               [--when JSON] [--watch] [--will JSON] [--url URL] [--realm REALM]\n"
    "       fox pub TOPIC [ARG...] --fox HOST[:PORT] [--kw JSON] [--retain] ...  (the same over FOX)\n"
    "       fox pub TOPIC [ARG] --mqtt HOST[:PORT] [--qos 0|1|2] [--retain] [--realm REALM]\n"
    "               [--user NAME] [--password SECRET]\n"
    "\n"
    "Publishes one event and leaves. Each ARG is parsed as JSON; text that is not JSON is sent as\n"
    "a string (so `fox pub t hello` publishes [\"hello\"]).\n"
    "  --kw JSON      keyword arguments (a JSON object)\n"
    "  --retain       keep the publication as the topic's current value (retained state)\n"
    "  --merge        with --retain: JSON Merge Patch onto the current value\n"
    "  --ack          ask for PUBLISHED and print the publication id\n"
    "  --when JSON    accept only if the current value matches (null = key absent); implies --ack\n"
    "  --watch        with --when: wait until the condition holds; implies --ack\n"
    "  --will JSON    value the key takes when this session leaves (null = delete)\n"
    "  --mqtt HOST[:PORT]  publish over MQTT 3.1.1 instead (port default 1883; payload = JSON of\n"
    "                 the one ARG, or of the ARG list when there are several, empty when none)\n"
    "  --qos 0|1|2    MQTT QoS (default 0; --ack means 1); QoS 1 waits for PUBACK, QoS 2 for\n"
    "                 PUBCOMP\n"
    "  --realm REALM  with --mqtt: sent in the user name, NAME@REALM (without --user: the client\n"
    "                 id fox-pub-PID@REALM); no --realm: the broker's default realm\n"
    "  --user NAME    MQTT user name (NAME@REALM selects the realm too)\n"
    "  --password SECRET  MQTT password (needs --user)\n";

int pub_mqtt(const ParsedArgs& a, const std::string& topic, const Json& args) {
  for (const char* f : {"--kw", "--merge", "--when", "--watch", "--will"}) {
    if (a.has(f)) return usage_error("pub", std::string(f) + " is not available with --mqtt");
  }
  long long qos = a.has("--ack") ? 1 : 0;
  if (a.has("--qos") && !parse_count(a.value("--qos"), 0, 2, &qos)) {
    return usage_error("pub", "--qos must be 0, 1 or 2");
  }
  // The broker's WAMP -> MQTT mapping (core/payload.hpp), so an MQTT subscriber gets what it would
  // get from the same ARGs published over WAMP. No ARG is an empty payload: MQTT's "no value"
  // (with --retain it deletes the retained message), which the broker maps back to no args.
  std::string payload = args.empty() ? std::string() : payload_from_args(args);
  ClientLoop loop;
  MqttClient client(loop.loop(), loop.timers());
  bool retain = a.has("--retain");
  int rc = start_mqtt(loop, client, a, "pub", [&] {
    client.publish(topic, payload, static_cast<std::uint8_t>(qos), retain, [&] {
      client.disconnect([&] { loop.finish(0); });
    });
  });
  if (rc != 0) return rc;
  return loop.run();
}

// The publication over WAMP or FOX (the same options: FOX's PUSH takes fox's own).
template <class Client>
int publish(const ParsedArgs& a, const std::string& topic, const Json& pub_args, const Json& kwargs,
            const Json& options, bool ack) {
  ClientLoop loop;
  Client client(loop.loop(), loop.timers());
  int rc = start_session(loop, client, a, "pub", [&] {
    if (!ack) {
      client.publish(topic, pub_args, kwargs, options, nullptr);
      leave_and_finish(loop, client, 0);
      return;
    }
    client.publish(topic, pub_args, kwargs, options, [&](Id publication, const WampError* e) {
      if (e) {
        print_wamp_error("pub", *e);
        leave_and_finish(loop, client, 1);
        return;
      }
      print_line(std::to_string(publication));
      leave_and_finish(loop, client, 0);
    });
  });
  if (rc != 0) return rc;
  return loop.run();
}

}  // namespace

int pub_main(const std::vector<std::string>& argv) {
  ParsedArgs a;
  std::string error;
  if (!parse_flags(argv,
                   {{"--kw", true}, {"--retain", false}, {"--merge", false}, {"--ack", false},
                    {"--when", true}, {"--watch", false}, {"--will", true}, {"--qos", true},
                    {"--user", true}, {"--password", true}},
                   &a, &error)) {
    return usage_error("pub", error);
  }
  if (a.help) {
    std::fputs(kHelp, stdout);
    std::fputs(kCommonHelp, stdout);
    return 0;
  }
  if (a.positional.empty()) return usage_error("pub", "missing TOPIC");
  std::string topic = a.positional[0];
  Json args = Json::array();
  for (std::size_t i = 1; i < a.positional.size(); ++i) args.push_back(parse_json_arg(a.positional[i]));
  if (!a.mqtt.empty()) return pub_mqtt(a, topic, args);
  if (int rc = refuse_mqtt_only_flags(a, "pub"); rc != 0) return rc;

  Json kwargs = nullptr;
  if (a.has("--kw") && (!parse_json_strict(a.value("--kw"), &kwargs) || !kwargs.is_object())) {
    return usage_error("pub", "--kw must be a JSON object");
  }
  Json options = Json::object();
  if (a.has("--retain")) options["retain"] = true;
  if (a.has("--merge")) options["merge"] = true;
  for (const char* f : {"--when", "--will"}) {
    if (!a.has(f)) continue;
    Json v;
    if (!parse_json_strict(a.value(f), &v)) return usage_error("pub", std::string(f) + " must be JSON");
    options[std::string(f + 2)] = v;
  }
  if (a.has("--watch")) options["watch"] = true;
  bool ack = a.has("--ack") || a.has("--when") || a.has("--watch");
  if (ack) options["acknowledge"] = true;
  // No args and no kwargs: an empty publication (with --retain it deletes the key).
  Json pub_args = args.empty() && kwargs.is_null() ? Json(nullptr) : args;

  return a.fox.empty() ? publish<WampClient>(a, topic, pub_args, kwargs, options, ack)
                       : publish<FoxToolClient>(a, topic, pub_args, kwargs, options, ack);
}

}  // namespace fox::cli
