// `fox lock RESOURCE`: the resource-lock demo client (fox-wamp democli/resource-lock.js).
//
// The lock is the retained value of RESOURCE. Acquire = one publish with
//   args [{"id": NAME, "pid": PID}], options {acknowledge, retain, when: null, watch: true,
//   will: null}
// i.e. "write my id if the key is absent, else wait until it is; delete it if I vanish". The
// PUBLISHED reply is the moment the lock is ours. Release = a retained publish with empty args
// (deletes the key), which lets the router apply the next waiter's publication; it is
// conditional (`when` = what this acquisition wrote, with a nonce), so a worker whose lock was
// taken from it meanwhile (its session ended, its will fired) cannot delete its successor's lock:
// the router answers "not accepted" and the worker prints "lost".
#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "cli/client_tool.hpp"
#include "cli/commands.hpp"

namespace fox::cli {
namespace {
const char kHelp[] =
    "usage: fox lock RESOURCE [--hold SECONDS] [--id NAME] [--loop] [--url URL] [--realm REALM]\n"
    "\n"
    "Takes the mutex RESOURCE (retained state with when/watch/will), holds it, releases it:\n"
    "  <UTC time> locked RESOURCE by NAME\n"
    "  <UTC time> released RESOURCE by NAME\n"
    "  <UTC time> lost RESOURCE by NAME   (the lock was no longer this worker's at release)\n"
    "  --hold SECONDS  how long to hold the lock (default 5; fractions allowed)\n"
    "  --id NAME       the holder's name (default HOSTNAME-PID)\n"
    "  --loop          after releasing, wait 1 s and take the lock again, until SIGINT/SIGTERM\n"
    "                  (then leave gracefully and exit 0; the router's will releases a held lock)\n";

class Locker {
public:
  Locker(ClientLoop& loop, WampClient& client, std::string resource, std::string name,
         std::uint64_t hold_ms, bool repeat)
      : loop_(loop), client_(client), resource_(std::move(resource)), name_(std::move(name)),
        hold_ms_(hold_ms), repeat_(repeat),
        nonce_(static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                   std::chrono::system_clock::now().time_since_epoch()).count())) {}

  void acquire() {
    if (loop_.finishing()) return;
    Json options = {{"acknowledge", true}, {"retain", true}, {"when", nullptr},
                    {"watch", true}, {"will", nullptr}};
    ++nonce_;
    Json args = Json::array({{{"id", name_}, {"pid", static_cast<long long>(getpid())},
                              {"nonce", nonce_}}});
    client_.publish(resource_, args, nullptr, options, [this](Id, const WampError* e) {
      if (e) return fail(*e);
      print_line(utc_timestamp() + " locked " + resource_ + " by " + name_);
      loop_.timers().start_timer(hold_ms_, [this] { release(); });
    });
  }

  void release() {
    if (loop_.finishing()) return;
    Json mine = {{"id", name_}, {"nonce", nonce_}};
    Json options = {{"acknowledge", true}, {"retain", true}, {"when", mine}};
    client_.publish(resource_, Json::array(), nullptr, options, [this](Id, const WampError* e) {
      if (e && e->uri != "wamp.error.invalid_payload") return fail(*e);
      print_line(utc_timestamp() + (e ? " lost " : " released ") + resource_ + " by " + name_);
      if (!repeat_) {
        leave_and_finish(loop_, client_, 0);
        return;
      }
      loop_.timers().start_timer(1000, [this] { acquire(); });
    });
  }

private:
  void fail(const WampError& e) {
    print_wamp_error("lock", e);
    leave_and_finish(loop_, client_, 1);
  }

  ClientLoop& loop_;
  WampClient& client_;
  std::string resource_;
  std::string name_;
  std::uint64_t hold_ms_;
  bool repeat_;
  // One per acquisition, from the start time in µs on: this worker's value, told from its earlier
  // ones and from those of an earlier worker of the same name.
  std::uint64_t nonce_;
};
}  // namespace

int lock_main(const std::vector<std::string>& argv) {
  ParsedArgs a;
  std::string error;
  if (!parse_flags(argv, {{"--hold", true}, {"--id", true}, {"--loop", false}}, &a, &error)) {
    return usage_error("lock", error);
  }
  if (a.help) {
    std::fputs(kHelp, stdout);
    std::fputs(kCommonHelp, stdout);
    return 0;
  }
  if (!a.mqtt.empty()) return usage_error("lock", "--mqtt is only for pub and sub");
  if (!a.fox.empty()) return usage_error("lock", "--fox is for pub, sub, call and register");
  if (a.positional.size() != 1) return usage_error("lock", "needs exactly one RESOURCE");
  std::uint64_t hold_ms = 5000;
  if (a.has("--hold") && !parse_seconds(a.value("--hold"), &hold_ms)) {
    return usage_error("lock", "--hold must be a number of seconds");
  }
  std::string name = a.has("--id") ? a.value("--id") : host_name() + "-" + std::to_string(getpid());
  if (name.empty()) return usage_error("lock", "--id must not be empty");

  ClientLoop loop;
  WampClient client(loop.loop(), loop.timers());
  Locker locker(loop, client, a.positional[0], name, hold_ms, a.has("--loop"));
  loop.on_signal([&](int) { leave_and_finish(loop, client, 0); });
  int rc = start_wamp(loop, client, a, "lock", [&] { locker.acquire(); });
  if (rc != 0) return rc;
  return loop.run();
}

}  // namespace fox::cli
