// fox: one binary, subcommands (SPEC §2).
#include <cstdio>
#include <string>
#include <vector>

#include "cli/commands.hpp"

namespace {
const char kUsage[] =
    "usage: fox <command> [flags]\n"
    "\n"
    "commands:\n"
    "  serve     run the broker (WAMP router + MQTT broker); fox serve --help\n"
    "  version   print version, commit, architecture and library versions\n"
    "  pub       publish one event (WAMP, or MQTT with --mqtt); fox pub --help\n"
    "  sub       print events as JSON lines; fox sub --help\n"
    "  call      call a procedure; fox call --help\n"
    "  register  answer calls (--echo or --exec CMD); fox register --help\n"
    "  lock      the resource-lock demo client (when/watch/will mutex); fox lock --help\n"
    "  passwd    a hashed secret for the config's users (password on stdin)\n"
    "  bench     an MQTT load generator: msg/s, latency percentiles, lost; fox bench --help\n";
}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
    std::fputs(kUsage, args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  std::string command = args[0];
  args.erase(args.begin());
  if (command == "serve") return fox::cli::serve_main(args);
  if (command == "version" || command == "--version") return fox::cli::version_main(args);
  if (command == "pub") return fox::cli::pub_main(args);
  if (command == "sub") return fox::cli::sub_main(args);
  if (command == "call") return fox::cli::call_main(args);
  if (command == "register") return fox::cli::register_main(args);
  if (command == "lock") return fox::cli::lock_main(args);
  if (command == "passwd") return fox::cli::passwd_main(args);
  if (command == "bench") return fox::cli::bench_main(args);
  std::fprintf(stderr, "fox: unknown command '%s'\n%s", command.c_str(), kUsage);
  return 2;
}
