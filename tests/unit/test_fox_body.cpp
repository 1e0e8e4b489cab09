// fox/body: FOX bodies ⇄ the router's args/kwargs/payload, the README's mapping table.
#include <doctest/doctest.h>

#include "fox/body.hpp"

using namespace fox;
using fox::foxp::Body;

namespace {
Body read(const Json& data) {
  Body b;
  std::string error;
  REQUIRE(foxp::read_body(data, &b, &error));
  return b;
}
std::string refused(const Json& data) {
  Body b;
  std::string error;
  CHECK_FALSE(foxp::read_body(data, &b, &error));
  return error;
}
}  // namespace

TEST_CASE("a FOX body read for the router") {
  CHECK(read(Json{{"kv", 5}}).args == Json::array({5}));
  CHECK(read(Json{{"kv", Json::array({1, 2})}}).args == Json::array({Json::array({1, 2})}));
  CHECK(read(Json{{"kv", nullptr}}).args.is_null());
  CHECK(read(nullptr).args.is_null());
  Body both = read(Json{{"args", {1, 2}}, {"kwargs", {{"k", 1}}}});
  CHECK(both.args == Json::array({1, 2}));
  CHECK(both.kwargs == Json{{"k", 1}});
  // What fox sends when kv alone would lose the shape: args and kwargs win over kv.
  Body wide = read(Json{{"kv", {1, 2}}, {"args", {1, 2}}});
  CHECK(wide.args == Json::array({1, 2}));
  Body bytes = read(Json{{"payload", Json::binary({0, 0xff})}});
  REQUIRE(bytes.payload);
  CHECK(*bytes.payload == std::string("\0\xff", 2));
  CHECK(refused(Json::array({1})).find("must be a map") != std::string::npos);
  CHECK(refused(Json{{"args", 1}}) == "data.args must be a list");
  CHECK(refused(Json{{"kwargs", {1}}}) == "data.kwargs must be a map");
  CHECK(refused(Json{{"payload", 3}}) == "data.payload must be bytes");
  CHECK(refused(Json{{"other", 1}}) == "data must hold kv, args or payload");
}

TEST_CASE("the router's args and kwargs as a FOX body: kv, plus args/kwargs when kv loses them") {
  CHECK(foxp::body_of(Json::array({5}), nullptr) == Json{{"kv", 5}});
  CHECK(foxp::body_of(nullptr, nullptr).is_null());
  CHECK(foxp::body_of(Json::array(), Json::object()).is_null());
  CHECK(foxp::body_of(Json::array({1, 2}), nullptr) ==
        Json{{"kv", {1, 2}}, {"args", {1, 2}}});
  CHECK(foxp::body_of(nullptr, Json{{"k", 1}}) ==
        Json{{"kv", {{"k", 1}}}, {"args", Json::array()}, {"kwargs", {{"k", 1}}}});
  CHECK(foxp::body_of(Json::array({1}), Json{{"k", 1}}) ==
        Json{{"kv", 1}, {"args", {1}}, {"kwargs", {{"k", 1}}}});
  // Read back, every shape is what it was.
  for (const auto& [args, kwargs] : std::vector<std::pair<Json, Json>>{
           {Json::array({1, 2}), nullptr},
           {Json::array({Json::array({1})}), nullptr},
           {Json::array({1}), Json{{"k", 1}}},
           {Json::array(), Json{{"k", 1}}}}) {
    Body b = read(foxp::body_of(args, kwargs));
    CHECK(b.args == args);
    CHECK(b.kwargs == kwargs);
  }
}

TEST_CASE("an MQTT payload as a FOX body, and what a FOX client sends for exact args") {
  CHECK(foxp::body_of_payload(R"({"a":1})") == Json{{"kv", {{"a", 1}}}});
  CHECK(foxp::body_of_payload("").is_null());
  CHECK(foxp::body_of_payload("null").is_null());
  // An array stays an array for fox-wamp's clients (kv) and is the args for fox's own.
  CHECK(foxp::body_of_payload("[5]") == Json{{"kv", {5}}, {"args", {5}}});
  CHECK(read(foxp::body_of_payload("[5]")).args == Json::array({5}));
  Json bin = foxp::body_of_payload(std::string("\xff\x00", 2));
  REQUIRE(bin["kv"].is_binary());
  CHECK(bin["kv"].get_binary().size() == 2);
  CHECK(foxp::exact_body(Json::array({1}), nullptr) == Json{{"kv", 1}});
  CHECK(foxp::exact_body(Json::array({1, 2}), nullptr) == Json{{"args", {1, 2}}});
  CHECK(foxp::exact_body(nullptr, Json{{"k", 1}}) ==
        Json{{"args", Json::array()}, {"kwargs", {{"k", 1}}}});
  CHECK(foxp::exact_body(nullptr, nullptr).is_null());
}
