// core/auth (the realm policy: users, roles, permissions) and net/crypto (PBKDF2, HMAC, stored
// secrets, WAMP-CRA).
#include <doctest/doctest.h>

#include "core/auth.hpp"
#include "core/base64.hpp"
#include "net/crypto.hpp"

using namespace fox;

namespace {

std::string hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

auth::RealmPolicy spec_realm() {
  // SPEC §6's example, exactly.
  const Json settings = Json::parse(R"({
    "anonymous": "guest",
    "users": { "joe": { "secret": "joe-secret", "role": "user" },
               "admin": { "secret": "admin-secret", "role": "admin" } },
    "permissions": {
      "admin": [ { "uri": "#", "allow": ["publish", "subscribe", "call", "register"] } ],
      "user":  [ { "uri": "sys.#", "allow": [] },
                 { "uri": "#", "allow": ["publish", "subscribe", "call", "register"] } ],
      "guest": [ { "uri": "public.#", "allow": ["subscribe"] } ] } })");
  auth::RealmPolicy p;
  std::string key, error;
  REQUIRE(auth::parse_realm_policy(settings, &p, &key, &error));
  return p;
}

}  // namespace

TEST_CASE("auth: the first matching rule decides, per role and action") {
  const auth::RealmPolicy p = spec_realm();
  CHECK(p.secured);
  CHECK(p.anonymous_allowed);
  CHECK(p.anonymous_role == "guest");
  REQUIRE(p.user("joe"));
  CHECK(p.user("joe")->role == "user");
  CHECK_FALSE(p.user("nobody"));
  const TopicParts sys = {"sys", "status"}, app = {"app", "x"}, pub = {"public", "news"};
  for (auth::Action a : {auth::kPublish, auth::kSubscribe, auth::kCall, auth::kRegister}) {
    CHECK(p.allows("admin", sys, a));
    CHECK_FALSE(p.allows("user", sys, a));
    CHECK(p.allows("user", app, a));
    CHECK_FALSE(p.allows("nobody", app, a));   // a role without rules may do nothing
  }
  CHECK(p.allows("guest", pub, auth::kSubscribe));
  CHECK_FALSE(p.allows("guest", pub, auth::kPublish));
  CHECK_FALSE(p.allows("guest", app, auth::kSubscribe));
  CHECK(p.allows("user", {"sys"}, auth::kPublish) == false);   // `#` matches zero parts too
  // Patterns are checked as written: `#` is not `sys`, so the user's "#" rule decides; what a
  // pattern subscription receives is checked per topic.
  CHECK(p.allows("user", {kAnyParts}, auth::kSubscribe));
  CHECK_FALSE(p.allows("guest", {kAnyParts}, auth::kSubscribe));
  CHECK(p.allows("guest", {"public", kAnyParts}, auth::kSubscribe));
  CHECK(p.restricts("user"));
  CHECK(p.restricts("guest"));
  CHECK_FALSE(p.restricts("admin"));
  CHECK(p.allows_cached("user", app, "app.x", auth::kSubscribe));
  CHECK_FALSE(p.allows_cached("user", sys, "sys.status", auth::kSubscribe));
  CHECK_FALSE(p.allows_cached("user", sys, "sys.status", auth::kSubscribe));   // cached
}

TEST_CASE("auth: a `*` rule is one part; no permissions at all allows everything") {
  auth::RealmPolicy p;
  std::string key, error;
  REQUIRE(auth::parse_realm_policy(
      Json::parse(R"({"users":{"a":{"secret":"s","role":"r"}},
                      "permissions":{"r":[{"uri":"dev.*.temp","allow":["publish"]}]}})"),
      &p, &key, &error));
  CHECK(p.allows("r", {"dev", "k1", "temp"}, auth::kPublish));
  CHECK_FALSE(p.allows("r", {"dev", "k1", "k2", "temp"}, auth::kPublish));
  CHECK_FALSE(p.allows("r", {"dev", kAnyParts}, auth::kPublish));
  auth::RealmPolicy open;
  REQUIRE(auth::parse_realm_policy(Json::parse(R"({"anonymous":"anyone"})"), &open, &key, &error));
  CHECK(open.allows("anyone", {"x"}, auth::kRegister));
  auth::RealmPolicy none;
  REQUIRE(auth::parse_realm_policy(Json::object(), &none, &key, &error));
  CHECK_FALSE(none.secured);
  auth::Policy all;
  all.realms["r"] = none;
  CHECK(all.find("r") == nullptr);   // listed without auth keys: open
}

