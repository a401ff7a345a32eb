// The SQLite side of the usage ledger: schema, one transaction per batch (rows + spend per key and
// period), spend lookups for the restore at startup, and the summary `ringgate usage` prints.
// Only the ledger writer thread and the control thread (startup, CLI) use it.
#include <ringgate/governance/ledger.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <utility>

namespace rg::governance {
namespace {

constexpr const char* schema = R"sql(
CREATE TABLE IF NOT EXISTS requests (
  time_us       INTEGER NOT NULL,  -- admission, Unix microseconds (UTC)
  request_id    TEXT    NOT NULL,
  key           TEXT,              -- virtual key name; NULL = anonymous
  model         TEXT    NOT NULL,  -- as the client asked
  provider      TEXT,
  tokens_in     INTEGER NOT NULL,
  tokens_out    INTEGER NOT NULL,
  tokens_cached INTEGER NOT NULL,
  cost_nano     INTEGER,           -- nano-dollars; NULL = the model has no price
  status        INTEGER NOT NULL,
  latency_us    INTEGER NOT NULL,
  estimated     INTEGER NOT NULL   -- 1: no usage reported upstream, tokens are an estimate
);
CREATE INDEX IF NOT EXISTS requests_time ON requests(time_us);
CREATE TABLE IF NOT EXISTS spend (
  key       TEXT    NOT NULL,
  period    TEXT    NOT NULL,      -- d:YYYY-MM-DD, m:YYYY-MM or total
  cost_nano INTEGER NOT NULL,
  PRIMARY KEY (key, period)
) WITHOUT ROWID;
CREATE VIEW IF NOT EXISTS requests_usd AS
  SELECT datetime(time_us / 1000000, 'unixepoch') AS time, request_id, key, model, provider,
         tokens_in, tokens_out, tokens_cached, cost_nano / 1e9 AS cost_usd, status,
         latency_us / 1000.0 AS latency_ms, estimated
  FROM requests;
)sql";

constexpr const char* insert_sql =
    "INSERT INTO requests (time_us, request_id, key, model, provider, tokens_in, tokens_out, "
    "tokens_cached, cost_nano, status, latency_us, estimated) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
constexpr const char* add_spend_sql =
    "INSERT INTO spend (key, period, cost_nano) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (key, period) DO UPDATE SET cost_nano = cost_nano + excluded.cost_nano";

void bind_text(sqlite3_stmt* st, int i, std::string_view s) {
  sqlite3_bind_text(st, i, s.data(), int(s.size()), SQLITE_TRANSIENT);
}

void bind_name(sqlite3_stmt* st, int i, const std::vector<std::string>& names, int32_t index) {
  if (index >= 0 && size_t(index) < names.size()) {
    bind_text(st, i, names[size_t(index)]);
  } else {
    sqlite3_bind_null(st, i);
  }
}

// Finalizes a statement when it goes out of scope.
struct statement {
  sqlite3_stmt* st = nullptr;
  ~statement() { sqlite3_finalize(st); }
};

}  // namespace

void usage_row::set_request_id(std::string_view s) noexcept {
  request_id_len = uint8_t(std::min(s.size(), text_max));
  std::memcpy(request_id, s.data(), request_id_len);
}

void usage_row::set_model(std::string_view s) noexcept {
  model_len = uint8_t(std::min(s.size(), text_max));
  std::memcpy(model, s.data(), model_len);
}

std::expected<std::unique_ptr<ledger>, std::string> ledger::open(const std::string& path,
                                                                 access mode) {
  sqlite3* db = nullptr;
  int flags = mode == access::read_only ? SQLITE_OPEN_READONLY
                                        : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = "cannot open " + path + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close(db);
    return std::unexpected(msg);
  }
  std::unique_ptr<ledger> l(new ledger(db));
  sqlite3_busy_timeout(db, 5000);  // another process reading it (ringgate usage) holds a lock
  if (mode == access::read_only) return l;
  // WAL: readers never block the writer; synchronous=NORMAL: a committed batch survives a
  // process crash (it is in the OS cache), only a power loss can take the last ones.
  for (const char* sql : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", schema}) {
    if (auto r = l->exec(sql); !r) return std::unexpected(path + ": " + r.error());
  }
  auto ins = l->prepare(insert_sql);
  if (!ins) return std::unexpected(path + ": " + ins.error());
  l->_insert = *ins;
  auto add = l->prepare(add_spend_sql);
  if (!add) return std::unexpected(path + ": " + add.error());
  l->_add_spend = *add;
  return l;
}

ledger::~ledger() {
  sqlite3_finalize(_insert);
  sqlite3_finalize(_add_spend);
  sqlite3_close(_db);
}

std::string ledger::error_text(std::string_view what) const {
  return std::string(what) + ": " + sqlite3_errmsg(_db);
}

std::expected<void, std::string> ledger::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(_db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errmsg(_db);
    sqlite3_free(err);
    return std::unexpected(msg);
  }
  return {};
}

