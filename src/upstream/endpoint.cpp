// Endpoint parsing, resolution and seqlock publication (see endpoint.hpp).
#include <ringgate/upstream/endpoint.hpp>

#include <netdb.h>

#include <cstring>

namespace rg::upstream {

std::expected<endpoint_options, std::string> parse_base_url(std::string_view url) {
  endpoint_options o;
  std::string_view rest;
  if (url.starts_with("http://")) {
    rest = url.substr(7);
    o.port = 80;
  } else if (url.starts_with("https://")) {
    rest = url.substr(8);
    o.tls = true;
    o.port = 443;
  } else {
    return std::unexpected("base_url must start with http:// or https://");
  }
  // Credentials in a URL would end up in the endpoint's metric label, /admin/providers and log
  // lines; a query or fragment would be spliced into every request path. Both are refused, and the
  // message never repeats the URL.
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return std::unexpected("base_url must not carry a query or fragment");
  }
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
  while (path.ends_with('/')) path.remove_suffix(1);
  if (authority.empty()) return std::unexpected("base_url has no host");
  if (authority.find('@') != std::string_view::npos) {
    return std::unexpected(
        "base_url must not carry user:password@ (put the key in api_key or headers)");
  }
  for (unsigned char c : url) {
    if (c <= 0x20 || c >= 0x7f) return std::unexpected("base_url: space or control byte");
  }
  std::string_view host = authority;
  if (authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::unexpected("base_url: unterminated [IPv6]");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::unexpected("base_url: bad port");
      authority = authority.substr(0, close + 1);
      rest = after.substr(1);
    } else {
      rest = {};
    }
  } else if (size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    rest = authority.substr(colon + 1);
  } else {
    rest = {};
  }
  if (!rest.empty()) {
    uint32_t port = 0;
    for (char c : rest) {
      if (c < '0' || c > '9' || port > 65535) return std::unexpected("base_url: bad port");
      port = port * 10 + uint32_t(c - '0');
    }
    if (port == 0 || port > 65535) return std::unexpected("base_url: bad port");
    o.port = uint16_t(port);
  }
  if (host.empty()) return std::unexpected("base_url has no host");
  o.host = std::string(host);
  bool default_port = (o.tls && o.port == 443) || (!o.tls && o.port == 80);
  std::string h = host.find(':') != std::string_view::npos ? "[" + o.host + "]" : o.host;
  o.host_header = default_port ? h : h + ":" + std::to_string(o.port);
  o.base_path = std::string(path);
  return o;
}

std::expected<void, std::string> endpoint::resolve() {
  if (auto lit = net::make_address(_opts.host, _opts.port)) {
    publish(*lit);
    return {};
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(_opts.host.c_str(), nullptr, &hints, &res);
  if (rc != 0) {
    return std::unexpected("cannot resolve host \"" + _opts.host + "\": " + gai_strerror(rc));
  }
  net::address a;
  std::memcpy(&a.storage, res->ai_addr, res->ai_addrlen);
  a.len = socklen_t(res->ai_addrlen);
  a.set_port(_opts.port);
  freeaddrinfo(res);
  publish(a);
  return {};
}

void endpoint::publish(const net::address& a) noexcept {
  _seq.fetch_add(1, std::memory_order_acq_rel);  // odd: write in progress
  std::atomic_thread_fence(std::memory_order_release);
  _addr = a;
  _seq.fetch_add(1, std::memory_order_release);  // even: stable
  _resolved.store(true, std::memory_order_release);
}

bool endpoint::address(net::address& out) const noexcept {
  if (!_resolved.load(std::memory_order_acquire)) return false;
  for (;;) {
    uint32_t before = _seq.load(std::memory_order_acquire);
    if (before & 1) continue;
    std::memcpy(static_cast<void*>(&out), &_addr, sizeof(out));
    std::atomic_thread_fence(std::memory_order_acquire);
    if (_seq.load(std::memory_order_relaxed) == before) return true;
  }
}

bool endpoint::claim_log(log_topic topic, uint64_t now_ns, uint64_t interval_ns,
                         uint64_t& suppressed) const noexcept {
  std::atomic<uint64_t>& at = _log_ns[size_t(topic)];
  uint64_t last = at.load(std::memory_order_relaxed);
  if ((last != 0 && now_ns - last < interval_ns) ||
      !at.compare_exchange_strong(last, now_ns, std::memory_order_relaxed)) {
    _log_suppressed[size_t(topic)].fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  suppressed = _log_suppressed[size_t(topic)].exchange(0, std::memory_order_relaxed);
  return true;
}

}  // namespace rg::upstream
