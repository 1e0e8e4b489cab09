// wamp/codec: the official WAMP test vectors (tests/unit/vectors/wamp) in JSON, MessagePack and
// CBOR, round trips, binary values across serializers, and malformed input.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/json.hpp"
#include "wamp/codec.hpp"

namespace fs = std::filesystem;
using fox::Id;
using fox::Json;
using namespace fox::wamp;

namespace {

constexpr Serializer kAll[] = {Serializer::kJson, Serializer::kMsgpack, Serializer::kCbor};
constexpr const char* kSerializerKeys[] = {"json", "msgpack", "cbor"};

// ---- finding and reading the vectors ----------------------------------------------------------

fs::path vectors_dir() {
#ifdef FOX_SOURCE_DIR
  const fs::path root = FOX_SOURCE_DIR;
#else
  const fs::path root = fs::current_path();
#endif
  return (root / "tests" / "unit" / "vectors" / "wamp").lexically_normal();
}

// The vectors are part of the repository (tests/unit/vectors/wamp): their absence is a failure.
bool require_vectors(const fs::path& dir) {
  if (fs::is_directory(dir / "singlemessage")) return true;
  std::cerr << "WAMP test vectors not found at " << dir.string() << "\n";
  FAIL("WAMP test vectors not found at " << dir.string());
  return false;
}

std::vector<fs::path> json_files(const fs::path& dir) {
  std::vector<fs::path> files;
  if (!fs::is_directory(dir)) return files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file() && entry.path().extension() == ".json") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

Json read_json(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return Json::parse(text.str());
}

std::string from_hex(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  }
  return out;
}