std::expected<sqlite3_stmt*, std::string> ledger::prepare(const char* sql) {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(_db, sql, -1, &st, nullptr) != SQLITE_OK) {
    return std::unexpected(error_text("prepare"));
  }
  return st;
}

std::expected<nano_usd, std::string> ledger::spend(std::string_view key, std::string_view label) {
  auto st = prepare("SELECT cost_nano FROM spend WHERE key = ?1 AND period = ?2");
  if (!st) {
    // A read-only file written before the spend table existed has no spend yet.
    return std::unexpected(st.error());
  }
  statement guard{*st};
  bind_text(*st, 1, key);
  bind_text(*st, 2, label);
  int rc = sqlite3_step(*st);
  if (rc == SQLITE_ROW) return sqlite3_column_int64(*st, 0);
  if (rc == SQLITE_DONE) return nano_usd(0);
  return std::unexpected(error_text("read spend"));
}

std::expected<void, std::string> ledger::append(const std::vector<usage_row>& rows,
                                                const ledger_names& names) {
  if (rows.empty()) return {};
  // Spend per (key, period label), summed over the batch: a few upserts instead of one per row.
  std::map<std::pair<int32_t, std::string>, nano_usd> spend;
  if (auto r = exec("BEGIN IMMEDIATE"); !r) return std::unexpected("begin: " + r.error());
  for (const usage_row& row : rows) {
    sqlite3_stmt* st = _insert;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, row.time_us);
    bind_text(st, 2, std::string_view(row.request_id, row.request_id_len));
    bind_name(st, 3, names.keys, row.key);
    bind_text(st, 4, std::string_view(row.model, row.model_len));
    bind_name(st, 5, names.providers, row.provider);
    sqlite3_bind_int64(st, 6, row.tokens_in);
    sqlite3_bind_int64(st, 7, row.tokens_out);
    sqlite3_bind_int64(st, 8, row.tokens_cached);
    if (row.cost >= 0) {
      sqlite3_bind_int64(st, 9, row.cost);
    } else {
      sqlite3_bind_null(st, 9);
    }
    sqlite3_bind_int(st, 10, row.status);
    sqlite3_bind_int64(st, 11, row.latency_us);
    sqlite3_bind_int(st, 12, row.estimated ? 1 : 0);
    if (sqlite3_step(st) != SQLITE_DONE) {
      std::string msg = error_text("insert");
      exec("ROLLBACK");
      return std::unexpected(msg);
    }
    if (row.key >= 0 && row.cost > 0) {
      int64_t unix_s = row.time_us / 1'000'000;
      for (period p : {period::daily, period::monthly, period::total}) {
        spend[{row.key, period_label(p, period_index(p, unix_s))}] += row.cost;
      }
    }
  }
  for (const auto& [at, amount] : spend) {
    sqlite3_stmt* st = _add_spend;
    sqlite3_reset(st);
    bind_name(st, 1, names.keys, at.first);
    bind_text(st, 2, at.second);
    sqlite3_bind_int64(st, 3, amount);
    if (sqlite3_step(st) != SQLITE_DONE) {
      std::string msg = error_text("spend");
      exec("ROLLBACK");
      return std::unexpected(msg);
    }
  }
  if (auto r = exec("COMMIT"); !r) {
    exec("ROLLBACK");
    return std::unexpected("commit: " + r.error());
  }
  return {};
}

std::expected<std::vector<usage_summary>, std::string> ledger::summarize(int64_t since_us,
                                                                         std::string_view key) {
  auto st = prepare(
      "SELECT COALESCE(key, ''), count(*), sum(tokens_in), sum(tokens_out), "
      "sum(COALESCE(cost_nano, 0)), sum(estimated) FROM requests "
      "WHERE time_us >= ?1 AND (?2 IS NULL OR key = ?2) GROUP BY key ORDER BY key");
  if (!st) return std::unexpected(st.error());
  statement guard{*st};
  sqlite3_bind_int64(*st, 1, since_us);
  if (key.empty()) {
    sqlite3_bind_null(*st, 2);
  } else {
    bind_text(*st, 2, key);
  }
  std::vector<usage_summary> out;
  for (;;) {
    int rc = sqlite3_step(*st);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return std::unexpected(error_text("query"));
    usage_summary s;
    s.key = reinterpret_cast<const char*>(sqlite3_column_text(*st, 0));
    s.requests = uint64_t(sqlite3_column_int64(*st, 1));
    s.tokens_in = sqlite3_column_int64(*st, 2);  // integer sums (exact, unlike total())
    s.tokens_out = sqlite3_column_int64(*st, 3);
    s.cost = sqlite3_column_int64(*st, 4);
    s.estimated = uint64_t(sqlite3_column_int64(*st, 5));
    out.push_back(std::move(s));
  }
  return out;
}

uint64_t ledger::rows() {
  auto st = prepare("SELECT count(*) FROM requests");
  if (!st) return 0;
  statement guard{*st};
  return sqlite3_step(*st) == SQLITE_ROW ? uint64_t(sqlite3_column_int64(*st, 0)) : 0;
}

}  // namespace rg::governance
