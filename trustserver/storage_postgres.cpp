// PostgreSQL storage (libpq). Several trust servers may share one database: updates to a
// GUN are serialised by a transaction-level advisory lock on the GUN's hash, and the
// (gun, role, version) unique key turns any remaining race into a "version" conflict.
//
// Cache coherence (Storage::watch_changes): every transaction that changes what a GUN
// serves (update_many: publishes and timestamp re-signs; delete_gun) sends a notification
// on kChannel with the GUN, inside the transaction, so PostgreSQL delivers it exactly when
// (and only if) the write commits. A watch holds one dedicated connection LISTENing on that
// channel and reports each notification to its sink. Server-key records (add_server_key)
// change nothing a GUN serves until a publish uses them, so they notify nothing.
#include <libpq-fe.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <thread>

#include "common/digest.h"
#include "common/encoding.h"
#include "common/log.h"
#include "trustserver/pool.h"
#include "trustserver/storage.h"

namespace docket::trustserver {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS tuf_files (
  id BIGSERIAL PRIMARY KEY,
  gun TEXT NOT NULL,
  role TEXT NOT NULL,
  version BIGINT NOT NULL,
  sha256 TEXT NOT NULL,
  data BYTEA NOT NULL,
  created_at BIGINT NOT NULL,
  UNIQUE (gun, role, version)
);
CREATE INDEX IF NOT EXISTS tuf_files_checksum ON tuf_files (gun, role, sha256);
CREATE TABLE IF NOT EXISTS changefeed (
  id BIGSERIAL PRIMARY KEY,
  created_at BIGINT NOT NULL,
  gun TEXT NOT NULL,
  version BIGINT NOT NULL,
  sha256 TEXT NOT NULL,
  category TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS changefeed_gun ON changefeed (gun, id);
CREATE TABLE IF NOT EXISTS server_keys (
  seq BIGSERIAL PRIMARY KEY,
  gun TEXT NOT NULL,
  role TEXT NOT NULL,
  key_id TEXT NOT NULL,
  public_json TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  UNIQUE (gun, role, key_id)
);
)sql";

// The notification channel and payloads: "gun:<GUN>" for one GUN, anything else (we send
// "*") for "some GUN changed". PostgreSQL refuses payloads of 8000 bytes or more.
constexpr const char* kChannel = "docket_trust_changes";
constexpr std::string_view kGunPayloadPrefix = "gun:";
constexpr std::size_t kMaxNotifyPayload = 7999;
constexpr const char* kNotifySql = "SELECT pg_notify('docket_trust_changes', $1)";
// How long the watch waits for its connection to be established.
constexpr std::chrono::seconds kWatchConnectTimeout{10};
// The watch connection's application_name (visible in pg_stat_activity).
constexpr const char* kWatchApplicationName = "docket-trust-watch";
// How long a pool connection waits to be established or re-established (libpq's
// connect_timeout; a connection string that sets its own wins).
constexpr const char* kPoolConnectTimeoutSeconds = "10";

std::string notify_payload(std::string_view gun) {
  if (kGunPayloadPrefix.size() + gun.size() > kMaxNotifyPayload) return "*";
  return std::string(kGunPayloadPrefix) + std::string(gun);
}

std::int64_t to_ns(TimePoint t) {
  return t.time_since_epoch().count();
}
TimePoint from_ns(std::int64_t ns) {
  return TimePoint(std::chrono::nanoseconds(ns));
}

struct Conn {
  PGconn* pg = nullptr;
  ~Conn() { PQfinish(pg); }
};

// A query result; text params, binary results for bytea columns (format 1 for all).
class Res {
 public:
  explicit Res(PGresult* r) : r_(r) {}
  ~Res() { PQclear(r_); }
  Res(Res&& o) noexcept : r_(std::exchange(o.r_, nullptr)) {}
  Res& operator=(Res&& o) noexcept {
    if (this != &o) {
      PQclear(r_);
      r_ = std::exchange(o.r_, nullptr);
    }
    return *this;
  }
  Res(const Res&) = delete;
  PGresult* get() const { return r_; }
  int rows() const { return PQntuples(r_); }
  bool null(int row, int col) const { return PQgetisnull(r_, row, col); }
  std::string str(int row, int col) const {
    return std::string(PQgetvalue(r_, row, col),
                       static_cast<std::size_t>(PQgetlength(r_, row, col)));
  }
  // Binary int8 (network byte order).
  std::int64_t i64(int row, int col) const {
    const auto* p = reinterpret_cast<const unsigned char*>(PQgetvalue(r_, row, col));
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
    return static_cast<std::int64_t>(v);
  }
  std::string sqlstate() const {
    const char* s = PQresultErrorField(r_, PG_DIAG_SQLSTATE);
    return s ? s : "";
  }

