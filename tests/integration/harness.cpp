// Integration-test harness: child processes with drained output, deadline-bound TCP clients and a
// stand-in $NOTIFY_SOCKET. Failures are returned to the test (never thrown), with a reason.
#include "harness.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>

extern char** environ;

namespace rg::itest {
namespace {

int remaining_ms(steady::time_point deadline) {
  auto left = std::chrono::duration_cast<ms>(deadline - steady::now()).count();
  return left <= 0 ? 0 : static_cast<int>(left);
}

// Variables that would make the child talk to a real service manager.
bool inherited_env_dropped(std::string_view kv) {
  for (std::string_view key : {"NOTIFY_SOCKET=", "WATCHDOG_USEC=", "WATCHDOG_PID=", "LISTEN_FDS=",
                               "LISTEN_PID=", "LISTEN_FDNAMES="}) {
    if (kv.starts_with(key)) return true;
  }
  return false;
}

}  // namespace

std::string ringgate_bin() {
  const char* bin = std::getenv("RINGGATE_BIN");
  return bin ? bin : "";
}

// ---- temp_dir ----

temp_dir::temp_dir() {
  const char* base = std::getenv("TMPDIR");
  std::string templ = std::string(base && *base ? base : "/tmp") + "/ringgate-itest-XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp failed: " << std::strerror(errno);
    return;
  }
  _path = templ;
}

temp_dir::~temp_dir() {
  if (_path.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(_path, ec);
}

std::string temp_dir::write(std::string_view name, std::string_view content) const {
  std::string full = _path + "/" + std::string(name);
  std::ofstream f(full, std::ios::binary | std::ios::trunc);
  f.write(content.data(), static_cast<std::streamsize>(content.size()));
  if (!f) ADD_FAILURE() << "cannot write " << full;
  return full;
}

// ---- process ----

process::~process() {
  if (_pid > 0 && !_exit_code) {
    ::kill(_pid, SIGKILL);
    int status = 0;
    ::waitpid(_pid, &status, 0);
  }
  if (_reader.joinable()) _reader.join();
}

bool process::spawn(const std::vector<std::string>& argv,
                    const std::vector<std::string>& env_extra) {
  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return _error = "pipe2 failed", false;
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    return _error = "pipe2 failed", false;
  }
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (!inherited_env_dropped(*e)) env.emplace_back(*e);
  }
  env.insert(env.end(), env_extra.begin(), env_extra.end());
  std::vector<char*> argv_c;
  for (const auto& a : argv) argv_c.push_back(const_cast<char*>(a.c_str()));
  argv_c.push_back(nullptr);
  std::vector<char*> env_c;
  for (const auto& e : env) env_c.push_back(const_cast<char*>(e.c_str()));
  env_c.push_back(nullptr);

  // dup2 onto 1 and 2 clears O_CLOEXEC there; every other pipe end closes on exec.
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  // The child starts with no blocked signals and default dispositions, whatever the test runner
  // had (ringgate blocks the signals it handles itself).
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigset_t defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGUSR1}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  int rc = posix_spawn(&_pid, argv_c[0], &actions, &attr, argv_c.data(), env_c.data());
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (rc != 0) {
    _pid = -1;
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    _error = "posix_spawn " + argv[0] + ": " + std::strerror(rc);
    return false;
  }
  _reader = std::thread([this, out = out_pipe[0], err = err_pipe[0]] { reader_loop(out, err); });
  return true;
}

void process::reader_loop(int out_fd, int err_fd) {
  pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  int open_count = 2;
  char chunk[4096];
  while (open_count > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t n = ::read(fds[i].fd, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      std::lock_guard lock(_mutex);
      if (n <= 0) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_count;
      } else {
        (i == 0 ? _out : _err).append(chunk, static_cast<size_t>(n));
      }
      _changed.notify_all();
    }
  }
  std::lock_guard lock(_mutex);
  _pipes_closed = true;
  _changed.notify_all();
}

std::optional<std::string> process::wait_stderr(const std::string& pattern, ms timeout) {
  const std::regex re(pattern);
  std::unique_lock lock(_mutex);
  std::smatch m;
  bool found = _changed.wait_for(lock, timeout,
                                 [&] { return std::regex_search(_err, m, re) || _pipes_closed; });
  if (!found || m.empty()) return std::nullopt;
  return m.size() > 1 ? m[1].str() : m[0].str();
}

bool process::send_signal(int sig) {
  return _pid > 0 && !_exit_code && ::kill(_pid, sig) == 0;
}

std::optional<int> process::wait_exit(ms timeout) {
  if (_pid <= 0) return std::nullopt;
  auto deadline = steady::now() + timeout;
  while (!_exit_code) {
    int status = 0;
    pid_t r = ::waitpid(_pid, &status, WNOHANG);
    if (r == _pid) {
      _exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      break;
    }
    if (r < 0 && errno != EINTR) return std::nullopt;
    if (steady::now() >= deadline) {
      ::kill(_pid, SIGKILL);
      ::waitpid(_pid, &status, 0);
      _exit_code = 128 + SIGKILL;
      if (_reader.joinable()) _reader.join();
      return std::nullopt;
    }
    std::this_thread::sleep_for(5ms);  // polling interval, not an assertion
  }
  if (_reader.joinable()) _reader.join();  // pipes reach EOF once the child is gone
  return _exit_code;
}

std::string process::out_text() {
  std::lock_guard lock(_mutex);
  return _out;
}

std::string process::err_text() {
  std::lock_guard lock(_mutex);
  return _err;
}