TEST_CASE("crypto: PBKDF2-SHA256 and HMAC-SHA256 test vectors") {
  // RFC 7914 §11 (PBKDF2-HMAC-SHA256, P = "passwd", S = "salt", c = 1, dkLen = 64).
  CHECK(hex(net::pbkdf2_sha256("passwd", "salt", 1, 64)) ==
        "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
        "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783");
  // RFC 4231 test case 2.
  CHECK(hex(net::hmac_sha256("Jefe", "what do ya want for nothing?")) ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  CHECK(net::equal_constant_time("abc", "abc"));
  CHECK_FALSE(net::equal_constant_time("abc", "abd"));
  CHECK_FALSE(net::equal_constant_time("abc", "ab"));
}

TEST_CASE("crypto: stored secrets and WAMP-CRA") {
  const std::string record = net::make_secret_record("joe-secret", 1000);
  CHECK(record.rfind("pbkdf2-sha256$1000$", 0) == 0);
  CHECK(net::is_secret_record(record));
  CHECK(net::secret_matches(record, "joe-secret"));
  CHECK_FALSE(net::secret_matches(record, "joe-secreT"));
  CHECK(net::make_secret_record("joe-secret", 1000) != record);   // a fresh salt each time
  CHECK(net::secret_matches("plain", "plain"));
  CHECK_FALSE(net::secret_matches("plain", "plai"));
  for (const char* bad : {"pbkdf2-sha256$", "pbkdf2-sha256$0$AA$AA", "pbkdf2-sha256$10$!!$AA",
                          "pbkdf2-sha256$10$AA"}) {
    CHECK_FALSE(net::secret_matches(bad, ""));
  }
  // autobahn: auth.derive_key("secret", "salt123", 100, 16) and compute_wcs(key, "challenge").
  const std::string key = net::wampcra_derive_key("secret", "salt123", 100, 16);
  CHECK(base64_decode(key)->size() == 16);
  CHECK(net::wampcra_signature("secret", "challenge") ==
        base64_encode(net::hmac_sha256("secret", "challenge")));
}

TEST_CASE("auth: matching is not exponential in a rule's `#`s (a long topic)") {
  auth::RealmPolicy p;
  std::string key, error;
  REQUIRE(auth::parse_realm_policy(
      Json::parse(R"({"users":{"a":{"secret":"s","role":"r"}},
                      "permissions":{"r":[{"uri":"#.a.#.b.#.c.#.d.#.e.#.f.#.g.#","allow":["publish"]}]}})"),
      &p, &key, &error));
  TopicParts topic(30000, "x");
  CHECK_FALSE(p.allows("r", topic, auth::kPublish));   // before: minutes
  topic[5] = "a"; topic[9] = "b"; topic[100] = "c"; topic[200] = "d"; topic[300] = "e";
  topic[400] = "f"; topic[500] = "g";
  CHECK(p.allows("r", topic, auth::kPublish));
}

TEST_CASE("auth: describe_changes names what a reload changed") {
  auto policy = [](const char* text) {
    auth::Policy p;
    const Json doc = Json::parse(text);
    for (const auto& [realm, settings] : doc.items()) {
      std::string key, error;
      REQUIRE(auth::parse_realm_policy(settings, &p.realms[realm], &key, &error));
    }
    return p;
  };
  const auth::Policy before = policy(R"({"r1":{"users":{"a":{"secret":"s","role":"x"},
      "b":{"secret":"s","role":"x"}},"permissions":{"x":[{"uri":"#","allow":["call"]}]}}})");
  CHECK(auth::describe_changes(before, before).empty());
  const auth::Policy after = policy(R"({"r1":{"anonymous":"guest","users":{"a":{"secret":"t","role":"x"},
      "c":{"secret":"s","role":"x"}},"permissions":{"x":[{"uri":"#","allow":["call","publish"]}],
      "guest":[]}},"r2":{"anonymous":"g"}})");
  CHECK(auth::describe_changes(before, after) ==
        "realm r1: anonymous as role guest, users ~a +c -b, rules of roles +guest ~x; "
        "realm r2: now secured, anonymous as role g");
  CHECK(auth::describe_changes(after, before) ==
        "realm r1: anonymous refused, users ~a +b -c, rules of roles ~x -guest; "
        "realm r2: now open, anonymous refused");
}
