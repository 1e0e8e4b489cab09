// cluster/config: the cluster file of SPEC §9, every error one line naming file and key.
#include <doctest/doctest.h>

#include "cluster/config.hpp"

using namespace fox;
using cluster::ClusterConfig;
using cluster::Role;

namespace {

// Three nodes with every role, quorums 2 (the three-Pi layout).
Json three() {
  Json nodes = Json::object();
  for (int i = 1; i <= 3; ++i) {
    nodes["N" + std::to_string(i)] = {{"host", "127.0.0.1"},
                                       {"fox", 1734 + i},
                                       {"roles", {"entry", "ndb", "sync"}},
                                       {"port", 9030 + i},
                                       {"mqtt", 1880 + i},
                                       {"data", "./data/n" + std::to_string(i)}};
  }
  return Json{{"syncQuorum", 2}, {"storageQuorum", 2}, {"secret", "change-me"}, {"nodes", nodes}};
}

std::string error_of(const Json& doc) {
  ClusterConfig c;
  std::string e;
  CHECK_FALSE(cluster::parse_cluster_config(doc, "c.json", &c, &e));
  CHECK(e.rfind("cluster c.json", 0) == 0);
  CHECK(e.find('\n') == std::string::npos);
  return e;
}

}  // namespace

TEST_CASE("the three-node cluster file parses, nodes in the file's order") {
  ClusterConfig c;
  std::string e;
  REQUIRE(cluster::parse_cluster_config(three(), "c.json", &c, &e));
  CHECK(c.sync_quorum == 2);
  CHECK(c.storage_quorum == 2);
  CHECK(c.entry_timeout_ms == 5000);
  REQUIRE(c.nodes.size() == 3);
  CHECK(c.nodes[0].name == "N1");
  CHECK(c.nodes[2].fox == 1737);
  CHECK(c.nodes[1].roles == std::vector<Role>{Role::kEntry, Role::kNdb, Role::kSync});
  CHECK(c.count(Role::kSync) == 3);

  cluster::NodeConfig n;
  REQUIRE(cluster::select_node(c, "N2", "", &n, &e));
  CHECK(n.mqtt == 1882);
  REQUIRE(cluster::select_node(c, "N2", "ndb", &n, &e));
  CHECK(n.roles == std::vector<Role>{Role::kNdb});
  CHECK_FALSE(cluster::select_node(c, "N9", "", &n, &e));
  CHECK(e == "cluster c.json: no node N9 (nodes: N1, N2, N3)");
  CHECK_FALSE(cluster::select_node(c, "N1", "leader", &n, &e));
  CHECK(e == "flag --role leader: expected entry, ndb or sync");
}

TEST_CASE("one role per node, as the reference's 3 + 3 + 3 layout") {
  Json nodes = Json::object();
  for (int i = 0; i < 3; ++i) {
    const std::string k = std::to_string(i + 1);
    nodes["S" + k] = {{"host", "127.0.0.1"}, {"fox", 1745 + i}, {"roles", {"sync"}}, {"data", "s" + k}};
    nodes["E" + k] = {{"host", "127.0.0.1"}, {"fox", 1735 + i}, {"roles", {"entry"}}, {"port", 9031 + i},
                      {"mqtt", 1881 + i}};
    nodes["D" + k] = {{"host", "127.0.0.1"}, {"fox", 1755 + i}, {"roles", {"ndb"}}, {"data", "d" + k}};
  }
  Json doc = {{"syncQuorum", 2}, {"storageQuorum", 2}, {"secret", "s"}, {"entryTimeoutMs", 3000},
              {"nodes", nodes}};
  ClusterConfig c;
  std::string e;
  REQUIRE(cluster::parse_cluster_config(doc, "c.json", &c, &e));
  CHECK(c.nodes.size() == 9);
  CHECK(c.entry_timeout_ms == 3000);
  CHECK(c.find("E2")->port == 9032);
  CHECK(c.find("D1")->data == "d1");
}

