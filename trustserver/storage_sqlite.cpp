// SQLite storage: WAL journal (readers never block the writer), synchronous=FULL (an
// acknowledged publish survives power loss: every commit fsyncs the WAL before it returns),
// one writer connection serialised by BEGIN IMMEDIATE plus a pool of readers.
//
// Checkpoints (copying the WAL back into the database file, and fsyncing it) run on a
// background thread with its own connection instead of inside the commit that crossed the
// threshold, as SQLite's auto-checkpoint would: with 2 MB targets files that was every
// second publish paying for a database write and fsync. Durability does not depend on
// checkpoints (a committed transaction is in the fsynced WAL); they only bound the WAL.
#include <sqlite3.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "common/digest.h"
#include "trustserver/pool.h"
#include "trustserver/storage.h"

namespace docket::trustserver {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS tuf_files (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  gun TEXT NOT NULL,
  role TEXT NOT NULL,
  version INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  data BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  UNIQUE (gun, role, version)
);
CREATE INDEX IF NOT EXISTS tuf_files_checksum ON tuf_files (gun, role, sha256);
CREATE TABLE IF NOT EXISTS changefeed (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  created_at INTEGER NOT NULL,
  gun TEXT NOT NULL,
  version INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  category TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS changefeed_gun ON changefeed (gun, id);
CREATE TABLE IF NOT EXISTS server_keys (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  gun TEXT NOT NULL,
  role TEXT NOT NULL,
  key_id TEXT NOT NULL,
  public_json TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  UNIQUE (gun, role, key_id)
);
)sql";

// WAL size (pages) past which the background checkpointer is woken (SQLite's own default
// auto-checkpoint threshold).
constexpr int kCheckpointPages = 1000;

std::int64_t to_ns(TimePoint t) {
  return t.time_since_epoch().count();
}
TimePoint from_ns(std::int64_t ns) {
  return TimePoint(std::chrono::nanoseconds(ns));
}

Error db_error(sqlite3* db, std::string_view what) {
  return Error{Fault::local, "storage",
               "sqlite: " + std::string(what) + ": " + (db ? sqlite3_errmsg(db) : "no handle")};
}

// A connection and its prepared statements. Statements are prepared once per connection
// and SQL text and reused (preparing them was ~7% of a publish's CPU). A connection is
// used by one thread at a time (the writer under its mutex, readers from the pool).
struct Conn {
  struct Cached {
    sqlite3_stmt* st = nullptr;
    bool busy = false;
  };
  // Enough for every fixed statement of this file; past it, statements are not kept.
  static constexpr std::size_t kMaxCached = 64;

  sqlite3* db = nullptr;
  std::unordered_map<std::string, Cached> cache;

  Conn() = default;
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;
  ~Conn() {
    for (auto& [sql, c] : cache) sqlite3_finalize(c.st);
    sqlite3_close_v2(db);
  }
  void exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string m = err ? err : "unknown";
      sqlite3_free(err);
      raise(Fault::local, "storage", "sqlite: " + m);
    }
  }
  // One statement without results (BEGIN IMMEDIATE, COMMIT), through the cache.
  void run(const char* sql);
};

