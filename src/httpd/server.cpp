// Server start-up and shutdown: listeners bound up front by the control thread (so a bad address
// fails before any thread starts), one pinned shard thread per CPU, drain by message.
#include <ringgate/httpd/server.hpp>

#include <sched.h>
#include <unistd.h>

#include <exception>

#include <ringgate/runtime/log.hpp>
#include <ringgate/runtime/shard.hpp>

#include <ringgate/httpd/exchange.hpp>
#include <ringgate/httpd/listener.hpp>
#include <ringgate/tls/tls.hpp>

namespace rg::httpd {

std::vector<int> affinity_cpus() {
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    for (int i = 0; i < CPU_SETSIZE; ++i) {
      if (CPU_ISSET(i, &set)) cpus.push_back(i);
    }
  }
  if (cpus.empty()) cpus.push_back(-1);
  return cpus;
}

http_server::http_server(config::server_config cfg, handler_factory factory)
    : _cfg(std::move(cfg)), _factory(std::move(factory)) {}

http_server::~http_server() {
  if (!_threads.empty()) {
    abort_all();
    wait();
  }
  for (auto& s : _shards) s.store(nullptr, std::memory_order_release);
  _listeners.clear();
  _handlers.clear();
  _runtimes.clear();
}

std::expected<void, std::string> http_server::start() {
  auto listen = config::parse_listen(_cfg.listen);
  if (!listen) return std::unexpected("server.listen: " + listen.error());
  auto addr = net::make_address(listen->host, listen->port);
  if (!addr) return std::unexpected("server.listen: " + addr.error());

  if (!_cfg.tls_cert.empty()) {
    auto tc = tls::server_config::build({_cfg.tls_cert, _cfg.tls_key, _tls_max_minor});
    if (!tc) return std::unexpected("server TLS: " + tc.error());
    _tls = std::move(*tc);
  }
  std::vector<int> cpus = affinity_cpus();
  uint32_t n = _cfg.shards ? _cfg.shards : uint32_t(cpus.size());
  // Bind every listener first. With port 0 the first bind picks the port and the rest share it.
  std::vector<int> fds;
  for (uint32_t i = 0; i < n; ++i) {
    auto fd = net::listen_on(*addr, {});
    if (!fd) {
      for (int f : fds) ::close(f);
      return std::unexpected(fd.error());
    }
    if (i == 0) {
      auto bound = net::local_address(*fd);
      if (!bound) return std::unexpected(bound.error());
      _bound = *bound;
      addr->set_port(_bound.port());
    }
    fds.push_back(*fd);
  }
  _shards = std::vector<std::atomic<shard_listener*>>(n);
  _listeners.resize(n);
  _handlers.resize(n);
  _runtimes.resize(n);
  _running.store(n);
  for (uint32_t i = 0; i < n; ++i) {
    int cpu = (_cfg.shards && n > cpus.size()) ? -1 : cpus[i % cpus.size()];
    _threads.emplace_back(&http_server::shard_main, this, i, cpu, fds[i]);
  }
  while (_started.load(std::memory_order_acquire) + _failed.load(std::memory_order_acquire) < n) {
    usleep(1000);
  }
  if (_failed.load() > 0) {
    abort_all();
    begin_drain();
    wait();
    return std::unexpected("a shard failed to start (see the log above)");
  }
  return {};
}

// Runs on the shard's own thread: the ring must be created by the thread that submits to it.
// The shard and its server half stay alive after the loop ends, until wait() joins the thread,
// so the control thread may read their counters or post to them at any time.
void http_server::shard_main(uint32_t index, int cpu, int listen_fd) {
  char name[16];
  snprintf(name, sizeof(name), "rg-shard-%u", index);
  pthread_setname_np(pthread_self(), name);
  try {
    runtime::shard_options opts;
    opts.id = index;
    opts.cpu = cpu;
    _runtimes[index] = std::make_unique<runtime::shard>(opts);
    _handlers[index] = _factory(*_runtimes[index], index);
    _listeners[index] = std::make_unique<shard_listener>(*_runtimes[index], _cfg, listen_fd,
                                                         _draining, *_handlers[index], _tls.get());
  } catch (const std::exception& e) {
    log::error("shard failed to start", {{"shard", index}, {"error", e.what()}});
    _handlers[index].reset();
    _runtimes[index].reset();
    ::close(listen_fd);
    _failed.fetch_add(1, std::memory_order_release);
    _running.fetch_sub(1, std::memory_order_acq_rel);
    return;
  }
  shard_listener* srv = _listeners[index].get();
  srv->start();
  _shards[index].store(srv, std::memory_order_release);
  _started.fetch_add(1, std::memory_order_release);
  if (_draining.load(std::memory_order_acquire)) srv->drain();
  _runtimes[index]->run();
  _running.fetch_sub(1, std::memory_order_acq_rel);
}

namespace {
void drain_message(runtime::shard&, void* arg) noexcept { static_cast<shard_listener*>(arg)->drain(); }
void abort_message(runtime::shard&, void* arg) noexcept {
  static_cast<shard_listener*>(arg)->drain();
  static_cast<shard_listener*>(arg)->abort_all();
}
}  // namespace

void http_server::begin_drain() {
  _draining.store(true, std::memory_order_release);
  for (auto& s : _shards) {
    if (shard_listener* srv = s.load(std::memory_order_acquire)) {
      srv->shard().post({&drain_message, srv});
    }
  }
}

void http_server::abort_all() {
  _draining.store(true, std::memory_order_release);
  for (auto& s : _shards) {
    if (shard_listener* srv = s.load(std::memory_order_acquire)) {
      srv->shard().post({&abort_message, srv});
    }
  }
}

void http_server::wait() {
  for (auto& t : _threads) {
    if (t.joinable()) t.join();
  }
  _threads.clear();
  // The shard objects stay until ~server so counters can still be read after the threads exit.
}

std::vector<runtime::shard_beat> http_server::heartbeats() const {
  std::vector<runtime::shard_beat> beats;
  for (auto& s : _shards) {
    shard_listener* srv = s.load(std::memory_order_acquire);
    if (srv) {
      beats.push_back({srv->shard().heartbeat(), srv->shard().looping()});
    } else {
      beats.push_back({});
    }
  }
  return beats;
}

std::vector<std::pair<uint64_t, uint64_t>> http_server::loop_figures() const {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  for (auto& s : _shards) {
    shard_listener* srv = s.load(std::memory_order_acquire);
    if (srv) {
      out.emplace_back(srv->shard().published_turns(), srv->shard().published_completions());
    } else {
      out.emplace_back(0, 0);
    }
  }
  return out;
}

server_counters http_server::counters() const {
  server_counters t;
  for (auto& s : _shards) {
    shard_listener* srv = s.load(std::memory_order_acquire);
    if (!srv) continue;
    const auto& c = srv->counters();
    auto r = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
    t.connections_accepted += r(c.accepted);
    t.connections_closed += r(c.closed);
    t.connections_shed += r(c.shed);
    t.requests += r(c.requests);
    t.limit_408 += r(c.limit_408);
    t.limit_413 += r(c.limit_413);
    t.limit_414 += r(c.limit_414);
    t.limit_431 += r(c.limit_431);
    t.bad_requests += r(c.bad_requests);
    t.tls_handshakes += r(c.tls_handshakes);
    t.tls_resumed += r(c.tls_resumed);
    t.tls_failures += r(c.tls_failures);
    for (size_t i = 0; i < std::size(t.tls_failures_by); ++i) {
      t.tls_failures_by[i] += r(c.tls_failures_by[i]);
    }
  }
  return t;
}

}  // namespace rg::httpd