std::string to_hex(const std::vector<std::uint8_t>& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (auto b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

std::string variant_bytes(const Json& variant) {
  if (variant.contains("bytes")) return variant["bytes"].get<std::string>();
  return from_hex(variant["bytes_hex"].get<std::string>());
}

std::string wire_bytes(Serializer s, const Json& wmsg) {
  switch (s) {
    case Serializer::kJson: return wmsg.dump();
    case Serializer::kMsgpack: {
      const auto v = Json::to_msgpack(wmsg);
      return std::string(v.begin(), v.end());
    }
    case Serializer::kCbor: {
      const auto v = Json::to_cbor(wmsg);
      return std::string(v.begin(), v.end());
    }
  }
  return {};
}

// ---- messages ⇄ the attribute names the vectors use -------------------------------------------

Json payload_attribute(const Json& payload) {
  if (payload.is_binary()) return to_hex(payload.get_binary());
  return payload;
}

Json payload_from_attribute(const Json& attrs) {
  const Json p = attrs.value("payload", Json());
  if (!p.is_string()) return nullptr;
  const std::string bytes = from_hex(p.get<std::string>());
  return Json::binary(std::vector<std::uint8_t>(bytes.begin(), bytes.end()));
}

// An attribute, accepting the other spelling some vectors use ("subscription" / "subscription_id").
Json attr(const Json& attrs, const char* key, const char* alias = nullptr, Json fallback = nullptr) {
  if (attrs.contains(key)) return attrs[key];
  if (alias != nullptr && attrs.contains(alias)) return attrs[alias];
  return fallback;
}

Id attr_id(const Json& attrs, const char* key, const char* alias = nullptr) {
  return attr(attrs, key, alias, 0).get<Id>();
}

std::string attr_str(const Json& attrs, const char* key) {
  return attr(attrs, key, nullptr, "").get<std::string>();
}

Json attributes(const Message& message) {
  Json a = Json::object();
  a["message_type"] = static_cast<int>(message_type(message));
  std::visit(
      [&a](const auto& m) {
        using M = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<M, Hello>) {
          a["realm"] = m.realm;
          a["details"] = m.details;
          a["roles"] = m.details.value("roles", Json());
        } else if constexpr (std::is_same_v<M, Welcome>) {
          a["session_id"] = m.session;
          a["details"] = m.details;
          a["roles"] = m.details.value("roles", Json());
        } else if constexpr (std::is_same_v<M, Abort> || std::is_same_v<M, Goodbye>) {
          a["details"] = m.details;
          a["reason"] = m.reason;
        } else if constexpr (std::is_same_v<M, Challenge>) {
          a["method"] = m.authmethod;
          a["extra"] = m.extra;
        } else if constexpr (std::is_same_v<M, Authenticate>) {
          a["signature"] = m.signature;
          a["extra"] = m.extra;
        } else if constexpr (std::is_same_v<M, Error>) {
          a["request_type"] = m.request_type;
          a["request_id"] = m.request;
          a["details"] = m.details;
          a["error"] = m.error;
        } else if constexpr (std::is_same_v<M, Publish>) {
          a["request_id"] = m.request;
          a["options"] = m.options;
          a["topic"] = m.topic;
        } else if constexpr (std::is_same_v<M, Published>) {
          a["request_id"] = m.request;
          a["publication_id"] = m.publication;
        } else if constexpr (std::is_same_v<M, Subscribe>) {
          a["request_id"] = m.request;
          a["options"] = m.options;
          a["topic"] = m.topic;
        } else if constexpr (std::is_same_v<M, Subscribed> || std::is_same_v<M, Unsubscribe>) {
          a["request_id"] = m.request;
          a["subscription_id"] = m.subscription;
        } else if constexpr (std::is_same_v<M, Unsubscribed> || std::is_same_v<M, Unregistered>) {
          a["request_id"] = m.request;
          a["details"] = m.details;
        } else if constexpr (std::is_same_v<M, Event>) {
          a["subscription"] = a["subscription_id"] = m.subscription;
          a["publication"] = a["publication_id"] = m.publication;
          a["details"] = m.details;
        } else if constexpr (std::is_same_v<M, Call> || std::is_same_v<M, Register>) {
          a["request_id"] = m.request;
          a["options"] = m.options;
          a["procedure"] = m.procedure;
        } else if constexpr (std::is_same_v<M, Cancel> || std::is_same_v<M, Interrupt> ||
                             std::is_same_v<M, Yield>) {
          a["request_id"] = m.request;
          a["options"] = m.options;
        } else if constexpr (std::is_same_v<M, Result>) {
          a["request_id"] = m.request;
          a["details"] = m.details;
        } else if constexpr (std::is_same_v<M, Registered> || std::is_same_v<M, Unregister>) {
          a["request_id"] = m.request;
          a["registration_id"] = m.registration;
        } else if constexpr (std::is_same_v<M, Invocation>) {
          a["request_id"] = m.request;
          a["registration_id"] = m.registration;
          a["details"] = m.details;
        }
        if constexpr (requires { m.args; }) {
          a["args"] = m.args;
          a["kwargs"] = m.kwargs;
          a["payload"] = payload_attribute(m.payload);
        }
      },
      message);
  return a;
}

std::optional<Message> from_attributes(int type, const Json& a) {
  const Json args = attr(a, "args");
  const Json kwargs = attr(a, "kwargs");
  const Json payload = payload_from_attribute(a);
  const Json options = attr(a, "options", nullptr, Json::object());
  const Json details = attr(a, "details", nullptr, Json::object());
  switch (static_cast<MessageType>(type)) {
    case MessageType::kHello:
      return Hello{attr_str(a, "realm"), a.contains("roles") ? Json{{"roles", a["roles"]}} : details};
    case MessageType::kWelcome:
      return Welcome{attr_id(a, "session_id"),
                     a.contains("roles") ? Json{{"roles", a["roles"]}} : details};
    case MessageType::kAbort: return Abort{details, attr_str(a, "reason")};
    case MessageType::kChallenge:
      return Challenge{attr_str(a, "method"), attr(a, "extra", nullptr, Json::object())};
    case MessageType::kAuthenticate:
      return Authenticate{attr_str(a, "signature"), attr(a, "extra", nullptr, Json::object())};
    case MessageType::kGoodbye: return Goodbye{details, attr_str(a, "reason")};
    case MessageType::kError:
      return Error{a["request_type"].get<int>(), attr_id(a, "request_id"), details,
                   attr_str(a, "error"), args, kwargs, payload};
    case MessageType::kPublish:
      return Publish{attr_id(a, "request_id"), options, attr_str(a, "topic"), args, kwargs, payload};
    case MessageType::kPublished:
      return Published{attr_id(a, "request_id"), attr_id(a, "publication_id")};
    case MessageType::kSubscribe:
      return Subscribe{attr_id(a, "request_id"), options, attr_str(a, "topic")};
    case MessageType::kSubscribed:
      return Subscribed{attr_id(a, "request_id"), attr_id(a, "subscription_id")};
    case MessageType::kUnsubscribe:
      return Unsubscribe{attr_id(a, "request_id"), attr_id(a, "subscription_id")};
    case MessageType::kUnsubscribed: return Unsubscribed{attr_id(a, "request_id"), attr(a, "details")};
    case MessageType::kEvent:
      return Event{attr_id(a, "subscription", "subscription_id"),
                   attr_id(a, "publication", "publication_id"), details, args, kwargs, payload};
    case MessageType::kCall:
      return Call{attr_id(a, "request_id"), options, attr_str(a, "procedure"), args, kwargs, payload};
    case MessageType::kCancel: return Cancel{attr_id(a, "request_id"), options};
    case MessageType::kResult: return Result{attr_id(a, "request_id"), details, args, kwargs, payload};
    case MessageType::kRegister:
      return Register{attr_id(a, "request_id"), options, attr_str(a, "procedure")};
    case MessageType::kRegistered:
      return Registered{attr_id(a, "request_id"), attr_id(a, "registration_id")};
    case MessageType::kUnregister:
      return Unregister{attr_id(a, "request_id"), attr_id(a, "registration_id")};
    case MessageType::kUnregistered: return Unregistered{attr_id(a, "request_id"), attr(a, "details")};
    case MessageType::kInvocation:
      return Invocation{attr_id(a, "request_id"), attr_id(a, "registration_id"), details, args,
                        kwargs, payload};
    case MessageType::kInterrupt: return Interrupt{attr_id(a, "request_id"), options};
    case MessageType::kYield: return Yield{attr_id(a, "request_id"), options, args, kwargs, payload};
  }
  return std::nullopt;
}

int type_from_name(const std::string& name) {
  for (int t = 1; t < 128; ++t) {
    if (message_name(t) == name) return t;
  }
  return 0;
}

// Every attribute the vector lists must equal ours.
void check_attributes(const Json& expected, const Message& message, const std::string& where) {
  const Json actual = attributes(message);
  for (const auto& item : expected.items()) {
    const std::string key = item.key();
    INFO(where << " attribute " << key);
    REQUIRE(actual.contains(key));
    CHECK(fox::json_equal(actual[key], item.value()));
  }
}

Message decode_ok(Serializer s, std::string_view bytes) {
  auto r = decode(s, bytes);
  INFO("decode error: " << (r.ok() ? std::string() : r.error().reason));
  REQUIRE(r.ok());
  return r.message();
}

}  // namespace

