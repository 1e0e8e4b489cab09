// `fox bench`: an MQTT load generator and meter (SPEC §2; issue 15). N publishers and M
// subscribers on one loop; every payload carries its send time, publisher and sequence number,
// so each delivery gives a latency and lost or duplicated messages are counted exactly. Bounded
// in time (--duration or --count, then at most 10 s to drain) and in load (--rate per publisher,
// or saturated within --window messages per publisher not yet delivered to every subscriber).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>

#include <unistd.h>

#include "cli/client_tool.hpp"
#include "cli/commands.hpp"

namespace fox::cli {
namespace {

const char kHelp[] =
    "usage: fox bench [--mqtt HOST[:PORT]] [--pubs N] [--subs M] [--qos 0|1|2] [--size BYTES]\n"
    "                 [--count N | --duration SECONDS] [--rate MSG/S] [--window N]\n"
    "                 [--topics shared|distinct] [--drain SECONDS] [--json] [--user NAME]\n"
    "                 [--password SECRET] [--realm REALM] [--mqtt-tls [--cafile FILE]] [--pid PID]\n"
    "\n"
    "Measures an MQTT broker (127.0.0.1:1883 unless --mqtt says otherwise): N publishers send\n"
    "messages that M subscribers receive (every subscriber gets every message), then it prints\n"
    "the delivered messages per second, the latency percentiles (from the send time each\n"
    "payload carries) and the lost and duplicated deliveries.\n"
    "  --pubs N        publishers (default 1)          --subs M   subscribers (default 1)\n"
    "  --qos 0|1|2     of the publications and the subscriptions (default 0)\n"
    "  --size BYTES    payload size, at least 20 (default 64)\n"
    "  --count N       messages per publisher (default 10000), or\n"
    "  --duration S    publish for S seconds\n"
    "  --rate R        messages per second per publisher (default 0: as fast as the window lets)\n"
    "  --window N      messages a publisher may have on the way, not yet delivered to every\n"
    "                  subscriber (or, without subscribers, acknowledged) (default 100)\n"
    "  --topics        shared: one topic bench/t for all (default); distinct: bench/t/I each\n"
    "  --drain S       after the last publication, how long to wait for what is still due\n"
    "                  (default 10, at least 0.1; what has not come by then is lost); also how\n"
    "                  long a full window may go without progress before the run stops\n"
    "  --pid PID       the broker's process (on this machine): also report its CPU time per\n"
    "                  delivered message (per published one, without subscribers)\n"
    "  --json          one JSON object instead of the text report\n"
    "Exit 1 when a connection fails, nothing arrives for --drain seconds while the windows are\n"
    "full, or, at QoS 1 and 2, a message is lost or duplicated.\n"
    "\n"
    "       fox bench --rpc [--url URL] [--calls N] [--outstanding K] [--size BYTES] [--json]\n"
    "                 [--pid PID] [--realm REALM]\n"
    "\n"
    "WAMP RPC over WebSocket (ws://127.0.0.1:9000/wamp unless --url says otherwise): a callee\n"
    "registers bench.rpc and echoes; a caller keeps K calls outstanding (default 1: the round\n"
    "trip at light load) until N (default 10000) are answered; calls per second and round-trip\n"
    "percentiles. WAMP pub/sub and FOX benchmarks are not there yet.\n";

using Clock = std::chrono::steady_clock;

// utime + stime of process `pid` in seconds (/proc/PID/stat), or -1.
double cpu_seconds(long long pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%lld/stat", pid);
  std::FILE* f = std::fopen(path, "r");
  if (!f) return -1;
  char buf[1024];
  const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  const char* p = std::strrchr(buf, ')');   // the command name may hold spaces
  if (!p) return -1;
  unsigned long long utime = 0, stime = 0;
  // Fields 14 and 15 (utime, stime); after ')' come field 3 (state) onwards.
  if (std::sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2) {
    return -1;
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

std::uint64_t now_ns() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count());
}

// Latencies in a log-linear histogram: exact below 64 µs, then 64 buckets per power of two
// (under 1.6 % error), up to 2^40 ns; constant memory whatever the message count.
class Histogram {
public:
  void add(std::uint64_t ns) {
    std::uint64_t us10 = ns / 100;   // 0.1 µs units
    std::size_t i = index(us10);
    if (i >= counts_.size()) counts_.resize(i + 1);
    ++counts_[i];
    ++total_;
    max_ = std::max(max_, ns);
  }
  std::uint64_t total() const { return total_; }
  std::uint64_t max_ns() const { return max_; }
  // The value (ns) at quantile q (0..1).
  std::uint64_t quantile_ns(double q) const {
    if (total_ == 0) return 0;
    const auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(total_)));
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= std::max<std::uint64_t>(rank, 1)) return std::min(value(i) * 100, max_);
    }
    return max_;
  }

