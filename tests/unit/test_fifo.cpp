// core/fifo.hpp: a FIFO on one vector — order kept through pushes, pops, compaction and clear.
#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "core/fifo.hpp"

using fox::Fifo;

TEST_CASE("a fifo gives its elements back in order, across compaction and refills") {
  Fifo<std::string> q;
  CHECK(q.empty());
  int next_in = 0, next_out = 0;
  // Bursts of pushes and pops of varying sizes: the front is always the oldest element.
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < (round * 37) % 300 + 1; ++i) q.push_back(std::to_string(next_in++));
    for (int i = 0; i < (round * 53) % 250 && !q.empty(); ++i) {
      REQUIRE(q.front() == std::to_string(next_out++));
      q.pop_front();
    }
    CHECK(q.size() == static_cast<std::size_t>(next_in - next_out));
  }
  while (!q.empty()) {
    REQUIRE(q.front() == std::to_string(next_out++));
    q.pop_front();
  }
  CHECK(next_out == next_in);
  q.push_back("again");
  CHECK(q.size() == 1);
  q.clear();
  CHECK(q.empty());
}

TEST_CASE("a popped element's resources go at once") {
  Fifo<std::shared_ptr<int>> q;
  auto p = std::make_shared<int>(1);
  q.push_back(p);
  q.push_back(std::make_shared<int>(2));
  CHECK(p.use_count() == 2);
  q.pop_front();
  CHECK(p.use_count() == 1);   // not kept in the vector's taken part
  CHECK(*q.front() == 2);
}
