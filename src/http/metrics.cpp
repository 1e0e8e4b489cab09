#include "http/metrics.hpp"

#include <charconv>
#include <cstdio>

namespace fox::http {
namespace {

// Appends one metric family and its samples; the family's name and type are written once.
class Writer {
public:
  explicit Writer(std::string& out) : out_(out) {}

  Writer& family(const char* name, const char* type, const char* help) {
    name_ = name;
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
    return *this;
  }
  // A sample of the current family: `labels` is `{k="v",...}` or empty; `suffix` as `_bucket`.
  Writer& sample(std::uint64_t value, const std::string& labels = {}, const char* suffix = "") {
    head(labels, suffix);
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, value);
    out_.append(buf, r.ptr);
    out_ += '\n';
    return *this;
  }
  Writer& sample_double(double value, const std::string& labels = {}, const char* suffix = "") {
    head(labels, suffix);
    char buf[40];
    int n = std::snprintf(buf, sizeof buf, "%.9g", value);
    out_.append(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
    out_ += '\n';
    return *this;
  }
  void histogram(const char* name, const char* help, const metrics::Histogram& h) {
    family(name, "histogram", help);
    for (std::size_t i = 0; i <= metrics::Histogram::kBounds.size(); ++i) {
      std::string le = "+Inf";
      if (i < metrics::Histogram::kBounds.size()) {
        char buf[24];
        int n = std::snprintf(buf, sizeof buf, "%g", metrics::Histogram::kBounds[i]);
        le.assign(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
      }
      sample(h.cumulative(i), "{le=\"" + le + "\"}", "_bucket");
    }
    sample_double(h.sum(), {}, "_sum");
    sample(h.count(), {}, "_count");
  }

private:
  void head(const std::string& labels, const char* suffix) {
    out_ += name_;
    out_ += suffix;
    out_ += labels;
    out_ += ' ';
  }
  std::string& out_;
  const char* name_ = "";
};

std::string labels1(const char* k, const std::string& v) {
  return std::string("{") + k + "=\"" + label_value(v) + "\"}";
}

std::string labels2(const char* k1, const std::string& v1, const char* k2, const std::string& v2) {
  return std::string("{") + k1 + "=\"" + label_value(v1) + "\"," + k2 + "=\"" + label_value(v2) +
         "\"}";
}

}  // namespace

std::string label_value(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string prometheus(const Snapshot& s, const metrics::Counters& c) {
  std::string out;
  out.reserve(8192);
  Writer w(out);
  w.family("fox_build_info", "gauge", "The running fox: its version (always 1).")
      .sample(1, labels1("version", s.version));
  w.family("fox_start_time_seconds", "gauge", "When the process started, in Unix seconds.")
      .sample(s.start_time_s);
  w.family("fox_uptime_seconds", "gauge", "Seconds since the process started.").sample(s.uptime_s);
  w.family("fox_resident_memory_bytes", "gauge", "Resident set size of the process.")
      .sample(s.rss_bytes);
  w.family("fox_open_fds", "gauge", "Open file descriptors of the process.").sample(s.open_fds);

  w.family("fox_connections", "gauge", "Client connections open now, by protocol and transport.");
  for (const auto& k : s.connections) w.sample(k.open, labels2("protocol", k.protocol, "transport", k.transport));

  struct PerProtocol {
    const char* name;
    const char* help;
    std::uint64_t metrics::Traffic::*field;
  };
  static const PerProtocol kTraffic[] = {
      {"fox_messages_received_total", "Protocol messages received (WAMP messages, MQTT packets, FOX messages).",
       &metrics::Traffic::messages_received},
      {"fox_messages_sent_total", "Protocol messages sent.", &metrics::Traffic::messages_sent},
      {"fox_publications_received_total",
       "Publications received from clients (WAMP PUBLISH, MQTT PUBLISH, FOX PUSH).",
       &metrics::Traffic::publications_received},
      {"fox_publications_sent_total", "Publications delivered to clients (WAMP EVENT, MQTT PUBLISH, FOX EVENT).",
       &metrics::Traffic::publications_sent},
      {"fox_received_bytes_total", "Bytes read from client sockets (TLS records included, WebSocket framing not).",
       &metrics::Traffic::bytes_received},
      {"fox_sent_bytes_total", "Bytes written to client sockets (TLS records included, WebSocket framing not).",
       &metrics::Traffic::bytes_sent},
  };
  for (const PerProtocol& m : kTraffic) {
    w.family(m.name, "counter", m.help);
    for (std::size_t p = 0; p < metrics::kProtocols; ++p) {
      w.sample(c.traffic[p].*m.field, labels1("protocol", metrics::kProtocolNames[p]));
    }
  }

  w.family("fox_sessions", "gauge", "Joined sessions (WAMP, MQTT, FOX) by realm.");
  for (const auto& r : s.realms) w.sample(r.sessions, labels1("realm", r.name));
  w.family("fox_subscriptions", "gauge", "Subscriptions (topic patterns with subscribers) by realm.");
  for (const auto& r : s.realms) w.sample(r.subscriptions, labels1("realm", r.name));
  w.family("fox_registrations", "gauge", "Registered procedures by realm.");
  for (const auto& r : s.realms) w.sample(r.registrations, labels1("realm", r.name));
  w.family("fox_retained_keys", "gauge", "Retained values by realm.");
  for (const auto& r : s.realms) w.sample(r.retained, labels1("realm", r.name));
  if (s.sqlite) {
    w.family("fox_history_rows", "gauge", "Publications kept in the SQLite history, by realm.");
    for (const auto& r : s.realms) w.sample(r.history_rows, labels1("realm", r.name));
    w.histogram("fox_sqlite_commit_seconds", "Duration of one SQLite group commit.", c.sqlite_commit);
  }

  w.family("fox_mqtt_queued_messages", "gauge",
           "QoS 1/2 messages queued for MQTT sessions (connected or not), not yet in flight.")
      .sample(s.mqtt_queued);
  w.family("fox_dropped_messages_total", "counter",
           "Messages dropped: QoS 0 for a slow reader, the oldest of a full MQTT session queue.")
      .sample(s.mqtt_dropped_qos0, labels1("reason", "slow_reader_qos0"))
      .sample(s.mqtt_dropped, labels1("reason", "session_queue_full"));
  w.family("fox_slow_consumer_disconnects_total", "counter",
           "Connections cut off because their outbound queue stayed over its limits.")
      .sample(c.slow_consumer_disconnects);
  w.family("fox_auth_failures_total", "counter", "Failed logins (unknown user, wrong secret), over every protocol.")
      .sample(c.auth_failures);
  w.family("fox_connections_refused_total", "counter",
           "Connections refused by max_connections or max_connections_per_ip.")
      .sample(c.connections_refused);

  if (s.cluster) {
    w.family("fox_cluster_node_info", "gauge", "This node of the cluster (always 1).")
        .sample(1, labels1("node", s.node));
    w.family("fox_cluster_link_up", "gauge", "1 while the link to that node is up.");
    for (const auto& p : s.peers) {
      if (!p.self) w.sample(p.up ? 1 : 0, labels1("peer", p.name));
    }
    w.family("fox_cluster_lag_ids", "gauge", "Event ids an entry node is behind the furthest entry.");
    for (const auto& p : s.peers) w.sample(p.lag, labels1("node", p.name));
    w.family("fox_cluster_raft_leader", "gauge", "1 for the node whose sync is the raft leader.");
    for (const auto& p : s.peers) {
      if (!p.raft.empty()) w.sample(p.raft == "leader" ? 1 : 0, labels1("node", p.name));
    }
    w.family("fox_cluster_raft_term", "gauge", "The raft term of each node's sync.");
    for (const auto& p : s.peers) {
      if (!p.raft.empty()) w.sample(p.term, labels1("node", p.name));
    }
    w.family("fox_cluster_resolved_id", "gauge", "The last event id this entry node delivered.")
        .sample(s.delivered);
    w.family("fox_cluster_unresolved_segments", "gauge", "Segments of this entry not yet resolved.")
        .sample(s.unresolved_segments);
    w.histogram("fox_cluster_segment_seconds",
                "A segment's opening to its resolution: what its publishers waited.",
                c.cluster_segment);
  }
  return out;
}

}  // namespace fox::http
