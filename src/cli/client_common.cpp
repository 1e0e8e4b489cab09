#include "cli/client_common.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "core/log.hpp"
#include "wamp/codec.hpp"

namespace fox::cli {

const char kCommonHelp[] =
    "common flags:\n"
    "  --url URL       WAMP router WebSocket URL (default ws://127.0.0.1:9000/wamp; wss:// for\n"
    "                  TLS)\n"
    "  --cafile FILE   with wss:// or --mqtt-tls: the CA certificates (PEM) the server's\n"
    "                  certificate must chain to (default /etc/ssl/certs/ca-certificates.crt)\n"
    "  --realm REALM   realm (default realm1; with --mqtt: the broker's default realm)\n"
    "  --mqtt-tls      with --mqtt: MQTT over TLS (mqtts; the port then defaults to 8883)\n"
    "  --fox HOST[:PORT]  speak FOX (fox-wamp's protocol) to HOST instead of WAMP (port default\n"
    "                  1735); pub, sub, call and register\n"
    "  -h, --help      this help\n"
    "exit codes: 0 ok, 1 runtime failure (error URI and message on stderr), 2 bad usage\n";

bool parse_flags(const std::vector<std::string>& args, const std::vector<FlagSpec>& specs,
                 ParsedArgs* out, std::string* error) {
  std::vector<FlagSpec> all = specs;
  all.push_back({"--url", true});
  all.push_back({"--realm", true});
  all.push_back({"--mqtt", true});
  all.push_back({"--fox", true});
  all.push_back({"--cafile", true});
  all.push_back({"--mqtt-tls", false});
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      out->help = true;
      continue;
    }
    if (a.size() < 3 || a.compare(0, 2, "--") != 0) {
      out->positional.push_back(a);
      continue;
    }
    std::string name = a;
    std::string value;
    bool inline_value = false;
    auto eq = a.find('=');
    if (eq != std::string::npos) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
      inline_value = true;
    }
    const FlagSpec* spec = nullptr;
    for (const auto& s : all) {
      if (s.name == name) spec = &s;
    }
    if (!spec) {
      *error = "unknown flag " + name;
      return false;
    }
    if (spec->takes_value && !inline_value) {
      if (i + 1 >= args.size()) {
        *error = name + " needs a value";
        return false;
      }
      value = args[++i];
    } else if (!spec->takes_value && inline_value) {
      *error = name + " takes no value";
      return false;
    }
    out->present.insert(name);
    if (spec->takes_value) out->values[name] = value;
    if (name == "--url") out->url = value;
    if (name == "--realm") out->realm = value;
    if (name == "--mqtt") out->mqtt = value;
    if (name == "--fox") out->fox = value;
  }
  if (out->has("--fox") && out->has("--mqtt")) {
    *error = "--fox and --mqtt exclude each other";
    return false;
  }
  if (out->has("--fox") && out->has("--url")) {
    *error = "--fox and --url exclude each other";
    return false;
  }
  if (out->has("--mqtt-tls") && !out->has("--mqtt")) {
    *error = "--mqtt-tls is for --mqtt (WAMP over TLS: a wss:// --url)";
    return false;
  }
  if (out->has("--cafile") && !out->has("--mqtt-tls") && out->url.rfind("wss://", 0) != 0) {
    *error = "--cafile needs a wss:// --url or --mqtt with --mqtt-tls";
    return false;
  }
  if (out->realm.empty()) {
    *error = "--realm must not be empty";
    return false;
  }
  return true;
}

bool parse_host_port(const std::string& text, std::string* host, int* port, std::string* error) {
  std::string h;
  std::string p;
  if (!text.empty() && text[0] == '[') {
    auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      *error = "'" + text + "' is not HOST:PORT";
      return false;
    }
    h = text.substr(1, close - 1);
    p = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string::npos) {
      *error = "'" + text + "' is not HOST:PORT";
      return false;
    }
    h = text.substr(0, colon);
    p = text.substr(colon + 1);
  }
  long long n = 0;
  if (h.empty() || !parse_count(p, 1, 65535, &n)) {
    *error = "'" + text + "' is not HOST:PORT (port 1..65535)";
    return false;
  }
  *host = h;
  *port = static_cast<int>(n);
  return true;
}

bool parse_mqtt_address(const std::string& text, std::string* host, int* port, std::string* error,
                        int default_port) {
  if (text.empty()) {
    *error = "expected HOST or HOST:PORT, got ''";
    return false;
  }
  // No port given: "host", "[v6]", or a bare "v6::addr" (two colons or more cannot be HOST:PORT).
  bool bracketed = text.front() == '[' && text.back() == ']' && text.size() > 2;
  auto colons = std::count(text.begin(), text.end(), ':');
  if (bracketed || (text.front() != '[' && colons != 1)) {
    *host = bracketed ? text.substr(1, text.size() - 2) : text;
    *port = default_port;
    return true;
  }
  return parse_host_port(text, host, port, error);
}

bool parse_ws_url(const std::string& text, WsUrl* out, std::string* error) {
  out->text = text;
  out->tls = text.rfind("wss://", 0) == 0;
  if (!out->tls && text.rfind("ws://", 0) != 0) {
    *error = "--url must be ws://HOST[:PORT][/PATH] or wss://HOST[:PORT][/PATH], got '" + text + "'";
    return false;
  }
  std::string rest = text.substr(out->tls ? 6 : 5);
  auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  out->path = slash == std::string::npos ? "/" : rest.substr(slash);
  if (authority.empty()) {
    *error = "--url has no host: '" + text + "'";
    return false;
  }
  bool has_port = authority.back() != ']' && authority.find(':') != std::string::npos;
  if (has_port) {
    std::string e;
    if (!parse_host_port(authority, &out->host, &out->port, &e)) {
      *error = "--url: " + e;
      return false;
    }
  } else {
    out->host = authority;
    if (out->host.front() == '[') out->host = out->host.substr(1, out->host.size() - 2);
    out->port = out->tls ? 443 : 80;
  }
  return true;
}

