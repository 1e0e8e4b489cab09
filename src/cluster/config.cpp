#include "cluster/config.hpp"

#include <algorithm>
#include <map>
#include <set>

namespace fox::cluster {
namespace {

constexpr Role kRoles[] = {Role::kEntry, Role::kNdb, Role::kSync};

struct Reader {
  const std::string& file;
  std::string* error;

  bool fail(const std::string& key, const std::string& what) const {
    *error = "cluster " + file + (key.empty() ? std::string() : ": key \"" + key + "\"") + ": " + what;
    return false;
  }
  bool integer(const Json& v, const std::string& key, std::int64_t min, std::int64_t max,
               std::int64_t* out) const {
    if (!v.is_number_integer() || v.get<std::int64_t>() < min ||
        (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(max)) ||
        v.get<std::int64_t>() > max) {
      return fail(key, "expected an integer " + std::to_string(min) + ".." + std::to_string(max));
    }
    *out = v.get<std::int64_t>();
    return true;
  }
  bool port(const Json& v, const std::string& key, int min, int* out) const {
    std::int64_t n = 0;
    if (!integer(v, key, min, 65535, &n)) return false;
    *out = static_cast<int>(n);
    return true;
  }
  bool text(const Json& v, const std::string& key, std::string* out) const {
    if (!v.is_string() || v.get_ref<const std::string&>().empty()) {
      return fail(key, "expected a non-empty string");
    }
    *out = v.get<std::string>();
    return true;
  }
};

bool parse_tls(const Reader& r, const Json& v, ClusterTls* tls) {
  if (!v.is_object()) return r.fail("tls", "expected an object {\"ca\", \"cert\", \"key\"}");
  for (const auto& [key, value] : v.items()) {
    std::string* out = key == "ca" ? &tls->ca : key == "cert" ? &tls->cert : key == "key" ? &tls->key : nullptr;
    if (!out) return r.fail("tls." + key, "unknown key (ca, cert, key)");
    if (!r.text(value, "tls." + key, out)) return false;
  }
  for (const auto& [key, value] : {std::pair{"ca", &tls->ca}, {"cert", &tls->cert}, {"key", &tls->key}}) {
    if (value->empty()) return r.fail(std::string("tls.") + key, "missing (ca, cert and key: PEM files)");
  }
  return true;
}

bool valid_node_name(const std::string& name) {
  return !name.empty() && name.size() <= 64 &&
         std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-';
         });
}

bool parse_node(const Reader& r, const std::string& name, const Json& v, NodeConfig* node) {
  const std::string at = "nodes." + name;
  if (!valid_node_name(name)) return r.fail(at, "a node name is 1..64 of A-Z a-z 0-9 _ -");
  if (!v.is_object()) return r.fail(at, "expected an object");
  node->name = name;
  bool has_roles = false;
  for (const auto& [key, value] : v.items()) {
    const std::string k = at + "." + key;
    bool ok = true;
    if (key == "host") ok = r.text(value, k, &node->host);
    else if (key == "fox") ok = r.port(value, k, 1, &node->fox);
    else if (key == "port") ok = r.port(value, k, 0, &node->port);
    else if (key == "mqtt") ok = r.port(value, k, 0, &node->mqtt);
    else if (key == "rawsocket") ok = r.port(value, k, 0, &node->rawsocket);
    else if (key == "data") ok = r.text(value, k, &node->data);
    else if (key == "roles") {
      has_roles = true;
      if (!value.is_array() || value.empty()) return r.fail(k, "expected a list of entry, ndb, sync");
      for (const Json& role : value) {
        Role parsed;
        if (!role.is_string() || !parse_role(role.get<std::string>(), &parsed)) {
          return r.fail(k, "expected a list of entry, ndb, sync");
        }
        if (node->has(parsed)) return r.fail(k, std::string(role_name(parsed)) + " twice");
        node->roles.push_back(parsed);
      }
    } else {
      return r.fail(k, "unknown key (host, fox, roles, port, mqtt, rawsocket, data)");
    }
    if (!ok) return false;
  }
  if (node->host.empty()) return r.fail(at + ".host", "missing");
  if (node->fox == 0) return r.fail(at + ".fox", "missing (the port the other nodes connect to)");
  if (!has_roles) return r.fail(at + ".roles", "missing");
  if ((node->has(Role::kNdb) || node->has(Role::kSync)) && node->data.empty()) {
    return r.fail(at + ".data", "missing (an ndb or sync node keeps its SQLite and raft state there)");
  }
  if (!node->has(Role::kEntry) && (node->port || node->mqtt || node->rawsocket)) {
    return r.fail(at, "port, mqtt and rawsocket are for entry nodes");
  }
  return true;
}

}  // namespace

const char* role_name(Role role) {
  switch (role) {
    case Role::kEntry: return "entry";
    case Role::kNdb: return "ndb";
    case Role::kSync: return "sync";
  }
  return "?";
}

bool parse_role(const std::string& text, Role* out) {
  for (Role r : kRoles) {
    if (text == role_name(r)) {
      *out = r;
      return true;
    }
  }
  return false;
}

bool NodeConfig::has(Role role) const {
  return std::find(roles.begin(), roles.end(), role) != roles.end();
}

const NodeConfig* ClusterConfig::find(const std::string& name) const {
  for (const NodeConfig& n : nodes) {
    if (n.name == name) return &n;
  }
  return nullptr;
}

