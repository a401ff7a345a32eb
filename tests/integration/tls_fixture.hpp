// Fixtures of the TLS integration tests: a test PKI made with openssl at test time, a fake
// server that answers at TLS 1.1 with a suite the client offers, and small helpers for /metrics
// and provider configuration. Header-only, included by tls_test.cpp alone.
#pragma once

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"

namespace rg::itest {

// run_to_exit spawns without a PATH search: resolve tools here.
inline std::string tool(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  for (size_t at = 0; at <= dirs.size();) {
    size_t end = dirs.find(':', at);
    if (end == std::string::npos) end = dirs.size();
    std::string cand = dirs.substr(at, end - at) + "/" + name;
    if (::access(cand.c_str(), X_OK) == 0) return cand;
    at = end + 1;
  }
  return name;
}

// A CA, a second (untrusted) CA, and one leaf per case, in a temp directory.
class pki {
 public:
  bool make() {
    _dir.write("index.txt", "");
    _dir.write("serial", "1000\n");
    _dir.write("ca.cnf", "[ca]\ndefault_ca = d\n[d]\ndatabase = " + p("index.txt") +
                             "\nnew_certs_dir = " + _dir.path() + "\nserial = " + p("serial") +
                             "\ndefault_md = sha256\npolicy = pol\nunique_subject = no\n"
                             "[pol]\ncommonName = supplied\n");
    return self_signed("ca", "ringgate test CA", "") && self_signed("ca2", "another CA", "") &&
           self_signed("selfsigned", "localhost", "subjectAltName=DNS:localhost") &&
           leaf("good", "ca", "localhost", "", "") &&
           leaf("wronghost", "ca", "other.example.test", "", "") &&
           leaf("expired", "ca", "localhost", "20200101000000Z", "20200201000000Z") &&
           leaf("notyet", "ca", "localhost", "20990101000000Z", "20991231000000Z") &&
           leaf("untrusted", "ca2", "localhost", "", "");
  }
  std::string p(std::string_view name) const { return _dir.path() + "/" + std::string(name); }
  const std::string& error() const { return _error; }

 private:
  bool run(const std::vector<std::string>& argv) {
    auto r = run_to_exit(argv, 30s);
    if (r.exit_code == 0) return true;
    _error = argv[1] + ": " + r.err;
    return false;
  }
  bool self_signed(const std::string& name, const std::string& cn, const std::string& ext) {
    std::vector<std::string> a = {tool("openssl"),
                                  "req",
                                  "-x509",
                                  "-newkey",
                                  "ec",
                                  "-pkeyopt",
                                  "ec_paramgen_curve:P-256",
                                  "-nodes",
                                  "-keyout",
                                  p(name + ".key"),
                                  "-out",
                                  p(name + ".crt"),
                                  "-days",
                                  "30",
                                  "-subj",
                                  "/CN=" + cn};
    if (!ext.empty()) {
      a.push_back("-addext");
      a.push_back(ext);
    }
    return run(a);
  }
  bool leaf(const std::string& name, const std::string& ca, const std::string& host,
            const std::string& start, const std::string& end) {
    _dir.write(name + ".ext", "subjectAltName=DNS:" + host + "\n");
    if (!run({tool("openssl"), "req", "-new", "-newkey", "ec", "-pkeyopt",
              "ec_paramgen_curve:P-256", "-nodes", "-keyout", p(name + ".key"), "-out",
              p(name + ".csr"), "-subj", "/CN=" + host})) {
      return false;
    }
    std::vector<std::string> a = {tool("openssl"), "ca",
                                  "-batch",        "-notext",
                                  "-config",       p("ca.cnf"),
                                  "-cert",         p(ca + ".crt"),
                                  "-keyfile",      p(ca + ".key"),
                                  "-in",           p(name + ".csr"),
                                  "-out",          p(name + ".crt"),
                                  "-extfile",      p(name + ".ext")};
    if (start.empty()) {
      a.insert(a.end(), {"-days", "5"});
    } else {
      a.insert(a.end(), {"-startdate", start, "-enddate", end});
    }
    return run(a);
  }