private:
  static constexpr std::uint64_t kLinear = 640;   // 64 µs in 0.1 µs units
  static std::size_t index(std::uint64_t v) {
    if (v < kLinear) return static_cast<std::size_t>(v);
    int e = 63 - __builtin_clzll(v);   // v >= 640: e >= 9
    const std::uint64_t sub = (v >> (e - 6)) & 63;
    return static_cast<std::size_t>(kLinear + (e - 9) * 64 + sub);
  }
  static std::uint64_t value(std::size_t i) {   // the bucket's upper end, 0.1 µs units
    if (i < kLinear) return i;
    const std::size_t k = i - kLinear;
    const int e = static_cast<int>(k / 64) + 9;
    const std::uint64_t sub = k % 64;
    return ((64 + sub + 1) << (e - 6)) - 1;
  }
  std::vector<std::uint64_t> counts_;
  std::uint64_t total_ = 0, max_ = 0;
};

// The percentiles of a report, in µs: JSON, and the text line after `label`.
Json latency_json(const Histogram& h) {
  auto us = [&](double q) { return static_cast<double>(h.quantile_ns(q)) / 1000.0; };
  return {{"p50", us(0.5)}, {"p90", us(0.9)}, {"p99", us(0.99)}, {"p99.9", us(0.999)},
          {"max", static_cast<double>(h.max_ns()) / 1000.0}};
}
void print_latency(const char* label, const Histogram& h) {
  const Json l = latency_json(h);
  std::printf("%s: p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n", label,
              l["p50"].get<double>(), l["p90"].get<double>(), l["p99"].get<double>(),
              l["p99.9"].get<double>(), l["max"].get<double>());
}

// --pid: the broker's process on this machine (0 without the flag); false after a usage error.
bool parse_pid(const ParsedArgs& a, long long* pid) {
  if (!a.has("--pid")) return true;
  if (parse_count(a.value("--pid"), 1, 1LL << 31, pid) && cpu_seconds(*pid) >= 0) return true;
  usage_error("bench", "--pid: no such process on this machine (/proc/PID/stat)");
  return false;
}

struct Settings {
  MqttTarget target;
  int pubs = 1, subs = 1, qos = 0;
  std::size_t size = 64;
  long long count = 10000;        // per publisher; 0 with a duration
  std::uint64_t duration_ms = 0;
  double rate = 0;                // per publisher; 0 = saturated
  long long window = 100;
  bool distinct = false;
  bool json = false;
  std::uint64_t drain_ms = 10000;
  long long pid = 0;   // the broker's, for its CPU time (0 = not measured)
};

constexpr std::size_t kHeader = 20;   // send time (8), publisher (4), sequence (8)

