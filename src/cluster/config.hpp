// The cluster file (SPEC §9): every node of a masterfree cluster gets the same JSON file and runs
// the roles it gives the node it is told to be (`fox serve --cluster FILE --node NAME`, optionally
// `--role R` for the reference's one-role-per-process layout).
//
//   { "syncQuorum": 2, "storageQuorum": 2, "secret": "…", "entryTimeoutMs": 5000,
//     "nodes": { "N1": { "host": "127.0.0.1", "fox": 1735, "roles": ["entry", "ndb", "sync"],
//                        "port": 9001, "mqtt": 1884, "rawsocket": 0, "data": "./data/n1" } },
//     "tls": { "ca": "ca.pem", "cert": "{node}.pem", "key": "{node}.key" } }
//
// `tls` (optional) puts the node links on TLS (mutual: both ends present the node's certificate,
// both require the peer's to chain to `ca`, the dialer also that it names the peer's host);
// `{node}` in `cert` and `key` is replaced by the node's name, so one file serves every node.
//
// Pure: the caller reads the file (cli/config.cpp); every error is one line naming the file, the
// key and the problem.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/json.hpp"

namespace fox::cluster {

enum class Role { kEntry, kNdb, kSync };
const char* role_name(Role role);
bool parse_role(const std::string& text, Role* out);

struct NodeConfig {
  std::string name;
  std::string host;            // where the other nodes reach it (and where it listens)
  int fox = 0;                 // FOX port: node links (and FOX clients on an entry)
  std::vector<Role> roles;     // in the file's order, no duplicates
  int port = 0;                // entry: HTTP/WebSocket (0 = off)
  int mqtt = 0;                // entry: MQTT (0 = off)
  int rawsocket = 0;           // entry: WAMP RawSocket (0 = off)
  std::string data;            // ndb/sync: SQLite and raft state (required for them)
  bool has(Role role) const;
};

// The node links' TLS files (empty: plain TCP).
struct ClusterTls {
  std::string ca, cert, key;   // cert and key may hold {node}
  bool on() const { return !ca.empty(); }
  // `pattern` (cert or key) for node `name`.
  static std::string for_node(const std::string& pattern, const std::string& name);
};

struct ClusterConfig {
  std::string file;
  ClusterTls tls;
  int sync_quorum = 0;
  int storage_quorum = 0;
  std::string secret;
  std::uint64_t entry_timeout_ms = 5000;
  std::vector<NodeConfig> nodes;   // in the file's order
  const NodeConfig* find(const std::string& name) const;
  std::size_t count(Role role) const;
};

// Validates the whole file: required keys and types, unknown keys, node names, roles, ports
// (1..65535 for fox, 0..65535 for the others; no host:port used twice), data directories (one
// node each), at least one node of every role, and quorums: 1 ≤ storageQuorum ≤ ndb nodes, and
// syncQuorum a majority of the sync nodes (the sync group agrees through raft, whose quorum is
// the majority: a smaller one would not be what runs).
bool parse_cluster_config(const Json& doc, const std::string& file, ClusterConfig* out,
                          std::string* error);

// The node `name` (and, when `role` is not empty, only that one of its roles): the roles to run.
bool select_node(const ClusterConfig& config, const std::string& name, const std::string& role,
                 NodeConfig* out, std::string* error);

}  // namespace fox::cluster
