// Integration-test harness: runs the real ringgate binary (path in $RINGGATE_BIN) as a child with
// captured output, and talks raw HTTP/1.1 to it. Every wait has a deadline; nothing sleeps to
// assert.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace rg::itest {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;
using ms = std::chrono::milliseconds;

// The binary under test, from $RINGGATE_BIN (set by tests/integration/meson.build); "" when unset.
std::string ringgate_bin();

// A fresh directory under $TMPDIR (or /tmp), removed with its contents on destruction.
class temp_dir {
 public:
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const std::string& path() const { return _path; }
  // Writes `content` to path()/name and returns the full path.
  std::string write(std::string_view name, std::string_view content) const;

 private:
  std::string _path;
};

// A child process whose stdout and stderr are drained continuously by a reader thread (so the
// child never blocks on a full pipe). Killed with SIGKILL on destruction if still running.
class process {
 public:
  process() = default;
  ~process();
  process(const process&) = delete;
  process& operator=(const process&) = delete;

  // Starts `argv[0]` with the rest as arguments. The environment is ours minus the sd_notify
  // variables, plus `env_extra` ("KEY=value" each). False (with last_error()) when spawn fails.
  bool spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env_extra = {});
  // Waits until captured stderr matches `pattern` (ECMAScript regex) and returns the first
  // capture group (or the whole match); nullopt on timeout or when the child's stderr closed first.
  std::optional<std::string> wait_stderr(const std::string& pattern, ms timeout);
  bool send_signal(int sig);
  // Waits for the child to exit: its exit code, or 128 + signal number when a signal killed it.
  // On timeout it kills the child with SIGKILL, reaps it and returns nullopt.
  std::optional<int> wait_exit(ms timeout);
  bool running() const { return _pid > 0 && !_exit_code; }
  pid_t pid() const { return _pid; }
  std::string out_text();
  std::string err_text();
  const std::string& last_error() const { return _error; }

 private:
  void reader_loop(int out_fd, int err_fd);

  pid_t _pid = -1;
  std::optional<int> _exit_code;
  std::thread _reader;
  std::mutex _mutex;
  std::condition_variable _changed;
  std::string _out;
  std::string _err;
  bool _pipes_closed = false;
  std::string _error;
};

// Runs a command to completion (e.g. `ringgate --version`) within `timeout`.
struct run_result {
  std::optional<int> exit_code;  // nullopt: timed out (and was killed) or failed to start
  std::string out;
  std::string err;
};
run_result run_to_exit(const std::vector<std::string>& argv, ms timeout = 10s);

// A running ringgate on 127.0.0.1:<ephemeral port>.
struct server_options {
  std::string binary;             // empty: $RINGGATE_BIN
  std::string config_toml;        // written to a temp file and passed as --config when set
  std::vector<std::string> args;  // extra flags, after the defaults (so they override them)
  std::vector<std::string> env;   // extra environment, "KEY=value"
  uint32_t shards = 2;
  ms start_timeout = 10s;
};

class server {
 public:
  // Starts the binary with `--listen 127.0.0.1:0 --shards N --log-level info --log-format text`
  // and waits for its "listening on 127.0.0.1:PORT" line. On failure records a gtest failure
  // carrying the captured output and returns nullptr.
  static std::unique_ptr<server> start(const server_options& opts);
  uint16_t port() const { return _port; }
  // ringgate's admin listener (/metrics, /admin/*); 0 when it is off or this is not ringgate.
  uint16_t admin_port() const { return _admin_port; }
  process& proc() { return _proc; }
  const temp_dir& dir() const { return _dir; }
  // SIGTERM, then waits for the exit code (nullopt on timeout, after SIGKILL).
  std::optional<int> stop(ms timeout = 10s);

 private:
  temp_dir _dir;
  process _proc;
  uint16_t _port = 0;
  uint16_t _admin_port = 0;
};