struct Publisher {
  std::unique_ptr<MqttClient> client;
  std::string topic;
  std::uint64_t sent = 0;          // sequence numbers 0..sent-1 are out
  std::uint64_t acked = 0;         // PUBACK / PUBCOMP (QoS 1, 2)
  std::uint64_t completed = 0;     // delivered to every subscriber (or acked, with none)
  std::uint64_t base = 0;          // remaining_[0] is sequence `base`
  std::deque<std::uint32_t> remaining;   // deliveries (or the ack) still due per sequence
};

struct Subscriber {
  std::unique_ptr<MqttClient> client;
  std::vector<std::vector<bool>> seen;   // [publisher][sequence]
  std::uint64_t received = 0, duplicated = 0;
};

class Bench {
public:
  explicit Bench(const Settings& s) : s_(s) {}

  int run() {
    for (int i = 0; i < s_.subs; ++i) {
      auto& sub = subs_.emplace_back();
      sub.client = std::make_unique<MqttClient>(loop_.loop(), loop_.timers());
      sub.seen.resize(static_cast<std::size_t>(s_.pubs));
    }
    for (int i = 0; i < s_.pubs; ++i) {
      auto& pub = pubs_.emplace_back();
      pub.client = std::make_unique<MqttClient>(loop_.loop(), loop_.timers());
      pub.topic = s_.distinct ? "bench/t/" + std::to_string(i) : "bench/t";
    }
    const std::string filter = s_.distinct ? "bench/t/+" : "bench/t";
    for (std::size_t i = 0; i < subs_.size(); ++i) {
      Subscriber& sub = subs_[i];
      int rc = start_mqtt(loop_, *sub.client, s_.target, s_.target.client_id + "-s" + std::to_string(i),
                          "bench", [this, &sub, filter] {
        sub.client->subscribe(filter, static_cast<std::uint8_t>(s_.qos),
                              [this](std::uint8_t granted) {
                                if (granted == 0x80) {
                                  std::fprintf(stderr, "fox bench: the broker refused the subscription\n");
                                  loop_.finish(1);
                                  return;
                                }
                                ready();
                              },
                              [this, &sub](const mqtt::Publish& p) { on_message(sub, p); });
      });
      if (rc != 0) return rc;
    }
    for (std::size_t i = 0; i < pubs_.size(); ++i) {
      int rc = start_mqtt(loop_, *pubs_[i].client, s_.target,
                          s_.target.client_id + "-p" + std::to_string(i), "bench", [this] { ready(); });
      if (rc != 0) return rc;
    }
    // Nothing may run forever: connecting, publishing and draining within this.
    // (a broker slower than --rate takes longer than count / rate: 10 minutes of slack)
    const std::uint64_t limit = 630000 + s_.duration_ms + s_.drain_ms +
                                (s_.rate > 0 ? static_cast<std::uint64_t>(1000.0 * static_cast<double>(s_.count) / s_.rate) : 0);
    limit_ = loop_.timers().start_timer(limit, [this] {
      limit_ = 0;
      std::fprintf(stderr, "fox bench: not done within its time limit\n");
      report();
      loop_.finish(1);
    });
    return loop_.run();
  }

private:
  // Every subscriber subscribed and every publisher connected: start.
  void ready() {
    if (++ready_ < s_.subs + s_.pubs) return;
    start_ns_ = last_progress_ns_ = now_ns();
    if (s_.pid) cpu_start_ = cpu_seconds(s_.pid);
    if (s_.duration_ms) loop_.timers().start_timer(s_.duration_ms, [this] { stop_publishing(); });
    tick();
    for (std::size_t i = 0; i < pubs_.size(); ++i) pump(i);
  }

  // Delivered to every subscriber and, at QoS 1/2, acknowledged: the window bounds both (packet
  // ids are 16 bits: never more in flight than that).
  bool window_full(const Publisher& p) const {
    const auto w = static_cast<std::uint64_t>(s_.window);
    return p.sent - p.completed >= w || (s_.qos > 0 && p.sent - p.acked >= w);
  }

  bool publishing(const Publisher& p) const {
    return !stopped_ && (s_.count == 0 || p.sent < static_cast<std::uint64_t>(s_.count));
  }

