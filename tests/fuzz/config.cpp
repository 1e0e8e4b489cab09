// libFuzzer target: the `fox serve --config` file (src/cli/config.hpp: apply_config_json, with the
// realms' auth settings of src/core/auth.hpp) and core's JSON parser (src/core/json.hpp:
// parse_json).
//
// Input: the text of a config file. It is parsed as cli/config.cpp parses a config file
// (nlohmann, comments allowed) and with parse_json, the parser of every protocol message.
//
// Properties checked:
//  - what parse_json accepts, the config parser accepts too, as the same value (parse_json is
//    strict JSON within kMaxJsonNesting; the config parser also allows comments);
//  - apply_config_json gives a reason whenever it refuses;
//  - a config it accepts has a usable auth policy: each realm's rules are asked (allows) about
//    the rules' own URIs as topics and as patterns, for every role it names (bounded).
//
// (core/auth.cpp's rule matching was exponential in a rule's `#` parts until 9ce5b03: the
// reproducers are in regressions/config/.)
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>

#include "cli/config.hpp"
#include "core/topic.hpp"
#include "fuzz_support.hpp"

using namespace fox;

namespace {

void exercise_policy(const auth::RealmPolicy& policy) {
  constexpr std::size_t kMaxChecks = 64;
  std::size_t checks = 0;
  for (const auto& [role, rules] : policy.permissions) {
    (void)policy.restricts(role);
    for (const auto& rule : rules) {
      if (++checks > kMaxChecks) return;
      const TopicParts topic = wamp_topic_parts(rule.uri);
      (void)policy.allows(role, topic, auth::kPublish);
      (void)policy.allows(role, rule.pattern, auth::kSubscribe);
      (void)policy.allows_cached(role, topic, rule.uri, auth::kCall);
    }
  }
  for (const auto& [authid, user] : policy.users) {
    FUZZ_CHECK(!user.secret.empty() && !user.role.empty(), "a user without secret or role");
    FUZZ_CHECK(policy.user(authid) == &user, "user(" + authid + ") is not its own entry");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);

  Json strict;
  const bool strict_ok = parse_json(JsonFormat::kJson, text, &strict) == JsonParse::kOk;
  Json doc;
  bool parsed = false;
  try {   // as cli/config.cpp reads a config file
    doc = Json::parse(text, nullptr, /*allow_exceptions=*/true, /*ignore_comments=*/true);
    parsed = true;
  } catch (const Json::parse_error&) {
  } catch (const std::exception&) {
  }
  if (strict_ok) {
    FUZZ_CHECK(parsed, "parse_json accepts what the config parser refuses");
    FUZZ_CHECK(doc == strict, "parse_json and the config parser read different values");
  }
  if (!parsed) return 0;

  ServeConfig config;
  std::string error;
  if (!apply_config_json(doc, "fuzz.json", &config, &error)) {
    FUZZ_CHECK(!error.empty(), "apply_config_json refused without a reason");
    return 0;
  }
  for (const auto& [realm, policy] : config.auth.realms) exercise_policy(policy);
  return 0;
}