 private:
  PGresult* r_;
};

Error pg_error(PGconn* c, std::string_view what) {
  std::string m = c ? PQerrorMessage(c) : "no connection";
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return Error{Fault::local, "storage", "postgres: " + std::string(what) + ": " + m};
}

// libpq's notices (warnings, and the FATAL a terminated backend sends) go to the server's
// log as structured lines instead of raw text on stderr.
void log_notice(void*, const char* message) {
  std::string m = message ? message : "";
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  log::warn("postgres notice", {{"message", m}});
}

// Runs a parameterised statement; all params are text. Results are binary.
Res run(Conn& c, const char* sql, std::initializer_list<std::string_view> params,
        bool binary_result = true) {
  std::vector<std::string> owned(params.begin(), params.end());
  std::vector<const char*> vals;
  std::vector<int> lens, fmts;
  for (const auto& p : owned) {
    vals.push_back(p.data());
    lens.push_back(static_cast<int>(p.size()));
    fmts.push_back(0);
  }
  return Res(PQexecParams(c.pg, sql, static_cast<int>(vals.size()), nullptr, vals.data(),
                          lens.data(), fmts.data(), binary_result ? 1 : 0));
}

void check(Conn& c, const Res& r, std::string_view what) {
  auto st = PQresultStatus(r.get());
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) raise(pg_error(c.pg, what));
}

void exec(Conn& c, const char* sql) {
  Res r(PQexec(c.pg, sql));
  check(c, r, sql);
}

// Re-establishes a pool connection PostgreSQL has dropped (a server restart, a failover,
// pg_terminate_backend, an idle-session timeout). libpq never reconnects by itself: without
// this, every connection of the pool stayed broken after the database came back and the
// server answered 500s until restarted. False when the database is still unreachable.
bool reconnect(Conn& c) {
  PQreset(c.pg);
  if (PQstatus(c.pg) != CONNECTION_OK) return false;
  PQclear(PQexec(c.pg, "SET client_min_messages = warning"));
  log::info("trust storage reconnected to PostgreSQL");
  return true;
}

// True when `r`, the first statement of an operation, failed because the connection had
// been dropped while idle in the pool, and the connection is back: that statement is then
// run again. Only first statements are: a dropped connection did nothing for them (a read,
// BEGIN, an idempotent insert), where a statement later in a transaction may have been cut
// off mid-commit, and its error goes to the caller.
bool dropped_and_back(Conn& c, const Res& r) {
  auto st = PQresultStatus(r.get());
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return false;
  return PQstatus(c.pg) == CONNECTION_BAD && reconnect(c);
}

// The first statement of an operation, once more on a re-established connection when the
// pooled one had been dropped (see dropped_and_back).
Res run_first(Conn& c, const char* sql, std::initializer_list<std::string_view> params) {
  auto r = run(c, sql, params);
  if (dropped_and_back(c, r)) r = run(c, sql, params);
  return r;
}

void begin(Conn& c) {
  Res r(PQexec(c.pg, "BEGIN"));
  if (dropped_and_back(c, r)) r = Res(PQexec(c.pg, "BEGIN"));
  check(c, r, "BEGIN");
}

constexpr const char* kRecordCols = "gun, role, version, sha256, data, created_at";

