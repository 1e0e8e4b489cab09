// Shared plumbing of the client tools (pub, sub, call, register, lock): flag parsing, the WebSocket
// URL, JSON arguments, timestamps, and ClientLoop — the libuv loop a tool runs on, its signals and
// its one orderly way out (finish).
#pragma once
#include <uv.h>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "net/uv_env.hpp"
#include "core/json.hpp"

namespace fox::cli {

inline constexpr const char* kDefaultUrl = "ws://127.0.0.1:9000/wamp";
inline constexpr const char* kDefaultRealm = "realm1";
inline constexpr int kDefaultMqttPort = 1883;
inline constexpr int kDefaultMqttTlsPort = 8883;
inline constexpr int kDefaultFoxPort = 1735;
// The CA certificates of wss:// and --mqtt-tls without --cafile (Debian's ca-certificates).
inline constexpr const char* kDefaultCaFile = "/etc/ssl/certs/ca-certificates.crt";

// The flags every client tool takes (the help text fragment is kCommonHelp).
extern const char kCommonHelp[];

struct FlagSpec {
  std::string name;   // "--retain"
  bool takes_value;   // "--count N" / "--count=N"
};

struct ParsedArgs {
  std::vector<std::string> positional;
  std::map<std::string, std::string> values;  // flags with a value (last one wins)
  std::set<std::string> present;              // every flag seen
  bool help = false;
  // Common flags (always accepted).
  std::string url = kDefaultUrl;
  std::string realm = kDefaultRealm;
  std::string mqtt;  // HOST[:PORT], empty = WAMP
  std::string fox;   // HOST[:PORT] of a FOX server, empty = WAMP

  bool has(const std::string& flag) const { return present.count(flag) != 0; }
  std::string value(const std::string& flag) const {
    auto it = values.find(flag);
    return it == values.end() ? std::string() : it->second;
  }
};

// Parses `args`: "--flag", "--flag VALUE", "--flag=VALUE"; anything else is positional ("-5" too).
// -h/--help set help. False with a one-line error on an unknown flag or a missing value.
bool parse_flags(const std::vector<std::string>& args, const std::vector<FlagSpec>& specs,
                 ParsedArgs* out, std::string* error);

struct WsUrl {
  std::string text;  // as given
  std::string host;
  int port = 80;   // 443 for wss://
  std::string path = "/";
  bool tls = false;   // wss://
  std::string ca_file;   // wss://: the CAs the server's certificate must chain to (the tool sets it)
};
// ws://host[:port][/path] or wss://host[:port][/path].
bool parse_ws_url(const std::string& text, WsUrl* out, std::string* error);

// HOST:PORT (HOST may be [v6]).
bool parse_host_port(const std::string& text, std::string* host, int* port, std::string* error);
// The --mqtt value: HOST:PORT, or HOST alone for port 1883 (HOST may be [v6], or a bare IPv6
// address, which then has no port).
bool parse_mqtt_address(const std::string& text, std::string* host, int* port, std::string* error,
                        int default_port = kDefaultMqttPort);

// A positional argument: JSON if it parses, else the text as a JSON string (so `fox pub t hello`
// publishes ["hello"]).
Json parse_json_arg(const std::string& text);
// A flag value that must be JSON.
bool parse_json_strict(const std::string& text, Json* out);
bool parse_count(const std::string& text, long long min, long long max, long long* out);
// A number of seconds, fractions allowed, 0..one year → milliseconds.
bool parse_seconds(const std::string& text, std::uint64_t* ms);

// JSON text for output: binary values become WAMP's "\u0000"+base64 strings, invalid UTF-8 is
// replaced; never throws.
std::string dump_json(const Json& value);
// Writes one line to stdout and flushes it.
void print_line(const std::string& line);

// True when `object` is an object whose `key` is the boolean true (never throws).
bool json_true(const Json& object, const char* key);

// "2026-11-26T10:48:48.123Z"
std::string utc_timestamp();
std::string host_name();

// The event loop of one client tool. Commands create their clients, start them, call run();
// every way out goes through finish(code), which is safe to call from any callback (the actual
// teardown runs on the next loop turn, outside libwebsockets' callbacks).
class ClientLoop {
public:
  ClientLoop();
  ~ClientLoop();
  ClientLoop(const ClientLoop&) = delete;
  ClientLoop& operator=(const ClientLoop&) = delete;

  uv_loop_t* loop() { return &loop_; }
  net::UvEnv& timers() { return *env_; }

  // SIGINT/SIGTERM: calls fn(signum) (default: finish(0)). A second signal exits at once.
  void on_signal(std::function<void(int)> fn) { signal_fn_ = std::move(fn); }
  // Runs during finish(), before the loop winds down: close clients here.
  void on_shutdown(std::function<void()> fn) { shutdown_fns_.push_back(std::move(fn)); }

  void finish(int code);
  bool finishing() const { return finishing_; }
  // Runs until finish() (or until nothing is left to run); returns the exit code.
  int run();

private:
  void teardown();

  uv_loop_t loop_{};
  std::unique_ptr<net::UvEnv> env_;
  uv_signal_t sigint_{}, sigterm_{};
  uv_timer_t finish_timer_{}, safety_timer_{};
  std::function<void(int)> signal_fn_;
  std::vector<std::function<void()>> shutdown_fns_;
  bool finishing_ = false;
  int signals_ = 0;
  int code_ = 0;
};

}  // namespace fox::cli
