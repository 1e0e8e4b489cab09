#include "core/auth.hpp"

#include <algorithm>

namespace fox::auth {

namespace {

// Rule pattern `rule` (wildcard markers) against `topic` (literal parts, or a pattern checked as
// written: its markers are matched only by the rule's own wildcards). Dynamic programming over
// (rule position, topic position): O(rule × topic), never exponential in the rule's `#`s (a
// topic is attacker-controlled; a backtracking match of "#.a.#.b" took seconds on a long one).
bool matches(const TopicParts& rule, const TopicParts& topic) {
  const std::size_t n = topic.size();
  // can[t]: the rule's first r parts match the topic's first t parts.
  std::vector<char> can(n + 1, 0), next(n + 1, 0);
  can[0] = 1;
  for (const std::string& part : rule) {
    std::fill(next.begin(), next.end(), 0);
    if (part == kAnyParts) {
      char any = 0;
      for (std::size_t t = 0; t <= n; ++t) {
        any = any || can[t];
        next[t] = any;
      }
    } else {
      for (std::size_t t = 0; t < n; ++t) {
        if (!can[t]) continue;
        const bool ok = part == kAnyPart ? topic[t] != kAnyParts : part == topic[t];
        if (ok) next[t + 1] = 1;
      }
    }
    can.swap(next);
  }
  return can[n] != 0;
}

bool parse_action(const std::string& name, unsigned* bits) {
  if (name == "publish") *bits |= kPublish;
  else if (name == "subscribe") *bits |= kSubscribe;
  else if (name == "call") *bits |= kCall;
  else if (name == "register") *bits |= kRegister;
  else return false;
  return true;
}

bool parse_user(const Json& v, User* u, std::string* key, std::string* error) {
  if (!v.is_object()) {
    *error = "expected an object {secret, role}";
    return false;
  }
  for (const auto& [k, value] : v.items()) {
    if (k == "secret" || k == "role" || k == "salt") {
      if (!value.is_string() || value.get_ref<const std::string&>().empty()) {
        *key += "." + k;
        *error = "expected a non-empty string";
        return false;
      }
      (k == "secret" ? u->secret : k == "role" ? u->role : u->salt) = value.get<std::string>();
    } else if (k == "iterations" || k == "keylen") {
      if (!value.is_number_unsigned() || value.get<std::uint64_t>() == 0 ||
          value.get<std::uint64_t>() > (k == "keylen" ? 64u : 10000000u)) {
        *key += "." + k;
        *error = k == "keylen" ? "expected 1..64" : "expected 1..10000000";
        return false;
      }
      (k == "iterations" ? u->iterations : u->keylen) = value.get<unsigned>();
    } else {
      *key += "." + k;
      *error = "unknown key (secret, role, salt, iterations, keylen)";
      return false;
    }
  }
  if (u->secret.empty() || u->role.empty()) {
    *error = "a user needs secret and role";
    return false;
  }
  return true;
}

}  // namespace

const char* action_name(Action action) {
  switch (action) {
    case kPublish: return "publish";
    case kSubscribe: return "subscribe";
    case kCall: return "call";
    case kRegister: return "register";
  }
  return "?";
}

const User* RealmPolicy::user(const std::string& authid) const {
  auto it = users.find(authid);
  return it == users.end() ? nullptr : &it->second;
}

bool RealmPolicy::restricts(const std::string& role) const {
  if (!has_permissions) return false;
  auto it = permissions.find(role);
  if (it == permissions.end() || it->second.empty()) return true;
  const Rule& first = it->second.front();
  // "#" allowing everything first: nothing to check.
  return !(first.pattern.size() == 1 && first.pattern[0] == kAnyParts &&
           first.allow == (kPublish | kSubscribe | kCall | kRegister));
}

bool RealmPolicy::allows(const std::string& role, const TopicParts& topic, Action action) const {
  if (!has_permissions) return true;
  auto it = permissions.find(role);
  if (it == permissions.end()) return false;
  for (const Rule& rule : it->second) {
    if (matches(rule.pattern, topic)) return (rule.allow & action) != 0;
  }
  return false;
}

bool RealmPolicy::allows_cached(const std::string& role, const TopicParts& topic,
                                const std::string& uri, Action action) const {
  std::string key = role;
  key += '\n';
  key += static_cast<char>('0' + static_cast<unsigned>(action));
  key += uri;
  if (auto it = cache_.find(key); it != cache_.end()) return it->second;
  const bool ok = allows(role, topic, action);
  if (cache_.size() >= 4096) cache_.clear();   // bounded: many distinct topics
  cache_.emplace(std::move(key), ok);
  return ok;
}

bool parse_realm_policy(const Json& settings, RealmPolicy* out, std::string* key,
                        std::string* error) {
  for (const auto& [k, v] : settings.items()) {
    *key = k;
    if (k == "anonymous") {
      if (!v.is_string() || v.get_ref<const std::string&>().empty()) {
        *error = "expected the role name of anonymous clients";
        return false;
      }
      out->anonymous_allowed = true;
      out->anonymous_role = v.get<std::string>();
    } else if (k == "users") {
      if (!v.is_object()) {
        *error = "expected an object of authid -> {secret, role}";
        return false;
      }
      for (const auto& [name, u] : v.items()) {
        *key = "users." + name;
        if (name.empty() || name.find('@') != std::string::npos) {
          *error = "an authid is non-empty and has no '@' (MQTT user names are authid@realm)";
          return false;
        }
        User user;
        if (!parse_user(u, &user, key, error)) return false;
        out->users.emplace(name, std::move(user));
      }
    } else if (k == "permissions") {
      if (!v.is_object()) {
        *error = "expected an object of role -> [{uri, allow}]";
        return false;
      }
      out->has_permissions = true;
      for (const auto& [role, rules] : v.items()) {
        *key = "permissions." + role;
        if (!rules.is_array()) {
          *error = "expected a list of {uri, allow}";
          return false;
        }
        auto& list = out->permissions[role];
        for (std::size_t i = 0; i < rules.size(); ++i) {
          *key = "permissions." + role + "[" + std::to_string(i) + "]";
          const Json& r = rules[i];
          if (!r.is_object() || !r.contains("uri") || !r["uri"].is_string() || !r.contains("allow") ||
              !r["allow"].is_array() || r.size() != 2) {
            *error = "expected {\"uri\": pattern, \"allow\": [actions]}";
            return false;
          }
          Rule rule;
          rule.uri = r["uri"].get<std::string>();
          if (rule.uri.empty() || !valid_wamp_uri(rule.uri, /*wildcards=*/true, false)) {
            *error = "uri: a WAMP URI, `*` one part, `#` any parts";
            return false;
          }
          rule.pattern = wamp_pattern_parts(rule.uri);
          for (const Json& a : r["allow"]) {
            if (!a.is_string() || !parse_action(a.get<std::string>(), &rule.allow)) {
              *error = "allow: publish, subscribe, call or register";
              return false;
            }
          }
          list.push_back(std::move(rule));
        }
      }
    } else {
      *error = "unknown key (anonymous, users, permissions)";
      return false;
    }
  }
  out->secured = settings.contains("anonymous") || settings.contains("users") ||
                 settings.contains("permissions");
  key->clear();
  return true;
}

const RealmPolicy* Policy::find(const std::string& realm) const {
  auto it = realms.find(realm);
  if (it == realms.end()) it = realms.find("*");   // the settings of every other realm
  return it == realms.end() || !it->second.secured ? nullptr : &it->second;
}

namespace {

bool same_user(const User& a, const User& b) {
  return a.secret == b.secret && a.role == b.role && a.salt == b.salt &&
         a.iterations == b.iterations && a.keylen == b.keylen;
}

bool same_rules(const std::vector<Rule>& a, const std::vector<Rule>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const Rule& x, const Rule& y) {
    return x.uri == y.uri && x.allow == y.allow;
  });
}

