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

}  // namespace

TEST_CASE("a control byte in a message cannot start another log line") {
  std::string out = captured([] { log::info("fox", "peer: unknown ft X\ninfo fake: injected\r\x7f", ", closing"); });
  CHECK(out == "info fox: peer: unknown ft X\\x0ainfo fake: injected\\x0d\\x7f, closing\n");
  // UTF-8 text passes as it is.
  CHECK(captured([] { log::warn("t", "caf\xc3\xa9"); }) == "warn t: caf\xc3\xa9\n");
}

TEST_CASE("log arguments: strings, numbers, booleans, enums") {
  std::string s = "str";
  std::string out = captured([&] {
    log::info("t", s, ' ', std::string_view("view"), ' ', 42, ' ', -7L, ' ', 18446744073709551615ULL, ' ',
              1.5, ' ', true, ' ', Color::kRed, ' ', static_cast<const char*>(nullptr));
  });
  CHECK(out == "info t: str view 42 -7 18446744073709551615 1.5 true 2 (null)\n");
  // Below the level: nothing is formatted or written.
  log::set_level(log::Level::kWarn);
  CHECK(captured([] { log::info("t", "hidden"); }).empty());
  log::set_level(log::Level::kInfo);
}
