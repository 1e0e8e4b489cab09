// fox serve configuration: defaults, config file, flags win, clear errors.
#include <set>
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "cli/client_common.hpp"
#include "cli/config.hpp"

using fox::Json;
using fox::ParseResult;
using fox::ServeConfig;

namespace {
ParseResult parse(std::vector<std::string> args, ServeConfig* c, std::string* e) {
  return fox::parse_serve_args(args, c, e);
}
}  // namespace

TEST_CASE("no flags gives the embedded defaults of SPEC section 2") {
  ServeConfig c;
  std::string e;
  REQUIRE(parse({}, &c, &e) == ParseResult::kOk);
  CHECK(c.bind == "0.0.0.0");
  CHECK(c.port == 9000);
  CHECK(c.mqtt_port == 1883);
  CHECK(c.rawsocket_port == 8081);
  CHECK(c.fox_port == 1735);
  CHECK(c.data == "./fox-data");
  CHECK_FALSE(c.memory);
  CHECK(c.mqtt_default_realm == "realm1");
  CHECK(c.limits.max_message_size == 16u * 1024 * 1024);
  CHECK(c.limits.session_queue == 10000);
}

TEST_CASE("flags are parsed with separate and inline values") {
  ServeConfig c;
  std::string e;
  REQUIRE(parse({"--bind", "127.0.0.1", "--port=9100", "--mqtt-port", "0", "--memory",
                 "--log-level", "debug", "--rawsocket-port=0"},
                &c, &e) == ParseResult::kOk);
  CHECK(c.bind == "127.0.0.1");
  CHECK(c.port == 9100);
  CHECK(c.mqtt_port == 0);
  CHECK(c.rawsocket_port == 0);
  CHECK(c.memory);
  CHECK(c.log_level == "debug");
}

TEST_CASE("a bad flag or value is an error naming the flag") {
  for (auto args : std::vector<std::vector<std::string>>{{"--nope"},
                                                          {"--port", "65536"},
                                                          {"--port", "-1"},
                                                          {"--port", "12ab"},
                                                          {"--bind", "example.com"},
                                                          {"--log-level", "trace"},
                                                          {"--memory=yes"},
                                                          {"--data"},
                                                          {"--port", "0"},
                                                          {"--cluster", "c.json"}}) {
    ServeConfig c;
    std::string e;
    CAPTURE(args[0]);
    CHECK(parse(args, &c, &e) == ParseResult::kError);
    CHECK(e.find(args[0].substr(0, args[0].find('='))) != std::string::npos);
  }
}

TEST_CASE("--help is recognised anywhere") {
  ServeConfig c;
  std::string e;
  CHECK(parse({"--port", "1", "--help"}, &c, &e) == ParseResult::kHelp);
  CHECK(fox::serve_help().find("permissions") != std::string::npos);
}