std::size_t ClusterConfig::count(Role role) const {
  return static_cast<std::size_t>(
      std::count_if(nodes.begin(), nodes.end(), [role](const NodeConfig& n) { return n.has(role); }));
}

std::string ClusterTls::for_node(const std::string& pattern, const std::string& name) {
  std::string out = pattern;
  for (std::size_t at = out.find("{node}"); at != std::string::npos; at = out.find("{node}", at + name.size())) {
    out.replace(at, 6, name);
  }
  return out;
}

bool parse_cluster_config(const Json& doc, const std::string& file, ClusterConfig* out,
                          std::string* error) {
  const Reader r{file, error};
  *out = ClusterConfig{};
  out->file = file;
  if (!doc.is_object()) return r.fail("", "expected a JSON object");
  bool has_sync = false, has_storage = false, has_nodes = false;
  for (const auto& [key, value] : doc.items()) {
    std::int64_t n = 0;
    if (key == "syncQuorum") {
      if (!r.integer(value, key, 1, 1000, &n)) return false;
      out->sync_quorum = static_cast<int>(n);
      has_sync = true;
    } else if (key == "storageQuorum") {
      if (!r.integer(value, key, 1, 1000, &n)) return false;
      out->storage_quorum = static_cast<int>(n);
      has_storage = true;
    } else if (key == "secret") {
      if (!r.text(value, key, &out->secret)) return false;
    } else if (key == "entryTimeoutMs") {
      if (!r.integer(value, key, 100, 86'400'000, &n)) return false;
      out->entry_timeout_ms = static_cast<std::uint64_t>(n);
    } else if (key == "tls") {
      if (!parse_tls(r, value, &out->tls)) return false;
    } else if (key == "nodes") {
      has_nodes = true;
      if (!value.is_object() || value.empty()) return r.fail(key, "expected an object of nodes");
      for (const auto& [name, node] : value.items()) {
        NodeConfig parsed;
        if (!parse_node(r, name, node, &parsed)) return false;
        out->nodes.push_back(std::move(parsed));
      }
    } else {
      return r.fail(key, "unknown key (syncQuorum, storageQuorum, secret, entryTimeoutMs, nodes, tls)");
    }
  }
  if (!has_sync) return r.fail("syncQuorum", "missing");
  if (!has_storage) return r.fail("storageQuorum", "missing");
  if (out->secret.empty()) return r.fail("secret", "missing (the node links authenticate with it)");
  if (!has_nodes) return r.fail("nodes", "missing");

  // One listener per host:port, one node per data directory.
  std::map<std::string, std::string> ports;   // "host:port" → "nodes.N.key"
  std::map<std::string, std::string> dirs;
  for (const NodeConfig& n : out->nodes) {
    const std::pair<const char*, int> listeners[] = {
        {"fox", n.fox}, {"port", n.port}, {"mqtt", n.mqtt}, {"rawsocket", n.rawsocket}};
    for (const auto& [key, port] : listeners) {
      if (port == 0) continue;
      const std::string where = "nodes." + n.name + "." + key;
      auto [it, fresh] = ports.emplace(n.host + ":" + std::to_string(port), where);
      if (!fresh) return r.fail(where, "port " + std::to_string(port) + " is also " + it->second);
    }
    if (n.data.empty()) continue;
    auto [it, fresh] = dirs.emplace(n.data, n.name);
    if (!fresh) return r.fail("nodes." + n.name + ".data", "also the data of node " + it->second);
  }
  for (Role role : kRoles) {
    if (out->count(role) == 0) {
      return r.fail("nodes", std::string("no node has the role ") + role_name(role));
    }
  }
  const auto syncs = static_cast<int>(out->count(Role::kSync));
  const auto ndbs = static_cast<int>(out->count(Role::kNdb));
  if (out->sync_quorum > syncs) {
    return r.fail("syncQuorum", std::to_string(out->sync_quorum) + " is more than the " +
                                    std::to_string(syncs) + " sync nodes");
  }
  if (out->sync_quorum != syncs / 2 + 1) {
    return r.fail("syncQuorum", "must be " + std::to_string(syncs / 2 + 1) + ", the majority of the " +
                                    std::to_string(syncs) + " sync nodes (raft's quorum)");
  }
  if (out->storage_quorum > ndbs) {
    return r.fail("storageQuorum", std::to_string(out->storage_quorum) + " is more than the " +
                                       std::to_string(ndbs) + " ndb nodes");
  }
  return true;
}

bool select_node(const ClusterConfig& config, const std::string& name, const std::string& role,
                 NodeConfig* out, std::string* error) {
  const NodeConfig* node = config.find(name);
  if (!node) {
    std::string names;
    for (const NodeConfig& n : config.nodes) names += (names.empty() ? "" : ", ") + n.name;
    *error = "cluster " + config.file + ": no node " + name + " (nodes: " + names + ")";
    return false;
  }
  *out = *node;
  if (role.empty()) return true;
  Role r;
  if (!parse_role(role, &r)) {
    *error = "flag --role " + role + ": expected entry, ndb or sync";
    return false;
  }
  if (!node->has(r)) {
    *error = "cluster " + config.file + ": node " + name + " has no role " + role;
    return false;
  }
  out->roles = {r};
  return true;
}

}  // namespace fox::cluster
