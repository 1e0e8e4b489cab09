// core/json: the ordered JSON type's parser, comparison, merge patch and canonical form.
#include <doctest/doctest.h>

#include <string>

#include "core/json.hpp"

using namespace fox;

namespace {
Json parse(const std::string& text) {
  Json out;
  REQUIRE(parse_json(JsonFormat::kJson, text, &out) == JsonParse::kOk);
  return out;
}
std::string big_object_text(int n) {
  std::string text = "{";
  for (int i = 0; i < n; ++i) text += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":" + std::to_string(i);
  return text + "}";
}
}  // namespace

TEST_CASE("parsed objects keep the members in the order they were written") {
  CHECK(parse(R"({"x":1,"s":"text","a":{"b":2,"a":1}})").dump() ==
        R"({"x":1,"s":"text","a":{"b":2,"a":1}})");
}

TEST_CASE("a duplicate member keeps its first place and takes the last value") {
  CHECK(parse(R"({"a":1,"b":2,"a":3})").dump() == R"({"a":3,"b":2})");
  // ... also in an object large enough to be indexed.
  std::string text = big_object_text(100);
  text.back() = ',';
  text += "\"k5\":\"again\"}";
  Json big = parse(text);
  CHECK(big.size() == 100);
  CHECK(big["k5"] == "again");
  CHECK(big.begin().key() == "k0");
}

TEST_CASE("an object of 200 000 members parses, with every member findable") {
  // Linear: ordered_json's own DOM builder needs a quadratic number of key comparisons here.
  Json big = parse(big_object_text(200000));
  CHECK(big.size() == 200000);
  CHECK(big["k199999"] == 199999);
}

TEST_CASE("nesting deeper than the limit is refused in every format") {
  std::string deep(kMaxJsonNesting + 1, '[');
  deep += std::string(kMaxJsonNesting + 1, ']');
  Json out;
  CHECK(parse_json(JsonFormat::kJson, deep, &out) == JsonParse::kTooDeep);
  std::string msgpack(kMaxJsonNesting + 1, '\x91');
  msgpack += '\xc0';
  CHECK(parse_json(JsonFormat::kMsgpack, msgpack, &out) == JsonParse::kTooDeep);
  std::string ok(kMaxJsonNesting, '[');
  ok += std::string(kMaxJsonNesting, ']');
  CHECK(parse_json(JsonFormat::kJson, ok, &out) == JsonParse::kOk);
}

TEST_CASE("a container header longer than the input is refused before anything is built") {
  Json out;
  // (2^31 - 1: on a 32-bit target 2^32 - 1 is size_t(-1), nlohmann's "length unknown", which
  // then fails at the end of the input instead.)
  CHECK(parse_json(JsonFormat::kMsgpack, std::string("\xdd\x7f\xff\xff\xff", 5), &out) ==
        JsonParse::kBadLength);
  CHECK(parse_json(JsonFormat::kMsgpack, std::string("\xdd\xff\xff\xff\xff", 5), &out) !=
        JsonParse::kOk);
  CHECK(parse_json(JsonFormat::kJson, "{\"a\":", &out) == JsonParse::kSyntax);
}

TEST_CASE("binary values keep their bytes and subtype through MessagePack") {
  Json v = Json::binary({1, 2, 3}, 7);
  std::string bytes;
  Json::to_msgpack(Json::array({v}), bytes);
  Json out;
  REQUIRE(parse_json(JsonFormat::kMsgpack, bytes, &out) == JsonParse::kOk);
  CHECK(out[0] == v);
  CHECK(out[0].get_binary().subtype() == 7);
}

TEST_CASE("json_equal ignores member order, nowhere else") {
  CHECK(json_equal(parse(R"({"a":1,"b":[{"x":1,"y":2}]})"), parse(R"({"b":[{"y":2,"x":1}],"a":1})")));
  CHECK_FALSE(json_equal(parse("[1,2]"), parse("[2,1]")));
  CHECK(json_equal(parse("1"), parse("1.0")));
  CHECK(json_equal(parse(big_object_text(1000)), parse(big_object_text(1000))));
}

TEST_CASE("json_subset: every member of the pattern present and equal, null matches absent") {
  Json value = parse(R"({"type":"post","meta":{"lang":"en","n":1}})");
  CHECK(json_subset(parse(R"({"type":"post"})"), value));
  CHECK(json_subset(parse(R"({"meta":{"lang":"en"}})"), value));
  CHECK(json_subset(parse(R"({"gone":null})"), value));
  CHECK_FALSE(json_subset(parse(R"({"meta":{"lang":"de"}})"), value));
  CHECK_FALSE(json_subset(parse(R"({"type":"post"})"), parse("5")));
  CHECK(json_subset(parse(R"({"k77":77,"k5":5})"), parse(big_object_text(1000))));
}

TEST_CASE("merge patch follows RFC 7396 and keeps member positions") {
  // The RFC's own example (appendix A, first case) and a few of its test cases.
  Json target = parse(R"({"title":"Goodbye!","author":{"givenName":"John","familyName":"Doe"},
                          "tags":["example","sample"],"content":"This will be unchanged"})");
  json_merge_patch(target, parse(R"({"title":"Hello!","phoneNumber":"+01-123-456-7890",
                                     "author":{"familyName":null},"tags":["example"]})"));
  CHECK(target.dump() ==
        R"({"title":"Hello!","author":{"givenName":"John"},"tags":["example"],)"
        R"("content":"This will be unchanged","phoneNumber":"+01-123-456-7890"})");
  Json a = parse(R"({"a":"b"})");
  json_merge_patch(a, parse(R"({"a":null})"));
  CHECK(a.dump() == "{}");
  Json e = parse(R"({"e":null})");
  json_merge_patch(e, parse(R"({"a":1})"));
  CHECK(e.dump() == R"({"e":null,"a":1})");
  Json s = parse(R"(["a","b"])");
  json_merge_patch(s, parse(R"({"a":"b","c":null})"));
  CHECK(s.dump() == R"({"a":"b"})");
  Json n = parse("{}");
  json_merge_patch(n, parse(R"({"a":{"bb":{"ccc":null}}})"));
  CHECK(n.dump() == R"({"a":{"bb":{}}})");
  // Large objects take the indexed path, with the same result.
  Json big = parse(big_object_text(100));
  json_merge_patch(big, parse(R"({"k3":null,"k50":"x","new":true})"));
  CHECK(big.size() == 100);
  CHECK_FALSE(big.contains("k3"));
  CHECK(big["k50"] == "x");
  CHECK((--big.end()).key() == "new");
}

TEST_CASE("json_sorted gives one text for the same members in any order") {
  CHECK(json_sorted(parse(R"({"b":{"y":1,"x":2},"a":[{"d":1,"c":2}]})")).dump() ==
        R"({"a":[{"c":2,"d":1}],"b":{"x":2,"y":1}})");
}
