// `fox serve` configuration: embedded defaults, then the --config JSON file, then flags (flags win).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "cluster/config.hpp"
#include "core/auth.hpp"
#include "core/json.hpp"

namespace fox {

struct Limits {
  std::uint64_t max_message_size = 16u * 1024 * 1024;  // bytes, WAMP message / MQTT packet
  std::uint64_t max_connections = 10000;
  std::uint64_t max_connections_per_ip = 1000;
  std::uint64_t session_queue = 10000;                  // messages queued for one connection
  std::uint64_t session_queue_bytes = 16u * 1024 * 1024;  // and their bytes (core/outbound.hpp)
  std::uint64_t handshake_timeout_ms = 10000;           // no HELLO/CONNECT within → close
  std::uint64_t history_max_rows = 1000000;
  bool history_max_rows_set = false;                    // given in the config file
  std::uint64_t history_max_age_s = 0;                  // 0 = no age limit
  // Failed logins from one address within a minute before its logins are refused for
  // login_block_ms (doubling for each block in a row, at most 15 min; core/login_limiter.hpp).
  std::uint64_t login_failures = 10;
  std::uint64_t login_block_ms = 10000;
  bool operator==(const Limits&) const = default;
};

struct ServeConfig {
  std::string bind = "0.0.0.0";
  int port = 9000;            // HTTP + WebSocket (/wamp, /mqtt, /metrics, dashboard)
  int mqtt_port = 1883;
  int rawsocket_port = 8081;
  int fox_port = 1735;
  // TLS (SPEC §6, issue 14): with a certificate and its key, wss:// and https:// on tls_port
  // (the plain listeners stay as configured; 0 = off).
  std::string tls_cert, tls_key;
  int tls_port = 9443;
  int mqtts_port = 8883;         // MQTT over TLS (with tls_cert; 0 = off)
  int rawsocket_tls_port = 0;    // WAMP RawSocket over TLS (with tls_cert; 0 = off)
  std::string data = "./fox-data";
  bool memory = false;
  std::string sync = "normal";  // SQLite synchronous: "normal" (survives a crash) or "full" (power loss)
  std::string log_level = "info";
  std::string log_format = "text";  // "text" (one line, time first) or "json" (one object per line)
  int sys_interval = 10;            // seconds between $SYS / fox.stats publications; 0 = off
  std::string config_file;
  std::string mqtt_default_realm = "realm1";
  Limits limits;
  std::vector<std::string> realms;  // empty = every valid realm name is open
  auth::Policy auth;                // realms with users / anonymous role / permissions (SPEC §6)
  std::string cluster_file, node, role;
  // With --cluster: the whole file, and the node this process is (roles narrowed by --role).
  cluster::ClusterConfig cluster;
  cluster::NodeConfig cluster_node;
};

enum class ParseResult { kOk, kHelp, kError };

// Parses `fox serve` arguments (argv after "serve"). On kError, `error` is one line naming the
// flag / file / key and the problem.
ParseResult parse_serve_args(const std::vector<std::string>& args, ServeConfig* config,
                             std::string* error);
// Applies one config-file JSON object; `file` only names the file in errors.
bool apply_config_json(const Json& doc, const std::string& file, ServeConfig* config,
                       std::string* error);
std::string serve_help();
// The safe-defaults warning (SPEC §6, mosquitto 2.0 style): one line when fox listens beyond
// loopback while some realm admits anonymous clients with full rights, else "".
std::string exposure_warning(const ServeConfig& config);

}  // namespace fox