run_result run_to_exit(const std::vector<std::string>& argv, ms timeout) {
  process p;
  run_result r;
  if (argv.empty() || argv[0].empty()) {
    r.err = "no program to run (is RINGGATE_BIN set? run through `meson test`)";
    return r;
  }
  if (!p.spawn(argv)) {
    r.err = p.last_error();
    return r;
  }
  r.exit_code = p.wait_exit(timeout);
  r.out = p.out_text();
  r.err = p.err_text();
  return r;
}

// ---- server ----

std::unique_ptr<server> server::start(const server_options& opts) {
  auto s = std::make_unique<server>();
  std::string bin = opts.binary.empty() ? ringgate_bin() : opts.binary;
  if (bin.empty()) {
    ADD_FAILURE() << "RINGGATE_BIN is not set (run through `meson test`)";
    return nullptr;
  }
  std::vector<std::string> argv = {bin};
  if (!opts.config_toml.empty()) {
    argv.push_back("--config");
    argv.push_back(s->_dir.write("ringgate.toml", opts.config_toml));
  }
  for (const char* a : {"--listen", "127.0.0.1:0", "--log-level", "info", "--log-format", "text"}) {
    argv.emplace_back(a);
  }
  argv.push_back("--shards");
  argv.push_back(std::to_string(opts.shards));
  // ringgate's admin listener on an ephemeral port too, so tests running in parallel never
  // collide on the default 127.0.0.1:9090 (a test's own args may override it).
  const bool is_ringgate = opts.binary.empty();
  if (is_ringgate) {
    argv.push_back("--admin-listen");
    argv.push_back("127.0.0.1:0");
  }
  argv.insert(argv.end(), opts.args.begin(), opts.args.end());
  if (!s->_proc.spawn(argv, opts.env)) {
    ADD_FAILURE() << s->_proc.last_error();
    return nullptr;
  }
  auto port = s->_proc.wait_stderr(R"(listening on 127\.0\.0\.1:(\d+))", opts.start_timeout);
  if (!port) {
    auto code = s->_proc.wait_exit(1s);
    ADD_FAILURE() << "ringgate did not log 'listening on 127.0.0.1:PORT' (waited up to "
                  << opts.start_timeout.count()
                  << " ms; exit: " << (code ? std::to_string(*code) : "still running, killed")
                  << ")\n"
                  << "--- stderr ---\n"
                  << s->_proc.err_text() << "--- stdout ---\n"
                  << s->_proc.out_text();
    return nullptr;
  }
  s->_port = static_cast<uint16_t>(std::stoi(*port));
  bool admin_off = false;
  for (size_t i = 0; i + 1 < opts.args.size(); ++i) {
    if (opts.args[i] == "--admin-listen" && opts.args[i + 1] == "off") admin_off = true;
  }
  if (is_ringgate && !admin_off) {
    // Logged right after the data listener's line, unless the admin listener is off.
    if (auto admin = s->_proc.wait_stderr(R"(admin listening on 127\.0\.0\.1:(\d+))", 2s)) {
      s->_admin_port = static_cast<uint16_t>(std::stoi(*admin));
    }
  }
  return s;
}

std::optional<int> server::stop(ms timeout) {
  _proc.send_signal(SIGTERM);
  return _proc.wait_exit(timeout);
}

// ---- notify_listener ----

notify_listener::~notify_listener() {
  if (_fd >= 0) ::close(_fd);
  if (!_unlink_path.empty()) ::unlink(_unlink_path.c_str());
}

bool notify_listener::bind_path(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return false;
  std::memcpy(addr.sun_path, path.data(), path.size());
  _fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (_fd < 0 || ::bind(_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return false;
  _env_value = path;
  _unlink_path = path;
  return true;
}

bool notify_listener::bind_abstract(const std::string& name) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (name.size() + 1 >= sizeof addr.sun_path) return false;
  std::memcpy(addr.sun_path + 1, name.data(), name.size());  // sun_path[0] == 0: abstract
  auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  _fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (_fd < 0 || ::bind(_fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) return false;
  _env_value = "@" + name;
  return true;
}

std::optional<std::string> notify_listener::wait_for(std::string_view needle, ms timeout) {
  auto deadline = steady::now() + timeout;
  auto matches = [&](std::string_view datagram) {
    while (!datagram.empty()) {
      size_t nl = datagram.find('\n');
      if (datagram.substr(0, nl) == needle) return true;
      if (nl == std::string_view::npos) break;
      datagram.remove_prefix(nl + 1);
    }
    return false;
  };
  for (;;) {
    // Datagrams are consumed in order, so READY=1 then STOPPING=1 asserts their order too.
    for (; _scanned < _received.size(); ++_scanned) {
      if (matches(_received[_scanned])) return _received[_scanned++];
    }
    pollfd p{_fd, POLLIN, 0};
    int r = ::poll(&p, 1, remaining_ms(deadline));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return std::nullopt;
    char buf[4096];
    ssize_t n = ::recv(_fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) _received.emplace_back(buf, static_cast<size_t>(n));
  }
}

void notify_listener::skip_pending() {
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(_fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    _received.emplace_back(buf, static_cast<size_t>(n));
  }
  _scanned = _received.size();
}

std::string notify_listener::history() const {
  std::string out;
  for (const auto& d : _received) {
    if (!out.empty()) out += " | ";
    out += d;
  }
  return out.empty() ? "(nothing received)" : out;
}

}  // namespace rg::itest