  // Sends what publisher i may send now: within its window, and its rate.
  void pump(std::size_t i) {
    Publisher& p = pubs_[i];
    std::uint64_t allowed = UINT64_MAX;
    if (s_.rate > 0) {
      double elapsed_s = static_cast<double>(now_ns() - start_ns_) / 1e9;
      // A late wake-up past --duration sends nothing for the time after it.
      if (s_.duration_ms) elapsed_s = std::min(elapsed_s, static_cast<double>(s_.duration_ms) / 1000.0);
      allowed = static_cast<std::uint64_t>(elapsed_s * s_.rate) + 1;
    }
    while (publishing(p) && p.sent < allowed && !window_full(p)) send(i);
    if (!publishing(p)) maybe_done();
  }

  void send(std::size_t i) {
    Publisher& p = pubs_[i];
    std::string payload(s_.size, '\0');
    const std::uint64_t t = now_ns(), seq = p.sent;
    const auto pub = static_cast<std::uint32_t>(i);
    std::memcpy(payload.data(), &t, 8);
    std::memcpy(payload.data() + 8, &pub, 4);
    std::memcpy(payload.data() + 12, &seq, 8);
    ++p.sent;
    p.remaining.push_back(static_cast<std::uint32_t>(std::max(s_.subs, 1)));   // or its ack
    last_publish_ns_ = t;
    p.client->publish(p.topic, std::move(payload), static_cast<std::uint8_t>(s_.qos), false,
                      [this, i, seq] {
                        Publisher& p = pubs_[i];
                        last_progress_ns_ = now_ns();
                        if (s_.qos > 0) ++p.acked;
                        if (s_.subs == 0 && s_.qos > 0) delivered(i, seq);
                      });
    if (s_.subs == 0 && s_.qos == 0) delivered(i, seq);
  }

  void on_message(Subscriber& sub, const mqtt::Publish& m) {
    const std::uint64_t now = now_ns();
    if (m.payload.size() < kHeader) return;
    std::uint64_t t = 0, seq = 0;
    std::uint32_t pub = 0;
    std::memcpy(&t, m.payload.data(), 8);
    std::memcpy(&pub, m.payload.data() + 8, 4);
    std::memcpy(&seq, m.payload.data() + 12, 8);
    if (pub >= pubs_.size() || seq >= pubs_[pub].sent) return;   // not this run's
    std::vector<bool>& seen = sub.seen[pub];
    if (seen.size() <= seq) seen.resize(std::max<std::size_t>(seq + 1, seen.size() * 2));
    if (seen[seq]) {
      ++sub.duplicated;
      return;
    }
    seen[seq] = true;
    ++sub.received;
    latency_.add(now - t);
    last_delivery_ns_ = now;
    delivered(pub, seq);
  }

  // One of the deliveries due for (publisher, seq) happened.
  void delivered(std::size_t i, std::uint64_t seq) {
    last_progress_ns_ = now_ns();
    Publisher& p = pubs_[i];
    if (seq < p.base) return;
    std::uint32_t& left = p.remaining[seq - p.base];
    if (left == 0) return;
    if (--left == 0) ++p.completed;
    while (!p.remaining.empty() && p.remaining.front() == 0) {
      p.remaining.pop_front();
      ++p.base;
    }
    if (s_.rate == 0) pump(i);
    maybe_done();
  }