class Stmt {
 public:
  // Borrows the connection's prepared statement for `sql` (prepares it the first time, or
  // a private one while the cached one is in use); reset when done.
  Stmt(Conn& c, const std::string& sql) : db_(c.db) {
    auto it = c.cache.find(sql);
    if (it != c.cache.end() && !it->second.busy) {
      cached_ = &it->second;
    } else if (it == c.cache.end() && c.cache.size() < Conn::kMaxCached) {
      sqlite3_stmt* st = nullptr;
      if (sqlite3_prepare_v3(c.db, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &st, nullptr) !=
          SQLITE_OK) {
        sqlite3_finalize(st);
        raise(db_error(c.db, sql));
      }
      cached_ = &c.cache.emplace(sql, Conn::Cached{st, false}).first->second;
    }
    if (cached_) {
      cached_->busy = true;
      st_ = cached_->st;
      return;
    }
    if (sqlite3_prepare_v2(c.db, sql.c_str(), -1, &st_, nullptr) != SQLITE_OK) {
      sqlite3_finalize(st_);
      raise(db_error(c.db, sql));
    }
  }
  ~Stmt() {
    if (cached_) {
      // Also ends the statement's read of the database (a statement left un-reset would
      // hold its snapshot open and block checkpoints).
      sqlite3_reset(st_);
      sqlite3_clear_bindings(st_);
      cached_->busy = false;
    } else {
      sqlite3_finalize(st_);
    }
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind(int i, std::string_view s) {
    sqlite3_bind_text(st_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind_blob(int i, std::string_view s) {
    sqlite3_bind_blob(st_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
    return *this;
  }
  // Without SQLite's copy: `s` must stay valid until reset() or the Stmt's end.
  Stmt& bind_blob_unowned(int i, std::string_view s) {
    sqlite3_bind_blob(st_, i, s.data(), static_cast<int>(s.size()), SQLITE_STATIC);
    return *this;
  }
  Stmt& bind(int i, std::int64_t v) {
    sqlite3_bind_int64(st_, i, v);
    return *this;
  }
  // true when a row is available.
  bool step() {
    int rc = sqlite3_step(st_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    raise(db_error(db_, "step"));
  }
  void reset() {
    sqlite3_reset(st_);
    sqlite3_clear_bindings(st_);
  }
  std::int64_t col_int(int i) { return sqlite3_column_int64(st_, i); }
  bool col_null(int i) { return sqlite3_column_type(st_, i) == SQLITE_NULL; }
  std::string col_str(int i) {
    auto* p = static_cast<const char*>(sqlite3_column_blob(st_, i));
    int n = sqlite3_column_bytes(st_, i);
    return p ? std::string(p, static_cast<std::size_t>(n)) : std::string();
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* st_ = nullptr;
  Conn::Cached* cached_ = nullptr;
};

void Conn::run(const char* sql) {
  Stmt s(*this, sql);
  while (s.step()) {
  }
}

Result<std::unique_ptr<Conn>> open_conn(const std::string& path, const StorageOptions& o,
                                        bool writer) {
  auto c = std::make_unique<Conn>();
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path.c_str(), &c->db, flags, nullptr) != SQLITE_OK)
    return std::unexpected(db_error(c->db, "opening " + path));
  sqlite3_busy_timeout(c->db, static_cast<int>(o.busy_timeout.count()));
  try {
    c->exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;");
    if (writer) c->exec(kSchema);
  } catch (const Exception& e) {
    return std::unexpected(with_context(e.error(), "opening " + path));
  }
  return c;
}

constexpr const char* kRecordCols = "gun, role, version, sha256, data, created_at";

MetaRecord read_record(Stmt& s) {
  MetaRecord r;
  r.gun = s.col_str(0);
  r.role = s.col_str(1);
  r.version = s.col_int(2);
  r.sha256 = s.col_str(3);
  r.data = s.col_str(4);
  r.created = from_ns(s.col_int(5));
  return r;
}

template <class F>
auto guarded(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Exception& e) {
    return std::unexpected(e.error());
  }
}

class SqliteStorage final : public Storage {
 public:
  SqliteStorage(std::unique_ptr<Conn> writer, std::unique_ptr<Conn> checkpointer)
      : writer_(std::move(writer)), checkpointer_(std::move(checkpointer)) {
    // Replaces the writer's auto-checkpoint: after each commit, wake the checkpointer once
    // the WAL is large enough.
    sqlite3_wal_hook(
        writer_->db,
        [](void* self, sqlite3*, const char*, int pages) -> int {
          if (pages >= kCheckpointPages) static_cast<SqliteStorage*>(self)->request_checkpoint();
          return SQLITE_OK;
        },
        this);
    checkpoint_thread_ = std::thread([this] { checkpoint_loop(); });
  }
  ~SqliteStorage() override {
    {
      std::lock_guard lk(ckpt_mu_);
      ckpt_stop_ = true;
    }
    ckpt_cv_.notify_one();
    checkpoint_thread_.join();
    sqlite3_wal_hook(writer_->db, nullptr, nullptr);
  }
  void add_reader(std::unique_ptr<Conn> c) { readers_.add(std::move(c)); }

  std::string_view backend() const override { return "sqlite"; }
  // The database file belongs to one trust server process (docs/trust-server.md): its own
  // writes are the only ones, so it needs no change watch.
  bool sole_writer() const override { return true; }

  Status update_many(std::string_view gun, const std::vector<MetaUpdate>& updates) override {
    return guarded([&]() -> Status {
      std::lock_guard lk(write_mu_);
      Conn& c = *writer_;
      c.run("BEGIN IMMEDIATE");
      try {
        Stmt max(c, "SELECT MAX(version) FROM tuf_files WHERE gun = ?1 AND role = ?2");
        Stmt ins(c,
                 "INSERT INTO tuf_files (gun, role, version, sha256, data, created_at) "
                 "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
        Stmt feed(c,
                  "INSERT INTO changefeed (created_at, gun, version, sha256, category) "
                  "VALUES (?1, ?2, ?3, ?4, 'update')");
        const auto ts = to_ns(now());
        for (const auto& u : updates) {
          max.reset();
          max.bind(1, gun).bind(2, u.role);
          if (max.step() && !max.col_null(0) && max.col_int(0) >= u.version) {
            auto stored = max.col_int(0);
            max.reset();
            c.exec("ROLLBACK");
            return std::unexpected(version_conflict(gun, u.role, u.version, stored));
          }
          max.reset();
          const auto sum = u.sha256.empty() ? sha256_hex(u.data) : u.sha256;
          ins.reset();
          ins.bind(1, gun).bind(2, u.role).bind(3, u.version).bind(4, sum);
          ins.bind_blob_unowned(5, u.data).bind(6, ts);  // `updates` outlives the step
          if (ins.step()) {
          }
          if (u.role == "timestamp") {
            feed.reset();
            feed.bind(1, ts).bind(2, gun).bind(3, u.version).bind(4, sum);
            feed.step();
          }
        }
        ins.reset();
        feed.reset();
        c.run("COMMIT");
      } catch (...) {
        sqlite3_exec(c.db, "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
      }
      return {};
    });
  }

  Result<std::optional<MetaRecord>> get_current(std::string_view gun,
                                                std::string_view role) override {
    return one(std::string("SELECT ") + kRecordCols +
                   " FROM tuf_files WHERE gun = ?1 AND role = ?2 ORDER BY version DESC LIMIT 1",
               [&](Stmt& s) { s.bind(1, gun).bind(2, role); });
  }

  Result<std::optional<MetaRecord>> get_checksum(std::string_view gun, std::string_view role,
                                                 std::string_view sha256) override {
    return one(std::string("SELECT ") + kRecordCols +
                   " FROM tuf_files WHERE gun = ?1 AND role = ?2 AND sha256 = ?3 "
                   "ORDER BY version DESC LIMIT 1",
               [&](Stmt& s) { s.bind(1, gun).bind(2, role).bind(3, sha256); });
  }

  Result<std::optional<MetaRecord>> get_version(std::string_view gun, std::string_view role,
                                                std::int64_t version) override {
    return one(std::string("SELECT ") + kRecordCols +
                   " FROM tuf_files WHERE gun = ?1 AND role = ?2 AND version = ?3",
               [&](Stmt& s) { s.bind(1, gun).bind(2, role).bind(3, version); });
  }

  Result<std::vector<MetaRecord>> get_all_current(
      std::string_view gun, const std::vector<std::string>& without_data) override {
    return guarded([&]() -> Result<std::vector<MetaRecord>> {
      auto c = readers_.acquire();
      // The data column of a skipped role is never read (no copy of its blob), nor is its
      // created_at: the column is stored after the blob, and SQLite reaches it by walking
      // the blob's whole overflow-page chain (that walk was ~10% of a publish's CPU).
      std::string data = "data", created = "created_at";
      if (!without_data.empty()) {
        std::string in = "role IN (";
        for (std::size_t i = 0; i < without_data.size(); ++i)
          in += (i ? ",?" : "?") + std::to_string(i + 2);
        in += ")";
        data = "CASE WHEN " + in + " THEN NULL ELSE data END";
        created = "CASE WHEN " + in + " THEN 0 ELSE created_at END";
      }
      // The latest version of each role from the (gun, role, version) index alone, then
      // one row per role by that index (a correlated MAX per row read every stored
      // version's row; CROSS JOIN keeps SQLite from scanning t first).
      const std::string sql = "SELECT gun, role, version, sha256, " + data + ", " + created +
                              " FROM (SELECT role AS r, MAX(version) AS v FROM tuf_files "
                              "WHERE gun = ?1 GROUP BY role) m CROSS JOIN tuf_files t "
                              "ON t.gun = ?1 AND t.role = m.r AND t.version = m.v ORDER BY role";
      Stmt s(*c, sql);
      s.bind(1, gun);
      for (std::size_t i = 0; i < without_data.size(); ++i)
        s.bind(static_cast<int>(i + 2), without_data[i]);
      std::vector<MetaRecord> out;
      while (s.step()) out.push_back(read_record(s));
      return out;
    });
  }

  Status delete_gun(std::string_view gun) override {
    return guarded([&]() -> Status {
      std::lock_guard lk(write_mu_);
      Conn& c = *writer_;
      c.run("BEGIN IMMEDIATE");
      try {
        Stmt del(c, "DELETE FROM tuf_files WHERE gun = ?1");
        del.bind(1, gun);
        del.step();
        Stmt feed(c,
                  "INSERT INTO changefeed (created_at, gun, version, sha256, category) "
                  "VALUES (?1, ?2, 0, '', 'deletion')");
        feed.bind(1, to_ns(now())).bind(2, gun);
        feed.step();
        c.run("COMMIT");
      } catch (...) {
        sqlite3_exec(c.db, "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
      }
      return {};
    });
  }

  Result<std::vector<Change>> changes(const ChangeQuery& q) override {
    return guarded([&]() -> Result<std::vector<Change>> {
      std::string sql =
          "SELECT id, created_at, gun, version, sha256, category FROM changefeed WHERE 1=1";
      if (q.gun) sql += " AND gun = ?1";
      if (q.backward) {
        if (q.before_id) sql += " AND id < ?2";
        sql += " ORDER BY id DESC LIMIT ?3";
      } else {
        sql += " AND id > ?2 ORDER BY id ASC LIMIT ?3";
      }
      auto c = readers_.acquire();
      Stmt s(*c, sql);
      if (q.gun) s.bind(1, *q.gun);
      s.bind(2, q.backward ? q.before_id.value_or(0) : q.after_id);
      s.bind(3, q.limit);
      std::vector<Change> out;
      while (s.step()) {
        Change ch;
        ch.id = s.col_int(0);
        ch.created = from_ns(s.col_int(1));
        ch.gun = s.col_str(2);
        ch.version = s.col_int(3);
        ch.sha256 = s.col_str(4);
        ch.category =
            s.col_str(5) == "deletion" ? ChangeCategory::deletion : ChangeCategory::update;
        out.push_back(std::move(ch));
      }
      if (q.backward) std::reverse(out.begin(), out.end());
      return out;
    });
  }

  Result<std::vector<ServerKey>> server_keys(std::string_view gun, std::string_view role) override {
    return guarded([&]() -> Result<std::vector<ServerKey>> {
      auto c = readers_.acquire();
      Stmt s(*c,
             "SELECT gun, role, key_id, public_json, created_at FROM server_keys "
             "WHERE gun = ?1 AND role = ?2 ORDER BY seq ASC");
      s.bind(1, gun).bind(2, role);
      std::vector<ServerKey> out;
      while (s.step()) {
        out.push_back(ServerKey{s.col_str(0), s.col_str(1), s.col_str(2), s.col_str(3),
                                from_ns(s.col_int(4))});
      }
      return out;
    });
  }

  Status add_server_key(const ServerKey& k) override {
    return guarded([&]() -> Status {
      std::lock_guard lk(write_mu_);
      Stmt s(*writer_,
             "INSERT OR IGNORE INTO server_keys (gun, role, key_id, public_json, created_at) "
             "VALUES (?1, ?2, ?3, ?4, ?5)");
      s.bind(1, k.gun).bind(2, k.role).bind(3, k.key_id).bind(4, k.public_json);
      s.bind(5, to_ns(k.created == TimePoint{} ? now() : k.created));
      s.step();
      return {};
    });
  }

  Status check_health() override {
    return guarded([&]() -> Status {
      auto c = readers_.acquire();
      Stmt s(*c, "SELECT 1");
      s.step();
      return {};
    });
  }

 private:
  template <class Bind>
  Result<std::optional<MetaRecord>> one(const std::string& sql, Bind&& bind) {
    return guarded([&]() -> Result<std::optional<MetaRecord>> {
      auto c = readers_.acquire();
      Stmt s(*c, sql);
      bind(s);
      if (!s.step()) return std::optional<MetaRecord>();
      return std::optional<MetaRecord>(read_record(s));
    });
  }

  void request_checkpoint() {
    {
      std::lock_guard lk(ckpt_mu_);
      ckpt_wanted_ = true;
    }
    ckpt_cv_.notify_one();
  }
  // PASSIVE: never waits for readers or the writer; what it cannot copy now (frames a
  // reader still needs) is copied by a later run. The WAL file is reused from its start
  // once a checkpoint has copied everything.
  void checkpoint_loop() {
    std::unique_lock lk(ckpt_mu_);
    for (;;) {
      ckpt_cv_.wait(lk, [&] { return ckpt_wanted_ || ckpt_stop_; });
      if (ckpt_stop_) return;
      ckpt_wanted_ = false;
      lk.unlock();
      sqlite3_wal_checkpoint_v2(checkpointer_->db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr,
                                nullptr);
      lk.lock();
    }
  }

  std::mutex write_mu_;
  std::unique_ptr<Conn> writer_;
  detail::Pool<Conn> readers_;
  std::unique_ptr<Conn> checkpointer_;
  std::mutex ckpt_mu_;
  std::condition_variable ckpt_cv_;
  bool ckpt_wanted_ = false, ckpt_stop_ = false;
  std::thread checkpoint_thread_;
};

}  // namespace

Result<std::unique_ptr<Storage>> open_sqlite_storage(const std::string& path,
                                                     const StorageOptions& o) {
  auto w = open_conn(path, o, true);
  if (!w) return std::unexpected(w.error());
  auto ck = open_conn(path, o, false);
  if (!ck) return std::unexpected(ck.error());
  auto s = std::make_unique<SqliteStorage>(std::move(*w), std::move(*ck));
  for (int i = 0; i < std::max(1, o.pool_size); ++i) {
    auto r = open_conn(path, o, false);
    if (!r) return std::unexpected(r.error());
    s->add_reader(std::move(*r));
  }
  return std::unique_ptr<Storage>(std::move(s));
}

}  // namespace docket::trustserver