TEST_CASE("config keys are applied and unknown keys or wrong types are errors") {
  ServeConfig c;
  std::string e;
  REQUIRE(fox::apply_config_json(Json::parse(R"({"bind":"::1","port":9001,"memory":true,
      "mqtt_default_realm":"home","limits":{"session_queue":5,"handshake_timeout":3},
      "realms":{"realm1":{},"*":{}}})"), "f.json", &c, &e));
  CHECK(c.bind == "::1");
  CHECK(c.port == 9001);
  CHECK(c.memory);
  CHECK(c.mqtt_default_realm == "home");
  CHECK(c.limits.session_queue == 5);
  CHECK(c.limits.handshake_timeout_ms == 3000);
  // The listed realms, in any order.
  CHECK(std::set<std::string>(c.realms.begin(), c.realms.end()) ==
        std::set<std::string>{"*", "realm1"});

  struct Case {
    const char* json;
    const char* key;
  };
  for (Case bad : {Case{R"({"port":"9000"})", "port"}, Case{R"({"colour":1})", "colour"},
                   Case{R"({"memory":1})", "memory"},
                   Case{R"({"limits":{"session_queue":0}})", "limits.session_queue"},
                   Case{R"({"limits":{"what":1}})", "limits.what"},
                   Case{R"({"realms":{"Bad-Name":{}}})", "realms.Bad-Name"},
                   Case{R"({"realms":{"r":{"users":{"joe":{"role":"x"}}}}})", "realms.r.users.joe"},
                   Case{R"({"realms":{"r":{"users":{"joe":{"secret":"s","role":"x","rank":1}}}}})",
                        "realms.r.users.joe.rank"},
                   Case{R"({"realms":{"r":{"anonymous":""}}})", "realms.r.anonymous"},
                   Case{R"({"realms":{"r":{"permissions":{"u":[{"uri":"a","allow":["fly"]}]}}}})",
                        "realms.r.permissions.u[0]"},
                   Case{R"({"realms":{"r":{"nope":1}}})", "realms.r.nope"},
                   Case{R"({"log_level":"loud"})", "log_level"}}) {
    ServeConfig d;
    std::string err;
    CAPTURE(bad.json);
    CHECK_FALSE(fox::apply_config_json(Json::parse(bad.json), "f.json", &d, &err));
    CHECK(err.find("f.json") != std::string::npos);
    CHECK(err.find(bad.key) != std::string::npos);
  }
}

namespace {
// Writes `text` to a fresh file under the temp directory; removes it when done.
struct TempFile {
  explicit TempFile(const std::string& text) {
    static int n = 0;
    path = (std::filesystem::temp_directory_path() /
            ("fox-test-config-" + std::to_string(getpid()) + "-" + std::to_string(++n) + ".json"))
               .string();
    std::ofstream(path) << text;
  }
  ~TempFile() { std::remove(path.c_str()); }
  std::string path;
};

std::string config_error(const std::string& text) {
  TempFile f(text);
  ServeConfig c;
  std::string e;
  CHECK(fox::parse_serve_args({"--config", f.path}, &c, &e) == ParseResult::kError);
  CHECK(e.find(f.path) != std::string::npos);
  CHECK(e.find('\n') == std::string::npos);
  return e;
}
}  // namespace

TEST_CASE("a JSON syntax error in the config file names its line and column") {
  // The missing ':' shows at the string after "bind", which ends on line 3, column 20.
  std::string e = config_error("{\n  \"port\": 9001,\n  \"bind\" \"127.0.0.1\"\n}\n");
  CAPTURE(e);
  CHECK(e.find("line 3, column 20") != std::string::npos);
  CHECK(e.find("expected ':'") != std::string::npos);
  CHECK(e.find("json.exception") == std::string::npos);

  e = config_error("{\"port\": tru}");  // an invalid literal on line 1
  CAPTURE(e);
  CHECK(e.find("line 1, column 13") != std::string::npos);

  e = config_error("// comments are allowed\n{\"port\": 9001,\n");  // the input ends early
  CAPTURE(e);
  CHECK(e.find("line 3, column 1") != std::string::npos);

  ServeConfig c;
  std::string err;
  TempFile ok("// a comment\n{\"port\": 9001}\n");
  CHECK(fox::parse_serve_args({"--config", ok.path}, &c, &err) == ParseResult::kOk);
  CHECK(c.port == 9001);
}

TEST_CASE("a config file that is missing, a directory, or over 1 MiB is refused with why") {
  std::string e = config_error("{\"port\": 9001, \"x\": \"" + std::string(1u << 20, 'a') + "\"}");
  CHECK(e.find("is larger than 1 MiB") != std::string::npos);
  ServeConfig c;
  for (std::string path : {std::string("/nonexistent/fox.json"), std::filesystem::temp_directory_path().string()}) {
    CHECK(fox::parse_serve_args({"--config", path}, &c, &e) == ParseResult::kError);
    CHECK(e == "config " + path + ": cannot be read");
  }
}

// Client tools' --mqtt address (fox pub/sub): the port defaults to 1883.
TEST_CASE("--mqtt HOST without a port means port 1883") {
  struct Case {
    const char* text;
    const char* host;
    int port;
  };
  for (Case ok : {Case{"127.0.0.1", "127.0.0.1", 1883}, Case{"broker.local", "broker.local", 1883},
                  Case{"127.0.0.1:1884", "127.0.0.1", 1884}, Case{"[::1]", "::1", 1883},
                  Case{"[::1]:1885", "::1", 1885}, Case{"::1", "::1", 1883}}) {
    std::string host, e;
    int port = 0;
    CAPTURE(ok.text);
    REQUIRE(fox::cli::parse_mqtt_address(ok.text, &host, &port, &e));
    CHECK(host == ok.host);
    CHECK(port == ok.port);
  }
  for (const char* bad : {"", ":1883", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "[::1",
                          "[::1]:x"}) {
    std::string host, e;
    int port = 0;
    CAPTURE(bad);
    CHECK_FALSE(fox::cli::parse_mqtt_address(bad, &host, &port, &e));
    CHECK_FALSE(e.empty());
  }
}

TEST_CASE("--url takes ws:// and wss:// (port 443 by default); --mqtt-tls and --cafile go with TLS") {
  fox::cli::WsUrl u;
  std::string e;
  REQUIRE(fox::cli::parse_ws_url("wss://gw.local/wamp", &u, &e));
  CHECK(u.tls);
  CHECK(u.host == "gw.local");
  CHECK(u.port == 443);
  CHECK(u.path == "/wamp");
  REQUIRE(fox::cli::parse_ws_url("ws://[::1]:9000", &u, &e));
  CHECK_FALSE(u.tls);
  CHECK(u.host == "::1");
  CHECK(u.port == 9000);
  CHECK_FALSE(fox::cli::parse_ws_url("https://gw.local/wamp", &u, &e));
  CHECK_FALSE(fox::cli::parse_ws_url("wss://", &u, &e));

  auto flags = [](std::vector<std::string> args, std::string* error) {
    fox::cli::ParsedArgs a;
    return fox::cli::parse_flags(args, {}, &a, error);
  };
  CHECK(flags({"--mqtt", "h", "--mqtt-tls", "--cafile", "ca.pem"}, &e));
  CHECK(flags({"--url", "wss://h/wamp", "--cafile", "ca.pem"}, &e));
  CHECK_FALSE(flags({"--mqtt-tls"}, &e));
  CHECK(e.find("--mqtt-tls is for --mqtt") == 0);
  CHECK_FALSE(flags({"--cafile", "ca.pem"}, &e));
  CHECK_FALSE(flags({"--mqtt", "h", "--cafile", "ca.pem"}, &e));
  CHECK_FALSE(flags({"--mqtt", "h", "--mqtt-tls=1"}, &e));
}

TEST_CASE("the safe-defaults warning: beyond loopback with anonymous full rights") {
  auto warning = [](const char* json) {
    ServeConfig c;
    std::string e;
    REQUIRE(fox::apply_config_json(Json::parse(json), "f.json", &c, &e));
    return fox::exposure_warning(c);
  };
  CHECK(fox::exposure_warning(ServeConfig{}).find("0.0.0.0 (beyond loopback) while every realm") !=
        std::string::npos);
  CHECK(warning(R"({"bind":"127.0.0.1"})").empty());
  CHECK(warning(R"({"bind":"::1"})").empty());
  CHECK(warning(R"({"realms":{"a":{},"b":{"users":{"u":{"secret":"s","role":"r"}}}}})")
            .find("while realm a admits") != std::string::npos);
  // Anonymous with rules: full rights only with a rule `#` allowing all four actions.
  CHECK(warning(R"({"realms":{"a":{"anonymous":"g","permissions":{"g":[{"uri":"public.#",
      "allow":["subscribe"]}]}}}})").empty());
  CHECK(!warning(R"({"realms":{"a":{"anonymous":"g","permissions":{"g":[{"uri":"#",
      "allow":["subscribe","publish","call","register"]}]}}}})").empty());
  CHECK(!warning(R"({"realms":{"a":{"anonymous":"g"}}})").empty());   // no permissions: all
  CHECK(warning(R"({"realms":{"a":{"users":{"u":{"secret":"s","role":"r"}}}}})").empty());
  CHECK(warning(R"({"realms":{"a":{"users":{"u":{"secret":"s","role":"r"}}},"*":{}}})")
            .find("any unlisted realm") != std::string::npos);
}
