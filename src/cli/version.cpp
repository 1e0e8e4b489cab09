#include <libwebsockets.h>
#include <mbedtls/version.h>
#include <sqlite3.h>
#include <uv.h>

#include <cstdio>

#include "build_info.hpp"
#include "cli/commands.hpp"
#include "core/json.hpp"

namespace fox::cli {

int version_main(const std::vector<std::string>& args) {
  if (!args.empty()) {
    std::fprintf(stderr, "fox version: takes no arguments\n");
    return 2;
  }
  std::printf("fox %s (commit %s, %s)\n", FOX_VERSION, FOX_GIT_COMMIT, FOX_ARCH);
  std::printf("  libuv          %s\n", uv_version_string());
  std::printf("  libwebsockets  %s\n", lws_get_library_version());
  std::printf("  SQLite         %s\n", sqlite3_libversion());
  std::printf("  mbedTLS        %s\n", MBEDTLS_VERSION_STRING);
  std::printf("  nlohmann_json  %d.%d.%d\n", NLOHMANN_JSON_VERSION_MAJOR,
              NLOHMANN_JSON_VERSION_MINOR, NLOHMANN_JSON_VERSION_PATCH);
  return 0;
}

}  // namespace fox::cli