  // Paces --rate (every ms), ends a drain whose deliveries never all come (a lost message).
  void tick() {
    tick_ = 0;
    for (std::size_t i = 0; i < pubs_.size() && !finished_; ++i) pump(i);
    if (draining_ && !finished_ && now_ns() >= drain_deadline_ns_) finish();
    // Windows full of messages that never come (a broker that drops them) would stall the run:
    // after --drain without any delivery or ack it ends, what is missing counted as lost.
    const bool blocked = std::any_of(pubs_.begin(), pubs_.end(), [this](const Publisher& p) {
      return publishing(p) && window_full(p);
    });
    if (blocked && !draining_ && !finished_ && now_ns() - last_progress_ns_ >= s_.drain_ms * 1000000) {
      std::fprintf(stderr, "fox bench: nothing delivered or acknowledged for %.1f s: stopping\n",
                   static_cast<double>(s_.drain_ms) / 1000.0);
      stalled_ = true;
      finish();
    }
    if (!finished_) tick_ = loop_.timers().start_timer(s_.rate > 0 ? 1 : 50, [this] { tick(); });
  }

  void stop_publishing() {
    stopped_ = true;
    maybe_done();
  }

  void maybe_done() {
    if (finished_) return;
    bool all_sent = true, all_done = true;
    for (const Publisher& p : pubs_) {
      all_sent = all_sent && !publishing(p);
      all_done = all_done && p.completed == p.sent && (s_.qos == 0 || p.acked == p.sent);
    }
    if (!all_sent) return;
    if (!draining_) {
      draining_ = true;
      drain_deadline_ns_ = now_ns() + s_.drain_ms * 1000000;
    }
    if (all_done) finish();
  }

  void finish() {
    if (finished_) return;
    finished_ = true;
    if (tick_) loop_.timers().cancel_timer(tick_);
    if (limit_) loop_.timers().cancel_timer(limit_);
    tick_ = limit_ = 0;
    const int rc = report();
    // DISCONNECT from every client, then the exit.
    auto left = std::make_shared<std::size_t>(pubs_.size() + subs_.size());
    auto done = [this, rc, left] {
      if (--*left == 0) loop_.finish(rc);
    };
    for (Publisher& p : pubs_) p.client->disconnect(done);
    for (Subscriber& s : subs_) s.client->disconnect(done);
  }

  int report() {
    const double cpu = s_.pid && cpu_start_ >= 0 ? cpu_seconds(s_.pid) - cpu_start_ : -1;
    std::uint64_t sent = 0, received = 0, duplicated = 0, expected = 0, acked = 0;
    for (const Publisher& p : pubs_) {
      sent += p.sent;
      acked += p.acked;
    }
    for (const Subscriber& s : subs_) {
      received += s.received;
      duplicated += s.duplicated;
    }
    expected = sent * static_cast<std::uint64_t>(s_.subs);
    const std::uint64_t lost = expected - std::min(expected, received);
    const std::uint64_t end = s_.subs ? std::max(last_delivery_ns_, start_ns_) : std::max(last_publish_ns_, start_ns_);
    const double seconds = static_cast<double>(end - start_ns_) / 1e9;
    const std::uint64_t counted = s_.subs ? received : sent;
    const double rate = seconds > 0 ? static_cast<double>(counted) / seconds : 0;
    // The broker's CPU per message counted (a clock tick is 10 ms: meaningful over many).
    const double cpu_us = cpu >= 0 && counted ? cpu * 1e6 / static_cast<double>(counted) : -1;
    const int rc = stalled_ || (s_.qos > 0 && (lost > 0 || duplicated > 0 || acked < sent)) ? 1 : 0;
    if (s_.json) {
      Json o = {{"protocol", "mqtt"}, {"qos", s_.qos}, {"publishers", s_.pubs},
                {"subscribers", s_.subs}, {"topics", s_.distinct ? "distinct" : "shared"},
                {"size", s_.size}, {"rate", s_.rate}, {"window", s_.window},
                {"published", sent}, {"acknowledged", acked}, {"delivered", received},
                {"lost", lost}, {"duplicated", duplicated}, {"seconds", seconds},
                {"msg_per_s", rate}, {"latency_us", latency_json(latency_)}};
      if (cpu_us >= 0) o["broker_cpu_us_per_msg"] = cpu_us;
      print_line(o.dump());
      return rc;
    }
    std::printf("fox bench: MQTT QoS %d, %d publisher(s) -> %d subscriber(s), %s topic%s, %zu B, %s\n",
                s_.qos, s_.pubs, s_.subs, s_.distinct ? "distinct" : "one", s_.distinct ? "s" : "",
                s_.size,
                s_.rate > 0 ? (std::to_string(static_cast<long long>(s_.rate)) + " msg/s each").c_str()
                            : ("saturated, window " + std::to_string(s_.window)).c_str());
    if (s_.subs == 0) {
      std::printf("published %llu, acknowledged %llu in %.3f s: %.0f msg/s\n",
                  static_cast<unsigned long long>(sent), static_cast<unsigned long long>(acked),
                  seconds, rate);
    } else {
      std::printf("published %llu, delivered %llu of %llu (lost %llu, duplicated %llu) in %.3f s: "
                  "%.0f msg/s\n",
                  static_cast<unsigned long long>(sent), static_cast<unsigned long long>(received),
                  static_cast<unsigned long long>(expected), static_cast<unsigned long long>(lost),
                  static_cast<unsigned long long>(duplicated), seconds, rate);
    }
    if (latency_.total()) print_latency("latency us", latency_);
    if (cpu_us >= 0) std::printf("broker CPU: %.2f us per message (pid %lld)\n", cpu_us, s_.pid);
    std::fflush(stdout);
    return rc;
  }

