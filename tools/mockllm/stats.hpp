// What the mock has seen, for tests to assert exactly what a gateway sent upstream: counters
// summed over shards, requests in flight, and a copy of the last request. Each shard writes only
// its own block (its mutex is uncontended except while /mock/stats reads), so counting costs a
// shard no cross-core traffic beyond the in-flight gauge.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include <ringgate/http/request.hpp>
#include <ringgate/net/transform.hpp>

namespace rg::httpd {
class http_server;
}

namespace rg::mockllm {

enum class route : uint8_t { chat, messages, embeddings, models, other, count };
std::string_view route_path(route r) noexcept;

class stats {
 public:
  explicit stats(uint32_t shards);
  ~stats();
  stats(const stats&) = delete;
  stats& operator=(const stats&) = delete;

  // Where connections_accepted comes from; set before the server starts.
  void set_server(const httpd::http_server* srv) noexcept { _server = srv; }

  // On shard `shard`: counts a request and keeps a copy of its head and the start of its body.
  // `tls`: the connection's TLS session (null for plain HTTP), for the SNI and resumption seen.
  void on_request(uint32_t shard, route r, const http::request_head& head, std::string_view body,
                  const net::transform* tls = nullptr) noexcept;
  void on_fault(uint32_t shard) noexcept;
  // The client closed the connection while the answer was being held back (a delay or a
  // stall): what a gateway does to an upstream request it cancels.
  void on_abandoned(uint32_t shard) noexcept;
  void enter() noexcept;
  void leave() noexcept { _in_flight.fetch_sub(1, std::memory_order_relaxed); }

  // GET /mock/stats (a JSON object) and POST /mock/reset; any thread.
  std::string render() const;
  void reset() noexcept;

  // Bytes of a request body kept for last_request.body.
  static constexpr size_t body_kept_max = 4096;

 private:
  struct shard_block;
  uint64_t connections_accepted() const noexcept;

  const httpd::http_server* _server = nullptr;
  uint32_t _shard_count;
  std::unique_ptr<shard_block[]> _shards;
  std::atomic<uint64_t> _in_flight{0};
  std::atomic<uint64_t> _in_flight_max{0};
  std::atomic<uint64_t> _connections_base{0};
  std::atomic<uint64_t> _tls_base[3] = {};  // handshakes, resumed, failures at the last reset
};

// Keeps a request counted as in flight for the life of the handler's frame.
class in_flight_guard {
 public:
  explicit in_flight_guard(stats& s) noexcept : _s(s) { _s.enter(); }
  ~in_flight_guard() { _s.leave(); }
  in_flight_guard(const in_flight_guard&) = delete;
  in_flight_guard& operator=(const in_flight_guard&) = delete;

 private:
  stats& _s;
};

}  // namespace rg::mockllm
