// `fox call PROC [ARG...]`: one call; prints the result as {"args":...,"kwargs":...}.
#include <cstdio>
#include <functional>

#include "cli/client_tool.hpp"
#include "cli/commands.hpp"

namespace fox::cli {
namespace {
// Between attempts of --wait: short enough that the call follows a fresh registration at once,
// long enough not to flood the router with CALLs.
constexpr std::uint64_t kRetryMs = 100;

const char kHelp[] =
    "usage: fox call PROCEDURE [ARG...] [--kw JSON] [--timeout MS] [--wait SECONDS]\n"
    "                [--url URL | --fox HOST[:PORT]] [--realm REALM]\n"
    "\n"
    "Calls PROCEDURE once and prints the result as one JSON line {\"args\":[...],\"kwargs\":{...}}.\n"
    "Each ARG is parsed as JSON (text that is not JSON is sent as a string). An ERROR prints\n"
    "\"fox call: URI: message\" to stderr and exits 1.\n"
    "  --kw JSON      keyword arguments (a JSON object)\n"
    "  --timeout MS   ask the router to cancel the call after MS milliseconds\n"
    "  --wait SECONDS while the answer is wamp.error.no_such_procedure, call again every 0.1 s\n"
    "                 for up to SECONDS (fractions allowed), for a callee that is still starting\n"
    "                 (default: no retry)\n";

// The call over WAMP or FOX.
template <class Client>
int call(const ParsedArgs& a, const std::string& procedure, const Json& call_args,
         const Json& kwargs, const Json& options, std::uint64_t wait_ms) {
  ClientLoop loop;
  Client client(loop.loop(), loop.timers());
  bool stopping = false;  // no new attempt once a signal asked us to leave
  std::uint64_t deadline = 0;
  std::function<void()> attempt = [&] {
    if (stopping) return;
    client.call(procedure, call_args, kwargs, options,
                [&](const wamp::Result* result, const WampError* e) {
                  if (e && e->uri == "wamp.error.no_such_procedure" && !stopping &&
                      loop.timers().monotonic_ms() + kRetryMs <= deadline) {
                    loop.timers().start_timer(kRetryMs, [&] { attempt(); });
                    return;
                  }
                  if (e) {
                    print_wamp_error("call", *e);
                    leave_and_finish(loop, client, 1);
                    return;
                  }
                  print_line(
                      "{\"args\":" +
                      dump_json(result->args.is_null() ? Json::array() : result->args) +
                      ",\"kwargs\":" +
                      dump_json(result->kwargs.is_null() ? Json::object() : result->kwargs) + "}");
                  leave_and_finish(loop, client, 0);
                });
  };
  loop.on_signal([&](int) {
    stopping = true;
    leave_and_finish(loop, client, 1);
  });
  int rc = start_session(loop, client, a, "call", [&] {
    deadline = loop.timers().monotonic_ms() + wait_ms;
    attempt();
  });
  if (rc != 0) return rc;
  return loop.run();
}

}  // namespace

int call_main(const std::vector<std::string>& argv) {
  ParsedArgs a;
  std::string error;
  if (!parse_flags(argv, {{"--kw", true}, {"--timeout", true}, {"--wait", true}}, &a, &error)) {
    return usage_error("call", error);
  }
  if (a.help) {
    std::fputs(kHelp, stdout);
    std::fputs(kCommonHelp, stdout);
    return 0;
  }
  if (!a.mqtt.empty()) return usage_error("call", "--mqtt is only for pub and sub");
  if (a.positional.empty()) return usage_error("call", "missing PROCEDURE");
  std::string procedure = a.positional[0];
  Json args = Json::array();
  for (std::size_t i = 1; i < a.positional.size(); ++i) args.push_back(parse_json_arg(a.positional[i]));
  Json kwargs = nullptr;
  if (a.has("--kw") && (!parse_json_strict(a.value("--kw"), &kwargs) || !kwargs.is_object())) {
    return usage_error("call", "--kw must be a JSON object");
  }
  Json options = Json::object();
  if (a.has("--timeout")) {
    long long ms = 0;
    if (!parse_count(a.value("--timeout"), 1, 1'000'000'000LL, &ms)) {
      return usage_error("call", "--timeout must be a positive number of milliseconds");
    }
    options["timeout"] = ms;
  }
  std::uint64_t wait_ms = 0;
  if (a.has("--wait") && !parse_seconds(a.value("--wait"), &wait_ms)) {
    return usage_error("call", "--wait must be a number of seconds");
  }
  Json call_args = args.empty() && kwargs.is_null() ? Json(nullptr) : args;

  return a.fox.empty() ? call<WampClient>(a, procedure, call_args, kwargs, options, wait_ms)
                       : call<FoxToolClient>(a, procedure, call_args, kwargs, options, wait_ms);
}

}  // namespace fox::cli
