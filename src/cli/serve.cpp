// `fox serve`: one libuv loop; libwebsockets (HTTP + WebSocket) runs on that same loop.
#include <uv.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "build_info.hpp"
#include "cli/cluster_node.hpp"
#include "cli/commands.hpp"
#include "cli/config.hpp"
#include "cli/stats.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "http/dashboard.hpp"
#include "net/uv_env.hpp"
#include "net/tcp_server.hpp"
#include "net/tls.hpp"
#include "net/ws_server.hpp"
#include "fox/transports.hpp"
#include "mqtt/transports.hpp"
#include "router/router.hpp"
#include "store/cluster_engine.hpp"
#include "store/memory_engine.hpp"
#include "store/sqlite_store.hpp"
#include "wamp/transports.hpp"

namespace fox::cli {
namespace {

// A cluster node's own listeners (an entry's; 0 = off) on its host, from the cluster file.
void apply_node_settings(ServeConfig* config) {
  if (config->cluster_file.empty()) return;
  config->bind = config->cluster_node.host;
  config->port = config->cluster_node.port;
  config->mqtt_port = config->cluster_node.mqtt;
  config->rawsocket_port = config->cluster_node.rawsocket;
  config->fox_port = 0;   // the node's FOX port carries the node links
}

// Everything `fox serve` runs, owned in one place so a signal can stop it in order.
class Server {
public:
  // `args`: serve's own, parsed again by a reload (SIGHUP).
  Server(const ServeConfig& config, std::vector<std::string> args)
      : config_(config), args_(std::move(args)), log_level_(config.log_level) {
    uv_loop_init(&loop_);
    env_ = std::make_unique<net::UvEnv>(&loop_);
    stats_ = std::make_unique<Stats>(&loop_, FOX_VERSION);
  }
  ~Server() {
    // The store is closed first (run() did): what the teardown below changes (sessions leaving,
    // their wills) is not written, so wills stay registered and apply at the next start.
    if (store_) store_->close();
    if (node_) node_->stop(nullptr);
    stats_.reset();
    http_.reset();
    https_.reset();
    mqtts_tcp_.reset();
    rawsocket_tls_.reset();
    rawsocket_.reset();
    mqtt_tcp_.reset();
    fox_tcp_.reset();
    mqtt_.reset();
    router_.reset();
    node_.reset();
    cluster_engine_.reset();
    store_.reset();
    memory_.reset();
    env_.reset();
    if (!clean_exit_) return;  // start failed: the process exits at once, nothing to tidy
    // The destructors above closed their timers; let the loop run their close callbacks (which
    // free them), close the safety timer, and only then close the loop itself.
    if (stopping_) uv_close(reinterpret_cast<uv_handle_t*>(&stop_timer_), nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    if (uv_loop_close(&loop_) != 0) log::debug("serve", "libuv loop still had open handles");
  }

  int run() {
    // A listener that cannot start is fatal: exit 1 at once (nothing was served yet).
    if (!start()) return 1;
    stats_->start(config_.sys_interval);
    // A cluster entry is ready once a sync quorum accepted it (ClusterEngine::on_ready).
    if (!cluster_engine_) log::info("serve", "fox ready");
    uv_run(&loop_, UV_RUN_DEFAULT);
    if (store_) store_->close();   // the last commit
    clean_exit_ = !forced_stop_;
    log::info("serve", "stopped");
    return exit_code_;
  }

  bool clean_exit() const { return clean_exit_; }

private:
  bool start() {
    for (int signum : {SIGINT, SIGTERM}) {
      auto& h = signum == SIGINT ? sigint_ : sigterm_;
      uv_signal_init(&loop_, &h);
      h.data = this;
      uv_signal_start(&h, [](uv_signal_t* s, int sig) {
        log::info("serve", "signal ", sig, ": stopping");
        static_cast<Server*>(s->data)->stop();
      }, signum);
    }
    uv_signal_init(&loop_, &sighup_);
    sighup_.data = this;
    uv_signal_start(&sighup_, [](uv_signal_t* s, int) { static_cast<Server*>(s->data)->reload(); },
                    SIGHUP);

    if (!config_.cluster_file.empty()) return start_cluster();
    // The engine first: the router's log, retained state and wills live there.
    Engine* engine = nullptr;
    if (config_.memory) {
      // --memory: `after` replays from a ring per realm; 10 000 publications unless
      // limits.history_max_rows says otherwise (its 1 000 000 default is for SQLite).
      memory_ = std::make_unique<store::MemoryEngine>(
          config_.limits.history_max_rows_set
              ? static_cast<std::size_t>(config_.limits.history_max_rows)
              : 10000);
      engine = memory_.get();
    } else {
      if (!open_store()) return false;
      engine = store_.get();
    }
    return start_router(*engine);
  }

  // A node of a cluster (SPEC §9): its roles; an entry also serves clients, with the cluster as
  // its engine, once a sync quorum accepted it.
  bool start_cluster() {
    const cluster::NodeConfig& me = config_.cluster_node;
    if (me.has(cluster::Role::kEntry)) {
      const std::size_t rows = config_.limits.history_max_rows_set
                                   ? static_cast<std::size_t>(config_.limits.history_max_rows)
                                   : 10000;
      cluster_engine_ = std::make_unique<store::ClusterEngine>(me.name, rows);
      // Its clients are served only once a sync quorum accepted it (SPEC §9): the listeners
      // open then. One that cannot listen stops the node (exit 1).
      cluster_engine_->on_ready([this, name = me.name] {
        log::info("cluster", name, ": accepted by a sync quorum");
        if (!start_listeners()) {
          exit_code_ = 1;
          stop();
          return;
        }
        log::info("serve", "fox ready");
      });
    }
    node_ = std::make_unique<ClusterNode>(&loop_, config_.cluster, me, cluster_engine_.get(),
                                          config_.sync == "full");
    stats_->set_cluster(node_.get(), me.name);
    std::string error;
    if (!node_->start(&error)) {
      log::error("cluster", error);
      return false;
    }
    if (!cluster_engine_) {
      start_end_of_turn();
      return true;
    }
    if (!start_router(*cluster_engine_, /*listen=*/false)) return false;
    cluster_engine_->attach(node_->entry(), router_.get());
    node_->attach_router(router_.get());
    return true;
  }

  bool start_router(Engine& engine, bool listen = true) {
    router_ = std::make_unique<Router>(*env_, engine);
    router_->set_allowed_realms(config_.realms);
    LoginLimiter::Options logins;
    logins.max_failures = config_.limits.login_failures;
    logins.block_ms = config_.limits.login_block_ms;
    logins.max_block_ms = std::max(logins.block_ms, logins.max_block_ms);
    router_->logins().configure(logins);
    if (!auth_->realms.empty()) router_->set_auth_policy(auth_);
    mqtt::ServerOptions mo;
    mo.default_realm = config_.mqtt_default_realm;
    mo.max_packet_size = config_.limits.max_message_size;
    mo.session_queue = config_.limits.session_queue;
    mo.store = store_.get();
    mqtt_ = std::make_unique<mqtt::Server>(*router_, mo);
    stats_->set_router(router_.get());
    stats_->set_mqtt(mqtt_.get());
    stats_->set_store(store_.get());
    if (store_) restore_state();
    start_end_of_turn();
    return listen ? start_listeners() : true;
  }

  // The client listeners: HTTP/WebSocket (not with `port` 0: a cluster entry without one, or TLS
  // only), HTTPS, then the TCP ones. False (after a log line) when one cannot listen.
  bool start_listeners() {
    if (config_.port == 0 && config_.tls_cert.empty()) return start_tcp_listeners();

    net::WsServerOptions ws;
    ws.bind = config_.bind;
    ws.port = config_.port;
    ws.max_message_size = config_.limits.max_message_size;
    ws.outbound = outbound(1);
    ws.status_page = http::dashboard_page();
    ws.limits = &limits_;
    ws.env = env_.get();
    ws.handshake_timeout_ms = config_.limits.handshake_timeout_ms;
    ws.pages = [this](const std::string& path, unsigned* status, std::string* type,
                      std::string* body) { return page(path, status, type, body); };
    std::string error;
    if (config_.port != 0) {
      http_ = std::make_unique<net::WsServer>(&loop_, ws);
      add_ws_endpoints(*http_, "websocket");
      if (!http_->start(&error)) {
        log::error("http", error);
        return false;
      }
      log::info("http", "listening on ", config_.bind, ":", http_->port(),
                " (WAMP WebSocket /wamp, MQTT WebSocket /mqtt, FOX WebSocket /fox, dashboard /, "
                "Prometheus /metrics)");
    }
    if (!config_.tls_cert.empty() && config_.tls_port != 0) {
      ws.port = config_.tls_port;
      ws.tls_cert = config_.tls_cert;
      ws.tls_key = config_.tls_key;
      https_ = std::make_unique<net::WsServer>(&loop_, ws);
      add_ws_endpoints(*https_, "websocket-tls");
      if (!https_->start(&error)) {
        log::error("http", "TLS: ", error);
        return false;
      }
      log::info("http", "listening on ", config_.bind, ":", https_->port(),
                " with TLS (wss:// /wamp, /mqtt, /fox; https:// dashboard and /metrics)");
    }
    return start_tcp_listeners();
  }

  // /wamp, /mqtt and /fox on one HTTP server, their traffic and connections counted.
  void add_ws_endpoints(net::WsServer& server, const char* transport) {
    wamp::SessionOptions session;
    net::WsEndpoint endpoints[] = {
        wamp::websocket_endpoint(*router_, session), mqtt::websocket_endpoint(*mqtt_),
        foxp::websocket_endpoint(*router_, config_.limits.max_message_size)};
    const metrics::Protocol protocols[] = {metrics::kWamp, metrics::kMqtt, metrics::kFox};
    for (std::size_t i = 0; i < 3; ++i) {
      endpoints[i].traffic = &metrics::traffic(protocols[i]);
      const std::size_t index = server.endpoints().size();
      server.add_endpoint(std::move(endpoints[i]));
      stats_->add_listener({metrics::kProtocolNames[protocols[i]], transport,
                            [&server, index] { return server.endpoints()[index].open; }});
    }
  }

  // GET paths other than / (net/ws_server.hpp).
  bool page(const std::string& path, unsigned* status, std::string* type, std::string* body) {
    if (path != "/metrics") return false;
    *status = 200;
    *type = "text/plain; version=0.0.4; charset=utf-8";
    *body = stats_->prometheus();
    return true;
  }

  bool start_tcp_listeners() {
    wamp::SessionOptions session;
    if (!config_.tls_cert.empty() && !tls_) {
      tls_ = std::make_unique<net::TlsConfig>();
      std::string error;
      if (!tls_->load(config_.tls_cert, config_.tls_key, &error)) {
        log::error("serve", error);
        return false;
      }
    }

    if (config_.rawsocket_port != 0) {
      // Each RawSocket message is two buffers (header + shared payload), hence twice the frames.
      rawsocket_ = start_tcp("rawsocket", config_.rawsocket_port, outbound(2),
                             wamp::rawsocket_factory(*router_, session,
                                                     config_.limits.max_message_size),
                             "WAMP RawSocket: json, msgpack, cbor");
      if (!rawsocket_) return false;
    }
    if (config_.mqtt_port != 0) {
      mqtt_tcp_ = start_tcp("mqtt", config_.mqtt_port, outbound(1),
                            mqtt::tcp_factory(*mqtt_), "MQTT 3.1.1 and 3.1");
      if (!mqtt_tcp_) return false;
    }
    if (tls_ && config_.mqtts_port != 0) {
      mqtts_tcp_ = start_tcp("mqtt", config_.mqtts_port, outbound(1), mqtt::tcp_factory(*mqtt_),
                             "MQTT 3.1.1 and 3.1 over TLS", true);
      if (!mqtts_tcp_) return false;
    }
    if (tls_ && config_.rawsocket_tls_port != 0) {
      rawsocket_tls_ = start_tcp("rawsocket", config_.rawsocket_tls_port, outbound(2),
                                 wamp::rawsocket_factory(*router_, session,
                                                         config_.limits.max_message_size),
                                 "WAMP RawSocket over TLS: json, msgpack, cbor", true);
      if (!rawsocket_tls_) return false;
    }
    if (config_.fox_port != 0) {
      fox_tcp_ = start_tcp("fox", config_.fox_port, outbound(1),
                           foxp::tcp_factory(*router_, config_.limits.max_message_size),
                           "FOX: MessagePack maps, fox-wamp's hyper protocol");
      if (!fox_tcp_) return false;
    }
    return true;
  }

  // SQLite (SPEC §8): open (a corrupt, newer or locked database is fatal: one line, exit 1).
  bool open_store() {
    store::SqliteOptions so;
    so.dir = config_.data;
    so.sync_full = config_.sync == "full";
    so.history_max_rows = config_.limits.history_max_rows;
    so.history_max_age_s = config_.limits.history_max_age_s;
    std::string error;
    store_ = store::SqliteStore::open(so, *env_, &error);
    if (!store_) {
      log::error("store", error);
      return false;
    }
    return true;
  }

  // Restores MQTT persistent sessions, then applies what the sessions of the previous process
  // left (retained wills, testaments, MQTT CONNECT wills: every one of those sessions is gone)
  // so the restored persistent sessions receive them.
  void restore_state() {
    std::size_t sessions = mqtt_->restore(store_->load_sessions());
    auto wills = store_->load_wills();
    router_->apply_stale_wills(wills);
    auto testaments = store_->load_testaments();
    router_->apply_stale_testaments(testaments);
    std::size_t mqtt_wills = mqtt_->publish_stale_wills(store_->load_connect_wills());
    store_->flush();
    log::info("store", "SQLite ", store_->path(), " (WAL, synchronous=", config_.sync,
              "), event ids from ", store_->first_id(), ", ", sessions,
              " MQTT persistent session(s) restored, ", wills.size(), " will(s) applied, ",
              testaments.size(), " testament(s) and ", mqtt_wills, " MQTT will(s) published");
  }

  // The end of every loop turn, in this order: (1) the store commits what the turn wrote (group
  // commit) and then runs what waited for that commit — deliveries and acknowledgements of the
  // publications now durable; (2) every TCP connection writes what it queued this turn, those
  // included, in one write each. (WebSocket connections write on lws's WRITEABLE callbacks.)
  // It runs from a check hook (after the turn's I/O callbacks) and a prepare hook (for work done
  // by timers and close callbacks, before the loop would block).
  void end_of_turn() {
    if (store_) store_->flush();
    if (node_) node_->end_of_turn();
    for (net::TcpServer* server : {rawsocket_.get(), mqtt_tcp_.get(), fox_tcp_.get(),
                                   mqtts_tcp_.get(), rawsocket_tls_.get()}) {
      if (server) server->flush();
    }
  }

  void start_end_of_turn() {
    uv_prepare_init(&loop_, &prepare_);
    prepare_.data = this;
    uv_prepare_start(&prepare_, [](uv_prepare_t* p) { static_cast<Server*>(p->data)->end_of_turn(); });
    uv_unref(reinterpret_cast<uv_handle_t*>(&prepare_));
    uv_check_init(&loop_, &check_);
    check_.data = this;
    uv_check_start(&check_, [](uv_check_t* c) { static_cast<Server*>(c->data)->end_of_turn(); });
    uv_unref(reinterpret_cast<uv_handle_t*>(&check_));
    hooks_ = true;
  }

  // A plain TCP listener on the configured address; nullptr (after a log line) if it cannot listen.
  // What one connection may have queued: limits.session_queue messages (`frames_per_message`
  // frames each) and limits.session_queue_bytes bytes (core/outbound.hpp says what happens over).
  OutboundLimits outbound(std::size_t frames_per_message) const {
    OutboundLimits o;
    o.messages = config_.limits.session_queue * frames_per_message;
    o.bytes = config_.limits.session_queue_bytes;
    return o;
  }

  std::unique_ptr<net::TcpServer> start_tcp(const char* name, int port, OutboundLimits outbound,
                                            net::TcpServer::Factory factory, const char* what,
                                            bool tls = false) {
    net::TcpServerOptions o;
    o.tls = tls ? tls_.get() : nullptr;
    o.name = name;
    o.bind = config_.bind;
    o.port = port;
    o.outbound = outbound;
    o.limits = &limits_;
    o.env = env_.get();
    o.handshake_timeout_ms = config_.limits.handshake_timeout_ms;
    const std::string n = name;
    const metrics::Protocol protocol = n == "mqtt" ? metrics::kMqtt : n == "fox" ? metrics::kFox
                                                                                 : metrics::kWamp;
    o.traffic = &metrics::traffic(protocol);
    auto server = std::make_unique<net::TcpServer>(&loop_, o, std::move(factory));
    std::string error;
    if (!server->start(&error)) {
      log::error(name, error);
      return nullptr;
    }
    stats_->add_listener({metrics::kProtocolNames[protocol],
                          n == "rawsocket" ? (tls ? "rawsocket-tls" : "rawsocket")
                                           : (tls ? "tls" : "tcp"),
                          [s = server.get()] { return s->connection_count(); }});
    log::info(name, "listening on ", config_.bind, ":", server->port(), " (", what, ")");
    return server;
  }

  // SIGHUP: the config file (and the flags, which still win) read again. New users, anonymous
  // roles and permission rules apply to new logins and to every session's next check (sessions
  // keep their roles; subscriptions and registrations made stay); the log level applies at once.
  // Anything else that changed (listeners, TLS files, storage, limits, realms, the cluster)
  // applies at a restart, and the log line says so. A file that no longer parses changes nothing.
  void reload() {
    if (stopping_) return;
    if (config_.config_file.empty()) {
      log::info("serve", "SIGHUP: no --config file, nothing to reload");
      return;
    }
    ServeConfig fresh;
    std::string error;
    if (parse_serve_args(args_, &fresh, &error) != ParseResult::kOk) {
      log::error("serve", "SIGHUP: ", error, "; the running configuration stays");
      return;
    }
    apply_node_settings(&fresh);
    std::string changes = auth::describe_changes(*auth_, fresh.auth);
    if (!changes.empty()) {
      policies_.push_back(std::make_unique<auth::Policy>(std::move(fresh.auth)));
      auth_ = policies_.back().get();
      if (router_) router_->set_auth_policy(auth_->realms.empty() ? nullptr : auth_);
    }
    log::Level level;
    if (fresh.log_level != log_level_ && log::parse_level(fresh.log_level, &level)) {
      log::set_level(level);
      changes += (changes.empty() ? "" : "; ") + std::string("log level ") + fresh.log_level;
      log_level_ = fresh.log_level;
    }
    const std::string restart = restart_settings(config_, fresh);
    log::emit(restart.empty() ? log::Level::kInfo : log::Level::kWarn, "serve",
              "SIGHUP: reloaded ", config_.config_file, ": ",
              changes.empty() ? "no change to users, rules or the log level" : changes,
              restart.empty() ? "" : "; changed but applied only at a restart: ", restart);
  }

  // The settings a reload does not apply that differ between the running config and `fresh`.
  static std::string restart_settings(const ServeConfig& a, const ServeConfig& b) {
    std::string out;
    auto check = [&out](const char* name, bool same) {
      if (!same) out += (out.empty() ? "" : ", ") + std::string(name);
    };
    check("bind", a.bind == b.bind);
    check("ports", a.port == b.port && a.mqtt_port == b.mqtt_port &&
                       a.rawsocket_port == b.rawsocket_port && a.fox_port == b.fox_port &&
                       a.tls_port == b.tls_port && a.mqtts_port == b.mqtts_port &&
                       a.rawsocket_tls_port == b.rawsocket_tls_port);
    check("tls", a.tls_cert == b.tls_cert && a.tls_key == b.tls_key);
    check("storage", a.data == b.data && a.memory == b.memory && a.sync == b.sync);
    check("limits", a.limits == b.limits);
    check("realms", a.realms == b.realms && a.mqtt_default_realm == b.mqtt_default_realm);
    check("cluster", a.cluster_file == b.cluster_file && a.node == b.node && a.role == b.role);
    check("log format", a.log_format == b.log_format);
    check("sys_interval", a.sys_interval == b.sys_interval);
    return out;
  }

  void stop() {
    if (stopping_) return;
    stopping_ = true;
    stats_->stop();
    if (http_) http_->stop();
    if (https_) https_->stop();
    if (mqtts_tcp_) mqtts_tcp_->stop();
    if (rawsocket_tls_) rawsocket_tls_->stop();
    if (rawsocket_) rawsocket_->stop();
    if (mqtt_tcp_) mqtt_tcp_->stop();
    if (fox_tcp_) fox_tcp_->stop();
    if (node_) node_->stop(nullptr);
    env_->cancel_all();
    if (hooks_) {
      end_of_turn();
      uv_close(reinterpret_cast<uv_handle_t*>(&prepare_), nullptr);
      uv_close(reinterpret_cast<uv_handle_t*>(&check_), nullptr);
      hooks_ = false;
    }
    for (uv_signal_t* h : {&sigint_, &sigterm_, &sighup_}) {
      if (h->data) uv_close(reinterpret_cast<uv_handle_t*>(h), nullptr);
    }
    // A safety net: whatever still holds the loop open after 1.5 s is abandoned, so a stop never
    // takes more than 2 s. The timer is unreferenced: it does not itself keep the loop alive.
    uv_timer_init(&loop_, &stop_timer_);
    stop_timer_.data = this;
    uv_timer_start(&stop_timer_, [](uv_timer_t* t) {
      log::warn("serve", "stop took over 1.5 s; exiting anyway");
      static_cast<Server*>(t->data)->forced_stop_ = true;
      uv_stop(t->loop);
    }, 1500, 0);
    uv_unref(reinterpret_cast<uv_handle_t*>(&stop_timer_));
  }

  const ServeConfig& config_;
  const std::vector<std::string> args_;
  std::string log_level_;   // the one in force (a reload may change it)
  // The users and rules in force: the config's, or the last reload's. Every policy a reload
  // replaced stays alive (sessions that began authenticating may still point into it).
  const auth::Policy* auth_ = &config_.auth;
  std::vector<std::unique_ptr<auth::Policy>> policies_;
  uv_loop_t loop_;
  net::ConnectionLimits limits_{config_.limits.max_connections,
                                config_.limits.max_connections_per_ip};
  uv_signal_t sigint_{}, sigterm_{}, sighup_{};
  uv_timer_t stop_timer_{};
  uv_prepare_t prepare_{};
  uv_check_t check_{};
  bool hooks_ = false;
  bool stopping_ = false;
  bool clean_exit_ = false;
  bool forced_stop_ = false;
  int exit_code_ = 0;         // 1: a cluster entry could not open its listeners once ready  // the safety timer ended the loop with handles still closing
  std::unique_ptr<net::UvEnv> env_;
  std::unique_ptr<store::MemoryEngine> memory_;   // the engine with --memory
  std::unique_ptr<store::SqliteStore> store_;     // the engine otherwise
  std::unique_ptr<store::ClusterEngine> cluster_engine_;   // a cluster entry's engine
  std::unique_ptr<ClusterNode> node_;             // --cluster: the node's roles
  std::unique_ptr<Router> router_;
  std::unique_ptr<net::WsServer> http_;
  std::unique_ptr<net::WsServer> https_;   // --tls-cert: wss:// and https://
  std::unique_ptr<net::TlsConfig> tls_;   // --tls-cert: the TCP listeners' TLS
  std::unique_ptr<net::TcpServer> mqtts_tcp_, rawsocket_tls_;
  std::unique_ptr<net::TcpServer> rawsocket_;
  std::unique_ptr<mqtt::Server> mqtt_;
  std::unique_ptr<net::TcpServer> mqtt_tcp_;
  std::unique_ptr<net::TcpServer> fox_tcp_;
  std::unique_ptr<Stats> stats_;   // /metrics, $SYS, fox.stats
};

}  // namespace

int serve_main(const std::vector<std::string>& args) {
  ServeConfig config;
  std::string error;
  switch (parse_serve_args(args, &config, &error)) {
    case ParseResult::kHelp:
      std::fputs(serve_help().c_str(), stdout);
      return 0;
    case ParseResult::kError:
      std::fprintf(stderr, "fox serve: %s\n", error.c_str());
      return 2;
    case ParseResult::kOk:
      break;
  }
  log::Level level = log::Level::kInfo;
  log::parse_level(config.log_level, &level);
  log::set_level(level);
  log::set_format(config.log_format == "json" ? log::Format::kJson : log::Format::kText);
  if (!config.tls_cert.empty() && !net::check_tls_pair(config.tls_cert, config.tls_key, &error)) {
    std::fprintf(stderr, "fox serve: TLS: %s\n", error.c_str());
    return 2;
  }
  if (const cluster::ClusterTls& tls = config.cluster.tls; !config.cluster_file.empty() && tls.on()) {
    // The node links' files, checked before anything starts (NodeLinks loads them again).
    net::TlsConfig probe;
    const std::string& name = config.cluster_node.name;
    if (!probe.load_mutual(cluster::ClusterTls::for_node(tls.cert, name),
                           cluster::ClusterTls::for_node(tls.key, name), tls.ca, false, &error)) {
      std::fprintf(stderr, "fox serve: cluster %s: tls: %s\n", config.cluster_file.c_str(), error.c_str());
      return 2;
    }
  }
  if (!config.cluster_file.empty()) {
    std::string roles;
    for (cluster::Role r : config.cluster_node.roles) {
      roles += std::string(roles.empty() ? "" : ", ") + cluster::role_name(r);
    }
    log::info("cluster", config.cluster_file, ": node ", config.cluster_node.name, " (", roles,
              "), ", config.cluster.nodes.size(), " nodes, sync quorum ", config.cluster.sync_quorum,
              ", storage quorum ", config.cluster.storage_quorum);
  }
  apply_node_settings(&config);
  if (const std::string warning = exposure_warning(config); !warning.empty()) {
    log::warn("serve", warning);
  }
  std::signal(SIGPIPE, SIG_IGN);
  Server server(config, args);
  const int rc = server.run();
  // A start that failed (or a stop the safety timer cut short) exits at once without tidying
  // (~Server skips it), and without the exit-time checks of the sanitizer build, which would
  // report what was not tidied as leaks.
  if (!server.clean_exit()) {
    std::fflush(nullptr);
    std::_Exit(rc);
  }
  return rc;
}

}  // namespace fox::cli
