#include "cli/client_tool.hpp"

#include <unistd.h>

#include <cstdio>

namespace fox::cli {

int usage_error(const std::string& cmd, const std::string& message) {
  std::fprintf(stderr, "fox %s: %s (see fox %s --help)\n", cmd.c_str(), message.c_str(),
               cmd.c_str());
  return 2;
}

void print_wamp_error(const std::string& cmd, const WampError& error) {
  std::fprintf(stderr, "fox %s: %s\n", cmd.c_str(), error.text().c_str());
}

int start_wamp(ClientLoop& loop, WampClient& client, const ParsedArgs& args, const std::string& cmd,
               std::function<void()> on_joined) {
  WsUrl url;
  std::string error;
  if (!parse_ws_url(args.url, &url, &error)) return usage_error(cmd, error);
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

void leave_and_finish(ClientLoop& loop, WampClient& client, int code) {
  client.leave([&loop, code] { loop.finish(code); });
}

int start_mqtt(ClientLoop& loop, MqttClient& client, const ParsedArgs& args, const std::string& cmd,
               std::function<void()> on_connected) {
  std::string host;
  int port = 0;
  std::string error;
  if (!parse_host_port(args.mqtt, &host, &port, &error)) return usage_error(cmd, "--mqtt: " + error);
  loop.on_shutdown([&client] { client.shutdown(); });
  std::string client_id = "fox-" + cmd + "-" + std::to_string(getpid());
  client.connect(host, port, client_id, 60, std::move(on_connected),
                 [&loop, cmd](const std::string& why) {
                   std::fprintf(stderr, "fox %s: %s\n", cmd.c_str(), why.c_str());
                   loop.finish(1);
                 });
  return 0;
}

}  // namespace fox::cli