  Settings s_;
  ClientLoop loop_;
  std::deque<Publisher> pubs_;     // deques: the clients' callbacks keep references
  std::deque<Subscriber> subs_;
  Histogram latency_;
  int ready_ = 0;
  Env::TimerId tick_ = 0, limit_ = 0;
  double cpu_start_ = -1;
  std::uint64_t last_progress_ns_ = 0;   // the last delivery or ack
  bool stalled_ = false;
  std::uint64_t start_ns_ = 0, last_publish_ns_ = 0, last_delivery_ns_ = 0, drain_deadline_ns_ = 0;
  bool stopped_ = false, draining_ = false, finished_ = false;
};

// WAMP RPC: one callee echoing, one caller with `outstanding` calls on the way.
class RpcBench {
public:
  RpcBench(ParsedArgs args, long long calls, long long outstanding, std::size_t size, bool json,
           long long pid)
      : args_(std::move(args)), calls_(calls), outstanding_(outstanding), size_(size), json_(json),
        pid_(pid) {}

  int run() {
    int rc = start_wamp(loop_, callee_, args_, "bench", [this] {
      callee_.register_procedure(
          "bench.rpc", Json::object(),
          [this](const wamp::Invocation& inv) { callee_.yield(inv.request, inv.args, nullptr); },
          [this](Id, const WampError* e) {
            if (e) {
              print_wamp_error("bench", *e);
              loop_.finish(1);
              return;
            }
            ready();
          });
    });
    if (rc != 0) return rc;
    rc = start_wamp(loop_, caller_, args_, "bench", [this] { ready(); });
    if (rc != 0) return rc;
    // A minute to connect and a millisecond per call (the round trip is ~0.1 ms here).
    limit_ = loop_.timers().start_timer(60000 + static_cast<std::uint64_t>(calls_), [this] {
      limit_ = 0;
      std::fprintf(stderr, "fox bench: not done within its time limit\n");
      loop_.finish(1);
    });
    return loop_.run();
  }

private:
  void ready() {
    if (++ready_ < 2) return;
    payload_ = Json::array({std::string(size_, 'x')});
    start_ns_ = now_ns();
    if (pid_) cpu_start_ = cpu_seconds(pid_);
    for (long long i = 0; i < outstanding_ && sent_ < calls_; ++i) call();
  }

