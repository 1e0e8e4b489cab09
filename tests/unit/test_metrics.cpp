// core/metrics (histogram buckets) and http/metrics (the Prometheus text of a snapshot).
#include <doctest/doctest.h>

#include <string>

#include "core/metrics.hpp"
#include "http/metrics.hpp"

using namespace fox;

TEST_CASE("a histogram counts each observation in its bucket and in every one above") {
  metrics::Histogram h;
  h.observe(0.00005);   // <= 0.0001
  h.observe(0.0001);    // <= 0.0001 (upper bounds are inclusive)
  h.observe(0.003);     // <= 0.005
  h.observe(7.0);       // only +Inf
  CHECK(h.count() == 4);
  CHECK(h.cumulative(0) == 2);
  CHECK(h.cumulative(4) == 2);   // 0.0025
  CHECK(h.cumulative(5) == 3);   // 0.005
  CHECK(h.cumulative(metrics::Histogram::kBounds.size() - 1) == 3);
  CHECK(h.cumulative(metrics::Histogram::kBounds.size()) == 4);
  CHECK(h.sum() == doctest::Approx(7.00315));
}

TEST_CASE("label values escape backslash, quote and newline") {
  CHECK(http::label_value("a\\b\"c\nd") == "a\\\\b\\\"c\\nd");
}

TEST_CASE("the exposition: families once, counters per protocol, realms labelled, histograms") {
  http::Snapshot s;
  s.version = "1.2.3";
  s.connections = {{"mqtt", "tcp", 3}, {"wamp", "websocket", 1}};
  s.realms = {{"realm1", 4, 2, 1, 7, 9}, {"we\"ird", 0, 0, 0, 0, 0}};
  s.sqlite = true;
  metrics::Counters c;
  c.traffic[metrics::kMqtt].publications_received = 11;
  c.sqlite_commit.observe(0.002);
  const std::string text = http::prometheus(s, c);
  CHECK(text.find("fox_build_info{version=\"1.2.3\"} 1\n") != std::string::npos);
  CHECK(text.find("fox_connections{protocol=\"mqtt\",transport=\"tcp\"} 3\n") != std::string::npos);
  CHECK(text.find("fox_publications_received_total{protocol=\"mqtt\"} 11\n") != std::string::npos);
  CHECK(text.find("fox_publications_received_total{protocol=\"wamp\"} 0\n") != std::string::npos);
  CHECK(text.find("fox_retained_keys{realm=\"realm1\"} 7\n") != std::string::npos);
  CHECK(text.find("fox_history_rows{realm=\"realm1\"} 9\n") != std::string::npos);
  CHECK(text.find("fox_sessions{realm=\"we\\\"ird\"} 0\n") != std::string::npos);
  CHECK(text.find("fox_sqlite_commit_seconds_bucket{le=\"0.001\"} 0\n") != std::string::npos);
  CHECK(text.find("fox_sqlite_commit_seconds_bucket{le=\"0.0025\"} 1\n") != std::string::npos);
  CHECK(text.find("fox_sqlite_commit_seconds_bucket{le=\"+Inf\"} 1\n") != std::string::npos);
  CHECK(text.find("fox_sqlite_commit_seconds_count 1\n") != std::string::npos);
  CHECK(text.find("# TYPE fox_publications_received_total counter\n") != std::string::npos);
  // No cluster, no cluster families.
  CHECK(text.find("fox_cluster") == std::string::npos);
  // Each family's # TYPE once.
  std::size_t types = 0;
  for (std::size_t at = text.find("# TYPE fox_sessions "); at != std::string::npos;
       at = text.find("# TYPE fox_sessions ", at + 1)) {
    ++types;
  }
  CHECK(types == 1);
}
