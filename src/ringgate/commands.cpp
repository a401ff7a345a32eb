// The operator subcommands: `ringgate hash-key` (the SHA-256 a [[keys]] entry stores; the key is
// read from stdin, never from the command line, where shell history and ps would keep it) and
// `ringgate usage` (spend from the usage ledger).
#include "commands.hpp"

#include <sys/random.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <iostream>
#include <string>

#include <ringgate/config/config.hpp>
#include <ringgate/governance/keys.hpp>
#include <ringgate/governance/ledger.hpp>
#include <ringgate/governance/report.hpp>

namespace rg {
namespace {

constexpr std::string_view hash_key_help =
    "usage: ringgate hash-key [--generate]\n"
    "\n"
    "Reads a key from stdin (one line) and prints its SHA-256, the value of a [[keys]] entry's\n"
    "sha256. The key is never taken as an argument: shell history and ps would keep it.\n"
    "  --generate   make a new random key instead; prints the key, then its sha256\n"
    "Example: printf %s \"$KEY\" | ringgate hash-key\n";

constexpr std::string_view usage_help =
    "usage: ringgate usage (--config FILE | --ledger FILE) [--key NAME] [--since T]\n"
    "\n"
    "Prints requests, tokens and spend per virtual key from the usage ledger ([usage] file).\n"
    "  --config FILE  read the ledger path (and the keys' budgets) from this configuration\n"
    "  --ledger FILE  the SQLite ledger itself\n"
    "  --key NAME     only this key\n"
    "  --since T      only requests admitted since T: 2026-11-22, 2026-11-22T08:30[:00]Z (UTC),\n"
    "                 or a duration back from now: 90s, 30m, 24h, 7d (default: everything)\n";

// One line from stdin without echo when it is a terminal.
std::string read_secret_line() {
  bool tty = isatty(STDIN_FILENO);
  termios old{};
  if (tty && tcgetattr(STDIN_FILENO, &old) == 0) {
    fputs("key: ", stderr);
    termios quiet = old;
    quiet.c_lflag &= ~tcflag_t(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  } else {
    tty = false;
  }
  std::string line;
  std::getline(std::cin, line);
  if (tty) {
    tcsetattr(STDIN_FILENO, TCSANOW, &old);
    fputs("\n", stderr);
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

std::string generate_key() {
  static constexpr char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string key = "sk-rg-";
  unsigned char bytes[64];
  size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
    if (n > 0) got += size_t(n);
  }
  // 40 characters of 62 (rejection sampling keeps them uniform): ≈ 238 bits.
  for (size_t i = 0; i < sizeof bytes && key.size() < 46; ++i) {
    if (bytes[i] < 248) key += alphabet[bytes[i] % 62];
  }
  return key;
}

}  // namespace

int hash_key_command(const std::vector<std::string_view>& args) {
  bool generate = false;
  for (auto a : args) {
    if (a == "--help" || a == "-h") {
      fputs(hash_key_help.data(), stdout);
      return 0;
    }
    if (a == "--generate") {
      generate = true;
      continue;
    }
    fprintf(stderr,
            "ringgate hash-key: unexpected argument (the key is read from stdin, never taken as an "
            "argument; see --help)\n");
    return 2;
  }
  if (generate) {
    std::string key = generate_key();
    printf("key:    %s\nsha256: %s\n", key.c_str(), governance::to_hex(governance::sha256(key)).c_str());
    return 0;
  }
  std::string key = read_secret_line();
  if (key.empty()) {
    fprintf(stderr, "ringgate hash-key: no key on stdin\n");
    return 2;
  }
  printf("%s\n", governance::to_hex(governance::sha256(key)).c_str());
  return 0;
}

int usage_command(const std::vector<std::string_view>& args) {
  std::string config_file, ledger_file, key;
  std::optional<int64_t> since;
  const int64_t now = int64_t(::time(nullptr));
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    if (a == "--help" || a == "-h") {
      fputs(usage_help.data(), stdout);
      return 0;
    }
    if (i + 1 >= args.size()) {
      fprintf(stderr, "ringgate usage: %.*s needs a value (see --help)\n", int(a.size()), a.data());
      return 2;
    }
    std::string_view v = args[++i];
    if (a == "--config") {
      config_file = v;
    } else if (a == "--ledger") {
      ledger_file = v;
    } else if (a == "--key") {
      key = v;
    } else if (a == "--since") {
      since = governance::parse_since(v, now);
      if (!since) {
        fprintf(stderr, "ringgate usage: --since: expected YYYY-MM-DD[THH:MM[:SS]Z] or 30m/24h/7d\n");
        return 2;
      }
    } else {
      fprintf(stderr, "ringgate usage: unknown argument %.*s (see --help)\n", int(a.size()), a.data());
      return 2;
    }
  }
  std::optional<config::config> cfg;
  if (!config_file.empty()) {
    auto loaded = config::load_file(config_file, config::process_env());
    if (!loaded) {
      fprintf(stderr, "%s\n", loaded.error().message.c_str());
      return 1;
    }
    cfg = std::move(*loaded);
    if (ledger_file.empty()) ledger_file = cfg->usage.file;
    if (ledger_file.empty()) {
      fprintf(stderr, "ringgate usage: %s has no [usage] file: there is no ledger\n",
              config_file.c_str());
      return 1;
    }
  }
  if (ledger_file.empty()) {
    fprintf(stderr, "ringgate usage: needs --config FILE or --ledger FILE (see --help)\n");
    return 2;
  }
  auto db = governance::ledger::open(ledger_file, governance::ledger::access::read_only);
  if (!db) {
    fprintf(stderr, "ringgate usage: %s\n", db.error().c_str());
    return 1;
  }
  auto rows = (*db)->summarize(since ? *since * 1'000'000 : INT64_MIN, key);
  if (!rows) {
    fprintf(stderr, "ringgate usage: %s: %s\n", ledger_file.c_str(), rows.error().c_str());
    return 1;
  }
  printf("usage since %s (%s)\n", since ? governance::format_utc(*since).c_str() : "the start",
         ledger_file.c_str());
  fputs(governance::format_usage_table(*rows).c_str(), stdout);
  if (!cfg) return 0;
  // Budgets: this period's spend, as restored at start (the spend table of the ledger).
  for (const auto& k : cfg->keys) {
    if (k.budget_usd <= 0 || (!key.empty() && k.name != key)) continue;
    auto p = governance::parse_period(k.budget_period);
    std::string label = governance::period_label(p, governance::period_index(p, now));
    auto spent = (*db)->spend(k.name, label);
    if (!spent) continue;
    char usd[32], limit[32];
    governance::format_usd(*spent, usd, sizeof usd);
    governance::format_usd(governance::nano_usd(k.budget_usd * 1e9 + 0.5), limit, sizeof limit);
    printf("budget %-17s %s of %s USD (%s, %s)\n", k.name.c_str(), usd, limit,
           k.budget_period.c_str(), label.c_str());
  }
  return 0;
}

}  // namespace rg
