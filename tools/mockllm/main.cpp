// mockllm: a fast mock LLM provider (OpenAI and Anthropic wire formats, fault injection, stats)
// on ringgate's own httpd. The main thread parses flags, starts the shards and waits on a
// signalfd: the first SIGTERM/SIGINT drains, a second aborts; it exits 0 once every shard stopped.
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <ringgate/config/config.hpp>
#include <ringgate/httpd/server.hpp>
#include <ringgate/net/socket.hpp>
#include <ringgate/runtime/log.hpp>

#include "handler.hpp"
#include "mock.hpp"
#include "stats.hpp"

namespace {

using namespace rg;

constexpr std::string_view usage_text =
    "usage: mockllm [options]\n"
    "\n"
    "  --listen ADDR:PORT   listener (default 127.0.0.1:8081; port 0 = ephemeral)\n"
    "  --shards N           shard threads (default 1; 0 = one per CPU)\n"
    "  --log-level L        debug | info | warn | error (default info)\n"
    "  --log-format F       json | text (default json)\n"
    "  --chunks N           content events per stream (default 16; header x-mock-chunks)\n"
    "  --delay-ms N         delay before each content event (default 0; x-mock-delay-ms)\n"
    "  --first-byte-ms N    delay before the response head (default 0; x-mock-first-byte-ms)\n"
    "  --words N            words per answer (default 24; x-mock-words)\n"
    "  --tls-cert FILE      serve HTTPS with this certificate chain (PEM; needs --tls-key)\n"
    "  --tls-key FILE       the certificate's private key (PEM)\n"
    "  --tls-max-version V  1.2 (default) or 1.1: offer only TLS 1.1 (tests of clients' minimum)\n"
    "  --help               print this help and exit\n"
    "\n"
    "Endpoints: POST /v1/chat/completions, POST /v1/messages, POST /v1/embeddings,\n"
    "GET /v1/models, GET /mock/stats, POST /mock/reset, POST /mock/arm (x-mock-arm-count: N\n"
    "and fault headers: the next N requests get those faults). Faults per request: x-mock-status,\n"
    "x-mock-retry-after[-ms], x-mock-error-body, x-mock-fault (close-before-headers,\n"
    "delay-headers:MS, reset-after:K, stall-after:K, eof-after:K, close-after:K,\n"
    "close-after-response, malformed-json, oversized-line:BYTES).\n";

struct cli {
  config::server_config server;
  mockllm::options mock;
  config::log_level level = config::log_level::info;
  config::log_format format = config::log_format::json;
  bool help = false;
  int tls_max_minor = 0;  // mbedTLS minor version number; 0 = TLS 1.2
};

std::optional<uint32_t> parse_count(std::string_view v, uint32_t max) {
  if (v.empty() || v.size() > 9) return std::nullopt;
  uint32_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + uint32_t(c - '0');
  }
  if (n > max) return std::nullopt;
  return n;
}

// Returns an error message, or nullopt when the arguments parsed.
std::optional<std::string> parse_cli(int argc, char** argv, cli& out) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    std::optional<std::string_view> inline_value;
    if (auto eq = a.find('='); a.starts_with("--") && eq != std::string_view::npos) {
      inline_value = a.substr(eq + 1);
      a = a.substr(0, eq);
    }
    if (a == "--help" || a == "-h") {
      out.help = true;
      continue;
    }
    constexpr std::string_view known[] = {"--listen",        "--shards", "--log-level",
                                          "--log-format",    "--chunks", "--delay-ms",
                                          "--first-byte-ms", "--words",    "--tls-cert",
                                          "--tls-key",       "--tls-max-version"};
    if (std::find(std::begin(known), std::end(known), a) == std::end(known)) {
      return "unknown argument: " + std::string(a) + " (see --help)";
    }
    if (!inline_value && i + 1 >= args.size()) {
      return std::string(a) + " needs a value (see --help)";
    }
    std::string_view v = inline_value ? *inline_value : args[++i];
    struct numeric {
      std::string_view flag;
      uint32_t* target;
      uint32_t max;
    };
    const numeric numerics[] = {
        {"--shards", &out.server.shards, 1024},
        {"--chunks", &out.mock.chunks, uint32_t(mockllm::chunks_max)},
        {"--delay-ms", &out.mock.delay_ms, uint32_t(mockllm::delay_ms_max)},
        {"--first-byte-ms", &out.mock.first_byte_ms, uint32_t(mockllm::delay_ms_max)},
        {"--words", &out.mock.words, uint32_t(mockllm::words_max)},
    };
    bool matched = false;
    for (const auto& n : numerics) {
      if (a != n.flag) continue;
      auto value = parse_count(v, n.max);
      if (!value) return std::string(a) + ": expected 0.." + std::to_string(n.max);
      *n.target = *value;
      matched = true;
    }
    if (matched) continue;
    if (a == "--listen") {
      if (auto l = config::parse_listen(v); !l) return "--listen: " + l.error();
      out.server.listen = std::string(v);
    } else if (a == "--tls-cert") {
      out.server.tls_cert = std::string(v);
    } else if (a == "--tls-key") {
      out.server.tls_key = std::string(v);
    } else if (a == "--tls-max-version") {
      if (v != "1.1" && v != "1.2") return "--tls-max-version: expected 1.1 or 1.2";
      out.tls_max_minor = v == "1.1" ? 2 : 0;
    } else if (a == "--log-level") {
      auto l = config::parse_log_level(v);
      if (!l) return "--log-level: expected debug, info, warn or error";
      out.level = *l;
    } else if (a == "--log-format") {
      auto f = config::parse_log_format(v);
      if (!f) return "--log-format: expected json or text";
      out.format = *f;
    } else {
      return "unknown argument: " + std::string(a) + " (see --help)";
    }
  }
  if (out.server.tls_cert.empty() != out.server.tls_key.empty()) {
    return "--tls-cert and --tls-key go together";
  }
  return std::nullopt;
}

