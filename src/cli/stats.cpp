#include "cli/stats.hpp"

#include <dirent.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <ctime>

#include "cli/cluster_node.hpp"
#include "core/log.hpp"
#include "core/topic.hpp"
#include "mqtt/server.hpp"
#include "router/router.hpp"
#include "store/sqlite_store.hpp"

namespace fox::cli {
namespace {

std::uint64_t resident_bytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  unsigned long size = 0, resident = 0;
  const int n = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  return n == 2 ? static_cast<std::uint64_t>(resident) * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE)) : 0;
}

std::uint64_t open_fds() {
  DIR* d = opendir("/proc/self/fd");
  if (!d) return 0;
  std::uint64_t n = 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(d);
  return n > 0 ? n - 1 : 0;   // not the one opendir holds
}

std::string text(std::uint64_t v) { return std::to_string(v); }

std::string text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

template <typename T>
T json_or(const Json& o, const char* key, T fallback) {
  auto it = o.find(key);
  if (it == o.end()) return fallback;
  if constexpr (std::is_same_v<T, bool>) {
    return it->is_boolean() ? it->get<bool>() : fallback;
  } else if constexpr (std::is_same_v<T, std::string>) {
    return it->is_string() ? it->get<std::string>() : fallback;
  } else {
    return it->is_number_unsigned() ? it->get<T>() : fallback;
  }
}

}  // namespace

Stats::Stats(uv_loop_t* loop, std::string version) : loop_(loop), version_(std::move(version)) {
  start_ms_ = uv_now(loop_);
  start_unix_s_ = static_cast<std::uint64_t>(std::time(nullptr));
}

Stats::~Stats() { stop(); }

std::uint64_t Stats::mqtt_connections() {
  std::uint64_t n = 0;
  for (const Listener& l : listeners_) {
    if (l.protocol == "mqtt") n += l.open();
  }
  return n;
}

http::Snapshot Stats::snapshot() {
  http::Snapshot s;
  s.version = version_;
  s.start_time_s = start_unix_s_;
  s.uptime_s = (uv_now(loop_) - start_ms_) / 1000;
  s.rss_bytes = resident_bytes();
  s.open_fds = open_fds();
  for (const Listener& l : listeners_) s.connections.push_back({l.protocol, l.transport, l.open()});
  if (router_) {
    for (const RealmStats& r : router_->stats()) {
      http::Snapshot::Realm realm{r.realm, r.sessions, r.subscriptions, r.registrations, r.retained, 0};
      if (store_) realm.history_rows = store_->history_rows(r.realm);
      s.realms.push_back(std::move(realm));
    }
  }
  s.sqlite = store_ != nullptr;
  if (mqtt_) {
    s.mqtt_queued = mqtt_->queued_total();
    s.mqtt_dropped = mqtt_->dropped_total();
    s.mqtt_dropped_qos0 = mqtt_->dropped_qos0_total();
  }
  if (node_) {
    s.cluster = true;
    s.node = node_name_;
    const Json nodes = node_->status();
    for (const Json& n : nodes) {
      http::Snapshot::Peer p;
      p.name = json_or<std::string>(n, "name", "");
      p.self = json_or<bool>(n, "self", false);
      p.up = p.self || json_or<std::string>(n, "link", "") == "up";
      // What a peer said of itself counts only while its link is up (else it is stale).
      if (p.up) {
        p.raft = json_or<std::string>(n, "raft", "");
        p.term = json_or<std::uint64_t>(n, "term", 0);
        p.lag = json_or<std::uint64_t>(n, "lag", 0);
      }
      if (p.self) {
        s.delivered = json_or<std::uint64_t>(n, "delivered", 0);
        s.unresolved_segments = json_or<std::uint64_t>(n, "unresolved_segments", 0);
      }
      s.peers.push_back(std::move(p));
    }
  }
  return s;
}

Json Stats::figures(const http::Snapshot& s, const std::string& realm) {
  const metrics::Counters& c = metrics::counters();
  Json connections = Json::object();
  for (const auto& k : s.connections) {
    Json& by_transport = connections[k.protocol];
    if (by_transport.is_null()) by_transport = Json::object();
    by_transport[k.transport] = by_transport.value(k.transport, std::uint64_t{0}) + k.open;
  }
  Json traffic = Json::object();
  for (std::size_t p = 0; p < metrics::kProtocols; ++p) {
    const metrics::Traffic& t = c.traffic[p];
    traffic[metrics::kProtocolNames[p]] = {
        {"messages_received", t.messages_received}, {"messages_sent", t.messages_sent},
        {"publications_received", t.publications_received}, {"publications_sent", t.publications_sent},
        {"bytes_received", t.bytes_received},       {"bytes_sent", t.bytes_sent}};
  }
  // Only this realm's own figures: a subscriber in one realm learns nothing of the others.
  Json realms = Json::object();
  for (const auto& r : s.realms) {
    if (r.name != realm) continue;
    realms[r.name] = {{"sessions", r.sessions}, {"subscriptions", r.subscriptions},
                      {"registrations", r.registrations}, {"retained", r.retained}};
  }
  Json out = {{"version", s.version},
              {"uptime_s", s.uptime_s},
              {"uptime_ms", uv_now(loop_) - start_ms_},
              {"rss_bytes", s.rss_bytes},
              {"connections", std::move(connections)},
              {"traffic", std::move(traffic)},
              {"realms", std::move(realms)},
              {"mqtt_queued", s.mqtt_queued},
              {"dropped", s.mqtt_dropped + s.mqtt_dropped_qos0},
              {"slow_consumer_disconnects", c.slow_consumer_disconnects},
              {"auth_failures", c.auth_failures}};
  if (node_) out["cluster"] = {{"node", node_name_}, {"nodes", node_->status()}};
  return out;
}