// Metadata blobs over TOAST's threshold (~2 KB: a targets file of a few entries and up) are
// compressed with lz4 instead of PostgreSQL's default pglz. pglz cost the database ~40 ms of
// CPU per MB stored, more than the rest of a 10,000-target publish; lz4 compresses the same
// JSON to about the same size at a fraction of that. Applies to values written from then on
// (stored ones stay readable either way). PostgreSQL before 14, or built without lz4,
// refuses it: the default compression stays and the server says so once.
void prefer_lz4(Conn& c) {
  Res cur(PQexec(c.pg,
                 "SELECT attcompression FROM pg_attribute "
                 "WHERE attrelid = 'tuf_files'::regclass AND attname = 'data'"));
  if (PQresultStatus(cur.get()) != PGRES_TUPLES_OK) {
    log::info("trust storage keeps PostgreSQL's default compression (no per-column compression)");
    return;
  }
  if (cur.rows() == 1 && std::string_view(PQgetvalue(cur.get(), 0, 0)) == "l") return;
  // The ALTER needs the table's exclusive lock for a moment: servers already running on the
  // database must not hold a start-up for long (it is retried at the next start).
  PQclear(PQexec(c.pg, "SET lock_timeout = '5s'"));
  Res alter(PQexec(c.pg, "ALTER TABLE tuf_files ALTER COLUMN data SET COMPRESSION lz4"));
  if (PQresultStatus(alter.get()) != PGRES_COMMAND_OK)
    log::warn("trust storage keeps PostgreSQL's default compression (pglz) for metadata",
              {{"error", std::string(PQerrorMessage(c.pg))}});
  PQclear(PQexec(c.pg, "RESET lock_timeout"));
}

MetaRecord read_record(const Res& r, int row) {
  MetaRecord m;
  m.gun = r.str(row, 0);
  m.role = r.str(row, 1);
  m.version = r.i64(row, 2);
  m.sha256 = r.str(row, 3);
  m.data = r.str(row, 4);
  m.created = from_ns(r.i64(row, 5));
  return m;
}

template <class F>
auto guarded(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Exception& e) {
    return std::unexpected(e.error());
  }
}