// The mock's listener: httpd defaults, but room for very large prompts, unlimited keep-alive
// (benchmarks reuse connections) and a short drain.
config::server_config server_defaults() {
  config::server_config s;
  s.listen = "127.0.0.1:8081";
  s.shards = 1;
  s.drain_timeout_ms = 3000;
  s.limits.body_bytes_max = 64ull << 20;
  s.limits.requests_per_connection_max = 0;
  return s;
}

// Signals until every shard has stopped: the first drains, the second aborts what is left.
void control_loop(httpd::http_server& srv, int sig_fd) {
  int signals = 0;
  while (!srv.stopped()) {
    pollfd p{sig_fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    signalfd_siginfo si;
    while (read(sig_fd, &si, sizeof(si)) == ssize_t(sizeof(si))) {
      if (signals++ == 0) {
        log::info("draining", {{"signal", strsignal(int(si.ssi_signo))}});
        srv.begin_drain();
      } else {
        log::warn("second signal: aborting in-flight connections");
        srv.abort_all();
      }
    }
  }
}

int fail(const std::string& msg) {
  fprintf(stderr, "mockllm: %s\n", msg.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  cli args;
  args.server = server_defaults();
  if (auto err = parse_cli(argc, argv, args)) return fail(*err);
  if (args.help) {
    fputs(usage_text.data(), stdout);
    return 0;
  }

  // Signals go to the main thread only; shard threads inherit this mask.
  sigset_t mask;
  sigemptyset(&mask);
  for (int s : {SIGTERM, SIGINT}) sigaddset(&mask, s);
  pthread_sigmask(SIG_BLOCK, &mask, nullptr);
  signal(SIGPIPE, SIG_IGN);
  int sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sig_fd < 0) return fail(std::string("signalfd: ") + strerror(errno));

  log::options lo;
  lo.min_level = static_cast<log::level>(static_cast<uint8_t>(args.level));
  lo.fmt = args.format == config::log_format::json ? log::format::json : log::format::text;
  log::start(lo);

  uint32_t shards =
      args.server.shards ? args.server.shards : uint32_t(httpd::affinity_cpus().size());
  mockllm::stats stats(shards);
  mockllm::arming armed;
  const mockllm::options& mock = args.mock;
  httpd::http_server srv(args.server, [&mock, &stats, &armed, shards](runtime::shard&,
                                                                      uint32_t index) {
    return std::unique_ptr<httpd::handler>(
        std::make_unique<mockllm::shard_handler>(mock, stats, armed, index, shards));
  });
  stats.set_server(&srv);
  srv.set_tls_max_minor_version(args.tls_max_minor);
  if (auto started = srv.start(); !started) {
    log::error("cannot start", {{"error", started.error()}});
    log::stop();
    close(sig_fd);
    return fail(started.error());
  }
  std::string line = "listening on " + net::format_address(srv.bound_address().sa());
  log::info(line, {{"shards", srv.shard_count()},
                   {"chunks", mock.chunks},
                   {"words", mock.words},
                   {"delay_ms", mock.delay_ms},
                   {"first_byte_ms", mock.first_byte_ms}});

  control_loop(srv, sig_fd);
  srv.wait();
  auto c = srv.counters();
  log::info("stopped",
            {{"connections_accepted", c.connections_accepted}, {"requests", c.requests}});
  log::stop();
  close(sig_fd);
  return 0;
}
