#include "cli/config.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <map>

#include "core/log.hpp"

namespace fox {
namespace {

constexpr std::size_t kMaxConfigBytes = 1u << 20;

// The whole file; false with *why when it cannot be read or is over kMaxConfigBytes.
bool read_config_file(const std::string& path, std::string* out, std::string* why) {
  std::FILE* f = std::fopen(path.c_str(), "re");
  if (!f) {
    *why = "cannot be read";
    return false;
  }
  char buf[4096];
  std::size_t n = 0;
  while (out->size() <= kMaxConfigBytes && (n = std::fread(buf, 1, sizeof buf, f)) > 0) {
    out->append(buf, n);
  }
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) *why = "cannot be read";
  else if (out->size() > kMaxConfigBytes) *why = "is larger than 1 MiB";
  return why->empty();
}

bool parse_port(const std::string& text, int* out) {
  int v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < 0 || v > 65535) return false;
  *out = v;
  return true;
}

bool valid_bind(const std::string& addr) {
  unsigned char buf[16];
  return inet_pton(AF_INET, addr.c_str(), buf) == 1 || inet_pton(AF_INET6, addr.c_str(), buf) == 1;
}

bool valid_realm_name(const std::string& name) {
  if (name.empty()) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

// "line L, column C" (1-based; the column counts bytes) of parse_error::byte in `text`: the
// number of bytes read when the parser gave up, so the last one is the end of the offending
// token (one past the end of the text for an early end of input).
std::string line_column(const std::string& text, std::size_t byte) {
  std::size_t at = std::min(byte == 0 ? 0 : byte - 1, text.size());
  std::size_t line = 1;
  std::size_t line_start = 0;
  for (std::size_t i = 0; i < at; ++i) {
    if (text[i] != '\n') continue;
    ++line;
    line_start = i + 1;
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(at - line_start + 1);
}

// The reason in a parse_error's what(), without nlohmann's "[json.exception.parse_error.101]
// parse error at line L, column C: " prefix (we print our own position).
std::string parse_error_reason(const std::string& what) {
  auto p = what.find("parse error");
  if (p == std::string::npos) return what;
  auto colon = what.find(": ", p);
  return colon == std::string::npos ? what : what.substr(colon + 2);
}

// Parses the config file text; false with "config FILE: line L, column C: reason" on a syntax
// error. nlohmann reports the position only through its exception, caught right here.
bool parse_config_text(const std::string& text, const std::string& file, Json* out,
                       std::string* error, const char* kind = "config") {
  try {
    *out = Json::parse(text, nullptr, /*allow_exceptions=*/true, /*ignore_comments=*/true);
    return true;
  } catch (const Json::parse_error& e) {
    *error = std::string(kind) + " " + file + ": not valid JSON at " + line_column(text, e.byte) +
             ": " + parse_error_reason(e.what());
  } catch (const std::exception& e) {
    *error = std::string(kind) + " " + file + ": not valid JSON: " + e.what();
  }
  return false;
}

std::string key_error(const std::string& file, const std::string& key, const std::string& what) {
  return "config " + file + ": key \"" + key + "\": " + what;
}

bool get_port(const Json& v, const std::string& file, const std::string& key, int* out,
              std::string* error) {
  if (!v.is_number_integer() || v.get<std::int64_t>() < 0 || v.get<std::int64_t>() > 65535) {
    *error = key_error(file, key, "expected an integer port 0..65535");
    return false;
  }
  *out = static_cast<int>(v.get<std::int64_t>());
  return true;
}

bool get_string(const Json& v, const std::string& file, const std::string& key, std::string* out,
                std::string* error) {
  if (!v.is_string()) {
    *error = key_error(file, key, "expected a string");
    return false;
  }
  *out = v.get<std::string>();
  return true;
}

bool apply_limits(const Json& v, const std::string& file, Limits* limits, std::string* error) {
  if (!v.is_object()) {
    *error = key_error(file, "limits", "expected an object");
    return false;
  }
  const std::map<std::string, std::uint64_t*> fields = {
      {"max_message_size", &limits->max_message_size},
      {"max_connections", &limits->max_connections},
      {"max_connections_per_ip", &limits->max_connections_per_ip},
      {"session_queue", &limits->session_queue},
      {"session_queue_bytes", &limits->session_queue_bytes},
      {"handshake_timeout", &limits->handshake_timeout_ms},
      {"history_max_rows", &limits->history_max_rows},
      {"history_max_age", &limits->history_max_age_s},
      {"login_failures", &limits->login_failures},
      {"login_block", &limits->login_block_ms},
  };
  for (const auto& [key, value] : v.items()) {
    auto it = fields.find(key);
    if (it == fields.end()) {
      *error = key_error(file, "limits." + key, "unknown key");
      return false;
    }
    bool positive = value.is_number_unsigned() ||
                    (value.is_number_integer() && value.get<std::int64_t>() > 0);
    if (!positive || value.get<std::uint64_t>() == 0) {
      *error = key_error(file, "limits." + key, "expected a positive integer");
      return false;
    }
    std::uint64_t n = value.get<std::uint64_t>();
    // handshake_timeout and login_block are given in seconds in the file, like every other
    // duration there.
    if (key == "handshake_timeout" || key == "login_block") {
      if (n > 86400) {
        *error = key_error(file, "limits." + key, "at most 86400 (s)");
        return false;
      }
      n *= 1000;
    }
    if (key == "history_max_rows") limits->history_max_rows_set = true;
    *it->second = n;
  }
  if (limits->max_message_size > 256u * 1024 * 1024) {
    *error = key_error(file, "limits.max_message_size", "at most 268435456 (256 MiB)");
    return false;
  }
  if (limits->session_queue > 100000000) {
    *error = key_error(file, "limits.session_queue", "at most 100000000 messages");
    return false;
  }
  if (limits->session_queue_bytes > (std::uint64_t{1} << 40)) {
    *error = key_error(file, "limits.session_queue_bytes", "at most 1099511627776 (1 TiB)");
    return false;
  }
  return true;
}

bool apply_realms(const Json& v, const std::string& file, ServeConfig* config, std::string* error) {
  if (!v.is_object()) {
    *error = key_error(file, "realms", "expected an object of realm name -> settings");
    return false;
  }
  config->realms.clear();
  config->auth.realms.clear();
  for (const auto& [name, settings] : v.items()) {
    if (name != "*" && !valid_realm_name(name)) {
      *error = key_error(file, "realms." + name, "realm names are [a-z0-9_.]+ (or \"*\")");
      return false;
    }
    if (!settings.is_object()) {
      *error = key_error(file, "realms." + name, "expected an object");
      return false;
    }
    auth::RealmPolicy policy;
    std::string key, why;
    if (!auth::parse_realm_policy(settings, &policy, &key, &why)) {
      *error = key_error(file, "realms." + name + (key.empty() ? "" : "." + key), why);
      return false;
    }
    if (policy.secured) config->auth.realms[name] = std::move(policy);
    config->realms.push_back(name);
  }
  return true;
}

}  // namespace

bool apply_config_json(const Json& doc, const std::string& file, ServeConfig* c,
                       std::string* error) {
  if (!doc.is_object()) {
    *error = "config " + file + ": expected one JSON object";
    return false;
  }
  for (const auto& [key, v] : doc.items()) {
    bool ok = true;
    if (key == "bind") {
      ok = get_string(v, file, key, &c->bind, error);
      if (ok && !valid_bind(c->bind)) {
        *error = key_error(file, key, "expected a numeric IPv4 or IPv6 address");
        ok = false;
      }
    } else if (key == "port") {
      ok = get_port(v, file, key, &c->port, error);
    } else if (key == "mqtt_port") {
      ok = get_port(v, file, key, &c->mqtt_port, error);
    } else if (key == "rawsocket_port") {
      ok = get_port(v, file, key, &c->rawsocket_port, error);
    } else if (key == "fox_port") {
      ok = get_port(v, file, key, &c->fox_port, error);
    } else if (key == "tls_port") {
      ok = get_port(v, file, key, &c->tls_port, error);
    } else if (key == "mqtts_port") {
      ok = get_port(v, file, key, &c->mqtts_port, error);
    } else if (key == "rawsocket_tls_port") {
      ok = get_port(v, file, key, &c->rawsocket_tls_port, error);
    } else if (key == "tls_cert" || key == "tls_key") {
      ok = get_string(v, file, key, key == "tls_cert" ? &c->tls_cert : &c->tls_key, error);
    } else if (key == "data") {
      ok = get_string(v, file, key, &c->data, error);
    } else if (key == "memory") {
      if (!v.is_boolean()) {
        *error = key_error(file, key, "expected true or false");
        ok = false;
      } else {
        c->memory = v.get<bool>();
      }
    } else if (key == "sync") {
      ok = get_string(v, file, key, &c->sync, error);
      if (ok && c->sync != "normal" && c->sync != "full") {
        *error = key_error(file, key, "expected \"normal\" or \"full\"");
        ok = false;
      }
    } else if (key == "log_level") {
      log::Level level;
      ok = get_string(v, file, key, &c->log_level, error);
      if (ok && !log::parse_level(c->log_level, &level)) {
        *error = key_error(file, key, "expected debug, info, warn or error");
        ok = false;
      }
    } else if (key == "log_format") {
      ok = get_string(v, file, key, &c->log_format, error);
      if (ok && c->log_format != "text" && c->log_format != "json") {
        *error = key_error(file, key, "expected \"text\" or \"json\"");
        ok = false;
      }
    } else if (key == "sys_interval") {
      if (!v.is_number_integer() || v.get<std::int64_t>() < 0 || v.get<std::int64_t>() > 86400) {
        *error = key_error(file, key, "expected seconds 0..86400 (0 = off)");
        ok = false;
      } else {
        c->sys_interval = static_cast<int>(v.get<std::int64_t>());
      }
    } else if (key == "mqtt_default_realm") {
      ok = get_string(v, file, key, &c->mqtt_default_realm, error);
      if (ok && !valid_realm_name(c->mqtt_default_realm)) {
        *error = key_error(file, key, "realm names are [a-z0-9_.]+");
        ok = false;
      }
    } else if (key == "limits") {
      ok = apply_limits(v, file, &c->limits, error);
    } else if (key == "realms") {
      ok = apply_realms(v, file, c, error);
    } else {
      *error = key_error(file, key, "unknown key");
      ok = false;
    }
    if (!ok) return false;
  }
  return true;
}

// --cluster FILE --node NAME [--role R]: the node's listeners and data directory come from the
// file, so the flags that set them are refused next to it.
static bool load_cluster(const std::vector<std::pair<std::string, std::string>>& flags,
                         ServeConfig* config, std::string* error) {
  if (config->cluster_file.empty()) {
    *error = "flag " + std::string(config->node.empty() ? "--role" : "--node") + " needs --cluster FILE";
    return false;
  }
  if (config->node.empty()) {
    *error = "flag --cluster needs --node NAME (the node of the cluster file this process is)";
    return false;
  }
  for (const auto& [flag, value] : flags) {
    for (const char* f : {"--port", "--mqtt-port", "--rawsocket-port", "--fox-port", "--data", "--memory"}) {
      if (flag == f) {
        *error = "flag " + flag + ": with --cluster the node's ports and data come from " +
                 config->cluster_file;
        return false;
      }
    }
  }
  std::string text, why;
  if (!read_config_file(config->cluster_file, &text, &why)) {
    *error = "cluster " + config->cluster_file + ": " + why;
    return false;
  }
  Json doc;
  if (!parse_config_text(text, config->cluster_file, &doc, error, "cluster")) return false;
  if (!cluster::parse_cluster_config(doc, config->cluster_file, &config->cluster, error)) {
    return false;
  }
  return cluster::select_node(config->cluster, config->node, config->role, &config->cluster_node,
                              error);
}

ParseResult parse_serve_args(const std::vector<std::string>& args, ServeConfig* config,
                             std::string* error) {
  // Flags win over the config file: collect them first, read the file, then apply them.
  std::vector<std::pair<std::string, std::string>> flags;
  const std::map<std::string, bool> known = {
      // flag -> takes a value
      {"--bind", true},        {"--port", true},    {"--mqtt-port", true},
      {"--rawsocket-port", true}, {"--fox-port", true}, {"--data", true},
      {"--memory", false},     {"--log-level", true}, {"--config", true},
      {"--log-format", true},  {"--sys-interval", true},
      {"--sync", true},        {"--tls-cert", true}, {"--tls-key", true}, {"--tls-port", true},
      {"--mqtts-port", true},  {"--rawsocket-tls-port", true},
      {"--cluster", true},     {"--node", true},    {"--role", true},
  };
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i], value;
    if (flag == "-h" || flag == "--help") return ParseResult::kHelp;
    auto eq = flag.find('=');
    bool inline_value = flag.rfind("--", 0) == 0 && eq != std::string::npos;
    if (inline_value) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
    }
    auto it = known.find(flag);
    if (it == known.end()) {
      *error = "unknown flag " + flag + " (see fox serve --help)";
      return ParseResult::kError;
    }
    if (it->second && !inline_value) {
      if (i + 1 >= args.size()) {
        *error = "flag " + flag + " needs a value";
        return ParseResult::kError;
      }
      value = args[++i];
    } else if (!it->second && inline_value) {
      *error = "flag " + flag + " takes no value";
      return ParseResult::kError;
    }
    if (flag == "--config") {
      config->config_file = value;
    } else {
      flags.emplace_back(flag, value);
    }
  }

  if (!config->config_file.empty()) {
    std::string text, why;
    if (!read_config_file(config->config_file, &text, &why)) {
      *error = "config " + config->config_file + ": " + why;
      return ParseResult::kError;
    }
    Json doc;
    if (!parse_config_text(text, config->config_file, &doc, error)) {
      return ParseResult::kError;
    }
    if (!apply_config_json(doc, config->config_file, config, error)) return ParseResult::kError;
  }

  for (const auto& [flag, value] : flags) {
    auto bad = [&](const std::string& what) {
      *error = "flag " + flag + " " + (value.empty() ? std::string("''") : value) + ": " + what;
      return ParseResult::kError;
    };
    if (flag == "--bind") {
      if (!valid_bind(value)) return bad("expected a numeric IPv4 or IPv6 address");
      config->bind = value;
    } else if (flag == "--port" || flag == "--mqtt-port" || flag == "--rawsocket-port" ||
               flag == "--fox-port") {
      int port = 0;
      if (!parse_port(value, &port)) return bad("expected a port 0..65535");
      if (flag == "--port") config->port = port;
      if (flag == "--mqtt-port") config->mqtt_port = port;
      if (flag == "--rawsocket-port") config->rawsocket_port = port;
      if (flag == "--fox-port") config->fox_port = port;
    } else if (flag == "--tls-port" || flag == "--mqtts-port" || flag == "--rawsocket-tls-port") {
      int port = 0;
      if (!parse_port(value, &port)) return bad("expected a port 0..65535");
      (flag == "--tls-port" ? config->tls_port
                            : flag == "--mqtts-port" ? config->mqtts_port : config->rawsocket_tls_port) = port;
    } else if (flag == "--tls-cert" || flag == "--tls-key") {
      if (value.empty()) return bad("expected a PEM file");
      (flag == "--tls-cert" ? config->tls_cert : config->tls_key) = value;
    } else if (flag == "--data") {
      if (value.empty()) return bad("expected a directory");
      config->data = value;
    } else if (flag == "--memory") {
      config->memory = true;
    } else if (flag == "--sync") {
      if (value != "normal" && value != "full") return bad("expected normal or full");
      config->sync = value;
    } else if (flag == "--log-level") {
      log::Level level;
      if (!log::parse_level(value, &level)) return bad("expected debug, info, warn or error");
      config->log_level = value;
    } else if (flag == "--log-format") {
      if (value != "text" && value != "json") return bad("expected text or json");
      config->log_format = value;
    } else if (flag == "--sys-interval") {
      int seconds = 0;
      auto r = std::from_chars(value.data(), value.data() + value.size(), seconds);
      if (r.ec != std::errc() || r.ptr != value.data() + value.size() || seconds < 0 ||
          seconds > 86400) {
        return bad("expected seconds 0..86400 (0 = off)");
      }
      config->sys_interval = seconds;
    } else if (flag == "--cluster" || flag == "--node" || flag == "--role") {
      if (value.empty()) return bad("expected a value");
      (flag == "--cluster" ? config->cluster_file : flag == "--node" ? config->node : config->role) = value;
    }
  }
  if (!config->cluster_file.empty() || !config->node.empty() || !config->role.empty()) {
    if (!load_cluster(flags, config, error)) return ParseResult::kError;
  }
  if (config->port == 0 && (config->tls_cert.empty() || config->tls_port == 0)) {
    *error = "flag --port 0: the plain HTTP/WebSocket listener can be off only while TLS serves "
             "the same endpoints (--tls-cert, --tls-key, --tls-port)";
    return ParseResult::kError;
  }
  if (config->tls_cert.empty() != config->tls_key.empty()) {
    *error = std::string(config->tls_cert.empty() ? "--tls-key" : "--tls-cert") +
             " needs " + (config->tls_cert.empty() ? "--tls-cert" : "--tls-key") +
             " (a certificate and its private key, PEM)";
    return ParseResult::kError;
  }
  return ParseResult::kOk;
}