// The change watch: one dedicated libpq connection LISTENing on kChannel, driven by its own
// thread. A thread rather than the HTTP server's io context because storage knows nothing
// of the server (it is used by tests and tools without one), and because libpq's
// connection setup and result handling are simplest to keep bounded with poll() on the
// connection's socket plus an eventfd that the destructor signals: every wait here ends at
// a deadline or on that signal, so shutdown never waits for the network.
//
// States reported to the sink: watching(true) after LISTEN has completed (notifications of
// every later commit will arrive); watching(false) as soon as the connection fails, a
// round trip times out or the watch stops. While down, it reconnects with a backoff
// doubling from watch_backoff_min to watch_backoff_max. A connection silent for
// watch_heartbeat gets a "SELECT 1" that must answer within the same time, so a dead peer
// (no FIN, e.g. a network partition) is noticed within about twice that.
class PgWatch final : public ChangeWatch {
 public:
  PgWatch(std::string conninfo, ChangeSink& sink, const StorageOptions& o)
      : conninfo_(std::move(conninfo)), sink_(sink), o_(o) {
    wake_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_ < 0) raise(Error{Fault::local, "storage", "eventfd failed for the change watch"});
    thread_ = std::thread([this] { run(); });
  }
  ~PgWatch() override {
    stop_ = true;
    const std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_, &one, sizeof one);
    thread_.join();
    ::close(wake_);
  }

 private:
  using Clock = std::chrono::steady_clock;
  enum class Wait { ready, timeout, stop };

  // Waits for `events` on fd (none when fd < 0) until the deadline or stop.
  Wait wait(int fd, short events, Clock::time_point deadline) {
    pollfd fds[2] = {{wake_, POLLIN, 0}, {fd, events, 0}};
    const nfds_t n = fd >= 0 ? 2 : 1;
    for (;;) {
      if (stop_) return Wait::stop;
      auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return Wait::timeout;
      int r = ::poll(fds, n, static_cast<int>(std::min<long long>(left, INT_MAX)));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return Wait::ready;  // let libpq's next call report the socket's state
      if (fds[0].revents != 0) return Wait::stop;
      if (n == 2 && fds[1].revents != 0) return Wait::ready;
    }
  }

  static std::string message(PGconn* c) {
    std::string m = c ? PQerrorMessage(c) : "out of memory";
    while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
    return m;
  }

  bool connect(Conn& c, std::string& why) {
    const char* keys[] = {"dbname", "application_name", nullptr};
    const char* vals[] = {conninfo_.c_str(), kWatchApplicationName, nullptr};
    c.pg = PQconnectStartParams(keys, vals, 1);
    if (!c.pg || PQstatus(c.pg) == CONNECTION_BAD) {
      why = message(c.pg);
      return false;
    }
    const auto deadline = Clock::now() + kWatchConnectTimeout;
    auto st = PGRES_POLLING_WRITING;
    while (st != PGRES_POLLING_OK) {
      if (st == PGRES_POLLING_FAILED) {
        why = message(c.pg);
        return false;
      }
      auto w = wait(PQsocket(c.pg), st == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline);
      if (w != Wait::ready) {
        why = w == Wait::timeout ? "connecting timed out" : "stopping";
        return false;
      }
      st = PQconnectPoll(c.pg);
    }
    PQsetNoticeProcessor(c.pg, log_notice, nullptr);
    if (PQsetnonblocking(c.pg, 1) != 0) {
      why = message(c.pg);
      return false;
    }
    return true;
  }

  // Reports every notification libpq has read so far.
  void deliver(PGconn* c) {
    while (PGnotify* n = PQnotifies(c)) {
      std::string_view payload = n->extra ? n->extra : "";
      if (std::strcmp(n->relname, kChannel) == 0 && payload.starts_with(kGunPayloadPrefix))
        sink_.changed(payload.substr(kGunPayloadPrefix.size()));
      else
        sink_.changed_all();
      PQfreemem(n);
    }
  }

  // One command and its results within watch_heartbeat; notifications read meanwhile are
  // delivered.
  bool command(Conn& c, const char* sql, std::string& why) {
    const auto deadline = Clock::now() + o_.watch_heartbeat;
    const int fd = PQsocket(c.pg);
    if (!PQsendQuery(c.pg, sql)) {
      why = message(c.pg);
      return false;
    }
    for (;;) {
      int f = PQflush(c.pg);
      if (f == 0) break;
      if (f < 0 || wait(fd, POLLOUT | POLLIN, deadline) != Wait::ready || !PQconsumeInput(c.pg)) {
        why = f < 0 ? message(c.pg) : "sending " + std::string(sql) + " timed out";
        return false;
      }
    }
    bool ok = true;
    for (;;) {
      while (PQisBusy(c.pg)) {
        auto w = wait(fd, POLLIN, deadline);
        if (w != Wait::ready) {
          why = w == Wait::timeout ? "no answer to " + std::string(sql) + " in time" : "stopping";
          return false;
        }
        if (!PQconsumeInput(c.pg)) {
          why = message(c.pg);
          return false;
        }
      }
      PGresult* r = PQgetResult(c.pg);
      if (!r) break;
      auto st = PQresultStatus(r);
      if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        ok = false;
        why = message(c.pg);
      }
      PQclear(r);
    }
    deliver(c.pg);
    return ok;
  }

  // Reads notifications until the connection fails or the watch stops.
  void listen(Conn& c, std::string& why) {
    const int fd = PQsocket(c.pg);
    for (;;) {
      auto w = wait(fd, POLLIN, Clock::now() + o_.watch_heartbeat);
      if (w == Wait::stop) return;
      if (w == Wait::timeout) {
        if (!command(c, "SELECT 1", why)) return;
        continue;
      }
      if (!PQconsumeInput(c.pg) || PQstatus(c.pg) != CONNECTION_OK) {
        why = message(c.pg);
        return;
      }
      deliver(c.pg);
    }
  }

  void run() {
    auto backoff = o_.watch_backoff_min;
    bool reported = false;  // a failure was logged since the last working connection
    while (!stop_) {
      // An exception (out of memory in a sink, say) must neither end the process, as one
      // leaving a thread does (std::terminate), nor leave the sink caching without a watch:
      // it counts as a lost connection.
      bool live = false;
      try {
        Conn c;
        std::string why;
        if (connect(c, why) && command(c, (std::string("LISTEN ") + kChannel).c_str(), why)) {
          backoff = o_.watch_backoff_min;
          reported = false;
          live = true;
          sink_.watching(true);
          log::debug("trust change watch listening");
          listen(c, why);
          live = false;
          sink_.watching(false);
          if (stop_) break;
          log::warn(
              "trust change watch lost its connection; reads bypass the cache until it "
              "reconnects",
              {{"error", why}});
          reported = true;
        } else if (!stop_ && !reported) {
          log::warn("trust change watch cannot connect; reads bypass the cache until it does",
                    {{"error", why}});
          reported = true;
        }
      } catch (const std::exception& e) {
        if (live) {
          try {
            sink_.watching(false);
          } catch (...) {
          }
        }
        log::error("trust change watch failed; reads bypass the cache until it reconnects",
                   {{"error", e.what()}});
        reported = true;
      }
      if (wait(-1, 0, Clock::now() + backoff) == Wait::stop) break;
      backoff = std::min(backoff * 2, o_.watch_backoff_max);
    }
  }

  std::string conninfo_;
  ChangeSink& sink_;
  StorageOptions o_;
  int wake_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

