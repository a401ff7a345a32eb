// Counters and the last-request copy behind /mock/stats (see stats.hpp). The last request is the
// one with the latest monotonic stamp over all shards; rendering allocates, counting does not.
#include "stats.hpp"

#include <algorithm>
#include <cstring>

#include <ringgate/httpd/server.hpp>
#include <ringgate/runtime/clock.hpp>

namespace rg::mockllm {
namespace {

constexpr size_t route_count = size_t(route::count);

struct span32 {
  uint32_t off = 0;
  uint32_t len = 0;
};

// A copy of one request's head and the start of its body, in one fixed arena.
struct request_record {
  static constexpr size_t arena_bytes = 48 * 1024;  // > head_bytes_max + body_kept_max
  uint64_t stamp_ns = 0;                            // 0: no request recorded
  span32 method;
  span32 target;
  span32 names[http::headers_cap];
  span32 values[http::headers_cap];
  size_t header_count = 0;
  uint64_t body_bytes = 0;
  span32 body;
  bool tls = false;      // arrived over TLS
  bool resumed = false;  // on a connection whose TLS session was resumed
  span32 sni;            // the server name the client sent
  size_t used = 0;
  char arena[arena_bytes];

  span32 keep(std::string_view s) noexcept {
    size_t n = std::min(s.size(), arena_bytes - used);
    span32 at{uint32_t(used), uint32_t(n)};
    std::memcpy(arena + used, s.data(), n);
    used += n;
    return at;
  }
  std::string_view view(span32 s) const noexcept { return {arena + s.off, s.len}; }
};

// JSON string literal with quotes; control bytes escaped, invalid UTF-8 replaced by U+FFFD.
void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += char(c);
    } else if (c < 0x20) {
      out += "\\u00";
      out += hex[c >> 4];
      out += hex[c & 0xF];
    } else if (c >= 0x80) {
      size_t len = (c >= 0xC2 && c <= 0xDF)   ? 2
                   : (c >= 0xE0 && c <= 0xEF) ? 3
                   : (c >= 0xF0 && c <= 0xF4) ? 4
                                              : 0;
      bool valid = len != 0 && i + len <= s.size();
      for (size_t k = 1; valid && k < len; ++k) {
        valid = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
      }
      if (valid && len == 3) {
        auto b1 = static_cast<unsigned char>(s[i + 1]);
        valid = !(c == 0xE0 && b1 < 0xA0) && !(c == 0xED && b1 > 0x9F);
      } else if (valid && len == 4) {
        auto b1 = static_cast<unsigned char>(s[i + 1]);
        valid = !(c == 0xF0 && b1 < 0x90) && !(c == 0xF4 && b1 > 0x8F);
      }
      if (valid) {
        out.append(s.substr(i, len));
        i += len;
        continue;
      }
      out += "\\ufffd";
    } else {
      out += char(c);
    }
    ++i;
  }
  out += '"';
}

void append_record(std::string& out, const request_record& r) {
  out += R"({"method":)";
  append_json_string(out, r.view(r.method));
  out += R"(,"tls":)";
  if (r.tls) {
    out += R"({"sni":)";
    append_json_string(out, r.view(r.sni));
    out += r.resumed ? R"(,"resumed":true})" : R"(,"resumed":false})";
  } else {
    out += "null";
  }
  std::string_view target = r.view(r.target);
  out += R"(,"path":)";
  append_json_string(out, target.substr(0, target.find('?')));
  out += R"(,"target":)";
  append_json_string(out, target);
  out += R"(,"headers":[)";
  for (size_t i = 0; i < r.header_count; ++i) {
    out += i ? ",[" : "[";
    append_json_string(out, r.view(r.names[i]));
    out += ',';
    append_json_string(out, r.view(r.values[i]));
    out += ']';
  }
  out += R"(],"body_bytes":)";
  out += std::to_string(r.body_bytes);
  out += R"(,"body":)";
  append_json_string(out, r.view(r.body));
  out += '}';
}

}  // namespace

struct alignas(64) stats::shard_block {
  std::atomic<uint64_t> requests[route_count] = {};
  std::atomic<uint64_t> faults{0};
  std::atomic<uint64_t> abandoned{0};
  mutable std::mutex mutex;  // guards `last`
  request_record last;
};

std::string_view route_path(route r) noexcept {
  switch (r) {
    case route::chat:
      return "/v1/chat/completions";
    case route::messages:
      return "/v1/messages";
    case route::embeddings:
      return "/v1/embeddings";
    case route::models:
      return "/v1/models";
    default:
      return "other";
  }
}

stats::stats(uint32_t shards)
    : _shard_count(std::max<uint32_t>(shards, 1)),
      _shards(std::make_unique<shard_block[]>(_shard_count)) {}

stats::~stats() = default;

void stats::on_request(uint32_t shard, route r, const http::request_head& head,
                       std::string_view body, const net::transform* tls) noexcept {
  shard_block& b = _shards[shard % _shard_count];
  b.requests[size_t(r)].fetch_add(1, std::memory_order_relaxed);
  std::lock_guard lock(b.mutex);
  request_record& rec = b.last;
  rec.used = 0;
  rec.stamp_ns = runtime::monotonic_ns();
  rec.method = rec.keep(head.method_text);
  rec.target = rec.keep(head.target);
  rec.header_count = head.header_count;
  for (size_t i = 0; i < head.header_count; ++i) {
    rec.names[i] = rec.keep(head.headers[i].name);
    rec.values[i] = rec.keep(head.headers[i].value);
  }
  rec.body_bytes = body.size();
  rec.body = rec.keep(body.substr(0, body_kept_max));
  rec.tls = tls != nullptr;
  rec.resumed = tls && tls->resumed();
  rec.sni = rec.keep(tls ? tls->server_name() : std::string_view(""));  // never a null data()
}