Json parse_json_arg(const std::string& text) {
  Json v = Json::parse(text, nullptr, false);
  if (v.is_discarded()) return Json(text);
  return v;
}

bool parse_json_strict(const std::string& text, Json* out) {
  Json v = Json::parse(text, nullptr, false);
  if (v.is_discarded()) return false;
  *out = std::move(v);
  return true;
}

bool parse_count(const std::string& text, long long min, long long max, long long* out) {
  if (text.empty() || text.size() > 18) return false;
  long long n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + (c - '0');
  }
  if (n < min || n > max) return false;
  *out = n;
  return true;
}

bool parse_seconds(const std::string& text, std::uint64_t* ms) {
  if (text.empty() || text.size() > 12) return false;
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (!end || *end != '\0' || !(v >= 0) || v > 86400.0 * 365) return false;
  *ms = static_cast<std::uint64_t>(v * 1000.0 + 0.5);
  return true;
}

bool json_true(const Json& object, const char* key) {
  if (!object.is_object()) return false;
  auto it = object.find(key);
  return it != object.end() && it->is_boolean() && it->get<bool>();
}

std::string dump_json(const Json& value) {
  return wamp::to_json_binary(value).dump(-1, ' ', false, Json::error_handler_t::replace);
}

void print_line(const std::string& line) {
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

std::string utc_timestamp() {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

std::string host_name() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

ClientLoop::ClientLoop() {
  std::signal(SIGPIPE, SIG_IGN);
  log::set_level(log::Level::kWarn);
  uv_loop_init(&loop_);
  env_ = std::make_unique<net::UvEnv>(&loop_);
  for (uv_signal_t* h : {&sigint_, &sigterm_}) {
    uv_signal_init(&loop_, h);
    h->data = this;
    uv_signal_start(h, [](uv_signal_t* s, int sig) {
      auto* self = static_cast<ClientLoop*>(s->data);
      if (++self->signals_ > 1 || !self->signal_fn_) {
        // A second signal (or no handler): stop now, with whatever was decided so far.
        if (self->signals_ > 1) {
          std::fflush(stdout);
          std::_Exit(self->finishing_ ? self->code_ : 0);
        }
        self->finish(0);
        return;
      }
      self->signal_fn_(sig);
    }, h == &sigint_ ? SIGINT : SIGTERM);
  }
  uv_timer_init(&loop_, &finish_timer_);
  finish_timer_.data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(&finish_timer_));
}

ClientLoop::~ClientLoop() {
  env_.reset();
  // Everything is closed when run() returned normally; after a usage error run() never ran, so
  // the loop's own handles are closed here (else uv_loop_close fails and its memory stays). After
  // the safety stop something else may still be open, and the process is about to exit anyway.
  for (uv_handle_t* h : {reinterpret_cast<uv_handle_t*>(&sigint_),
                         reinterpret_cast<uv_handle_t*>(&sigterm_),
                         reinterpret_cast<uv_handle_t*>(&finish_timer_)}) {
    if (!uv_is_closing(h)) uv_close(h, nullptr);
  }
  uv_run(&loop_, UV_RUN_NOWAIT);
  uv_loop_close(&loop_);
}

void ClientLoop::finish(int code) {
  if (finishing_) return;
  finishing_ = true;
  code_ = code;
  uv_ref(reinterpret_cast<uv_handle_t*>(&finish_timer_));
  uv_timer_start(&finish_timer_, [](uv_timer_t* t) { static_cast<ClientLoop*>(t->data)->teardown(); },
                 0, 0);
}

void ClientLoop::teardown() {
  auto fns = std::move(shutdown_fns_);
  for (auto& fn : fns) fn();
  env_->cancel_all();
  for (uv_handle_t* h : {reinterpret_cast<uv_handle_t*>(&sigint_),
                         reinterpret_cast<uv_handle_t*>(&sigterm_),
                         reinterpret_cast<uv_handle_t*>(&finish_timer_)}) {
    if (!uv_is_closing(h)) uv_close(h, nullptr);
  }
  // Whatever still holds the loop after 1.5 s (a stuck close) is abandoned.
  uv_timer_init(&loop_, &safety_timer_);
  uv_timer_start(&safety_timer_, [](uv_timer_t* t) { uv_stop(t->loop); }, 1500, 0);
  uv_unref(reinterpret_cast<uv_handle_t*>(&safety_timer_));
}

int ClientLoop::run() {
  uv_run(&loop_, UV_RUN_DEFAULT);
  if (!finishing_) {
    // The loop ran dry without a decision (every client closed): treat it as done.
    finish(code_);
    uv_run(&loop_, UV_RUN_DEFAULT);
  }
  if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&safety_timer_)) && safety_timer_.loop) {
    uv_close(reinterpret_cast<uv_handle_t*>(&safety_timer_), nullptr);
    uv_run(&loop_, UV_RUN_NOWAIT);
  }
  std::fflush(stdout);
  return code_;
}

}  // namespace fox::cli
