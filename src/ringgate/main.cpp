// ringgate's entry point and control thread: command line, configuration, logging, the shard
// server, signals (signalfd), sd_notify, the watchdog and the usage ledger's final flush; plus a
// DNS thread for the blocking getaddrinfo refreshes, so a slow resolver delays neither signals
// nor watchdog pings. Shards never block on anything here.
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <ringgate/config/config.hpp>
#include <ringgate/gateway/gateway.hpp>
#include <ringgate/httpd/server.hpp>
#include <ringgate/net/socket.hpp>
#include <ringgate/runtime/clock.hpp>
#include <ringgate/runtime/log.hpp>
#include <ringgate/runtime/watchdog.hpp>

#include "commands.hpp"
#include "systemd.hpp"

namespace {

constexpr std::string_view usage_text =
    "usage: ringgate [options]\n"
    "       ringgate hash-key [--generate]   SHA-256 of a key read from stdin, for [[keys]]\n"
    "       ringgate usage (--config FILE | --ledger FILE) [--key NAME] [--since T]\n"
    "                                        spend per key from the usage ledger\n"
    "\n"
    "  --config FILE        configuration file (TOML); built-in defaults when omitted\n"
    "  --listen ADDR:PORT   data listener, overrides server.listen (port 0 = ephemeral)\n"
    "  --admin-listen A     admin listener (/metrics, /admin/*), overrides admin.listen;\n"
    "                       ADDR:PORT (port 0 = ephemeral) or off\n"
    "  --shards N           shard threads, overrides server.shards (0 = one per CPU)\n"
    "  --log-level L        debug | info | warn | error (overrides log.level)\n"
    "  --log-format F       json | text (overrides log.format)\n"
    "  --check-config FILE  validate FILE and exit (0 = valid)\n"
    "  --version            print the version and exit\n"
    "  --help               print this help and exit\n";

struct cli {
  std::optional<std::string> config_file;
  std::optional<std::string> listen;
  std::optional<std::string> admin_listen;
  std::optional<uint32_t> shards;
  std::optional<rg::config::log_level> level;
  std::optional<rg::config::log_format> format;
  std::optional<std::string> check_config;
  bool version = false;
  bool help = false;
};

int fail(const std::string& msg) {
  fprintf(stderr, "ringgate: %s\n", msg.c_str());
  return 2;
}

// Returns an error message, or nullopt when the arguments parsed.
std::optional<std::string> parse_cli(int argc, char** argv, cli& out) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    std::string_view value;
    bool has_inline = false;
    if (auto eq = a.find('='); a.starts_with("--") && eq != std::string_view::npos) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
      has_inline = true;
    }
    auto need = [&](std::string_view& v) -> bool {
      if (has_inline) {
        v = value;
        return true;
      }
      if (i + 1 >= args.size()) return false;
      v = args[++i];
      return true;
    };
    std::string_view v;
    if (a == "--help" || a == "-h") {
      out.help = true;
    } else if (a == "--version") {
      out.version = true;
    } else if (a == "--config" || a == "-c") {
      if (!need(v)) return std::string(a) + " needs a file";
      out.config_file = std::string(v);
    } else if (a == "--check-config") {
      if (!need(v)) return "--check-config needs a file";
      out.check_config = std::string(v);
    } else if (a == "--listen") {
      if (!need(v)) return "--listen needs ADDR:PORT";
      if (auto l = rg::config::parse_listen(v); !l) return "--listen: " + l.error();
      out.listen = std::string(v);
    } else if (a == "--admin-listen") {
      if (!need(v)) return "--admin-listen needs ADDR:PORT or off";
      if (v != "off") {
        if (auto l = rg::config::parse_listen(v); !l) return "--admin-listen: " + l.error();
      }
      out.admin_listen = std::string(v);
    } else if (a == "--shards") {
      if (!need(v)) return "--shards needs a number";
      uint32_t n = 0;
      if (v.empty() || v.size() > 4) return "--shards: expected 0..1024";
      for (char c : v) {
        if (c < '0' || c > '9') return "--shards: expected 0..1024";
        n = n * 10 + uint32_t(c - '0');
      }
      if (n > 1024) return "--shards: expected 0..1024";
      out.shards = n;
    } else if (a == "--log-level") {
      if (!need(v)) return "--log-level needs a level";
      out.level = rg::config::parse_log_level(v);
      if (!out.level) return "--log-level: expected debug, info, warn or error";
    } else if (a == "--log-format") {
      if (!need(v)) return "--log-format needs json or text";
      out.format = rg::config::parse_log_format(v);
      if (!out.format) return "--log-format: expected json or text";
    } else {
      return "unknown argument: " + std::string(a) + " (see --help)";
    }
  }
  return std::nullopt;
}

