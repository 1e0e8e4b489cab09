// The subcommands of the fox binary. Each returns the process exit code
// (0 ok, 1 runtime failure, 2 bad usage or config).
#pragma once
#include <string>
#include <vector>

namespace fox::cli {

int version_main(const std::vector<std::string>& args);
int serve_main(const std::vector<std::string>& args);
// Client tools (cmd_<name>.cpp).
int pub_main(const std::vector<std::string>& args);
int sub_main(const std::vector<std::string>& args);
int call_main(const std::vector<std::string>& args);
int register_main(const std::vector<std::string>& args);
int lock_main(const std::vector<std::string>& args);
int passwd_main(const std::vector<std::string>& args);
int bench_main(const std::vector<std::string>& args);   // cmd_bench.cpp

}  // namespace fox::cli
