// The subcommands of the fox binary. Each returns the process exit code
// (0 ok, 1 runtime failure, 2 bad usage or config).
#pragma once
#include <string>
#include <vector>

namespace fox::cli {

int version_main(const std::vector<std::string>& args);
int serve_main(const std::vector<std::string>& args);

}  // namespace fox::cli