// ---- the official vectors -----------------------------------------------------------------------

TEST_CASE("every single-message vector decodes to its expected attributes in JSON, MessagePack and CBOR") {
  const fs::path dir = vectors_dir();
  if (!require_vectors(dir)) return;
  int decoded = 0;
  int unsupported = 0;
  for (const auto& file : json_files(dir / "singlemessage")) {
    const Json vector = read_json(file);
    const int code = vector["wamp_message_code"].get<int>();
    for (const auto& sample : vector["samples"]) {
      if (!sample.contains("serializers")) continue;
      for (std::size_t si = 0; si < 3; ++si) {
        if (!sample["serializers"].contains(kSerializerKeys[si])) continue;
        for (const auto& variant : sample["serializers"][kSerializerKeys[si]]) {
          const std::string where = file.filename().string() + " / " +
                                    sample["description"].get<std::string>() + " / " +
                                    kSerializerKeys[si];
          INFO(where);
          const auto result = decode(kAll[si], variant_bytes(variant));
          if (message_name(code) == "UNKNOWN") {
            // EVENT_RECEIVED (337) is provisional and fox does not implement it: it must be a
            // clean "unknown message type" error that still names the type.
            REQUIRE_FALSE(result.ok());
            CHECK(result.error().type_if_known == code);
            CHECK(result.error().reason.find("unknown message type") != std::string::npos);
            ++unsupported;
            continue;
          }
          INFO("decode error: " << (result.ok() ? std::string() : result.error().reason));
          REQUIRE(result.ok());
          CHECK(static_cast<int>(message_type(result.message())) == code);
          check_attributes(sample["expected_attributes"], result.message(), where);
          ++decoded;
        }
      }
    }
  }
  MESSAGE("vectors decoded: " << decoded << ", unsupported (EVENT_RECEIVED): " << unsupported);
  CHECK(decoded > 100);
}

TEST_CASE("every single-message vector re-encodes and decodes back to the same message") {
  const fs::path dir = vectors_dir();
  if (!require_vectors(dir)) return;
  for (const auto& file : json_files(dir / "singlemessage")) {
    const Json vector = read_json(file);
    for (const auto& sample : vector["samples"]) {
      if (!sample.contains("serializers")) continue;
      for (std::size_t si = 0; si < 3; ++si) {
        if (!sample["serializers"].contains(kSerializerKeys[si])) continue;
        for (const auto& variant : sample["serializers"][kSerializerKeys[si]]) {
          const auto original = decode(kAll[si], variant_bytes(variant));
          if (!original.ok()) continue;  // the unsupported EVENT_RECEIVED, checked above
          for (const Serializer out : kAll) {
            INFO(file.filename().string() << " / " << sample["description"].get<std::string>()
                                          << " / " << kSerializerKeys[si] << " → "
                                          << subprotocol_name(out));
            const Message again = decode_ok(out, encode(out, original.message()));
            CHECK(again == original.message());
          }
        }
      }
    }
  }
}

