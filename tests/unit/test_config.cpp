// fox serve configuration: defaults, config file, flags win, clear errors.
#include <doctest/doctest.h>

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
  CHECK(fox::serve_help().find("not implemented yet") != std::string::npos);
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
  CHECK(c.realms == std::vector<std::string>{"*", "realm1"});

  struct Case {
    const char* json;
    const char* key;
  };
  for (Case bad : {Case{R"({"port":"9000"})", "port"}, Case{R"({"colour":1})", "colour"},
                   Case{R"({"memory":1})", "memory"},
                   Case{R"({"limits":{"session_queue":0}})", "limits.session_queue"},
                   Case{R"({"limits":{"what":1}})", "limits.what"},
                   Case{R"({"realms":{"Bad-Name":{}}})", "realms.Bad-Name"},
                   Case{R"({"realms":{"r":{"users":{}}}})", "realms.r.users"},
                   Case{R"({"log_level":"loud"})", "log_level"}}) {
    ServeConfig d;
    std::string err;
    CAPTURE(bad.json);
    CHECK_FALSE(fox::apply_config_json(Json::parse(bad.json), "f.json", &d, &err));
    CHECK(err.find("f.json") != std::string::npos);
    CHECK(err.find(bad.key) != std::string::npos);
  }
}
