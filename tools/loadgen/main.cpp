// loadgen: an HTTP/1.1 load generator on ringgate's io_uring runtime, SSE-aware, closed or open
// loop (coordinated-omission corrected), for tests and benchmarks. See --help and README.
#include <signal.h>
#include <sys/resource.h>

#include <cstdio>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <ringgate/runtime/clock.hpp>
#include <ringgate/runtime/log.hpp>

#include "options.hpp"
#include "report.hpp"
#include "worker.hpp"

namespace {

using namespace rg;

int fail(int code, const std::string& msg) {
  fprintf(stderr, "loadgen: %s\n", msg.c_str());
  return code;
}

// Every connection needs a descriptor; raise the soft limit as far as the hard one allows.
bool raise_fd_limit(uint64_t needed, std::string& err) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return true;
  if (rl.rlim_cur >= needed) return true;
  rl.rlim_cur = std::min<rlim_t>(rl.rlim_max, std::max<rlim_t>(needed, rl.rlim_cur));
  setrlimit(RLIMIT_NOFILE, &rl);
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur >= needed) return true;
  err = "need " + std::to_string(needed) + " file descriptors, the limit is " +
        std::to_string(rl.rlim_cur) + " (raise it: ulimit -n)";
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  auto parsed = loadgen::parse_options(args);
  if (!parsed) return fail(2, parsed.error());
  loadgen::options& o = *parsed;
  if (o.help) {
    fputs(loadgen::usage_text.data(), stdout);
    return 0;
  }
  if (o.version) {
    printf("loadgen %s\n", RINGGATE_VERSION);
    return 0;
  }
  std::string err;
  if (!raise_fd_limit(uint64_t(o.connections) + 64, err)) return fail(1, err);
  signal(SIGPIPE, SIG_IGN);

  log::options lo;
  lo.min_level = log::level::warn;
  lo.fmt = log::format::text;
  log::configure(lo);

  loadgen::plan p;
  p.opts = &o;
  p.request = loadgen::build_request(o);
  p.start_ns = runtime::monotonic_ns();
  p.measure_ns = p.start_ns + uint64_t(o.warmup_s * 1e9);
  if (o.duration_s > 0) p.end_ns = p.measure_ns + uint64_t(o.duration_s * 1e9);

  std::vector<loadgen::results> per_thread(o.threads);
  std::vector<std::thread> threads;
  threads.reserve(o.threads);
  for (uint32_t i = 0; i < o.threads; ++i) {
    threads.emplace_back(
        [&p, &per_thread, i, n = o.threads] { loadgen::run_worker(p, i, n, per_thread[i]); });
  }
  for (auto& t : threads) t.join();

  loadgen::results total;
  for (const auto& r : per_thread) total.merge(r);
  loadgen::run_info info;
  info.threads = o.threads;
  bool by_count = o.requests && p.claimed.load() >= o.requests;
  if (by_count || o.duration_s == 0) {
    info.measured_s = total.last_ns > p.measure_ns ? double(total.last_ns - p.measure_ns) / 1e9 : 0;
  } else {
    info.measured_s = o.duration_s;
  }
  std::string out =
      o.json ? loadgen::format_json(o, total, info) : loadgen::format_summary(o, total, info);
  fputs(out.c_str(), stdout);
  return 0;
}