class PostgresStorage final : public Storage {
 public:
  PostgresStorage(std::string conninfo, const StorageOptions& o)
      : conninfo_(std::move(conninfo)), options_(o) {}
  void add(std::unique_ptr<Conn> c) { pool_.add(std::move(c)); }

  // Several trust servers may share the database (that is what PostgreSQL is for here).
  bool sole_writer() const override { return false; }
  std::unique_ptr<ChangeWatch> watch_changes(ChangeSink& sink) override {
    try {
      return std::make_unique<PgWatch>(conninfo_, sink, options_);
    } catch (const std::exception& e) {  // eventfd or thread creation failed
      log::error("trust change watch not started", {{"error", e.what()}});
      return nullptr;
    }
  }

  std::string_view backend() const override { return "postgres"; }

  // One publish is two round trips: the whole transaction but its end goes as one libpq
  // pipeline (BEGIN, the GUN's advisory lock, per role an insert that also checks the VERSION
  // rule, the timestamp's changefeed record, the notification), then COMMIT, or ROLLBACK
  // when a role lost. Statements in a pipeline still run one after another, each (READ
  // COMMITTED) on a snapshot taken after the previous one finished, so every insert sees
  // all commits made before this transaction got the lock, as separate round trips did.
  Status update_many(std::string_view gun, const std::vector<MetaUpdate>& updates) override {
    return guarded([&]() -> Status {
      auto c = lease();
      const auto ts = std::to_string(to_ns(now()));
      std::vector<std::string> sums;
      sums.reserve(updates.size());
      for (const auto& u : updates)
        sums.push_back(u.sha256.empty() ? sha256_hex(u.data) : u.sha256);
      for (int attempt = 0;; ++attempt) {
        auto out = write_pipelined(*c, gun, updates, sums, ts);
        // BEGIN failed on a connection dropped while idle: nothing was done; once more on a
        // re-established one (see dropped_and_back).
        if (out.dropped_at_begin && attempt == 0 && reconnect(*c)) continue;
        if (out.committable) {
          exec(*c, "COMMIT");
          return {};
        }
        if (PQstatus(c->pg) == CONNECTION_OK) Res r(PQexec(c->pg, "ROLLBACK"));
        return std::unexpected(std::move(out.error));
      }
    });
  }

  Result<std::optional<MetaRecord>> get_current(std::string_view gun,
                                                std::string_view role) override {
    return one(
        "SELECT gun, role, version, sha256, data, created_at FROM tuf_files "
        "WHERE gun = $1 AND role = $2 ORDER BY version DESC LIMIT 1",
        {gun, role});
  }

  Result<std::optional<MetaRecord>> get_checksum(std::string_view gun, std::string_view role,
                                                 std::string_view sha256) override {
    return one(
        "SELECT gun, role, version, sha256, data, created_at FROM tuf_files "
        "WHERE gun = $1 AND role = $2 AND sha256 = $3 ORDER BY version DESC LIMIT 1",
        {gun, role, sha256});
  }

  Result<std::optional<MetaRecord>> get_version(std::string_view gun, std::string_view role,
                                                std::int64_t version) override {
    auto v = std::to_string(version);
    return one(
        "SELECT gun, role, version, sha256, data, created_at FROM tuf_files "
        "WHERE gun = $1 AND role = $2 AND version = $3",
        {gun, role, v});
  }

  Result<std::vector<MetaRecord>> get_all_current(
      std::string_view gun, const std::vector<std::string>& without_data) override {
    return guarded([&]() -> Result<std::vector<MetaRecord>> {
      // A text[] literal of the skipped roles; their data is neither detoasted nor sent.
      std::string skip = "{";
      for (std::size_t i = 0; i < without_data.size(); ++i) {
        skip += i ? ",\"" : "\"";
        for (char ch : without_data[i]) {
          if (ch == '"' || ch == '\\') skip += '\\';
          skip += ch;
        }
        skip += '"';
      }
      skip += '}';
      auto c = lease();
      auto r = run_first(*c,
                         "SELECT DISTINCT ON (role) gun, role, version, sha256, "
                         "CASE WHEN role = ANY($2::text[]) THEN NULL ELSE data END, "
                         "CASE WHEN role = ANY($2::text[]) THEN 0::bigint ELSE created_at END "
                         "FROM tuf_files WHERE gun = $1 ORDER BY role, version DESC",
                         {gun, skip});
      check(*c, r, "reading metadata");
      std::vector<MetaRecord> out;
      for (int i = 0; i < r.rows(); ++i) out.push_back(read_record(r, i));
      return out;
    });
  }

