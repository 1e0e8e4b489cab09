// What /metrics, $SYS and fox.stats report that cannot be read off the state at scrape time:
// counters bumped on the hot paths. They are plain integers in one process-wide table (one loop,
// no threads: no atomics), so counting costs one increment; nothing is computed per message for
// metrics. Gauges (connections open, sessions, subscriptions, retained keys) are read from the
// servers and the router when a scrape asks (cli/stats.cpp).
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>

namespace fox::metrics {

enum Protocol : unsigned { kWamp = 0, kMqtt = 1, kFox = 2 };
inline constexpr std::size_t kProtocols = 3;
inline constexpr const char* kProtocolNames[kProtocols] = {"wamp", "mqtt", "fox"};

// One protocol's traffic. Messages: every protocol message (a WAMP message, an MQTT control
// packet, a FOX message); publications: WAMP PUBLISH / EVENT, MQTT PUBLISH, FOX PUSH / event.
// Bytes: as written to and read from the socket (TLS records included, WebSocket framing not).
struct Traffic {
  std::uint64_t messages_received = 0, messages_sent = 0;
  std::uint64_t publications_received = 0, publications_sent = 0;
  std::uint64_t bytes_received = 0, bytes_sent = 0;
};

// Latencies in seconds, Prometheus style: cumulative counts per upper bound, a sum and a count.
class Histogram {
public:
  static constexpr std::array<double, 12> kBounds = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                     0.01,   0.025,   0.05,   0.1,   0.5,    1.0};
  void observe(double seconds) {
    std::size_t i = 0;
    while (i < kBounds.size() && seconds > kBounds[i]) ++i;
    ++buckets_[i];
    sum_ += seconds;
    ++count_;
  }
  // Observations at or below kBounds[i] (i == kBounds.size(): every one).
  std::uint64_t cumulative(std::size_t i) const {
    std::uint64_t n = 0;
    for (std::size_t j = 0; j <= i && j < buckets_.size(); ++j) n += buckets_[j];
    return n;
  }
  double sum() const { return sum_; }
  std::uint64_t count() const { return count_; }

private:
  std::array<std::uint64_t, kBounds.size() + 1> buckets_{};
  double sum_ = 0;
  std::uint64_t count_ = 0;
};

struct Counters {
  std::array<Traffic, kProtocols> traffic{};
  std::uint64_t slow_consumer_disconnects = 0;   // cut off: outbound queue over its limits
  std::uint64_t auth_failures = 0;               // logins refused (bad credentials, blocked)
  std::uint64_t connections_refused = 0;         // over max_connections / per-IP limits
  Histogram sqlite_commit;                       // one group commit (store/sqlite_store.cpp)
  Histogram cluster_segment;                     // a segment's opening to its first RESOLVED:
                                                 // what its publishers waited (cluster/entry.cpp)
};

// The process's counters.
extern Counters g_counters;
inline Counters& counters() { return g_counters; }
inline Traffic& traffic(Protocol p) { return counters().traffic[p]; }

}  // namespace fox::metrics
