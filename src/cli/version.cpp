#include <libwebsockets.h>
#include <mbedtls/version.h>
#include <sqlite3.h>
#include <uv.h>

#include <cstdio>

#include "build_info.hpp"
#include "licenses.hpp"
#include "cli/commands.hpp"
#include "core/json.hpp"

namespace fox::cli {

int version_main(const std::vector<std::string>& args) {
  if (args.size() == 1 && args[0] == "--licenses") {
    // The notices of every library linked in (third_party/licenses/, compiled in).
    std::fwrite(kLicenses, 1, sizeof kLicenses - 1, stdout);
    return 0;
  }
  if (!args.empty()) {
    std::fprintf(stderr, "fox version: takes no arguments but --licenses\n");
    return 2;
  }
  std::printf("fox %s (commit %s, %s)\n", FOX_VERSION, FOX_GIT_COMMIT, FOX_ARCH);
  std::printf("  libuv          %s\n", uv_version_string());
  std::printf("  libwebsockets  %s\n", lws_get_library_version());
  std::printf("  SQLite         %s\n", sqlite3_libversion());
  std::printf("  mbedTLS        %s\n", MBEDTLS_VERSION_STRING);
  std::printf("  nlohmann_json  %d.%d.%d\n", NLOHMANN_JSON_VERSION_MAJOR,
              NLOHMANN_JSON_VERSION_MINOR, NLOHMANN_JSON_VERSION_PATCH);
  // raft 0.15 has no version call: FOX_RAFT_VERSION is its pkg-config version (cmake/deps.cmake).
  std::printf("  raft           %s\n", FOX_RAFT_VERSION);
  std::printf("  lz4            not linked (raft's snapshot compression is off)\n");
  // LGPL-3.0 section 4(a): the notice that the library is used and is covered by that licence.
  std::printf("This program uses the raft library (Canonical raft, LGPL-3.0-only with a static\n"
              "linking exception). `fox version --licenses` prints the licences and notices of\n"
              "every library linked in (also in fox's source tree, third_party/licenses/, and\n"
              "in /usr/share/doc/fox/ of the Debian package).\n");
  return 0;
}

}  // namespace fox::cli