  Status delete_gun(std::string_view gun) override {
    return guarded([&]() -> Status {
      auto c = lease();
      begin(*c);
      try {
        check(*c, run(*c, "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", {gun}),
              "locking gun");
        check(*c, run(*c, "DELETE FROM tuf_files WHERE gun = $1", {gun}), "deleting");
        check(*c,
              run(*c,
                  "INSERT INTO changefeed (created_at, gun, version, sha256, category) "
                  "VALUES ($1, $2, 0, '', 'deletion')",
                  {std::to_string(to_ns(now())), gun}),
              "writing changefeed");
        check(*c, run(*c, kNotifySql, {notify_payload(gun)}), "notifying the change");
        exec(*c, "COMMIT");
      } catch (...) {
        Res r(PQexec(c->pg, "ROLLBACK"));
        throw;
      }
      return {};
    });
  }

  Result<std::vector<Change>> changes(const ChangeQuery& q) override {
    return guarded([&]() -> Result<std::vector<Change>> {
      std::string sql =
          "SELECT id, created_at, gun, version, sha256, category FROM changefeed WHERE "
          "($1 = '' OR gun = $2)";
      if (q.backward) {
        if (q.before_id)
          sql += " AND id < $3";
        else
          sql += " AND $3::bigint IS NOT NULL";
        sql += " ORDER BY id DESC LIMIT $4";
      } else {
        sql += " AND id > $3 ORDER BY id ASC LIMIT $4";
      }
      auto c = lease();
      const std::string filter = q.gun ? "1" : "";
      const std::string g = q.gun.value_or("");
      auto r =
          run_first(*c, sql.c_str(),
                    {filter, g, std::to_string(q.backward ? q.before_id.value_or(0) : q.after_id),
                     std::to_string(q.limit)});
      check(*c, r, "reading changefeed");
      std::vector<Change> out;
      for (int i = 0; i < r.rows(); ++i) {
        Change ch;
        ch.id = r.i64(i, 0);
        ch.created = from_ns(r.i64(i, 1));
        ch.gun = r.str(i, 2);
        ch.version = r.i64(i, 3);
        ch.sha256 = r.str(i, 4);
        ch.category = r.str(i, 5) == "deletion" ? ChangeCategory::deletion : ChangeCategory::update;
        out.push_back(std::move(ch));
      }
      if (q.backward) std::reverse(out.begin(), out.end());
      return out;
    });
  }

  Result<std::vector<ServerKey>> server_keys(std::string_view gun, std::string_view role) override {
    return guarded([&]() -> Result<std::vector<ServerKey>> {
      auto c = lease();
      auto r = run_first(*c,
                         "SELECT gun, role, key_id, public_json, created_at FROM server_keys "
                         "WHERE gun = $1 AND role = $2 ORDER BY seq ASC",
                         {gun, role});
      check(*c, r, "reading server keys");
      std::vector<ServerKey> out;
      for (int i = 0; i < r.rows(); ++i)
        out.push_back(
            ServerKey{r.str(i, 0), r.str(i, 1), r.str(i, 2), r.str(i, 3), from_ns(r.i64(i, 4))});
      return out;
    });
  }

  Status add_server_key(const ServerKey& k) override {
    return guarded([&]() -> Status {
      auto c = lease();
      auto created = to_ns(k.created == TimePoint{} ? now() : k.created);
      // Idempotent (ON CONFLICT DO NOTHING), so run again after a dropped connection too.
      auto r = run_first(*c,
                         "INSERT INTO server_keys (gun, role, key_id, public_json, created_at) "
                         "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (gun, role, key_id) DO NOTHING",
                         {k.gun, k.role, k.key_id, k.public_json, std::to_string(created)});
      check(*c, r, "adding server key");
      return {};
    });
  }

  Status check_health() override {
    return guarded([&]() -> Status {
      auto c = lease();
      check(*c, run_first(*c, "SELECT 1", {}), "SELECT 1");
      return {};
    });
  }

 private:
  struct PipelineOutcome {
    bool committable = false;       // every statement succeeded: COMMIT
    bool dropped_at_begin = false;  // the connection was gone before BEGIN ran
    Error error;                    // otherwise: "version" or "storage"
  };