TEST_CASE("encoding the vector attributes gives the canonical bytes when key order allows") {
  // Serialization is not bijective: fox writes object members in the order it holds them (here:
  // the order of the attributes in the vector file), which may differ from the order in the
  // canonical bytes. Where our JSON encoding reproduces a documented JSON variant (the member
  // orders agree), our MessagePack and CBOR encodings must be byte-identical to a documented
  // variant as well.
  const fs::path dir = vectors_dir();
  if (!require_vectors(dir)) return;
  int exact = 0;
  int compared = 0;
  for (const auto& file : json_files(dir / "singlemessage")) {
    const Json vector = read_json(file);
    const int code = vector["wamp_message_code"].get<int>();
    for (const auto& sample : vector["samples"]) {
      if (!sample.contains("serializers")) continue;
      const auto message = from_attributes(code, sample["expected_attributes"]);
      if (!message) continue;
      bool order_agrees = false;
      const std::string ours_json = encode(Serializer::kJson, *message);
      for (const auto& variant : sample["serializers"]["json"]) {
        if (variant_bytes(variant) == ours_json) order_agrees = true;
      }
      for (std::size_t si = 0; si < 3; ++si) {
        const std::string ours = encode(kAll[si], *message);
        INFO(file.filename().string() << " / " << sample["description"].get<std::string>() << " / "
                                      << kSerializerKeys[si] << " ours: "
                                      << to_hex(std::vector<std::uint8_t>(ours.begin(), ours.end())));
        bool match = false;
        for (const auto& variant : sample["serializers"][kSerializerKeys[si]]) {
          if (variant_bytes(variant) == ours) match = true;
        }
        if (order_agrees) CHECK(match);
        exact += match ? 1 : 0;
        ++compared;
        // Byte-identical or not, our bytes must decode to what the attributes say.
        check_attributes(sample["expected_attributes"], decode_ok(kAll[si], ours), "own bytes");
      }
    }
  }
  MESSAGE("byte-identical encodings: " << exact << " of " << compared);
}

TEST_CASE("validation vectors: valid wire messages decode, invalid ones are rejected naming the field") {
  const fs::path dir = vectors_dir();
  if (!require_vectors(dir)) return;
  int checked = 0;
  for (const auto& file : json_files(dir / "singlemessage")) {
    const Json vector = read_json(file);
    for (const auto& sample : vector["samples"]) {
      if (!sample.contains("wmsg")) continue;
      for (const Serializer s : kAll) {
        INFO(file.filename().string() << " / " << sample["description"].get<std::string>() << " / "
                                      << subprotocol_name(s));
        const auto result = decode(s, wire_bytes(s, sample["wmsg"]));
        if (sample.contains("expected_error")) {
          REQUIRE_FALSE(result.ok());
          const std::string contains = sample["expected_error"].value("contains", "");
          INFO("reason: " << result.error().reason);
          CHECK(result.error().reason.find(contains) != std::string::npos);
          if (sample["wmsg"][0] != 36) CHECK(result.error().request_if_known == 123);
        } else {
          INFO("reason: " << (result.ok() ? std::string() : result.error().reason));
          CHECK(result.ok());
        }
        ++checked;
      }
    }
  }
  CHECK(checked > 0);
}

TEST_CASE("multi-session vector messages encode and decode in every serializer") {
  const fs::path dir = vectors_dir();
  if (!require_vectors(dir)) return;
  int steps = 0;
  for (const auto& file : json_files(dir / "multisession")) {
    const Json vector = read_json(file);
    for (const auto& step : vector["sequence"]) {
      const Json& attrs = step["message"];
      const int type = type_from_name(attrs["type"].get<std::string>());
      INFO(file.filename().string() << " step " << step["step"]);
      const auto message = from_attributes(type, attrs);
      REQUIRE(message.has_value());
      for (const Serializer s : kAll) {
        const Message back = decode_ok(s, encode(s, *message));
        CHECK(back == *message);
        Json expected = attrs;
        expected.erase("type");
        check_attributes(expected, back, "multisession");
      }
      ++steps;
    }
  }
  CHECK(steps > 0);
}

// ---- payload shapes -------------------------------------------------------------------------------

TEST_CASE("args [[1,2]] and [null] round-trip unchanged in every serializer") {
  for (const Serializer s : kAll) {
    for (const Json& args : {Json::parse("[[1,2]]"), Json::parse("[null]"), Json::array(),
                             Json::parse("[{}]")}) {
      Publish p{5, Json::object(), "a.b", args, nullptr, nullptr};
      const Message back = decode_ok(s, encode(s, p));
      const auto& got = std::get<Publish>(back);
      CHECK(got.args == args);
      CHECK(got.kwargs.is_null());
    }
  }
}

