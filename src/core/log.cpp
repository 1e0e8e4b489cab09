#include "core/log.hpp"

#include <cstdio>
#include <string>

namespace fox::log {
namespace {
Level g_level = Level::kInfo;
constexpr const char* kNames[] = {"debug", "info", "warn", "error"};
}  // namespace

void set_level(Level level) { g_level = level; }
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

void write(Level lvl, std::string_view component, std::string_view message) {
  // One fwrite per line so lines of concurrent writers (supervisord pipes) never interleave.
  std::string line;
  line.reserve(component.size() + message.size() + 16);
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