namespace {

bool loopback(const std::string& bind) {
  return bind.rfind("127.", 0) == 0 || bind == "::1" || bind == "localhost";
}

// Anonymous clients of this realm may publish, subscribe, call and register anything (a rule
// `#` allowing all four, or no permissions at all).
bool anonymous_full_rights(const auth::RealmPolicy* policy) {
  if (!policy) return true;   // an open realm
  if (!policy->anonymous_allowed) return false;
  if (!policy->has_permissions) return true;
  const TopicParts everything{std::string(kAnyParts)};
  for (auth::Action a : {auth::kPublish, auth::kSubscribe, auth::kCall, auth::kRegister}) {
    if (!policy->allows(policy->anonymous_role, everything, a)) return false;
  }
  return true;
}

}  // namespace

std::string exposure_warning(const ServeConfig& config) {
  if (loopback(config.bind)) return "";
  std::string realms;
  if (config.realms.empty()) {
    realms = "every realm";
  } else {
    for (const std::string& name : config.realms) {
      if (!anonymous_full_rights(config.auth.find(name))) continue;
      realms += (realms.empty() ? "realm " : ", ") +
                (name == "*" ? std::string("any unlisted realm (\"*\")") : name);
    }
  }
  if (realms.empty()) return "";
  return "listening on " + config.bind + " (beyond loopback) while " + realms +
         " admits anonymous clients with full rights: anyone who can reach this host may "
         "publish, subscribe, call and register; bind 127.0.0.1 (--bind) or give the realms users "
         "and permissions (README: Users and permissions)";
}