  void call() {
    ++sent_;
    const std::uint64_t t = now_ns();
    caller_.call("bench.rpc", payload_, nullptr, Json::object(),
                 [this, t](const wamp::Result*, const WampError* e) {
                   if (e) {
                     print_wamp_error("bench", *e);
                     loop_.finish(1);
                     return;
                   }
                   const std::uint64_t now = now_ns();
                   latency_.add(now - t);
                   end_ns_ = now;
                   if (++answered_ == calls_) {
                     finish();
                   } else if (sent_ < calls_) {
                     call();
                   }
                 });
  }

  void finish() {
    if (limit_) loop_.timers().cancel_timer(limit_);
    limit_ = 0;
    const double seconds = static_cast<double>(end_ns_ - start_ns_) / 1e9;
    const double rate = seconds > 0 ? static_cast<double>(answered_) / seconds : 0;
    const double cpu = pid_ && cpu_start_ >= 0 ? cpu_seconds(pid_) - cpu_start_ : -1;
    if (json_) {
      Json o = {{"protocol", "wamp"}, {"scenario", "rpc"}, {"transport", "websocket"},
                {"serializer", "json"}, {"size", size_}, {"outstanding", outstanding_},
                {"calls", answered_}, {"seconds", seconds}, {"calls_per_s", rate},
                {"latency_us", latency_json(latency_)}};
      if (cpu >= 0) o["broker_cpu_us_per_call"] = cpu * 1e6 / static_cast<double>(answered_);
      print_line(o.dump());
    } else {
      std::printf("fox bench: WAMP RPC over WebSocket (JSON), %zu B, %lld outstanding\n", size_,
                  outstanding_);
      std::printf("%lld calls answered in %.3f s: %.0f calls/s\n", answered_, seconds, rate);
      print_latency("round trip us", latency_);
      if (cpu >= 0) {
        std::printf("broker CPU: %.2f us per call (pid %lld)\n",
                    cpu * 1e6 / static_cast<double>(answered_), pid_);
      }
      std::fflush(stdout);
    }
    auto left = std::make_shared<int>(2);
    auto done = [this, left] {
      if (--*left == 0) loop_.finish(0);
    };
    caller_.leave(done);
    callee_.leave(done);
  }

  ParsedArgs args_;
  long long calls_, outstanding_;
  std::size_t size_;
  bool json_;
  long long pid_;
  ClientLoop loop_;
  WampClient callee_{loop_.loop(), loop_.timers()};
  WampClient caller_{loop_.loop(), loop_.timers()};
  Json payload_;
  Histogram latency_;
  int ready_ = 0;
  long long sent_ = 0, answered_ = 0;
  double cpu_start_ = -1;
  std::uint64_t start_ns_ = 0, end_ns_ = 0;
  Env::TimerId limit_ = 0;
};

}  // namespace

namespace {

int rpc_main(const ParsedArgs& a) {
  if (!a.mqtt.empty() || !a.fox.empty()) return usage_error("bench", "--rpc is WAMP (--url), not --mqtt or --fox");
  for (const char* f : {"--pubs", "--subs", "--qos", "--count", "--duration", "--rate", "--window",
                        "--topics", "--drain", "--user", "--password"}) {
    if (a.has(f)) return usage_error("bench", std::string(f) + " is not for --rpc");
  }
  long long calls = 10000, outstanding = 1, size = 64, pid = 0;
  if ((a.has("--calls") && !parse_count(a.value("--calls"), 1, 100000000, &calls)) ||
      (a.has("--outstanding") && !parse_count(a.value("--outstanding"), 1, 10000, &outstanding)) ||
      (a.has("--size") && !parse_count(a.value("--size"), 0, 16 << 20, &size))) {
    return usage_error("bench", "--calls 1..100000000, --outstanding 1..10000, --size 0..16777216");
  }
  if (!parse_pid(a, &pid)) return 2;
  RpcBench bench(a, calls, outstanding, static_cast<std::size_t>(size), a.has("--json"), pid);
  return bench.run();
}

}  // namespace

