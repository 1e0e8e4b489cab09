// GET /metrics: the Prometheus text exposition format 0.0.4 (`# HELP`, `# TYPE`, one sample per
// line), `fox_` names in base units (seconds, bytes), counters ending in `_total`, labels of low
// cardinality only (protocol, transport, realm, peer node). The counters come from
// core/metrics.hpp; what is read off the state at scrape time comes in a Snapshot (cli/stats.cpp
// fills it).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/metrics.hpp"

namespace fox::http {

struct Snapshot {
  struct Connections {
    std::string protocol, transport;   // "mqtt", "tcp" / "tls" / "websocket" / "websocket-tls"
    std::uint64_t open = 0;
  };
  struct Realm {
    std::string name;
    std::uint64_t sessions = 0, subscriptions = 0, registrations = 0, retained = 0;
    std::uint64_t history_rows = 0;    // SQLite only
  };
  struct Peer {                        // a node of the cluster file, as this node sees it
    std::string name;
    bool self = false, up = false;
    std::string raft;                  // its sync's state ("" = no sync role)
    std::uint64_t term = 0;            // its raft term
    std::uint64_t lag = 0;             // ids it is behind the furthest entry
  };
  std::string version;
  std::uint64_t start_time_s = 0, uptime_s = 0, rss_bytes = 0, open_fds = 0;
  std::vector<Connections> connections;
  std::vector<Realm> realms;
  bool sqlite = false;                 // history_rows is known
  std::uint64_t mqtt_queued = 0, mqtt_dropped = 0, mqtt_dropped_qos0 = 0;
  bool cluster = false;
  std::string node;                    // this node's name
  std::uint64_t delivered = 0, unresolved_segments = 0;   // an entry node's
  std::vector<Peer> peers;
};

std::string prometheus(const Snapshot& snapshot, const metrics::Counters& counters);

// `value` as a Prometheus label value (backslash, quote and newline escaped).
std::string label_value(const std::string& value);

}  // namespace fox::http
