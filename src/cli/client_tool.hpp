// Glue shared by the client subcommands: usage errors, joining the router, leaving it.
#pragma once
#include <functional>
#include <optional>
#include <string>

#include "cli/client_common.hpp"
#include "cli/fox_tool_client.hpp"
#include "cli/mqtt_client.hpp"
#include "cli/wamp_client.hpp"

namespace fox::cli {

// Prints "fox CMD: MESSAGE (fox CMD --help)" to stderr; returns 2.
int usage_error(const std::string& cmd, const std::string& message);

// Connects `client` to args.url/args.realm and calls on_joined after WELCOME. A connection
// failure or a lost session prints "fox CMD: why" and finishes with 1. Returns 0 when started,
// else the exit code (2 for a bad --url).
int start_wamp(ClientLoop& loop, WampClient& client, const ParsedArgs& args, const std::string& cmd,
               std::function<void()> on_joined);

// Connects `client` to args.fox (HOST[:PORT], default port 1735) and logs in to args.realm;
// same contract as start_wamp.
int start_fox(ClientLoop& loop, FoxToolClient& client, const ParsedArgs& args, const std::string& cmd,
              std::function<void()> on_joined);

// start_wamp or start_fox, for the subcommands written once for both (templates on the client).
inline int start_session(ClientLoop& loop, WampClient& client, const ParsedArgs& args,
                         const std::string& cmd, std::function<void()> on_joined) {
  return start_wamp(loop, client, args, cmd, std::move(on_joined));
}
inline int start_session(ClientLoop& loop, FoxToolClient& client, const ParsedArgs& args,
                         const std::string& cmd, std::function<void()> on_joined) {
  return start_fox(loop, client, args, cmd, std::move(on_joined));
}

// GOODBYE, then finish(code).
template <class Client>
void leave_and_finish(ClientLoop& loop, Client& client, int code) {
  client.leave([&loop, code] { loop.finish(code); });
}

// Connects `client` to args.mqtt (HOST[:PORT], default port 1883) with a fresh client id
// "fox-CMD-PID"; same contract as start_wamp. The user name carries the realm (the broker's
// rule USER@REALM): --user U --realm R → "U@R"; --user U → "U"; --realm R → "CLIENT_ID@R";
// neither → no user name (the broker's default realm). --password needs --user. Bad flags → 2.
int start_mqtt(ClientLoop& loop, MqttClient& client, const ParsedArgs& args, const std::string& cmd,
               std::function<void()> on_connected);

// What start_mqtt connects to, from the flags: the broker, TLS, the login parts.
struct MqttTarget {
  std::string host;
  int port = 0;
  bool tls = false;        // --mqtt-tls
  std::string ca_file;     // with tls
  std::string client_id;   // "fox-CMD-PID"
  std::string user, realm;
  std::optional<std::string> password;
  MqttLogin login_for(const std::string& client_id) const;   // the rule above
};
// The MqttTarget of args.mqtt and the login flags; 0, or the exit code of a usage error (2).
int mqtt_target(const ParsedArgs& args, const std::string& cmd, MqttTarget* out);
// start_mqtt for a target and a client id of the caller's (several clients of one tool).
int start_mqtt(ClientLoop& loop, MqttClient& client, const MqttTarget& target,
               const std::string& client_id, const std::string& cmd,
               std::function<void()> on_connected);

// Without --mqtt: --qos, --user and --password are usage errors (returns 2, else 0).
int refuse_mqtt_only_flags(const ParsedArgs& args, const std::string& cmd);

// Prints a WAMP error to stderr as "fox CMD: URI: message".
void print_wamp_error(const std::string& cmd, const WampError& error);

}  // namespace fox::cli
