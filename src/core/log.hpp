// Logging: one line per event to stderr, "TIME LEVEL component: message" (TIME in UTC, ISO 8601
// with milliseconds), or with the json format one object per line: {"time", "level",
// "component", "message"}. Cheap when filtered out.
//
// Arguments are appended as text without iostreams (which would pull the whole locale machinery
// of libstdc++, ~350 kB, into the static binary): strings, characters, booleans (true/false),
// integers, floating point (%g), and enums as their number.
#pragma once
#include <charconv>
#include <cstdio>
#include <string>
#include <string_view>
#include <type_traits>

namespace fox::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

enum class Format { kText, kJson };

void set_level(Level level);
void set_format(Format format);
Level level();
bool parse_level(std::string_view text, Level* out);
void write(Level level, std::string_view component, std::string_view message);

namespace detail {
inline void append(std::string& out, std::string_view s) { out.append(s); }
inline void append(std::string& out, const char* s) { out.append(s ? s : "(null)"); }
inline void append(std::string& out, char c) { out.push_back(c); }
inline void append(std::string& out, bool b) { out.append(b ? "true" : "false"); }
template <typename T>
  requires(std::is_integral_v<T> && !std::is_same_v<T, bool> && !std::is_same_v<T, char>)
void append(std::string& out, T value) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, r.ptr);
}
template <typename T>
  requires std::is_floating_point_v<T>
void append(std::string& out, T value) {
  char buf[32];
  int n = std::snprintf(buf, sizeof buf, "%g", static_cast<double>(value));
  if (n > 0) out.append(buf, static_cast<std::size_t>(n) < sizeof buf ? static_cast<std::size_t>(n) : sizeof buf - 1);
}
template <typename T>
  requires std::is_enum_v<T>
void append(std::string& out, T value) {
  append(out, static_cast<std::underlying_type_t<T>>(value));
}
}  // namespace detail

template <typename... Args>
void emit(Level lvl, std::string_view component, const Args&... args) {
  if (lvl < level()) return;
  std::string out;
  (detail::append(out, args), ...);
  write(lvl, component, out);
}
template <typename... Args> void debug(std::string_view c, const Args&... a) { emit(Level::kDebug, c, a...); }
template <typename... Args> void info(std::string_view c, const Args&... a) { emit(Level::kInfo, c, a...); }
template <typename... Args> void warn(std::string_view c, const Args&... a) { emit(Level::kWarn, c, a...); }
template <typename... Args> void error(std::string_view c, const Args&... a) { emit(Level::kError, c, a...); }

}  // namespace fox::log