TEST_CASE("a bad cluster file names the key and the problem") {
  Json d = three();
  d["nodes"]["N2"]["fox"] = 1735;
  CHECK(error_of(d) == "cluster c.json: key \"nodes.N2.fox\": port 1735 is also nodes.N1.fox");

  d = three();
  d["syncQuorum"] = 4;
  CHECK(error_of(d) == "cluster c.json: key \"syncQuorum\": 4 is more than the 3 sync nodes");
  d["syncQuorum"] = 1;
  CHECK(error_of(d).find("must be 2, the majority of the 3 sync nodes") != std::string::npos);
  d = three();
  d["storageQuorum"] = 5;
  CHECK(error_of(d) == "cluster c.json: key \"storageQuorum\": 5 is more than the 3 ndb nodes");

  d = three();
  d["nodes"]["N1"]["roles"] = {"entry", "leader"};
  CHECK(error_of(d) == "cluster c.json: key \"nodes.N1.roles\": expected a list of entry, ndb, sync");
  d["nodes"]["N1"]["roles"] = {"ndb", "ndb"};
  CHECK(error_of(d) == "cluster c.json: key \"nodes.N1.roles\": ndb twice");
  d = three();
  d["nodes"]["N3"].erase("data");
  CHECK(error_of(d).find("key \"nodes.N3.data\": missing") != std::string::npos);
  d = three();
  d["nodes"]["N3"]["data"] = "./data/n1";
  CHECK(error_of(d) == "cluster c.json: key \"nodes.N3.data\": also the data of node N1");
  d = three();
  d["nodes"]["N1"]["colour"] = "red";
  CHECK(error_of(d).find("key \"nodes.N1.colour\": unknown key") != std::string::npos);
  d = three();
  d["quorum"] = 2;
  CHECK(error_of(d).find("key \"quorum\": unknown key") != std::string::npos);
  d = three();
  d.erase("secret");
  CHECK(error_of(d).find("key \"secret\": missing") != std::string::npos);
  d = three();
  d["secret"] = "";
  CHECK(error_of(d) == "cluster c.json: key \"secret\": expected a non-empty string");
  d = three();
  d["nodes"]["N1"]["fox"] = "1735";
  CHECK(error_of(d) == "cluster c.json: key \"nodes.N1.fox\": expected an integer 1..65535");
  d = three();
  d["nodes"]["N1"]["port"] = 70000;
  CHECK(error_of(d) == "cluster c.json: key \"nodes.N1.port\": expected an integer 0..65535");
  d = three();
  d["nodes"]["bad name"] = d["nodes"]["N1"];
  CHECK(error_of(d).find("a node name is") != std::string::npos);
  d = three();
  for (auto& [name, node] : d["nodes"].items()) node["roles"] = {"entry", "ndb"};
  CHECK(error_of(d) == "cluster c.json: key \"nodes\": no node has the role sync");
  CHECK(error_of(Json::array()) == "cluster c.json: expected a JSON object");
  d = three();
  d["syncQuorum"] = 18446744073709551615ULL;
  CHECK(error_of(d) == "cluster c.json: key \"syncQuorum\": expected an integer 1..1000");
}

TEST_CASE("the node links' tls key: ca, cert and key, {node} replaced by the node's name") {
  Json d = three();
  d["tls"] = {{"ca", "ca.pem"}, {"cert", "certs/{node}.pem"}, {"key", "certs/{node}.key"}};
  ClusterConfig c;
  std::string e;
  REQUIRE(cluster::parse_cluster_config(d, "c.json", &c, &e));
  CHECK(c.tls.on());
  CHECK(c.tls.ca == "ca.pem");
  CHECK(cluster::ClusterTls::for_node(c.tls.cert, "N2") == "certs/N2.pem");
  CHECK(cluster::ClusterTls::for_node("{node}/{node}.key", "N10") == "N10/N10.key");
  CHECK(cluster::ClusterTls::for_node("one.pem", "N1") == "one.pem");
  REQUIRE(cluster::parse_cluster_config(three(), "c.json", &c, &e));
  CHECK_FALSE(c.tls.on());

  d["tls"].erase("key");
  CHECK(error_of(d) == "cluster c.json: key \"tls.key\": missing (ca, cert and key: PEM files)");
  d["tls"]["key"] = "";
  CHECK(error_of(d) == "cluster c.json: key \"tls.key\": expected a non-empty string");
  d["tls"]["key"] = "k.pem";
  d["tls"]["verify"] = false;
  CHECK(error_of(d) == "cluster c.json: key \"tls.verify\": unknown key (ca, cert, key)");
  d["tls"] = true;
  CHECK(error_of(d).find("key \"tls\": expected an object") != std::string::npos);
}