TEST_CASE("encode_event omits absent args and kwargs and writes [] when only kwargs are present") {
  const Json details = Json::object();
  const Json none;
  CHECK(encode_event(Serializer::kJson, 1, 2, details, none, none) == "[36,1,2,{}]");
  CHECK(encode_event(Serializer::kJson, 1, 2, details, Json::parse("[1]"), none) ==
        "[36,1,2,{},[1]]");
  CHECK(encode_event(Serializer::kJson, 1, 2, details, none, Json::parse(R"({"a":1})")) ==
        R"([36,1,2,{},[],{"a":1}])");
  CHECK(encode_event(Serializer::kJson, 1, 2, details, Json::parse("[null]"), Json::object()) ==
        "[36,1,2,{},[null],{}]");
}

TEST_CASE("encode_event gives the same bytes as encoding an Event message") {
  const Json details = {{"publisher", 77}, {"topic", "a.b"}};
  const Json args = Json::parse(R"([1,"x",{"y":[true,null,2.5]}])");
  const Json kwargs = {{"k", "v"}};
  for (const Serializer s : kAll) {
    const Event event{9007199254740992ULL, 4429313566ULL, details, args, kwargs, nullptr};
    CHECK(encode_event(s, event.subscription, event.publication, details, args, kwargs) ==
          encode(s, event));
    CHECK(decode_ok(s, encode(s, event)) == Message(event));
  }
}

TEST_CASE("ids up to 2^53 round-trip as unsigned integers") {
  for (const Serializer s : kAll) {
    const Published p{fox::kMaxId, fox::kMaxId - 1};
    const Message back = decode_ok(s, encode(s, p));
    CHECK(std::get<Published>(back).request == fox::kMaxId);
    CHECK(std::get<Published>(back).publication == fox::kMaxId - 1);
  }
}

TEST_CASE("a float that holds an exact integer is accepted as an id") {
  // Some JavaScript MessagePack encoders write large numbers as float64.
  const Json wmsg = Json::array({17, 5.0, 4429313566.0});
  const Message m = decode_ok(Serializer::kMsgpack, wire_bytes(Serializer::kMsgpack, wmsg));
  CHECK(std::get<Published>(m).publication == 4429313566ULL);
  CHECK_FALSE(decode(Serializer::kJson, "[17,5,1.5]").ok());
}

TEST_CASE("router-initiated UNSUBSCRIBED and UNREGISTERED carry request 0 and details") {
  for (const Serializer s : kAll) {
    const Unsubscribed revoked{0, {{"subscription", 5}, {"reason", "wamp.close.snapshot"}}};
    CHECK(decode_ok(s, encode(s, revoked)) == Message(revoked));
    const Unregistered gone{0, {{"registration", 6}, {"reason", "wamp.error.killed"}}};
    CHECK(decode_ok(s, encode(s, gone)) == Message(gone));
  }
  CHECK_FALSE(decode(Serializer::kJson, "[35,0]").ok());
  CHECK_FALSE(decode(Serializer::kJson, "[67,0]").ok());
  CHECK_FALSE(decode(Serializer::kJson, R"([35,0,{"subscription":"x"}])").ok());
  CHECK(encode(Serializer::kJson, Unsubscribed{7, nullptr}) == "[35,7]");
}

TEST_CASE("every message type round-trips in every serializer") {
  const Json args = Json::parse(R"([1,"two",[3],{"four":4}])");
  const Json kwargs = Json::parse(R"({"a":null,"b":[true,false]})");
  const std::vector<Message> all = {
      Hello{"realm1", {{"roles", {{"caller", Json::object()}}}, {"authmethods", {"ticket"}}}},
      Welcome{123, {{"roles", {{"broker", Json::object()}}}, {"authid", "joe"}}},
      Abort{{{"message", "bye"}}, "wamp.error.no_such_realm"},
      Challenge{"wampcra", {{"challenge", "{}"}}},
      Authenticate{"sig", Json::object()},
      Goodbye{Json::object(), "wamp.close.normal"},
      Error{48, 7, Json::object(), "wamp.error.no_such_procedure", args, kwargs, nullptr},
      Error{32, 7, Json::object(), "wamp.error.not_authorized", nullptr, nullptr, nullptr},
      Publish{1, {{"acknowledge", true}, {"exclude", {1, 2}}}, "a.b", args, kwargs, nullptr},
      Published{1, 2},
      Subscribe{1, {{"match", "prefix"}}, "a"},
      Subscribed{1, 2},
      Unsubscribe{1, 2},
      Unsubscribed{1, nullptr},
      Event{1, 2, {{"publisher", 3}}, Json::array(), kwargs, nullptr},
      Event{1, 2, Json::object(), nullptr, nullptr, nullptr},
      Call{1, {{"timeout", 1000}, {"receive_progress", true}}, "p", args, nullptr, nullptr},
      Cancel{1, {{"mode", "kill"}}},
      Result{1, {{"progress", true}}, args, kwargs, nullptr},
      Register{1, {{"invoke", "roundrobin"}}, "p"},
      Registered{1, 2},
      Unregister{1, 2},
      Unregistered{1, nullptr},
      Invocation{1, 2, {{"caller", 5}, {"procedure", "p"}}, args, kwargs, nullptr},
      Interrupt{1, {{"mode", "killnowait"}}},
      Yield{1, {{"progress", true}}, nullptr, nullptr, nullptr},
  };
  for (const Serializer s : kAll) {
    for (const auto& m : all) {
      INFO(message_name(static_cast<int>(message_type(m))) << " in " << subprotocol_name(s));
      CHECK(decode_ok(s, encode(s, m)) == m);
    }
  }
}

