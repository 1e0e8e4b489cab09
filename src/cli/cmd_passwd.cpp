// fox passwd: a stored-secret record for the config's users (SPEC §6): reads the password from
// the first line of stdin (never from the command line, which other users can see), prints
// "pbkdf2-sha256$<iterations>$<salt>$<hash>" for `"secret"`. Ticket logins and MQTT passwords
// check against it; WAMP-CRA needs the secret itself (or a `salt` with the plain secret).
#include <cstdio>
#include <string>

#include "cli/commands.hpp"
#include "net/crypto.hpp"

namespace fox::cli {

int passwd_main(const std::vector<std::string>& args) {
  unsigned iterations = 100000;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--help" || args[i] == "-h") {
      std::puts("usage: fox passwd [--iterations N] < password\n"
                "Prints a PBKDF2-SHA256 record of the password (first line of stdin) for a\n"
                "user's \"secret\" in the config file.");
      return 0;
    }
    if (args[i] == "--iterations" && i + 1 < args.size()) {
      const unsigned long n = std::strtoul(args[++i].c_str(), nullptr, 10);
      if (n == 0 || n > 10000000) {
        std::fputs("fox passwd: --iterations must be 1..10000000\n", stderr);
        return 2;
      }
      iterations = static_cast<unsigned>(n);
      continue;
    }
    std::fprintf(stderr, "fox passwd: unknown argument '%s'\n", args[i].c_str());
    return 2;
  }
  char line[1024];
  std::string password;
  if (std::fgets(line, sizeof line, stdin)) password = line;
  if (!password.empty() && password.back() == '\n') password.pop_back();
  if (password.empty()) {
    std::fputs("fox passwd: no password on stdin\n", stderr);
    return 2;
  }
  if (!password.empty() && password.back() == '\r') password.pop_back();
  std::puts(net::make_secret_record(password, iterations).c_str());
  return 0;
}

}  // namespace fox::cli
