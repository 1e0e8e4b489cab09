#include "router/router.hpp"

#include <algorithm>

#include "core/log.hpp"
#include "core/metrics.hpp"
#include "router/engine.hpp"
#include "router/realm_impl.hpp"
#include "router/wills.hpp"

namespace fox {

namespace {

// SPEC §2: realm names are [a-z0-9_.]+.
bool valid_realm_name(const std::string& name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
  });
}

}  // namespace

Router::Router(Env& env, Engine& engine) : env_(env), engine_(engine) {}
// The realms' on_durable callbacks point into them: the engine must not call them any more.
Router::~Router() { engine_.log().forget_durable_callbacks(); }

void Router::apply_stale_wills(const std::vector<StoredWill>& wills) {
  for (const StoredWill& will : wills) {
    if (Realm* r = realm(will.realm, nullptr)) {
      r->apply_stale_will(will);
    } else if (WillStore* store = engine_.wills()) {
      store->erase_will(will.realm, will.key);
    }
  }
}

void Router::apply_stale_testaments(const std::vector<StoredTestament>& testaments) {
  for (const StoredTestament& t : testaments) {
    if (WillStore* store = engine_.wills()) store->erase_testaments(t.realm, t.owner, "");
    Realm* r = realm(t.realm, nullptr);
    if (!r) continue;
    Pending p = testament_publication(t);
    r->publish_orphan(std::move(p.pub), p.options);
  }
}

void Router::set_allowed_realms(std::vector<std::string> names) { allowed_ = std::move(names); }

std::uint64_t Router::login_blocked(const std::string& peer) {
  return logins_.blocked_ms(address_without_port(peer), env_.monotonic_ms());
}

std::vector<RealmStats> Router::stats() {
  std::vector<RealmStats> out;
  out.reserve(realms_.size());
  for (const auto& [name, realm] : realms_) out.push_back(realm->stats());
  return out;
}

std::vector<Realm*> Router::realms() {
  std::vector<Realm*> out;
  out.reserve(realms_.size());
  for (const auto& [name, realm] : realms_) out.push_back(realm.get());
  return out;
}

void Router::login_failed(const std::string& peer) {
  ++metrics::counters().auth_failures;
  const std::string address = address_without_port(peer);
  if (const std::uint64_t ms = logins_.failed(address, env_.monotonic_ms())) {
    log::warn("auth", address, ": too many failed logins, its logins are refused for ", ms / 1000,
              " s");
  }
}

void Router::set_auth_policy(const auth::Policy* policy) {
  auth_ = policy;
  for (auto& [name, realm] : realms_) realm->impl().refresh_policy();
}

Realm* Router::realm(const std::string& name, Error* error) {
  auto refuse = [&](const std::string& why) -> Realm* {
    if (error) {
      *error = Error{};
      error->uri = "wamp.error.no_such_realm";
      if (!why.empty()) error->args = Json::array({why});
    }
    return nullptr;
  };
  if (!valid_realm_name(name) || name.size() > kMaxRealmNameLength) return refuse({});
  bool listed = false;
  if (!allowed_.empty()) {
    listed = std::find(allowed_.begin(), allowed_.end(), name) != allowed_.end();
    bool wildcard = std::find(allowed_.begin(), allowed_.end(), "*") != allowed_.end();
    if (!listed && !wildcard) return refuse({});
  }
  auto found = realms_.find(name);
  if (found != realms_.end()) return found->second.get();
  // Realms created on demand by clients are bounded: each costs memory (broker, dealer, history)
  // and they are never dropped. Realms named in the configuration are always allowed.
  if (!listed && realms_.size() >= kMaxAutoRealms) {
    return refuse("too many realms (at most " + std::to_string(kMaxAutoRealms) +
                  " are created on demand; list more in the config)");
  }
  auto& slot = realms_[name];
  if (!slot) slot = std::make_unique<Realm>(*this, name);
  return slot.get();
}

}  // namespace fox
