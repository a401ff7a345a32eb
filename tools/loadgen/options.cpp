#include "options.hpp"

#include <netdb.h>
#include <sched.h>

#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

namespace rg::loadgen {

const std::string_view usage_text =
    "usage: loadgen --url http://HOST:PORT/PATH [options]\n"
    "\n"
    "What to send:\n"
    "  --url URL             http:// only (IPv4/IPv6 literal or a name resolved once at start)\n"
    "  --method M            GET, POST, ... (default GET; POST when --body is given)\n"
    "  --header 'N: V'       extra request header (repeatable)\n"
    "  --body FILE           request body (Content-Length set from it)\n"
    "How hard:\n"
    "  --connections N       keep-alive connections in total (default 8)\n"
    "  --pipeline K          requests in flight per connection, closed loop only (default 1)\n"
    "  --rate R              open loop: R requests/s in total, latency measured from each\n"
    "                        request's intended send time (coordinated-omission corrected)\n"
    "  --threads N           worker threads, each with its own io_uring (default: one per CPU)\n"
    "  --cpus LIST           pin worker i to the i-th CPU of LIST (e.g. 0 or 0,1)\n"
    "How long (the run always ends by itself):\n"
    "  --duration S          measured phase in seconds (default 10 unless --requests is given)\n"
    "  --requests N          stop after N measured requests in total\n"
    "  --warmup S            unmeasured phase before the measured one (default 0)\n"
    "  --timeout-ms MS       per request, send to last byte (default 30000; counted as timeout)\n"
    "What to report:\n"
    "  --stream              SSE figures: time to first byte and first content chunk, gaps\n"
    "                        between chunks, chunks and bytes per response, truncated streams\n"
    "  --expect-status CODE  count answers with another status as mismatches\n"
    "  --hold                each connection sends one request, then stays open and idle until\n"
    "                        the end of --duration (memory per idle connection)\n"
    "  --json                one JSON object on stdout instead of the readable summary\n"
    "  --help, --version\n";

namespace {

std::string flag_error(std::string_view flag, std::string_view what) {
  return std::string(flag) + ": " + std::string(what);
}

std::expected<uint64_t, std::string> parse_uint(std::string_view flag, std::string_view v,
                                                uint64_t lo, uint64_t hi) {
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc() || p != v.data() + v.size() || n < lo || n > hi) {
    return std::unexpected(
        flag_error(flag, "expected an integer " + std::to_string(lo) + ".." + std::to_string(hi)));
  }
  return n;
}

std::expected<double, std::string> parse_seconds(std::string_view flag, std::string_view v,
                                                 bool allow_zero) {
  double d = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), d);
  if (v.empty() || ec != std::errc() || p != v.data() + v.size() || !std::isfinite(d) || d < 0 ||
      (!allow_zero && d == 0) || d > 86400.0 * 7) {
    return std::unexpected(
        flag_error(flag, allow_zero ? "expected a number ≥ 0" : "expected a positive number"));
  }
  return d;
}

bool token_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  for (char t : std::string_view("!#$%&'*+-.^_`|~"))
    if (c == t) return true;
  return false;
}

std::expected<std::string, std::string> parse_header(std::string_view v) {
  auto colon = v.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    return std::unexpected(flag_error("--header", "expected 'Name: value'"));
  }
  std::string_view name = v.substr(0, colon);
  for (char c : name)
    if (!token_char(c)) return std::unexpected(flag_error("--header", "invalid header name"));
  std::string_view value = v.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  for (char c : value)
    if (c == '\r' || c == '\n' || c == '\0')
      return std::unexpected(flag_error("--header", "CR, LF or NUL in the value"));
  // The request framing is loadgen's: these would contradict it.
  for (std::string_view banned : {"content-length", "transfer-encoding", "host"}) {
    if (name.size() == banned.size()) {
      bool same = true;
      for (size_t i = 0; i < name.size(); ++i)
        if ((name[i] | 0x20) != banned[i]) same = false;
      if (same)
        return std::unexpected(flag_error("--header", std::string(banned) + " is set by loadgen"));
    }
  }
  return std::string(name) + ": " + std::string(value);
}