TEST_CASE("large messages encode correctly and do not disturb the next small one") {
  const std::string big(200000, 'x');
  for (const Serializer s : kAll) {
    const Publish large{1, Json::object(), "t", Json::array({big}), nullptr, nullptr};
    const std::string bytes = encode(s, large);
    CHECK(bytes.size() > big.size());
    CHECK(decode_ok(s, bytes) == Message(large));
    const Published small{1, 2};
    CHECK(decode_ok(s, encode(s, small)) == Message(small));
  }
  CHECK(encode(Serializer::kJson, Published{1, 2}) == "[17,1,2]");
}

// ---- binary values across serializers -----------------------------------------------------------

TEST_CASE("bytes published by a MessagePack session reach a JSON session as \\u0000 + base64") {
  const Json bytes = Json::binary({0x00, 0x01, 0xfe, 0xff});
  const Publish from_msgpack{1, Json::object(), "t", Json::array({bytes, {{"b", bytes}}}), nullptr,
                             nullptr};
  const Message in = decode_ok(Serializer::kMsgpack, encode(Serializer::kMsgpack, from_msgpack));
  const auto& pub = std::get<Publish>(in);
  REQUIRE(pub.args[0].is_binary());

  const std::string json = encode_event(Serializer::kJson, 9, 10, Json::object(), pub.args, nullptr);
  CHECK(json == R"([36,9,10,{},["\u0000AAH+/w==",{"b":"\u0000AAH+/w=="}]])");
  // And the JSON subscriber's codec turns it back into the same bytes.
  const Message back = decode_ok(Serializer::kJson, json);
  CHECK(std::get<Event>(back).args == pub.args);
}

TEST_CASE("bytes published by a JSON session reach MessagePack and CBOR sessions as binary") {
  const Message in =
      decode_ok(Serializer::kJson, R"([16,1,{},"t",["\u0000AQID"],{"k":["\u0000/w=="]}])");
  const auto& pub = std::get<Publish>(in);
  REQUIRE(pub.args[0].is_binary());
  CHECK(pub.args[0] == Json::binary({1, 2, 3}));
  CHECK(pub.kwargs["k"][0] == Json::binary({0xff}));

  const std::string mp = encode_event(Serializer::kMsgpack, 9, 10, Json::object(), pub.args, pub.kwargs);
  CHECK(mp.find(std::string("\xc4\x03\x01\x02\x03", 5)) != std::string::npos);  // msgpack bin 8
  const std::string cb = encode_event(Serializer::kCbor, 9, 10, Json::object(), pub.args, pub.kwargs);
  CHECK(cb.find(std::string("\x43\x01\x02\x03", 4)) != std::string::npos);  // CBOR byte string
  CHECK(std::get<Event>(decode_ok(Serializer::kCbor, cb)).args == pub.args);
}

TEST_CASE("a \\u0000 string that is not base64 is rejected") {
  const auto r = decode(Serializer::kJson, R"([16,1,{},"t",["\u0000!!"]])");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().reason.find("base64") != std::string::npos);
}

TEST_CASE("strings outside args and kwargs are never turned into binary") {
  const Message m = decode_ok(Serializer::kJson, R"([16,1,{"x":"\u0000AQID"},"t",[]])");
  CHECK(std::get<Publish>(m).options["x"].is_string());
}

TEST_CASE("payload passthru: an opaque payload replaces args and kwargs") {
  const Json payload = Json::binary({0xa1, 0x66});
  const Publish p{1, {{"ppt_scheme", "x_custom"}}, "t", nullptr, nullptr, payload};
  for (const Serializer s : kAll) CHECK(decode_ok(s, encode(s, p)) == Message(p));
  CHECK(encode(Serializer::kJson, p) == R"([16,1,{"ppt_scheme":"x_custom"},"t","\u0000oWY="])");
  CHECK_FALSE(decode(Serializer::kJson, R"([16,1,{"ppt_scheme":"x"},"t",[1]])").ok());
  CHECK_FALSE(decode(Serializer::kJson, R"([16,1,{"ppt_scheme":"x"},"t","\u0000oWY=",{}])").ok());
}