int check_config(const std::string& file) {
  auto cfg = rg::config::load_file(file, rg::config::process_env());
  if (!cfg) {
    fprintf(stderr, "%s\n", cfg.error().message.c_str());
    return 1;
  }
  printf("%s: ok\n", file.c_str());
  return 0;
}

rg::log::level to_log_level(rg::config::log_level l) {
  return static_cast<rg::log::level>(static_cast<uint8_t>(l));
}

// Re-resolves every provider host every 30 s on its own thread: getaddrinfo can block for
// seconds (resolver timeouts × retries). Endpoints publish new addresses through a seqlock that
// shards read; this thread is its only writer after start-up. Stopped (and joined) before exit.
class dns_refresher {
 public:
  explicit dns_refresher(rg::gateway::gateway& gw) : _thread([this, &gw] { run(gw); }) {}
  ~dns_refresher() {
    {
      std::lock_guard g(_mu);
      _stop = true;
    }
    _cv.notify_one();
    _thread.join();
  }
  dns_refresher(const dns_refresher&) = delete;
  dns_refresher& operator=(const dns_refresher&) = delete;

 private:
  void run(rg::gateway::gateway& gw) {
    constexpr auto interval = std::chrono::seconds(30);
    std::unique_lock g(_mu);
    while (!_cv.wait_for(g, interval, [this] { return _stop; })) {
      if (gw.data_server().draining()) continue;
      g.unlock();
      gw.refresh_dns();
      g.lock();
    }
  }

  std::mutex _mu;  // control-plane only: guards _stop for the condition variable
  std::condition_variable _cv;
  bool _stop = false;
  std::thread _thread;  // last: started once the members above exist
};