void stats::on_fault(uint32_t shard) noexcept {
  _shards[shard % _shard_count].faults.fetch_add(1, std::memory_order_relaxed);
}

void stats::on_abandoned(uint32_t shard) noexcept {
  _shards[shard % _shard_count].abandoned.fetch_add(1, std::memory_order_relaxed);
}

void stats::enter() noexcept {
  uint64_t now = _in_flight.fetch_add(1, std::memory_order_relaxed) + 1;
  uint64_t max = _in_flight_max.load(std::memory_order_relaxed);
  while (now > max && !_in_flight_max.compare_exchange_weak(max, now, std::memory_order_relaxed)) {
  }
}

uint64_t stats::connections_accepted() const noexcept {
  uint64_t total = _server ? _server->counters().connections_accepted : 0;
  uint64_t base = _connections_base.load(std::memory_order_relaxed);
  return total > base ? total - base : 0;
}

std::string stats::render() const {
  uint64_t by_route[route_count] = {};
  uint64_t total = 0;
  uint64_t faults = 0;
  uint64_t abandoned = 0;
  size_t latest = _shard_count;
  uint64_t latest_stamp = 0;
  for (size_t s = 0; s < _shard_count; ++s) {
    const shard_block& b = _shards[s];
    for (size_t r = 0; r < route_count; ++r) {
      by_route[r] += b.requests[r].load(std::memory_order_relaxed);
    }
    faults += b.faults.load(std::memory_order_relaxed);
    abandoned += b.abandoned.load(std::memory_order_relaxed);
    std::lock_guard lock(b.mutex);
    if (b.last.stamp_ns > latest_stamp) {
      latest_stamp = b.last.stamp_ns;
      latest = s;
    }
  }
  for (uint64_t n : by_route) total += n;

  std::string out;
  out.reserve(8192);
  out += R"({"requests_total":)" + std::to_string(total) + R"(,"requests_by_path":{)";
  bool first = true;
  for (size_t r = 0; r < route_count; ++r) {
    if (by_route[r] == 0) continue;
    out += first ? "" : ",";
    first = false;
    append_json_string(out, route_path(route(r)));
    out += ':' + std::to_string(by_route[r]);
  }
  out += R"(},"in_flight":)" + std::to_string(_in_flight.load(std::memory_order_relaxed));
  out += R"(,"in_flight_max":)" + std::to_string(_in_flight_max.load(std::memory_order_relaxed));
  out += R"(,"connections_accepted":)" + std::to_string(connections_accepted());
  if (_server) {
    // A gauge, not reset: connections open now (this request's own included).
    auto c = _server->counters();
    uint64_t open = c.connections_accepted > c.connections_closed
                        ? c.connections_accepted - c.connections_closed
                        : 0;
    out += R"(,"connections_open":)" + std::to_string(open);
  }
  out += R"(,"faults_injected":)" + std::to_string(faults);
  out += R"(,"requests_abandoned":)" + std::to_string(abandoned);
  if (_server) {
    auto c = _server->counters();
    auto since = [](uint64_t now, uint64_t base) { return now > base ? now - base : 0; };
    out += R"(,"tls":{"handshakes":)" +
           std::to_string(since(c.tls_handshakes, _tls_base[0].load(std::memory_order_relaxed)));
    out += R"(,"resumed":)" +
           std::to_string(since(c.tls_resumed, _tls_base[1].load(std::memory_order_relaxed)));
    out += R"(,"failures":)" +
           std::to_string(since(c.tls_failures, _tls_base[2].load(std::memory_order_relaxed)));
    out += "}";
  }
  out += R"(,"last_request":)";
  if (latest < _shard_count) {
    std::lock_guard lock(_shards[latest].mutex);
    append_record(out, _shards[latest].last);
  } else {
    out += "null";
  }
  out += "}";
  return out;
}

void stats::reset() noexcept {
  for (size_t s = 0; s < _shard_count; ++s) {
    shard_block& b = _shards[s];
    for (auto& r : b.requests) r.store(0, std::memory_order_relaxed);
    b.faults.store(0, std::memory_order_relaxed);
    b.abandoned.store(0, std::memory_order_relaxed);
    std::lock_guard lock(b.mutex);
    b.last.stamp_ns = 0;
  }
  _in_flight_max.store(_in_flight.load(std::memory_order_relaxed), std::memory_order_relaxed);
  _connections_base.store(_server ? _server->counters().connections_accepted : 0,
                          std::memory_order_relaxed);
  if (_server) {
    auto c = _server->counters();
    _tls_base[0].store(c.tls_handshakes, std::memory_order_relaxed);
    _tls_base[1].store(c.tls_resumed, std::memory_order_relaxed);
    _tls_base[2].store(c.tls_failures, std::memory_order_relaxed);
  }
}

}  // namespace rg::mockllm