TEST_CASE("invalid UTF-8 from a MessagePack session still encodes to valid JSON") {
  const std::string mp = "\x94\x10\x01\x80\xa2\xff\xfe";  // [16, 1, {}, "\xff\xfe"]
  const Message m = decode_ok(Serializer::kMsgpack, mp);
  const std::string json = encode(Serializer::kJson, m);
  CHECK(json == "[16,1,{},\"\xef\xbf\xbd\xef\xbf\xbd\"]");  // U+FFFD per bad byte
  CHECK(decode(Serializer::kJson, json).ok());
}

// ---- malformed input ------------------------------------------------------------------------------

TEST_CASE("empty input is an error in every serializer") {
  for (const Serializer s : kAll) CHECK_FALSE(decode(s, "").ok());
}

TEST_CASE("a message that is not a non-empty array with an integer type is an error") {
  for (const char* text : {"{}", "[]", "16", "\"x\"", "null", R"(["x",1])", "[-1]", "[16.5,1]",
                           "[null]", "[[16]]", "[1e300]", "[4294967312,1,2]"}) {
    INFO(text);
    const auto r = decode(Serializer::kJson, text);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().type_if_known == 0);
  }
}

TEST_CASE("unknown message types are rejected with a reason naming the type") {
  for (const char* text : {"[999,1,2]", "[7]", "[337,5512315355]"}) {
    const auto r = decode(Serializer::kJson, text);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().reason.find("unknown message type") != std::string::npos);
    CHECK(r.error().type_if_known > 0);
  }
}

TEST_CASE("wrong field types are rejected and the request id is reported when known") {
  struct Case {
    const char* text;
    const char* field;
  };
  const Case cases[] = {
      {R"([16,"1",{},"t"])", "Request"},
      {R"([16,77,[],"t"])", "Options"},
      {R"([16,77,{},5])", "Topic"},
      {R"([16,77,{},"t",{}])", "Arguments"},
      {R"([16,77,{},"t",null])", "Arguments"},
      {R"([16,77,{},"t",[],[]])", "ArgumentsKw"},
      {R"([16,77,{},"t",[],{},1])", "elements"},
      {R"([16,77,{}])", "elements"},
      {R"([32,77,{"match":"regex"},"t"])", "match"},
      {R"([48,77,{"timeout":-1},"p"])", "timeout"},
      {R"([48,77,{"receive_progress":"yes"},"p"])", "receive_progress"},
      {R"([64,77,{"invoke":"all"},"p"])", "invoke"},
      {R"([70,77,{"progress":1}])", "progress"},
      {R"([8,48,77,{},5])", "Error"},
      {R"([8,17,77,{},"e"])", "REQUEST.Type"},
      {R"([1,"realm",{}])", "roles"},
      {R"([1,"realm",{"roles":[]}])", "roles"},
      {R"([1,5,{"roles":{}}])", "Realm"},
      {R"([6,"bye","wamp.close.normal"])", "Details"},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    const auto r = decode(Serializer::kJson, c.text);
    REQUIRE_FALSE(r.ok());
    INFO(r.error().reason);
    CHECK(r.error().reason.find(c.field) != std::string::npos);
    CHECK(r.error().type_if_known == Json::parse(c.text)[0].get<int>());
    if (r.error().type_if_known != 1 && r.error().type_if_known != 6 &&
        std::string(c.field) != "Request") {
      CHECK(r.error().request_if_known == 77);
    }
  }
}

TEST_CASE("ids outside [1, 2^53] are rejected") {
  for (const char* id : {"0", "-5", "9007199254740993", "18446744073709551615",
                         "18446744073709551616", "1e300", "1.5", "true", "null"}) {
    INFO(id);
    CHECK_FALSE(decode(Serializer::kJson, std::string("[17,1,") + id + "]").ok());
    CHECK_FALSE(decode(Serializer::kJson, std::string("[32,") + id + ",{},\"t\"]").ok());
  }
  CHECK(decode(Serializer::kJson, "[17,1,9007199254740992]").ok());
}

TEST_CASE("invalid UTF-8 in JSON is an error") {
  CHECK_FALSE(decode(Serializer::kJson, "[16,1,{},\"\xff\"]").ok());
  CHECK_FALSE(decode(Serializer::kJson, "[16,1,{},\"t\",[\"\xc3\x28\"]]").ok());
  CHECK_FALSE(decode(Serializer::kJson, "[16,1,{},\"t\"] trailing").ok());
}

