// The broker's figures for its operators, in three forms: GET /metrics (Prometheus text,
// http/metrics.hpp), $SYS/broker/... topics for MQTT clients as mosquitto publishes them, and the
// fox.stats topic for WAMP clients (the dashboard's). The last two are published every
// sys_interval seconds into every realm with a session, retained (Realm::publish_system: not in the history,
// each node its own), and reach only subscribers the realm's permissions allow.
//
// Hot-path counters live in core/metrics.hpp; everything else is read here when asked.
#pragma once
#include <uv.h>

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/json.hpp"
#include "http/metrics.hpp"

namespace fox {
class Router;
namespace mqtt { class Server; }
namespace store { class SqliteStore; }
namespace cli {

class ClusterNode;

class Stats {
public:
  // A listener's open connections, read when asked.
  struct Listener {
    std::string protocol, transport;
    std::function<std::uint64_t()> open;
  };

  Stats(uv_loop_t* loop, std::string version);
  ~Stats();
  Stats(const Stats&) = delete;
  Stats& operator=(const Stats&) = delete;

  void set_router(Router* router) { router_ = router; }
  void set_mqtt(mqtt::Server* mqtt) { mqtt_ = mqtt; }
  void set_store(store::SqliteStore* store) { store_ = store; }
  void set_cluster(ClusterNode* node, std::string name) {
    node_ = node;
    node_name_ = std::move(name);
  }
  void add_listener(Listener listener) { listeners_.push_back(std::move(listener)); }

  http::Snapshot snapshot();
  std::string prometheus() { return http::prometheus(snapshot(), metrics::counters()); }
  // What fox.stats carries in `realm` (one object): the broker's figures and that realm's own.
  Json figures(const http::Snapshot& snapshot, const std::string& realm);

  // Publishes $SYS and fox.stats now and then every `interval_s` seconds (0: never).
  void start(int interval_s);
  void stop();

private:
  static constexpr std::array<int, 3> kLoadWindows = {1, 5, 15};   // minutes
  // One per-minute moving average per window, as mosquitto's $SYS/broker/load/... .
  struct Load {
    std::uint64_t last = 0;
    std::array<double, 3> per_minute{};
  };
  void tick();
  void publish_all();
  void update(Load& load, std::uint64_t total, double dt_s);
  std::uint64_t mqtt_connections();

  uv_loop_t* loop_;
  std::string version_;
  std::uint64_t start_ms_ = 0, start_unix_s_ = 0;
  Router* router_ = nullptr;
  mqtt::Server* mqtt_ = nullptr;
  store::SqliteStore* store_ = nullptr;
  ClusterNode* node_ = nullptr;
  std::string node_name_;
  std::vector<Listener> listeners_;
  uv_timer_t* timer_ = nullptr;
  std::uint64_t last_tick_ms_ = 0;
  // MQTT: messages, publications and bytes, received and sent.
  std::array<Load, 6> loads_{};
};

}  // namespace cli
}  // namespace fox