  // Sends update_many's statements as one pipeline and reads their results; the
  // transaction is left open (or aborted) for the caller to end.
  PipelineOutcome write_pipelined(Conn& c, std::string_view gun,
                                  const std::vector<MetaUpdate>& updates,
                                  const std::vector<std::string>& sums, const std::string& ts) {
    PipelineOutcome out;
    auto fail = [&](std::string_view what, const char* msg) {
      std::string m = msg ? msg : "";
      while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
      out.error = Error{Fault::local, "storage", "postgres: " + std::string(what) + ": " + m};
      return out;
    };
    if (!PQenterPipelineMode(c.pg)) return fail("starting the update", PQerrorMessage(c.pg));
    const std::string g(gun);
    bool sent = send(c, "BEGIN", {}) &&
                send(c, "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", {g});
    for (std::size_t i = 0; sent && i < updates.size(); ++i) {
      const auto& u = updates[i];
      const auto v = std::to_string(u.version);
      // The stored maximum (NULL: none) and whether the row went in: it does only when its
      // version is greater than every stored version of the role (Notary's VERSION rule).
      sent = send(c,
                  "WITH stored AS (SELECT MAX(version) AS v FROM tuf_files "
                  "WHERE gun = $1 AND role = $2), "
                  "ins AS (INSERT INTO tuf_files (gun, role, version, sha256, data, created_at) "
                  "SELECT $1, $2, $3::bigint, $4, $5::bytea, $6::bigint FROM stored "
                  "WHERE stored.v IS NULL OR stored.v < $3::bigint RETURNING 1) "
                  "SELECT stored.v, (SELECT count(*) FROM ins) FROM stored",
                  {g, u.role, v, sums[i], u.data, ts}, 4);
      if (sent && u.role == "timestamp")
        sent = send(c,
                    "INSERT INTO changefeed (created_at, gun, version, sha256, category) "
                    "VALUES ($1, $2, $3, $4, 'update')",
                    {ts, g, v, sums[i]});
    }
    if (sent) sent = send(c, kNotifySql, {notify_payload(gun)});
    if (sent) sent = PQpipelineSync(c.pg) == 1;
    if (!sent) {
      // Whatever was queued runs up to a sync (the caller rolls it back); a connection
      // still in pipeline mode after this is re-established by the next lease().
      auto o = fail("sending the update", PQerrorMessage(c.pg));
      if (PQstatus(c.pg) == CONNECTION_OK && PQpipelineSync(c.pg) == 1) drain(c);
      PQexitPipelineMode(c.pg);
      return o;
    }
    std::vector<Res> results;
    const bool synced = drain(c, &results);
    PQexitPipelineMode(c.pg);
    // results: BEGIN, lock, per update its insert (+ changefeed for the timestamp), notify.
    std::size_t at = 0;
    auto next = [&]() -> const Res* { return at < results.size() ? &results[at++] : nullptr; };
    auto ok = [](const Res* r) {
      auto st = r ? PQresultStatus(r->get()) : PGRES_FATAL_ERROR;
      return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    };
    auto message = [&](const Res* r) {
      return r && PQresultStatus(r->get()) == PGRES_FATAL_ERROR ? PQresultErrorMessage(r->get())
                                                                : PQerrorMessage(c.pg);
    };
    const Res* r = next();
    if (!ok(r)) {
      out.dropped_at_begin = PQstatus(c.pg) == CONNECTION_BAD;
      return fail("BEGIN", message(r));
    }
    if (r = next(); !ok(r)) return fail("locking gun", message(r));
    for (const auto& u : updates) {
      r = next();
      if (!ok(r)) {
        if (r && r->sqlstate() == "23505") {  // unique_violation: lost a race
          out.error = version_conflict(gun, u.role, u.version, u.version);
          return out;
        }
        return fail("inserting metadata", message(r));
      }
      if (r->rows() != 1) return fail("inserting metadata", "no result row");
      if (r->i64(0, 1) != 1) {
        out.error = version_conflict(gun, u.role, u.version, r->null(0, 0) ? 0 : r->i64(0, 0));
        return out;
      }
      if (u.role == "timestamp") {
        if (r = next(); !ok(r)) return fail("writing changefeed", message(r));
      }
    }
    if (r = next(); !ok(r)) return fail("notifying the change", message(r));
    if (!synced) return fail("updating", PQerrorMessage(c.pg));
    out.committable = true;
    return out;
  }

