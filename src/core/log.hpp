// Logging: one line per event to stderr, "LEVEL component: message". Cheap when filtered out.
#pragma once
#include <sstream>
#include <string>
#include <string_view>

namespace fox::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

void set_level(Level level);
Level level();
bool parse_level(std::string_view text, Level* out);
void write(Level level, std::string_view component, std::string_view message);

template <typename... Args>
void emit(Level lvl, std::string_view component, const Args&... args) {
  if (lvl < level()) return;
  std::ostringstream out;
  (out << ... << args);
  write(lvl, component, out.str());
}
template <typename... Args> void debug(std::string_view c, const Args&... a) { emit(Level::kDebug, c, a...); }
template <typename... Args> void info(std::string_view c, const Args&... a) { emit(Level::kInfo, c, a...); }
template <typename... Args> void warn(std::string_view c, const Args&... a) { emit(Level::kWarn, c, a...); }
template <typename... Args> void error(std::string_view c, const Args&... a) { emit(Level::kError, c, a...); }

}  // namespace fox::log