int bench_main(const std::vector<std::string>& argv) {
  ParsedArgs a;
  std::string error;
  if (!parse_flags(argv,
                   {{"--pubs", true}, {"--subs", true}, {"--qos", true}, {"--size", true},
                    {"--drain", true}, {"--pid", true}, {"--rpc", false}, {"--calls", true},
                    {"--outstanding", true},
                    {"--count", true}, {"--duration", true}, {"--rate", true}, {"--window", true},
                    {"--topics", true}, {"--json", false}, {"--user", true}, {"--password", true}},
                   &a, &error)) {
    return usage_error("bench", error);
  }
  if (a.help) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  if (!a.positional.empty()) return usage_error("bench", "unexpected argument " + a.positional[0]);
  if (a.has("--rpc")) return rpc_main(a);
  if (a.has("--url") || !a.fox.empty()) {
    return usage_error("bench", "WAMP: --rpc only for now; MQTT with --mqtt HOST[:PORT]");
  }
  for (const char* f : {"--calls", "--outstanding"}) {
    if (a.has(f)) return usage_error("bench", std::string(f) + " is for --rpc");
  }
  if (a.mqtt.empty()) a.mqtt = "127.0.0.1";
  Settings s;
  if (int rc = mqtt_target(a, "bench", &s.target); rc != 0) return rc;
  long long n = 0;
  auto count_flag = [&](const char* flag, long long min, long long max, long long* out) {
    if (!a.has(flag)) return true;
    if (parse_count(a.value(flag), min, max, out)) return true;
    usage_error("bench", std::string(flag) + " must be an integer " + std::to_string(min) + ".." +
                             std::to_string(max));
    return false;
  };
  long long pubs = 1, subs = 1, qos = 0, size = 64, window = 100;
  if (!count_flag("--pubs", 1, 10000, &pubs) || !count_flag("--subs", 0, 10000, &subs) ||
      !count_flag("--qos", 0, 2, &qos) || !count_flag("--size", 20, 16 << 20, &size) ||
      !count_flag("--count", 1, 100000000, &s.count) || !count_flag("--window", 1, 60000, &window)) {
    return 2;
  }
  s.pubs = static_cast<int>(pubs);
  s.subs = static_cast<int>(subs);
  s.qos = static_cast<int>(qos);
  s.size = static_cast<std::size_t>(size);
  s.window = window;
  if (a.has("--duration")) {
    if (a.has("--count")) return usage_error("bench", "--count or --duration, not both");
    if (!parse_seconds(a.value("--duration"), &s.duration_ms) || s.duration_ms == 0 ||
        s.duration_ms > 3600 * 1000) {
      return usage_error("bench", "--duration must be 0 < SECONDS <= 3600");
    }
    s.count = 0;
  }
  if (a.has("--drain") && (!parse_seconds(a.value("--drain"), &s.drain_ms) || s.drain_ms < 100 ||
                           s.drain_ms > 600000)) {
    return usage_error("bench", "--drain must be 0.1..600 seconds");
  }
  if (!parse_pid(a, &s.pid)) return 2;
  if (a.has("--rate")) {
    if (!parse_count(a.value("--rate"), 0, 10000000, &n)) {
      return usage_error("bench", "--rate must be an integer 0..10000000 (messages per second)");
    }
    s.rate = static_cast<double>(n);
  }
  if (a.has("--topics")) {
    if (a.value("--topics") != "shared" && a.value("--topics") != "distinct") {
      return usage_error("bench", "--topics must be shared or distinct");
    }
    s.distinct = a.value("--topics") == "distinct";
  }
  if (s.subs == 0 && s.qos == 0 && s.rate == 0) {
    return usage_error("bench", "without subscribers, QoS 0 needs --rate (nothing would pace it)");
  }
  s.json = a.has("--json");
  Bench bench(s);
  return bench.run();
}

}  // namespace fox::cli