// The control loop: signals and watchdog until every shard has stopped.
void control_loop(rg::gateway::gateway& gw, int sig_fd) {
  rg::httpd::http_server& srv = gw.data_server();
  uint64_t wd_usec = rg::sd_watchdog_usec();
  uint64_t ping_ns = wd_usec ? wd_usec * 1000 / 2 : 0;
  // A shard whose heartbeat (bumped every 100 ms by its loop) stands still this long is stalled.
  uint64_t stall_ns = std::max<uint64_t>(ping_ns, 300'000'000);
  rg::runtime::watchdog wd(ping_ns, stall_ns, rg::runtime::monotonic_ns());
  int signals = 0;
  while (!srv.stopped()) {
    int timeout_ms = 100;
    pollfd p{sig_fd, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) > 0) {
      signalfd_siginfo si;
      while (read(sig_fd, &si, sizeof(si)) == ssize_t(sizeof(si))) {
        if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
          if (signals++ == 0) {
            rg::log::info("draining", {{"signal", strsignal(int(si.ssi_signo))},
                                       {"drain_timeout_ms", srv.cfg().drain_timeout_ms}});
            rg::sd_notify_send("STOPPING=1");
            srv.begin_drain();
          } else {
            rg::log::warn("second signal: aborting in-flight connections");
            srv.abort_all();
          }
        } else if (si.ssi_signo == SIGUSR1) {
          rg::log::info("SIGUSR1: reopening the access log");
          rg::log::reopen_access_file();
        } else if (si.ssi_signo == SIGHUP) {
          rg::log::warn("SIGHUP: configuration reload is not implemented yet; keeping the running one");
        }
      }
    }
    uint64_t now = rg::runtime::monotonic_ns();
    rg::runtime::watchdog::verdict v = wd.tick(srv.heartbeats(), now);
    if (v == rg::runtime::watchdog::verdict::ping) {
      rg::sd_notify_send("WATCHDOG=1");
    } else if (v == rg::runtime::watchdog::verdict::withhold) {
      rg::log::error("a shard loop is stalled: withholding the watchdog ping",
                     {{"shard", wd.stalled_shard()}});
    }
    gw.tick_governance();  // new budget periods begin at midnight / the 1st (UTC)
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2) {
    std::string_view sub = argv[1];
    std::vector<std::string_view> rest(argv + 2, argv + argc);
    if (sub == "hash-key") return rg::hash_key_command(rest);
    if (sub == "usage") return rg::usage_command(rest);
  }
  cli args;
  if (auto err = parse_cli(argc, argv, args)) return fail(*err);
  if (args.help) {
    fputs(usage_text.data(), stdout);
    return 0;
  }
  if (args.version) {
    printf("ringgate %s\n", RINGGATE_VERSION);
    return 0;
  }
  if (args.check_config) return check_config(*args.check_config);

  rg::config::config cfg;
  if (args.config_file) {
    auto loaded = rg::config::load_file(*args.config_file, rg::config::process_env());
    if (!loaded) {
      fprintf(stderr, "%s\n", loaded.error().message.c_str());
      return 1;
    }
    cfg = std::move(*loaded);
  }
  if (args.listen) cfg.server.listen = *args.listen;
  if (args.admin_listen) cfg.admin.listen = *args.admin_listen;
  if (args.shards) cfg.server.shards = *args.shards;
  if (args.level) cfg.log.level = *args.level;
  if (args.format) cfg.log.format = *args.format;

  // Signals are handled by the control thread only; shard threads inherit this mask.
  sigset_t mask;
  sigemptyset(&mask);
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGUSR1}) sigaddset(&mask, s);
  pthread_sigmask(SIG_BLOCK, &mask, nullptr);
  signal(SIGPIPE, SIG_IGN);
  int sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sig_fd < 0) return fail(std::string("signalfd: ") + strerror(errno));

  rg::log::options lo;
  lo.min_level = to_log_level(cfg.log.level);
  lo.fmt = cfg.log.format == rg::config::log_format::json ? rg::log::format::json
                                                          : rg::log::format::text;
  if (cfg.log.access_log) {
    if (std::string err = rg::log::set_access_file(cfg.log.access_file); !err.empty()) {
      fprintf(stderr, "ringgate: log.access_file: %s\n", err.c_str());
      return 1;
    }
  }
  rg::log::start(lo);

  rg::gateway::gateway gw(std::move(cfg));
  rg::httpd::http_server& srv = gw.data_server();
  if (auto started = gw.start(); !started) {
    rg::log::error("cannot start", {{"error", started.error()}});
    rg::log::stop();
    fprintf(stderr, "ringgate: %s\n", started.error().c_str());
    return 1;
  }
  std::string addr = rg::net::format_address(srv.bound_address().sa());
  std::string line = "listening on " + addr;
  rg::log::info(line, {{"shards", srv.shard_count()}, {"version", RINGGATE_VERSION}});
  if (auto* admin = gw.admin_server()) {
    rg::log::info("admin listening on " + rg::net::format_address(admin->bound_address().sa()));
  }
  rg::sd_notify_send("READY=1\nSTATUS=listening on " + addr);

  {
    dns_refresher dns(gw);
    control_loop(gw, sig_fd);
  }
  srv.wait();
  // Every request has settled now (the shards stopped): the ledger gets all of their rows.
  gw.stop_ledger();
  gw.stop_admin();
  auto c = srv.counters();
  rg::log::info("stopped", {{"connections_accepted", c.connections_accepted},
                            {"requests", c.requests}});
  rg::log::stop();
  close(sig_fd);
  return 0;
}
