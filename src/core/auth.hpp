// Who may join a realm and what a role may do there (SPEC §6): the realm's `anonymous` role, its
// users (secret, role, the WAMP-CRA salt) and its permissions (per role, URI patterns with the
// actions they allow; the first rule whose pattern matches decides). Pure data and matching: the
// protocol sessions check credentials (net/crypto), the router enforces the actions.
//
// A realm without any of `anonymous`, `users`, `permissions` in the config is open: anonymous
// clients with full rights (as with no config file). A secured realm refuses anonymous clients
// unless `anonymous` names their role; without `permissions` every joined role may do everything;
// with it, a role without rules may do nothing.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/json.hpp"
#include "core/topic.hpp"

namespace fox::auth {

enum Action : unsigned { kPublish = 1, kSubscribe = 2, kCall = 4, kRegister = 8 };
const char* action_name(Action action);

struct User {
  std::string secret;        // plain, or a `fox passwd` record "pbkdf2-sha256$iter$salt$hash"
  std::string role;
  // WAMP-CRA salted (the key is PBKDF2(secret, salt, iterations, keylen), as autobahn derives it)
  std::string salt;
  unsigned iterations = 1000;
  unsigned keylen = 32;
};

struct Rule {
  std::string uri;           // as written ("sys.#", "#", "a.*.b")
  TopicParts pattern;        // wamp_pattern_parts(uri)
  unsigned allow = 0;        // Action bits
};

class RealmPolicy {
public:
  bool secured = false;
  bool anonymous_allowed = false;
  std::string anonymous_role;
  std::map<std::string, User> users;
  bool has_permissions = false;
  std::map<std::string, std::vector<Rule>> permissions;

  const User* user(const std::string& authid) const;
  // May `role` do `action` on `topic`? A topic is literal parts; a subscription or registration
  // pattern is checked as written (its wildcard markers match only a rule's wildcards), and what
  // a pattern subscription receives is checked topic by topic (the broker).
  bool allows(const std::string& role, const TopicParts& topic, Action action) const;
  // The same for many topics (deliveries to pattern subscriptions): remembered per role and URI.
  bool allows_cached(const std::string& role, const TopicParts& topic, const std::string& uri,
                     Action action) const;
  // Only roles with a restriction need per-event checks.
  bool restricts(const std::string& role) const;

private:
  mutable std::unordered_map<std::string, bool> cache_;
};

// Parses a realm's settings object of the config ({anonymous, users, permissions}); false with
// *key (the key in error, relative to the realm) and *error for anything malformed or unknown.
bool parse_realm_policy(const Json& settings, RealmPolicy* out, std::string* key,
                        std::string* error);

// The policies of every configured realm (a realm not listed here is open).
struct Policy {
  std::map<std::string, RealmPolicy> realms;
  const RealmPolicy* find(const std::string& realm) const;   // nullptr: open
};

// What a config reload changed, for its log line: per realm, "realm R: anonymous as role X,
// users +added -removed ~changed, rules of roles +r ~s"; "" when nothing did.
std::string describe_changes(const Policy& before, const Policy& after);

}  // namespace fox::auth