  // Queues one statement of a pipeline (text parameters, binary results; parameter `bin`,
  // if any, binary).
  static bool send(Conn& c, const char* sql, const std::vector<std::string>& params, int bin = -1) {
    std::vector<const char*> vals;
    std::vector<int> lens, fmts;
    for (std::size_t i = 0; i < params.size(); ++i) {
      vals.push_back(params[i].data());
      lens.push_back(static_cast<int>(params[i].size()));
      fmts.push_back(static_cast<int>(i) == bin ? 1 : 0);
    }
    return PQsendQueryParams(c.pg, sql, static_cast<int>(params.size()), nullptr, vals.data(),
                             lens.data(), fmts.data(), 1) == 1;
  }

  // Reads a pipeline's results up to its sync, keeping each statement's result in `out`
  // (statements after a failed one come back PGRES_PIPELINE_ABORTED). False when the
  // connection failed or the pipeline ended before the sync.
  static bool drain(Conn& c, std::vector<Res>* out = nullptr) {
    int idle = 0;  // NULLs in a row: two mean nothing more is coming
    for (;;) {
      PGresult* r = PQgetResult(c.pg);
      if (!r) {
        if (PQstatus(c.pg) == CONNECTION_BAD || ++idle >= 2) return false;
        continue;
      }
      idle = 0;
      if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
        PQclear(r);
        return true;
      }
      if (out)
        out->emplace_back(r);
      else
        PQclear(r);
    }
  }

  // A pool connection ready for a new operation: one known to be broken (its last
  // operation failed with the connection) is re-established first, and one left inside a
  // transaction (it never should be) is rolled back. A failed re-establishment leaves it
  // broken: the operation then fails with the connection's error and the next one retries.
  detail::Pool<Conn>::Lease lease() {
    auto c = pool_.acquire();
    if (PQstatus(c->pg) != CONNECTION_OK || PQpipelineStatus(c->pg) != PQ_PIPELINE_OFF) {
      reconnect(*c);
    } else if (PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
      Res r(PQexec(c->pg, "ROLLBACK"));
    }
    return c;
  }

  Result<std::optional<MetaRecord>> one(const char* sql,
                                        std::initializer_list<std::string_view> params) {
    return guarded([&]() -> Result<std::optional<MetaRecord>> {
      auto c = lease();
      auto r = run_first(*c, sql, params);
      check(*c, r, "reading metadata");
      if (r.rows() == 0) return std::optional<MetaRecord>();
      return std::optional<MetaRecord>(read_record(r, 0));
    });
  }

  std::string conninfo_;
  StorageOptions options_;
  detail::Pool<Conn> pool_;
};

Result<std::unique_ptr<Conn>> connect(const std::string& conninfo) {
  auto c = std::make_unique<Conn>();
  // connect_timeout first: keywords the connection string sets come later and win.
  const char* keys[] = {"connect_timeout", "dbname", nullptr};
  const char* vals[] = {kPoolConnectTimeoutSeconds, conninfo.c_str(), nullptr};
  c->pg = PQconnectdbParams(keys, vals, 1);
  if (PQstatus(c->pg) != CONNECTION_OK) return std::unexpected(pg_error(c->pg, "connecting"));
  PQsetNoticeProcessor(c->pg, log_notice, nullptr);
  PQclear(PQexec(c->pg, "SET client_min_messages = warning"));
  return c;
}

}  // namespace

Result<std::unique_ptr<Storage>> open_postgres_storage(const std::string& conninfo,
                                                       const StorageOptions& o) {
  auto s = std::make_unique<PostgresStorage>(conninfo, o);
  for (int i = 0; i < std::max(1, o.pool_size); ++i) {
    auto c = connect(conninfo);
    if (!c) return std::unexpected(c.error());
    if (i == 0) {
      try {
        // Concurrent first starts of several servers must not race on CREATE TABLE.
        exec(**c, "SELECT pg_advisory_lock(7415963)");
        exec(**c, kSchema);
        prefer_lz4(**c);
        exec(**c, "SELECT pg_advisory_unlock(7415963)");
      } catch (const Exception& e) {
        return std::unexpected(with_context(e.error(), "creating schema"));
      }
    }
    s->add(std::move(*c));
  }
  return std::unique_ptr<Storage>(std::move(s));
}

}  // namespace docket::trustserver
