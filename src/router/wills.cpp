#include "router/wills.hpp"

#include <algorithm>

#include "core/topic.hpp"
#include "router/session.hpp"

namespace fox {

namespace {

constexpr const char* kInvalidArgument = "wamp.error.invalid_argument";


}  // namespace

// ---- wills ----------------------------------------------------------------------------------

void Wills::clear(const std::string& key) {
  auto it = by_key_.find(key);
  if (it == by_key_.end()) return;
  auto owned = keys_of_.find(it->second.owner);
  if (owned != keys_of_.end()) {
    auto& keys = owned->second;
    keys.erase(std::remove(keys.begin(), keys.end(), key), keys.end());
    if (keys.empty()) keys_of_.erase(owned);
  }
  by_key_.erase(it);
  if (store_) store_->erase_will(realm_, key);
}

void Wills::set(StoredWill will) {
  will.realm = realm_;
  if (store_) store_->put_will(will);
  keys_of_[will.owner].push_back(will.key);
  std::string key = will.key;
  by_key_[key] = std::move(will);
}

std::vector<StoredWill> Wills::take(Id session) {
  std::vector<StoredWill> out;
  auto owned = keys_of_.find(session);
  if (owned == keys_of_.end()) return out;
  std::vector<std::string> keys = std::move(owned->second);
  keys_of_.erase(owned);
  for (const std::string& key : keys) {
    auto it = by_key_.find(key);
    if (it == by_key_.end() || it->second.owner != session) continue;
    out.push_back(std::move(it->second));
    by_key_.erase(it);
    if (store_) store_->erase_will(realm_, key);
  }
  return out;
}

const StoredWill* Wills::find(const std::string& key) const {
  auto it = by_key_.find(key);
  return it == by_key_.end() ? nullptr : &it->second;
}

bool Wills::registered(const std::string& key, Id registration) const {
  auto it = by_key_.find(key);
  return it != by_key_.end() && it->second.registration == registration;
}

std::vector<StoredWill> Wills::owned(const std::string& node, std::uint64_t instance,
                                     Id session) const {
  std::vector<StoredWill> out;
  auto owned = keys_of_.find(session);
  if (owned == keys_of_.end()) return out;
  for (const std::string& key : owned->second) {
    auto it = by_key_.find(key);
    if (it == by_key_.end()) continue;
    const StoredWill& w = it->second;
    if (w.owner == session && w.node == node && w.instance == instance) out.push_back(w);
  }
  return out;
}

Pending will_publication(const StoredWill& will) {
  Pending p;
  p.session = will.owner;
  p.pub.topic = will.topic;
  p.pub.uri = will.key;
  if (!will.value.is_null()) p.pub.args = Json::array({will.value});
  p.pub.publisher = will.owner;
  p.pub.publisher_authid = will.authid;
  p.pub.publisher_authrole = will.authrole;
  p.pub.disclose_publisher = will.disclose;
  p.pub.retain = true;
  p.pub.qos = 1;   // a retained write: QoS 1 for MQTT subscribers (README: QoS)
  p.kv.retain = true;
  p.options.disclose_me = will.disclose;
  p.options.exclude_me = false;   // its session is gone anyway
  return p;
}

// ---- testaments -----------------------------------------------------------------------------

bool Testaments::handle_call(SessionEntry& caller, Id request, const std::string& uri,
                             const Json& args, const Json& kwargs) {
  const bool add = uri == "wamp.session.add_testament";
  if (!add && uri != "wamp.session.flush_testaments") return false;
  auto fail = [&](const char* error_uri, const std::string& message) {
    caller.peer->send_error(RequestType::kCall, request, make_error(error_uri, message));
    return true;
  };
  std::string scope = "destroyed";
  if (kwargs.is_object()) {
    if (auto it = kwargs.find("scope"); it != kwargs.end() && !it->is_null()) {
      if (!it->is_string()) return fail(kInvalidArgument, "scope must be a string");
      scope = it->get<std::string>();
    }
  }
  if (scope != "destroyed" && scope != "detached") {
    return fail(kInvalidArgument, "scope must be destroyed or detached");
  }
  if (!add) {
    if (auto it = by_session_.find(caller.id); it != by_session_.end()) {
      auto& list = it->second;
      list.erase(std::remove_if(list.begin(), list.end(),
                                [&](const Kept& t) {
                                  if (t.scope != scope) return false;
                                  if (drop_ && t.token) drop_(caller.id, t.token);
                                  return true;
                                }),
                 list.end());
      if (list.empty()) by_session_.erase(it);
    }
    if (store_) store_->erase_testaments(realm_, caller.id, scope);
    caller.peer->send_result(request, Result{});
    return true;
  }
  if (!args.is_array() || args.empty() || !args[0].is_string()) {
    return fail(kInvalidArgument, "add_testament needs [topic, args, kwargs]");
  }
  Pending t;
  const std::string& topic = args[0].get_ref<const std::string&>();
  t.pub.topic = wamp_pattern_parts(topic);
  if (!valid_wamp_uri(topic, /*wildcards=*/false, /*empty_parts=*/false) ||
      !valid_publish_topic(t.pub.topic, caller.info.empty_topic_parts)) {
    return fail("wamp.error.invalid_uri", "invalid topic: " + topic);
  }
  t.pub.uri = wamp_uri(t.pub.topic);
  if (args.size() > 1 && !args[1].is_null()) {
    if (!args[1].is_array()) return fail(kInvalidArgument, "testament args must be a list");
    t.pub.args = args[1];
  }
  if (args.size() > 2 && !args[2].is_null()) {
    if (!args[2].is_object()) return fail(kInvalidArgument, "testament kwargs must be a dict");
    t.pub.kwargs = args[2];
  }
  Json options = Json::object();
  if (kwargs.is_object()) {
    if (auto it = kwargs.find("publish_options"); it != kwargs.end() && !it->is_null()) {
      if (!it->is_object()) return fail(kInvalidArgument, "publish_options must be a dict");
      options = *it;
    }
  }
  Error error;
  bool disclose = false, exclude_me = true;
  if (!parse_kv_publish(t.pub, options, &t.kv, &error) ||
      !optional_bool(options, "disclose_me", &disclose) ||
      !optional_bool(options, "exclude_me", &exclude_me)) {
    return fail(kInvalidArgument, "a publish option has the wrong type");
  }
  // A testament is published when its session is gone: it cannot wait or leave a will.
  t.kv.watch = false;
  t.kv.has_will = false;
  t.session = caller.id;
  t.pub.publisher = caller.id;
  t.pub.publisher_authid = caller.info.authid;
  t.pub.publisher_authrole = caller.info.authrole;
  t.pub.disclose_publisher = disclose;
  // Like a WAMP publication: QoS 1 for MQTT subscribers when it retains (README: QoS).
  t.pub.qos = t.kv.retain ? 1 : 0;
  t.options.disclose_me = disclose;
  t.options.exclude_me = exclude_me;
  t.options.raw = options;
  auto& mine = by_session_[caller.id];
  if (mine.size() >= kMaxPerSession) {
    return fail(kInvalidArgument,
                "too many testaments (at most " + std::to_string(kMaxPerSession) + " per session)");
  }
  if (store_) {
    StoredTestament row;
    row.realm = realm_;
    row.owner = caller.id;
    row.seq = ++seq_;
    row.scope = scope;
    row.topic = t.pub.uri;
    row.args = t.pub.args;
    row.kwargs = t.pub.kwargs;
    row.options = std::move(options);
    row.authid = caller.info.authid;
    row.authrole = caller.info.authrole;
    row.disclose = disclose;
    store_->put_testament(row);
  }
  const std::uint64_t token = keep_ ? keep_(caller.id, t) : 0;
  mine.push_back(Kept{scope, std::move(t), token});
  caller.peer->send_result(request, Result{});
  return true;
}

std::vector<Pending> Testaments::take(Id session) {
  std::vector<Pending> out;
  auto it = by_session_.find(session);
  if (it == by_session_.end()) return out;
  for (Kept& t : it->second) {
    // Published by this node now: the cluster's copy goes first (the same segment).
    if (drop_ && t.token) drop_(session, t.token);
    out.push_back(std::move(t.pending));
  }
  by_session_.erase(it);
  if (store_) store_->erase_testaments(realm_, session, "");
  return out;
}

Pending testament_publication(const StoredTestament& t) {
  Pending p;
  p.session = 0;
  p.pub.topic = wamp_topic_parts(t.topic);
  p.pub.uri = t.topic;
  p.pub.args = t.args;
  p.pub.kwargs = t.kwargs;
  p.pub.publisher = t.owner;
  p.pub.publisher_authid = t.authid;
  p.pub.publisher_authrole = t.authrole;
  p.pub.disclose_publisher = t.disclose;
  p.pub.options = t.options;
  p.options.disclose_me = t.disclose;
  p.options.raw = t.options;
  p.options.raw.erase("watch");
  p.options.raw.erase("will");
  Error ignored;
  parse_kv_publish(p.pub, p.options.raw, &p.kv, &ignored);
  p.kv.watch = false;
  p.kv.has_will = false;
  p.pub.qos = p.kv.retain ? 1 : 0;
  return p;
}

}  // namespace fox
