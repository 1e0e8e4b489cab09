// `fox register PROC --echo | --exec CMD`: a callee that stays registered until SIGINT/SIGTERM.
#include <cstdio>

#include "cli/child_process.hpp"
#include "cli/client_tool.hpp"
#include "cli/commands.hpp"

namespace fox::cli {
namespace {
const char kHelp[] =
    "usage: fox register PROCEDURE (--echo | --exec COMMAND) [--url URL | --fox HOST[:PORT]]\n"
    "                    [--realm REALM]\n"
    "\n"
    "Registers PROCEDURE and answers calls until SIGINT/SIGTERM (then leaves and exits 0).\n"
    "A line \"fox register: registered PROCEDURE\" goes to stderr once the registration stands.\n"
    "  --echo          return the call's args and kwargs unchanged\n"
    "  --exec COMMAND  run `sh -c COMMAND` per call (asynchronously, calls may overlap) with the\n"
    "                  call's args as one JSON line on its stdin; return its stdout, trimmed, as\n"
    "                  one string argument. A non-zero exit is the error fox.error.exec_failed\n"
    "                  (kwargs {\"exit_code\": N})\n";

std::string trim(const std::string& s) {
  const char* ws = " \t\r\n";
  auto b = s.find_first_not_of(ws);
  if (b == std::string::npos) return {};
  auto e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

// The callee over WAMP or FOX.
template <class Client>
int serve_calls(const ParsedArgs& a, const std::string& procedure, const std::string& command) {
  ClientLoop loop;
  Client client(loop.loop(), loop.timers());
  loop.on_signal([&](int) { leave_and_finish(loop, client, 0); });
  auto on_invocation = [&](const wamp::Invocation& inv) {
    if (command.empty()) {
      client.yield(inv.request, inv.args, inv.kwargs);
      return;
    }
    Id request = inv.request;
    std::string input = dump_json(inv.args.is_null() ? Json::array() : inv.args) + "\n";
    run_shell(loop.loop(), command, std::move(input), [&client, &loop, request, command](ChildResult r) {
      if (loop.finishing()) return;
      if (!r.started) {
        client.error(request, "fox.error.exec_failed", Json::array({r.error}), nullptr);
        return;
      }
      if (r.term_signal != 0 || r.exit_code != 0) {
        Json kw = {{"exit_code", r.term_signal ? 128 + r.term_signal : r.exit_code}};
        if (r.term_signal) kw["signal"] = r.term_signal;
        std::string msg = r.term_signal ? "command killed by signal " + std::to_string(r.term_signal)
                                        : "command exited with code " + std::to_string(r.exit_code);
        client.error(request, "fox.error.exec_failed", Json::array({msg}), kw);
        return;
      }
      client.yield(request, Json::array({trim(r.output)}), nullptr);
    });
  };
  int rc = start_session(loop, client, a, "register", [&] {
    client.register_procedure(procedure, Json::object(), on_invocation,
                              [&](Id, const WampError* e) {
                                if (e) {
                                  print_wamp_error("register", *e);
                                  leave_and_finish(loop, client, 1);
                                  return;
                                }
                                std::fprintf(stderr, "fox register: registered %s\n",
                                             procedure.c_str());
                              });
  });
  if (rc != 0) return rc;
  return loop.run();
}

}  // namespace

int register_main(const std::vector<std::string>& argv) {
  ParsedArgs a;
  std::string error;
  if (!parse_flags(argv, {{"--echo", false}, {"--exec", true}}, &a, &error)) {
    return usage_error("register", error);
  }
  if (a.help) {
    std::fputs(kHelp, stdout);
    std::fputs(kCommonHelp, stdout);
    return 0;
  }
  if (!a.mqtt.empty()) return usage_error("register", "--mqtt is only for pub and sub");
  if (a.positional.size() != 1) return usage_error("register", "needs exactly one PROCEDURE");
  if (a.has("--echo") == a.has("--exec")) return usage_error("register", "needs --echo or --exec COMMAND");
  std::string procedure = a.positional[0];
  std::string command = a.value("--exec");
  if (a.has("--exec") && command.empty()) return usage_error("register", "--exec needs a COMMAND");

  return a.fox.empty() ? serve_calls<WampClient>(a, procedure, command)
                       : serve_calls<FoxToolClient>(a, procedure, command);
}

}  // namespace fox::cli
