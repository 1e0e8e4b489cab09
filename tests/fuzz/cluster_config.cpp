// libFuzzer target: the cluster file (src/cluster/config.hpp: parse_cluster_config,
// select_node), a pure function of the parsed JSON.
//
// Input: the text of a cluster file, parsed as cli/config.cpp parses it (nlohmann, comments
// allowed).
//
// Properties checked:
//  - parse_cluster_config gives a reason whenever it refuses;
//  - a file it accepts has at least one node of each role, quorums within their node counts,
//    and every node can be selected, alone and with each of its roles (select_node).
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>

#include "cluster/config.hpp"
#include "fuzz_support.hpp"

using namespace fox;
using namespace fox::cluster;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  Json doc;
  try {   // as cli/config.cpp reads a cluster file
    doc = Json::parse(text, nullptr, /*allow_exceptions=*/true, /*ignore_comments=*/true);
  } catch (const std::exception&) {
    return 0;
  }

  ClusterConfig config;
  std::string error;
  if (!parse_cluster_config(doc, "fuzz.json", &config, &error)) {
    FUZZ_CHECK(!error.empty(), "parse_cluster_config refused without a reason");
    return 0;
  }
  for (Role role : {Role::kEntry, Role::kNdb, Role::kSync}) {
    FUZZ_CHECK(config.count(role) > 0, std::string("no node has the role ") + role_name(role));
  }
  FUZZ_CHECK(config.sync_quorum >= 1 &&
                 config.sync_quorum <= static_cast<int>(config.count(Role::kSync)),
             "syncQuorum outside 1..sync nodes");
  FUZZ_CHECK(config.storage_quorum >= 1 &&
                 config.storage_quorum <= static_cast<int>(config.count(Role::kNdb)),
             "storageQuorum outside 1..ndb nodes");
  FUZZ_CHECK(!config.secret.empty(), "an accepted file without a secret");
  for (const NodeConfig& node : config.nodes) {
    FUZZ_CHECK(!node.host.empty() && node.fox >= 1 && node.fox <= 65535 && !node.roles.empty(),
               "node " + node.name + " accepted without host, fox port or roles");
    NodeConfig selected;
    FUZZ_CHECK(select_node(config, node.name, "", &selected, &error), error);
    FUZZ_CHECK(selected.roles == node.roles, "select_node changed the roles of " + node.name);
    for (Role role : node.roles) {
      FUZZ_CHECK(select_node(config, node.name, role_name(role), &selected, &error), error);
      FUZZ_CHECK(selected.roles.size() == 1 && selected.roles[0] == role,
                 "select_node --role gave other roles");
    }
  }
  NodeConfig none;
  FUZZ_CHECK(!select_node(config, "", "", &none, &error), "select_node found a node without a name");
  return 0;
}