// One parsed HTTP/1.1 response.
struct http_response {
  std::string version;  // "HTTP/1.1"
  int status = 0;
  std::string reason;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // de-chunked

  // Value of the first header named `name` (case-insensitive); "" when absent.
  std::string header(std::string_view name) const;
  bool has_header(std::string_view name) const;
  // True when a Connection header lists "close".
  bool connection_close() const;
};

// Socket options applied before connect() (so that they shape the TCP window).
struct connect_options {
  int rcvbuf_bytes = 0;  // SO_RCVBUF when > 0: a small receive window (a client slow to read)
  int sndbuf_bytes = 0;  // SO_SNDBUF when > 0
};

// A blocking-free TCP client for one connection: every read has a deadline.
class client {
 public:
  client() = default;
  ~client();
  client(client&& other) noexcept;
  client& operator=(client&& other) noexcept;
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  bool connect(uint16_t port, const connect_options& opts = {});
  // errno of the last failed connect() (ECONNREFUSED: nothing listens), else 0.
  int connect_errno() const { return _connect_errno; }
  // Sends every byte; false when the peer has gone (EPIPE/ECONNRESET) or on any other error.
  bool send(std::string_view bytes);
  // Reads one complete response (Content-Length, chunked, or until close when neither; 1xx,
  // 204 and 304 have no body). nullopt on timeout, early close or a malformed response.
  std::optional<http_response> read_response(ms timeout = 5s);
  // True when the peer closes the connection (EOF or reset) within `timeout`; bytes that arrive
  // meanwhile are kept in buffered().
  bool wait_closed(ms timeout);
  // True when data or EOF is ready to read now (non-blocking check).
  bool readable(ms timeout = 0ms);
  // True when the peer closes or resets the connection within `timeout`, seen without reading
  // anything (POLLRDHUP/POLLHUP/POLLERR), for clients that must not drain their receive window.
  bool wait_hangup(ms timeout);
  const std::string& buffered() const { return _buf; }
  const std::string& last_error() const { return _error; }
  int fd() const { return _fd; }
  void close();

 private:
  enum class fill_result { data, eof, timeout, error };
  fill_result fill(steady::time_point deadline);

  int _fd = -1;
  std::string _buf;
  bool _eof = false;
  int _connect_errno = 0;
  std::string _error;
};

// "GET <path> HTTP/1.1" with a Host header and `extra_headers` (each ending in "\r\n").
std::string get_request(std::string_view path, std::string_view extra_headers = "");

// Connects, sends one GET and reads the response; nullopt on any failure.
std::optional<http_response> http_get(uint16_t port, std::string_view path, ms timeout = 5s);

// An AF_UNIX datagram socket standing in for systemd's $NOTIFY_SOCKET.
class notify_listener {
 public:
  notify_listener() = default;
  ~notify_listener();
  notify_listener(const notify_listener&) = delete;
  notify_listener& operator=(const notify_listener&) = delete;

  // Binds at a filesystem path.
  bool bind_path(const std::string& path);
  // Binds in the abstract namespace; env_value() then starts with '@'.
  bool bind_abstract(const std::string& name);
  // The NOTIFY_SOCKET value that reaches this socket.
  const std::string& env_value() const { return _env_value; }
  // Receives datagrams until one not yet consumed contains `needle` as a whole line (e.g.
  // "READY=1"); returns it and consumes every datagram up to it.
  std::optional<std::string> wait_for(std::string_view needle, ms timeout);
  // Receives whatever has arrived and marks every datagram so far consumed, so that a later
  // wait_for() sees only what is sent from now on.
  void skip_pending();
  // Every datagram received so far, joined by " | " (for failure messages).
  std::string history() const;

 private:
  int _fd = -1;
  std::string _env_value;
  std::string _unlink_path;
  std::vector<std::string> _received;
  size_t _scanned = 0;  // datagrams before this index were already consumed by wait_for
};

}  // namespace rg::itest