std::vector<int> affinity_cpus() {
  std::vector<int> out;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    for (int i = 0; i < CPU_SETSIZE; ++i)
      if (CPU_ISSET(i, &set)) out.push_back(i);
  }
  if (out.empty()) out.push_back(0);
  return out;
}

std::expected<std::vector<int>, std::string> parse_cpus(std::string_view v) {
  std::vector<int> out;
  while (!v.empty()) {
    auto comma = v.find(',');
    std::string_view item = v.substr(0, comma);
    auto n = parse_uint("--cpus", item, 0, CPU_SETSIZE - 1);
    if (!n) return std::unexpected(flag_error("--cpus", "expected a list like 0 or 0,1"));
    out.push_back(int(*n));
    if (comma == std::string_view::npos) break;
    v.remove_prefix(comma + 1);
  }
  if (out.empty()) return std::unexpected(flag_error("--cpus", "expected a list like 0 or 0,1"));
  return out;
}

}  // namespace

std::expected<target, std::string> parse_url(std::string_view url) {
  target t;
  if (url.starts_with("https://")) {
    return std::unexpected("--url: https is not supported (loadgen measures plain HTTP/1.1)");
  }
  if (!url.starts_with("http://"))
    return std::unexpected("--url: expected http://HOST[:PORT]/PATH");
  url.remove_prefix(7);
  auto slash = url.find('/');
  std::string_view authority = url.substr(0, slash);
  t.path = slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
  for (char c : t.path)
    if (c <= ' ' || c == 0x7f) return std::unexpected("--url: invalid character in the path");
  t.host = std::string(authority);
  std::string_view host = authority;
  std::string_view port_text;
  if (host.starts_with('[')) {
    auto close = host.find(']');
    if (close == std::string_view::npos) return std::unexpected("--url: unterminated [IPv6]");
    port_text = host.substr(close + 1);
    host = host.substr(1, close - 1);
    if (!port_text.empty() && !port_text.starts_with(':'))
      return std::unexpected("--url: expected :PORT after ]");
    if (!port_text.empty()) port_text.remove_prefix(1);
  } else if (auto colon = host.rfind(':'); colon != std::string_view::npos) {
    port_text = host.substr(colon + 1);
    host = host.substr(0, colon);
  }
  if (host.empty()) return std::unexpected("--url: missing host");
  if (!port_text.empty()) {
    auto p = parse_uint("--url", port_text, 1, 65535);
    if (!p) return std::unexpected("--url: invalid port");
    t.port = uint16_t(*p);
  }
  if (auto a = net::make_address(host, t.port)) {
    t.addr = *a;
    return t;
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::string host_z(host);
  int rc = getaddrinfo(host_z.c_str(), nullptr, &hints, &res);
  if (rc != 0 || !res) {
    return std::unexpected("--url: cannot resolve " + host_z + ": " + gai_strerror(rc));
  }
  std::memcpy(&t.addr.storage, res->ai_addr, res->ai_addrlen);
  t.addr.len = socklen_t(res->ai_addrlen);
  t.addr.set_port(t.port);
  freeaddrinfo(res);
  return t;
}

std::expected<options, std::string> parse_options(const std::vector<std::string_view>& args) {
  options o;
  bool have_url = false, have_method = false, have_duration = false;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    std::string_view inline_value;
    bool has_inline = false;
    if (auto eq = a.find('='); a.starts_with("--") && eq != std::string_view::npos) {
      inline_value = a.substr(eq + 1);
      a = a.substr(0, eq);
      has_inline = true;
    }
    auto flag_only = [&](bool& target) -> std::expected<void, std::string> {
      if (has_inline) return std::unexpected(flag_error(a, "takes no value"));
      target = true;
      return {};
    };
    std::expected<void, std::string> done{};
    if (a == "--help" || a == "-h") {
      done = flag_only(o.help);
    } else if (a == "--version") {
      done = flag_only(o.version);
    } else if (a == "--stream") {
      done = flag_only(o.stream);
    } else if (a == "--hold") {
      done = flag_only(o.hold);
    } else if (a == "--json") {
      done = flag_only(o.json);
    } else {
      constexpr std::string_view valued[] = {
          "--url",      "--method",  "--header",        "--body",      "--connections",
          "--pipeline", "--threads", "--cpus",          "--rate",      "--duration",
          "--requests", "--warmup",  "--expect-status", "--timeout-ms"};
      bool known = false;
      for (auto f : valued) known = known || f == a;
      if (!known) return std::unexpected("unknown argument: " + std::string(a) + " (see --help)");
      if (!has_inline && i + 1 >= args.size()) {
        return std::unexpected(flag_error(a, "needs a value (see --help)"));
      }
      std::string_view v = has_inline ? inline_value : args[++i];
      if (a == "--url") {
        auto t = parse_url(v);
        if (!t) return std::unexpected(t.error());
        o.url = std::move(*t);
        have_url = true;
      } else if (a == "--method") {
        if (v.empty()) return std::unexpected(flag_error(a, "empty"));
        for (char c : v)
          if (!token_char(c)) return std::unexpected(flag_error(a, "invalid method"));
        o.method = std::string(v);
        have_method = true;
      } else if (a == "--header") {
        auto h = parse_header(v);
        if (!h) return std::unexpected(h.error());
        o.headers.push_back(std::move(*h));
      } else if (a == "--body") {
        std::ifstream f{std::string(v), std::ios::binary};
        if (!f) return std::unexpected(flag_error(a, "cannot read " + std::string(v)));
        std::ostringstream ss;
        ss << f.rdbuf();
        o.body = ss.str();
        o.body_given = true;
      } else if (a == "--connections") {
        auto n = parse_uint(a, v, 1, 1'000'000);
        if (!n) return std::unexpected(n.error());
        o.connections = uint32_t(*n);
      } else if (a == "--pipeline") {
        auto n = parse_uint(a, v, 1, 256);
        if (!n) return std::unexpected(n.error());
        o.pipeline = uint32_t(*n);
      } else if (a == "--threads") {
        auto n = parse_uint(a, v, 1, 1024);
        if (!n) return std::unexpected(n.error());
        o.threads = uint32_t(*n);
      } else if (a == "--cpus") {
        auto c = parse_cpus(v);
        if (!c) return std::unexpected(c.error());
        o.cpus = std::move(*c);
      } else if (a == "--rate") {
        auto d = parse_seconds(a, v, false);
        if (!d) return std::unexpected(flag_error(a, "expected a positive number of requests/s"));
        o.rate = *d;
      } else if (a == "--duration") {
        auto d = parse_seconds(a, v, false);
        if (!d) return std::unexpected(d.error());
        o.duration_s = *d;
        have_duration = true;
      } else if (a == "--requests") {
        auto n = parse_uint(a, v, 1, uint64_t{1} << 40);
        if (!n) return std::unexpected(n.error());
        o.requests = *n;
      } else if (a == "--warmup") {
        auto d = parse_seconds(a, v, true);
        if (!d) return std::unexpected(d.error());
        o.warmup_s = *d;
      } else if (a == "--expect-status") {
        auto n = parse_uint(a, v, 100, 599);
        if (!n) return std::unexpected(n.error());
        o.expect_status = uint16_t(*n);
      } else if (a == "--timeout-ms") {
        auto n = parse_uint(a, v, 1, 3'600'000);
        if (!n) return std::unexpected(n.error());
        o.timeout_ms = uint32_t(*n);
      } else {
        return std::unexpected("unknown argument: " + std::string(a) + " (see --help)");
      }
    }
    if (!done) return std::unexpected(done.error());
  }
  if (o.help || o.version) return o;
  if (!have_url) return std::unexpected("--url is required (see --help)");
  if (!have_method && o.body_given) o.method = "POST";
  if (!have_duration && o.requests == 0) o.duration_s = 10;
  if (o.rate > 0 && o.pipeline > 1) {
    return std::unexpected("--pipeline applies to the closed loop only; drop it or --rate");
  }
  if (o.hold && !have_duration) {
    return std::unexpected("--hold needs --duration (how long to keep the connections open)");
  }
  if (o.hold && (o.rate > 0 || o.pipeline > 1 || o.requests)) {
    return std::unexpected(
        "--hold sends one request per connection: no --rate, --pipeline or "
        "--requests");
  }
  if (o.threads == 0) o.threads = uint32_t(affinity_cpus().size());
  if (o.threads > o.connections) o.threads = o.connections;
  return o;
}

}  // namespace rg::loadgen