TEST_CASE("every truncation of a valid MessagePack or CBOR message is an error") {
  const Publish p{239714735, {{"acknowledge", true}}, "com.myapp.topic",
                  Json::parse(R"([1,"two",{"three":[3.5]}])"), {{"k", "v"}}, nullptr};
  for (const Serializer s : kAll) {
    const std::string bytes = encode(s, p);
    REQUIRE(decode(s, bytes).ok());
    for (std::size_t len = 0; len < bytes.size(); ++len) {
      INFO(subprotocol_name(s) << " truncated to " << len);
      CHECK_FALSE(decode(s, bytes.substr(0, len)).ok());
    }
  }
}

TEST_CASE("deep nesting is rejected without exhausting the stack") {
  const std::size_t deep = 200000;
  CHECK_FALSE(decode(Serializer::kMsgpack, std::string(deep, '\x91')).ok());
  CHECK_FALSE(decode(Serializer::kCbor, std::string(deep, '\x81')).ok());
  CHECK_FALSE(decode(Serializer::kJson, std::string(deep, '[') + std::string(deep, ']')).ok());
  const std::string just_too_deep =
      R"([16,1,{},"t",)" + std::string(kMaxNesting, '[') + std::string(kMaxNesting, ']') + "]";
  const auto r = decode(Serializer::kJson, just_too_deep);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().reason.find("nesting") != std::string::npos);
  const std::string deep_enough = R"([16,1,{},"t",)" + std::string(kMaxNesting - 1, '[') +
                                  std::string(kMaxNesting - 1, ']') + "]";
  CHECK(decode(Serializer::kJson, deep_enough).ok());
}

TEST_CASE("absurd length headers are rejected without allocating") {
  CHECK_FALSE(decode(Serializer::kMsgpack, "\xdd\xff\xff\xff\xff").ok());                  // array32
  CHECK_FALSE(decode(Serializer::kMsgpack, "\x94\x10\x01\xdf\xff\xff\xff\xff").ok());      // map32
  CHECK_FALSE(decode(Serializer::kMsgpack, "\x94\x10\x01\x80\xdb\xff\xff\xff\xff").ok());  // str32
  CHECK_FALSE(decode(Serializer::kCbor, "\x9b\xff\xff\xff\xff\xff\xff\xff\xff").ok());
  CHECK_FALSE(decode(Serializer::kCbor, "\x84\x10\x01\xa0\x7b\xff\xff\xff\xff\xff\xff\xff\xff").ok());
  CHECK_FALSE(decode(Serializer::kCbor, "\x84\x10\x01\xa0\x5b\xff\xff\xff\xff\xff\xff\xff\xff").ok());
}

TEST_CASE("random and mutated bytes never crash the decoder") {
  std::mt19937 rng(12345);
  const Publish p{239714735, {{"exclude", {1, 2}}}, "com.myapp.topic",
                  Json::parse(R"([1,"two",{"three":[3.5,null,true]}])"), {{"k", "v"}}, nullptr};
  int ok = 0;
  for (const Serializer s : kAll) {
    const std::string valid = encode(s, p);
    for (int i = 0; i < 20000; ++i) {
      std::string bytes;
      if (i % 2 == 0) {
        bytes.resize(rng() % 64);
        for (auto& c : bytes) c = static_cast<char>(rng());
      } else {
        bytes = valid;
        for (int flips = 1 + rng() % 3; flips > 0; --flips) {
          bytes[rng() % bytes.size()] = static_cast<char>(rng());
        }
      }
      const auto r = decode(s, bytes);
      if (r.ok()) {
        ++ok;
        (void)encode(Serializer::kJson, r.message());  // whatever decodes must encode
      } else {
        CHECK_FALSE(r.error().reason.empty());
      }
    }
  }
  MESSAGE("mutations that still decoded: " << ok);
}

// ---- serializer names -----------------------------------------------------------------------------

TEST_CASE("serializers map to WebSocket subprotocols and RawSocket numbers") {
  CHECK(subprotocol_name(Serializer::kJson) == "wamp.2.json");
  CHECK(subprotocol_name(Serializer::kMsgpack) == "wamp.2.msgpack");
  CHECK(subprotocol_name(Serializer::kCbor) == "wamp.2.cbor");
  CHECK(serializer_from_subprotocol("wamp.2.cbor") == Serializer::kCbor);
  CHECK_FALSE(serializer_from_subprotocol("wamp.2.json.batched").has_value());
  CHECK(rawsocket_serializer_id(Serializer::kJson) == 1);
  CHECK(rawsocket_serializer_id(Serializer::kMsgpack) == 2);
  CHECK(rawsocket_serializer_id(Serializer::kCbor) == 3);
  CHECK(serializer_from_rawsocket_id(2) == Serializer::kMsgpack);
  CHECK_FALSE(serializer_from_rawsocket_id(0).has_value());
  CHECK_FALSE(serializer_from_rawsocket_id(4).has_value());
}
