#include "router/router.hpp"

#include <algorithm>

#include "core/topic.hpp"
#include "router/storage.hpp"

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

Router::Router(RouterEnv& env) : env_(env) {}
Router::~Router() = default;

void Router::set_kv_options(const KvOptions& options) {
  kv_options_ = options;
  for (auto& [name, realm] : realms_) realm->set_kv_options(options);
}

void Router::after_commit(std::function<void(bool ok)> fn) {
  if (storage_) {
    storage_->after_commit(std::move(fn));
  } else {
    fn(true);
  }
}

void Router::apply_stale_wills(const std::vector<StoredWill>& wills) {
  for (const StoredWill& will : wills) {
    Realm* r = realm(will.realm, nullptr);
    if (r) {
      r->apply_stale_will(will);
    } else if (storage_) {
      storage_->erase_will(will.realm, will.key);
    }
  }
}

void Router::apply_stale_testaments(const std::vector<StoredTestament>& testaments) {
  for (const StoredTestament& t : testaments) {
    if (storage_) storage_->erase_testaments(t.realm, t.owner, "");
    Realm* r = realm(t.realm, nullptr);
    if (!r) continue;
    Publication pub;
    pub.topic = wamp_topic_parts(t.topic);
    pub.uri = t.topic;
    pub.args = t.args;
    pub.kwargs = t.kwargs;
    pub.publisher = t.owner;
    pub.publisher_authid = t.authid;
    pub.publisher_authrole = t.authrole;
    pub.disclose_publisher = t.disclose;
    pub.options = t.options;
    // As when its session leaves: QoS 1 for MQTT subscribers when it retains (README: QoS).
    auto retain = t.options.find("retain");
    pub.qos = retain != t.options.end() && retain->is_boolean() && retain->get<bool>() ? 1 : 0;
    PublishOptions options;
    options.disclose_me = t.disclose;
    options.raw = t.options;
    options.raw.erase("watch");   // a testament cannot wait or leave a will: its session is gone
    options.raw.erase("will");
    r->publish_orphan(std::move(pub), options);
  }
}

void Router::set_allowed_realms(std::vector<std::string> names) { allowed_ = std::move(names); }

Realm* Router::realm(const std::string& name, Error* error) {
  auto refuse = [&]() -> Realm* {
    if (error) {
      *error = Error{};
      error->uri = "wamp.error.no_such_realm";
    }
    return nullptr;
  };
  if (!valid_realm_name(name) || name.size() > kMaxRealmNameLength) return refuse();
  bool listed = false;
  if (!allowed_.empty()) {
    listed = std::find(allowed_.begin(), allowed_.end(), name) != allowed_.end();
    bool wildcard = std::find(allowed_.begin(), allowed_.end(), "*") != allowed_.end();
    if (!listed && !wildcard) return refuse();
  }
  auto found = realms_.find(name);
  if (found != realms_.end()) return found->second.get();
  // Realms created on demand by clients are bounded: each costs memory (broker, dealer, history)
  // and they are never dropped. Realms named in the configuration are always allowed.
  if (!listed && realms_.size() >= kMaxAutoRealms) {
    if (error) {
      *error = Error{};
      error->uri = "wamp.error.no_such_realm";
      error->args = Json::array({"too many realms (at most " + std::to_string(kMaxAutoRealms) +
                                 " are created on demand; list more in the config)"});
    }
    return nullptr;
  }
  auto& slot = realms_[name];
  if (!slot) {
    slot = std::make_unique<Realm>(*this, name);
    slot->set_kv_options(kv_options_);
  }
  return slot.get();
}

}  // namespace fox
