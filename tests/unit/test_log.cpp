// core/log: one event, one line, whatever the message holds; arguments formatted without
// iostreams.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "core/log.hpp"

using namespace fox;

namespace {

// What `fn` writes to stderr.
template <class Fn>
std::string captured(Fn fn) {
  std::fflush(stderr);
  std::FILE* tmp = std::tmpfile();
  REQUIRE(tmp != nullptr);
  const int saved = dup(fileno(stderr));
  dup2(fileno(tmp), fileno(stderr));
  fn();
  std::fflush(stderr);
  dup2(saved, fileno(stderr));
  close(saved);
  std::string out;
  std::rewind(tmp);
  char buf[512];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, tmp)) > 0) out.append(buf, n);
  std::fclose(tmp);
  return out;
}

enum class Color { kRed = 2 };

// A text line without its time ("2026-12-04T03:25:01.123Z "), which must be there.
std::string untimed(const std::string& line) {
  REQUIRE(line.size() > 25);
  CHECK(line[4] == '-');
  CHECK(line[10] == 'T');
  CHECK(line[23] == 'Z');
  CHECK(line[24] == ' ');
  return line.substr(25);
}

template <class Fn>
std::string captured_untimed(Fn fn) {
  return untimed(captured(fn));
}

}  // namespace

TEST_CASE("a control byte in a message cannot start another log line") {
  std::string out = captured_untimed([] { log::info("fox", "peer: unknown ft X\ninfo fake: injected\r\x7f", ", closing"); });
  CHECK(out == "info fox: peer: unknown ft X\\x0ainfo fake: injected\\x0d\\x7f, closing\n");
  // UTF-8 text passes as it is.
  CHECK(captured_untimed([] { log::warn("t", "caf\xc3\xa9"); }) == "warn t: caf\xc3\xa9\n");
}

TEST_CASE("log arguments: strings, numbers, booleans, enums") {
  std::string s = "str";
  std::string out = captured_untimed([&] {
    log::info("t", s, ' ', std::string_view("view"), ' ', 42, ' ', -7L, ' ', 18446744073709551615ULL, ' ',
              1.5, ' ', true, ' ', Color::kRed, ' ', static_cast<const char*>(nullptr));
  });
  CHECK(out == "info t: str view 42 -7 18446744073709551615 1.5 true 2 (null)\n");
  // Below the level: nothing is formatted or written.
  log::set_level(log::Level::kWarn);
  CHECK(captured([] { log::info("t", "hidden"); }).empty());
  log::set_level(log::Level::kInfo);
}

TEST_CASE("json format: one object per line, control bytes and bad UTF-8 escaped") {
  log::set_format(log::Format::kJson);
  const std::string out = captured([] { log::warn("mqtt", "a\nb \"q\" \xff"); });
  log::set_format(log::Format::kText);
  REQUIRE(out.size() > 40);
  CHECK(out.rfind("{\"time\":\"", 0) == 0);
  CHECK(out.find("\n") == out.size() - 1);
  CHECK(out.find("\"level\":\"warn\",\"component\":\"mqtt\",\"message\":\"a\\nb \\\"q\\\" \xef\xbf\xbd\"}") !=
        std::string::npos);
}
