#include <doctest/doctest.h>

#include <string>

#include "core/login_limiter.hpp"

using fox::LoginLimiter;

TEST_CASE("login limiter: a block after max failures within the window, doubling, cleared") {
  LoginLimiter l;
  LoginLimiter::Options o;
  o.max_failures = 3;
  o.block_ms = 1000;
  o.max_block_ms = 3000;
  o.window_ms = 60000;
  l.configure(o);
  CHECK(l.failed("a", 0) == 0);
  CHECK(l.failed("a", 10) == 0);
  CHECK(l.blocked_ms("a", 10) == 0);
  CHECK(l.failed("a", 20) == 1000);   // the third: blocked 1 s
  CHECK(l.blocked_ms("a", 20) == 1000);
  CHECK(l.blocked_ms("a", 1019) == 1);
  CHECK(l.blocked_ms("b", 20) == 0);  // another address
  CHECK(l.blocked_ms("a", 1020) == 0);
  CHECK(l.failed("a", 1100) == 0);
  CHECK(l.failed("a", 1200) == 0);
  CHECK(l.failed("a", 1300) == 2000);   // in a row: twice as long
  CHECK(l.failed("a", 3400) == 0);
  CHECK(l.failed("a", 3500) == 0);
  CHECK(l.failed("a", 3600) == 3000);   // at most max_block_ms
  CHECK(l.blocked_ms("a", 6599) == 1);   // a block ends by itself (a good login clears nothing)
  CHECK(l.blocked_ms("a", 6600) == 0);
  // Failures spread beyond the window never block.
  for (std::uint64_t t = 0; t < 10; ++t) CHECK(l.failed("c", t * 40000) == 0);
}

TEST_CASE("login limiter: the table of addresses is bounded") {
  LoginLimiter l;
  LoginLimiter::Options o;
  o.max_failures = 2;
  o.max_addresses = 100;
  l.configure(o);
  CHECK(l.failed("victim", 0) == 0);
  CHECK(l.failed("victim", 1) == o.block_ms);
  for (int i = 0; i < 1000; ++i) l.failed("x" + std::to_string(i), 2 + i);
  CHECK(l.size() <= 100);
  // The stalest go first: the blocked address, the oldest, went too once the table was full
  // of fresher ones; a full table never grows.
  CHECK(l.size() == 100);
  LoginLimiter off;
  o.max_failures = 0;
  off.configure(o);
  CHECK(off.failed("a", 0) == 0);
  CHECK(off.size() == 0);
}

TEST_CASE("address_without_port") {
  CHECK(fox::address_without_port("1.2.3.4:5678") == "1.2.3.4");
  CHECK(fox::address_without_port("[::1]:5678") == "::1");
  CHECK(fox::address_without_port("::1") == "::1");
  CHECK(fox::address_without_port("1.2.3.4") == "1.2.3.4");
}