// "+a -b ~c": the keys only in `after`, only in `before`, in both but different.
template <typename Map, typename Same>
std::string key_changes(const Map& before, const Map& after, Same same) {
  std::string out;
  auto add = [&out](char sign, const std::string& key) {
    out += (out.empty() ? "" : " ") + std::string(1, sign) + key;
  };
  for (const auto& [key, value] : after) {
    auto it = before.find(key);
    if (it == before.end()) add('+', key);
    else if (!same(it->second, value)) add('~', key);
  }
  for (const auto& [key, value] : before) {
    if (!after.count(key)) add('-', key);
  }
  return out;
}

std::string realm_changes(const RealmPolicy& before, const RealmPolicy& after) {
  std::string out;
  auto add = [&out](const std::string& what) { out += (out.empty() ? "" : ", ") + what; };
  if (before.secured != after.secured) add(after.secured ? "now secured" : "now open");
  if (before.anonymous_allowed != after.anonymous_allowed ||
      before.anonymous_role != after.anonymous_role) {
    add(after.anonymous_allowed ? "anonymous as role " + after.anonymous_role : "anonymous refused");
  }
  const std::string users = key_changes(before.users, after.users, same_user);
  if (!users.empty()) add("users " + users);
  if (before.has_permissions != after.has_permissions) {
    add(after.has_permissions ? "permissions on" : "permissions off (every role may do anything)");
  }
  const std::string roles = key_changes(before.permissions, after.permissions, same_rules);
  if (!roles.empty()) add("rules of roles " + roles);
  return out;
}

}  // namespace

std::string describe_changes(const Policy& before, const Policy& after) {
  static const RealmPolicy kOpen;
  std::string out;
  auto realm = [&out](const std::string& name, const std::string& changes) {
    if (changes.empty()) return;
    out += (out.empty() ? "" : "; ") + std::string("realm ") + name + ": " + changes;
  };
  for (const auto& [name, policy] : after.realms) {
    auto it = before.realms.find(name);
    realm(name, realm_changes(it == before.realms.end() ? kOpen : it->second, policy));
  }
  for (const auto& [name, policy] : before.realms) {
    if (!after.realms.count(name)) realm(name, realm_changes(policy, kOpen));
  }
  return out;
}

}  // namespace fox::auth