  temp_dir _dir;
  std::string _error;
};

// Answers every ClientHello with a TLS 1.1 ServerHello choosing ECDHE-ECDSA-AES128-GCM-SHA256,
// a suite ringgate offers: the version minimum is the only thing that can refuse it (no real
// server can do this, GCM needs TLS 1.2). Records the types of the records that follow the
// hello, so a test can check that nothing but an alert came back.
class tls11_hello_server {
 public:
  bool start() {
    _fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (_fd < 0 || ::bind(_fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
        ::listen(_fd, 8) != 0 || ::getsockname(_fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      return false;
    }
    _port = ntohs(a.sin_port);
    _thread = std::thread([this] { serve(); });
    return true;
  }
  ~tls11_hello_server() {
    _stop = true;
    if (_thread.joinable()) _thread.join();
    if (_fd >= 0) ::close(_fd);
  }
  uint16_t port() const { return _port; }
  // Record types received after each connection's ClientHello, e.g. "21" (one alert).
  std::string after_hello() {
    std::lock_guard lock(_mutex);
    return _after;
  }

 private:
  static std::string server_hello() {
    std::string body = std::string("\x03\x02", 2) + std::string(32, '\x2a') +
                       std::string("\x00\xc0\x2b\x00", 4);  // no session id, suite, no compression
    std::string hs = std::string("\x02\x00", 2) + char(body.size() >> 8) + char(body.size()) + body;
    return std::string("\x16\x03\x02", 3) + char(hs.size() >> 8) + char(hs.size()) + hs;
  }
  static bool read_some(int fd, std::string& in) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) != 1) return false;
    char buf[4096];
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n <= 0) return false;
    in.append(buf, size_t(n));
    return true;
  }
  static size_t record_end(const std::string& in) {
    if (in.size() < 5) return 0;
    size_t end = 5 + (size_t(uint8_t(in[3])) << 8 | uint8_t(in[4]));
    return in.size() >= end ? end : 0;
  }
  void serve() {
    while (!_stop) {
      pollfd p{_fd, POLLIN, 0};
      if (::poll(&p, 1, 50) != 1) continue;
      int c = ::accept4(_fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      std::string in;
      while (record_end(in) == 0 && read_some(c, in)) {
      }
      if (size_t end = record_end(in)) {
        in.erase(0, end);
        std::string hello = server_hello();
        (void)::send(c, hello.data(), hello.size(), MSG_NOSIGNAL);
        while (read_some(c, in)) {
        }
        std::string types;
        for (size_t end2; (end2 = record_end(in)) != 0; in.erase(0, end2)) {
          types += (types.empty() ? "" : ",") + std::to_string(uint8_t(in[0]));
        }
        if (!in.empty()) types += ",partial";
        std::lock_guard lock(_mutex);
        _after += (_after.empty() ? "" : " | ") + types;
      }
      ::close(c);
    }
  }

  int _fd = -1;
  uint16_t _port = 0;
  std::atomic<bool> _stop{false};
  std::thread _thread;
  std::mutex _mutex;
  std::string _after;
};

// The value of the sample line `series` (its exact text before the value), or -1 when absent.
inline double sample(const std::string& text, const std::string& series) {
  for (size_t pos = 0; (pos = text.find(series + " ", pos)) != std::string::npos; ++pos) {
    if (pos == 0 || text[pos - 1] == '\n') return std::stod(text.substr(pos + series.size() + 1));
  }
  return -1;
}

inline std::string metrics(server& s) {
  auto r = http_get(s.admin_port(), "/metrics");
  return r && r->status == 200 ? r->body : std::string();
}

// Polls /metrics until `series` reaches `at_least`, for up to 5 s: inbound counters are bumped on
// the shard just after the client saw the outcome, so a scrape may come a moment early.
inline double await_sample(server& s, const std::string& series, double at_least) {
  auto deadline = steady::now() + 5s;
  double v = sample(metrics(s), series);
  while (v < at_least && steady::now() < deadline) {
    std::this_thread::sleep_for(10ms);
    v = sample(metrics(s), series);
  }
  return v;
}

inline std::string provider_toml(const std::string& name, uint16_t port, const std::string& tls) {
  return "[[providers]]\nname = \"" + name +
         "\"\nkind = \"openai\"\nbase_url = \"https://localhost:" + std::to_string(port) +
         "/v1\"\napi_key = \"sk-never-leaked\"\n" + "forward_headers = [\"x-mock-*\"]\ntls = { " +
         tls + " }\n\n[[models]]\nname = \"" + name + "\"\ntargets = [{ provider = \"" + name +
         "\", model = \"mock-small\" }]\n\n";
}

}  // namespace rg::itest