void Stats::start(int interval_s) {
  if (interval_s <= 0 || timer_) return;
  timer_ = new uv_timer_t;
  uv_timer_init(loop_, timer_);
  timer_->data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(timer_));   // never what keeps the loop alive
  last_tick_ms_ = uv_now(loop_);
  const auto ms = static_cast<std::uint64_t>(interval_s) * 1000;
  // The first round soon after the start (the listeners and realms exist by then).
  uv_timer_start(timer_, [](uv_timer_t* t) { static_cast<Stats*>(t->data)->tick(); },
                 std::min<std::uint64_t>(ms, 1000), ms);
}

void Stats::stop() {
  if (!timer_) return;
  uv_timer_stop(timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(timer_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  timer_ = nullptr;
}

void Stats::update(Load& load, std::uint64_t total, double dt_s) {
  const double per_minute = dt_s > 0 ? static_cast<double>(total - load.last) * 60.0 / dt_s : 0;
  for (std::size_t i = 0; i < kLoadWindows.size(); ++i) {
    const double k = 1.0 - std::exp(-dt_s / (60.0 * kLoadWindows[i]));
    load.per_minute[i] += (per_minute - load.per_minute[i]) * k;
  }
  load.last = total;
}

void Stats::tick() {
  const std::uint64_t now = uv_now(loop_);
  const double dt = static_cast<double>(now - last_tick_ms_) / 1000.0;
  last_tick_ms_ = now;
  const metrics::Traffic& t = metrics::traffic(metrics::kMqtt);
  const std::uint64_t totals[] = {t.messages_received,     t.messages_sent,  t.publications_received,
                                  t.publications_sent,     t.bytes_received, t.bytes_sent};
  for (std::size_t i = 0; i < loads_.size(); ++i) update(loads_[i], totals[i], dt);
  publish_all();
}

// mosquitto's $SYS/broker names (broker-wide MQTT figures; retained messages and subscriptions
// are the realm's), then fox.stats.
void Stats::publish_all() {
  if (!router_) return;
  const metrics::Traffic& t = metrics::traffic(metrics::kMqtt);
  const std::uint64_t uptime = (uv_now(loop_) - start_ms_) / 1000;
  std::vector<std::pair<std::string, std::string>> broker = {
      {"version", "fox " + version_},
      {"uptime", text(uptime) + " seconds"},
      {"clients/connected", text(mqtt_connections())},
      {"clients/total", text(static_cast<std::uint64_t>(mqtt_ ? mqtt_->session_count() : 0))},
      {"messages/received", text(t.messages_received)},
      {"messages/sent", text(t.messages_sent)},
      {"publish/messages/received", text(t.publications_received)},
      {"publish/messages/sent", text(t.publications_sent)},
      {"publish/messages/dropped",
       text(mqtt_ ? mqtt_->dropped_total() + mqtt_->dropped_qos0_total() : 0)},
      {"bytes/received", text(t.bytes_received)},
      {"bytes/sent", text(t.bytes_sent)},
      {"store/messages/count", text(static_cast<std::uint64_t>(mqtt_ ? mqtt_->queued_total() : 0))},
  };
  static const char* const kLoadNames[] = {"messages/received", "messages/sent",
                                           "publish/received",  "publish/sent",
                                           "bytes/received",    "bytes/sent"};
  for (std::size_t i = 0; i < loads_.size(); ++i) {
    for (std::size_t w = 0; w < kLoadWindows.size(); ++w) {
      broker.emplace_back(std::string("load/") + kLoadNames[i] + "/" +
                              std::to_string(kLoadWindows[w]) + "min",
                          text(loads_[i].per_minute[w]));
    }
  }
  const http::Snapshot snap = snapshot();
  for (Realm* realm : router_->realms()) {
    const RealmStats r = realm->stats();
    if (r.sessions == 0) {
      // Nobody to read them: nothing kept (1000 empty realms must not cost a copy each).
      realm->clear_system();
      continue;
    }
    auto publish = [&](const std::string& name, std::string value) {
      Publication pub;
      pub.topic = mqtt_topic_parts("$SYS/broker/" + name);
      pub.payload = std::move(value);
      realm->publish_system(std::move(pub));
    };
    for (const auto& [name, value] : broker) publish(name, value);
    publish("retained messages/count", text(static_cast<std::uint64_t>(r.retained)));
    publish("subscriptions/count", text(static_cast<std::uint64_t>(r.subscriptions)));
    Publication pub;
    pub.topic = wamp_topic_parts("fox.stats");
    pub.args = Json::array({figures(snap, r.realm)});
    realm->publish_system(std::move(pub));
  }
}

}  // namespace fox::cli
