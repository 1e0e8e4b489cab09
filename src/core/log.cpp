#include "core/log.hpp"

#include <sys/time.h>

#include <cstdio>
#include <ctime>
#include <string>

#include <nlohmann/json.hpp>

namespace fox::log {
namespace {
Level g_level = Level::kInfo;
Format g_format = Format::kText;
constexpr const char* kNames[] = {"debug", "info", "warn", "error"};
}  // namespace

void set_level(Level level) { g_level = level; }
void set_format(Format format) { g_format = format; }
Level level() { return g_level; }

bool parse_level(std::string_view text, Level* out) {
  for (int i = 0; i < 4; ++i) {
    if (text == kNames[i]) {
      *out = static_cast<Level>(i);
      return true;
    }
  }
  return false;
}

namespace {

// "2026-12-04T03:25:01.123Z"
void append_time(std::string& out) {
  timeval tv{};
  gettimeofday(&tv, nullptr);
  std::tm tm{};
  const std::time_t secs = tv.tv_sec;
  gmtime_r(&secs, &tm);
  char buf[32];
  const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  out.append(buf, n);
  std::snprintf(buf, sizeof buf, ".%03dZ", static_cast<int>(tv.tv_usec / 1000));
  out += buf;
}

// A JSON string of `text` (bytes that are not UTF-8 become U+FFFD).
void append_json_string(std::string& out, std::string_view text) {
  out += nlohmann::json(std::string(text)).dump(-1, ' ', false,
                                                nlohmann::json::error_handler_t::replace);
}

}  // namespace

void write(Level lvl, std::string_view component, std::string_view message) {
  // One fwrite per line so lines of concurrent writers (supervisord pipes) never interleave.
  std::string line;
  line.reserve(component.size() + message.size() + 48);
  if (g_format == Format::kJson) {
    line += "{\"time\":\"";
    append_time(line);
    line += "\",\"level\":\"";
    line += kNames[static_cast<int>(lvl)];
    line += "\",\"component\":";
    append_json_string(line, component);
    line += ",\"message\":";
    append_json_string(line, message);
    line += "}\n";
    std::fwrite(line.data(), 1, line.size(), stderr);
    return;
  }
  append_time(line);
  line += ' ';
  line += kNames[static_cast<int>(lvl)];
  line += ' ';
  line += component;
  line += ": ";
  // One event, one line: a control byte from a peer (a newline in a topic, say) cannot forge
  // another line; it is written as \xHH.
  for (char c : message) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u != 0x7f) {
      line += c;
      continue;
    }
    static const char kHex[] = "0123456789abcdef";
    line += "\\x";
    line += kHex[u >> 4];
    line += kHex[u & 15];
  }
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace fox::log
