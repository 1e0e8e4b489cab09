#include "cli/client_tool.hpp"

#include <unistd.h>

#include <cstdio>

#include "net/tls.hpp"

namespace fox::cli {

int usage_error(const std::string& cmd, const std::string& message) {
  std::fprintf(stderr, "fox %s: %s (see fox %s --help)\n", cmd.c_str(), message.c_str(),
               cmd.c_str());
  return 2;
}

void print_wamp_error(const std::string& cmd, const WampError& error) {
  std::fprintf(stderr, "fox %s: %s\n", cmd.c_str(), error.text().c_str());
}

namespace {

// --cafile, else Debian's CA bundle.
std::string ca_file(const ParsedArgs& args) {
  return args.has("--cafile") ? args.value("--cafile") : kDefaultCaFile;
}

}  // namespace

int start_wamp(ClientLoop& loop, WampClient& client, const ParsedArgs& args, const std::string& cmd,
               std::function<void()> on_joined) {
  WsUrl url;
  std::string error;
  if (!parse_ws_url(args.url, &url, &error)) return usage_error(cmd, error);
  if (url.tls) {
    url.ca_file = ca_file(args);
    net::TlsConfig check;   // a clear error for a CA file libwebsockets would only fail on
    if (!check.load_client(url.ca_file, &error)) {
      std::fprintf(stderr, "fox %s: --cafile: %s\n", cmd.c_str(), error.c_str());
      return 1;
    }
  }
  loop.on_shutdown([&client] { client.shutdown(); });
  bool ok = client.connect(
      url, args.realm, [on_joined = std::move(on_joined)](Id) { on_joined(); },
      [&loop, cmd](const std::string& why) {
        std::fprintf(stderr, "fox %s: %s\n", cmd.c_str(), why.c_str());
        loop.finish(1);
      },
      &error);
  if (!ok) {
    std::fprintf(stderr, "fox %s: %s\n", cmd.c_str(), error.c_str());
    return 1;
  }
  return 0;
}

int start_fox(ClientLoop& loop, FoxToolClient& client, const ParsedArgs& args, const std::string& cmd,
              std::function<void()> on_joined) {
  std::string host;
  int port = 0;
  std::string error;
  if (!parse_mqtt_address(args.fox, &host, &port, &error, kDefaultFoxPort)) {
    return usage_error(cmd, "--fox: " + error);
  }
  loop.on_shutdown([&client] { client.shutdown(); });
  client.connect(host, port, args.realm, std::move(on_joined), [&loop, cmd](const std::string& why) {
    std::fprintf(stderr, "fox %s: %s\n", cmd.c_str(), why.c_str());
    loop.finish(1);
  });
  return 0;
}

MqttLogin MqttTarget::login_for(const std::string& client_id) const {
  MqttLogin login;
  if (!user.empty()) login.username = user;
  // The broker takes the realm from the user name, so --realm has to travel in it; without
  // --user the client id stands in for the name (it is what the broker would use as authid).
  if (!realm.empty()) login.username = (login.username ? *login.username : client_id) + "@" + realm;
  login.password = password;
  return login;
}

int mqtt_target(const ParsedArgs& args, const std::string& cmd, MqttTarget* out) {
  std::string error;
  out->tls = args.has("--mqtt-tls");
  if (!parse_mqtt_address(args.mqtt, &out->host, &out->port, &error,
                          out->tls ? kDefaultMqttTlsPort : kDefaultMqttPort)) {
    return usage_error(cmd, "--mqtt: " + error);
  }
  if (out->tls) out->ca_file = ca_file(args);
  out->client_id = "fox-" + cmd + "-" + std::to_string(getpid());
  if (args.has("--user")) {
    if (args.value("--user").empty()) return usage_error(cmd, "--user must not be empty");
    out->user = args.value("--user");
  }
  if (args.has("--realm")) out->realm = args.realm;
  if (args.has("--password")) {
    // MQTT-3.1.2-22: no password without a user name; --realm alone is not a user.
    if (!args.has("--user")) return usage_error(cmd, "--password needs --user");
    out->password = args.value("--password");
  }
  return 0;
}

int start_mqtt(ClientLoop& loop, MqttClient& client, const MqttTarget& target,
               const std::string& client_id, const std::string& cmd,
               std::function<void()> on_connected) {
  std::string error;
  if (target.tls && !client.use_tls(target.ca_file, &error)) {
    std::fprintf(stderr, "fox %s: --cafile: %s\n", cmd.c_str(), error.c_str());
    return 1;
  }
  loop.on_shutdown([&client] { client.shutdown(); });
  client.connect(target.host, target.port, client_id, 60, target.login_for(client_id),
                 std::move(on_connected), [&loop, cmd](const std::string& why) {
                   std::fprintf(stderr, "fox %s: %s\n", cmd.c_str(), why.c_str());
                   loop.finish(1);
                 });
  return 0;
}

int start_mqtt(ClientLoop& loop, MqttClient& client, const ParsedArgs& args, const std::string& cmd,
               std::function<void()> on_connected) {
  MqttTarget target;
  if (int rc = mqtt_target(args, cmd, &target); rc != 0) return rc;
  return start_mqtt(loop, client, target, target.client_id, cmd, std::move(on_connected));
}

int refuse_mqtt_only_flags(const ParsedArgs& args, const std::string& cmd) {
  for (const char* f : {"--qos", "--user", "--password"}) {
    if (args.has(f)) return usage_error(cmd, std::string(f) + " needs --mqtt");
  }
  return 0;
}

}  // namespace fox::cli