std::string serve_help() {
  return R"(usage: fox serve [flags]

Runs the broker. With no flags: a single node on the embedded defaults.

  --bind ADDR            listen address, numeric IPv4/IPv6 (default 0.0.0.0)
  --port N               HTTP + WebSocket: /wamp (WAMP: wamp.2.json, wamp.2.msgpack,
                         wamp.2.cbor), /mqtt (MQTT), /metrics, / (dashboard) (default 9000)
  --rawsocket-port N     WAMP RawSocket over TCP: json, msgpack, cbor (default 8081, 0 = off)
  --mqtt-port N          MQTT 3.1.1/3.1 over TCP (default 1883, 0 = off); MQTT over
                         WebSocket is served at /mqtt on --port
  --fox-port N           FOX (fox-wamp's hyper protocol: MessagePack maps over TCP; also over
                         WebSocket at /fox on --port) (default 1735, 0 = off)
  --data DIR             data directory (default ./fox-data, created): the SQLite database
                         DIR/fox.db keeps event history, retained values, wills and MQTT
                         persistent sessions across restarts
  --memory               no persistence: everything in memory, --data is not used
  --sync normal|full     SQLite durability (default normal: an acknowledged publication
                         survives a crash of fox; full: also a power loss, slower)
  --log-level LEVEL      debug | info | warn | error (default info)
  --log-format FORMAT    text (default: "time level component: message") or json (one object
                         per line: time, level, component, message; for journald and shippers)
  --sys-interval N       seconds between the broker's figures on $SYS/broker/... (MQTT) and
                         fox.stats (WAMP), retained (default 10, 0 = off)
  --config FILE          JSON config: the flags as keys (bind, port, mqtt_port, rawsocket_port,
                         fox_port, data, memory, sync, log_level, log_format,
                         sys_interval) plus mqtt_default_realm,
                         limits (history_max_rows, history_max_age seconds, ...) and realms
                         (each with anonymous, users, permissions: SPEC §6, README "Users and
                         permissions"); flags win over the file
  --tls-cert FILE --tls-key FILE
                         TLS (1.2 at least): wss:// and https:// on --tls-port; a certificate
                         chain and its RSA or EC private key, PEM (a bad one: exit 2 naming it)
  --tls-port N           the TLS WebSocket/HTTP port (default 9443, 0 = off)
  --mqtts-port N         MQTT over TLS (default 8883 with --tls-cert, 0 = off)
  --rawsocket-tls-port N WAMP RawSocket over TLS (default 0 = off)
  --cluster FILE --node NAME [--role entry|ndb|sync]
                         cluster mode: run NAME's roles from the cluster file (its ports and
                         data; validated at start, exit 2 naming file and key)

Exit codes: 0 ok, 1 runtime failure, 2 bad usage or config.
)";
}

}  // namespace fox
