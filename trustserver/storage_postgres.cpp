// PostgreSQL storage (libpq). Several trust servers may share one database: updates to a
// GUN are serialised by a transaction-level advisory lock on the GUN's hash, and the
// (gun, role, version) unique key turns any remaining race into a "version" conflict.
#include <libpq-fe.h>

#include <algorithm>
#include <cstring>

#include "common/digest.h"
#include "common/encoding.h"
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

// Same, with one binary (bytea) parameter at position `bin` (0-based).
Res run_with_blob(Conn& c, const char* sql, const std::vector<std::string>& params, int bin) {
  std::vector<const char*> vals;
  std::vector<int> lens, fmts;
  for (std::size_t i = 0; i < params.size(); ++i) {
    vals.push_back(params[i].data());
    lens.push_back(static_cast<int>(params[i].size()));
    fmts.push_back(static_cast<int>(i) == bin ? 1 : 0);
  }
  return Res(PQexecParams(c.pg, sql, static_cast<int>(vals.size()), nullptr, vals.data(),
                          lens.data(), fmts.data(), 1));
}

void check(Conn& c, const Res& r, std::string_view what) {
  auto st = PQresultStatus(r.get());
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) raise(pg_error(c.pg, what));
}

void exec(Conn& c, const char* sql) {
  Res r(PQexec(c.pg, sql));
  check(c, r, sql);
}

constexpr const char* kRecordCols = "gun, role, version, sha256, data, created_at";

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

class PostgresStorage final : public Storage {
 public:
  void add(std::unique_ptr<Conn> c) { pool_.add(std::move(c)); }

  std::string_view backend() const override { return "postgres"; }

  Status update_many(std::string_view gun, const std::vector<MetaUpdate>& updates) override {
    return guarded([&]() -> Status {
      auto c = pool_.acquire();
      exec(*c, "BEGIN");
      try {
        auto lock = run(*c, "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", {gun});
        check(*c, lock, "locking gun");
        const auto ts = std::to_string(to_ns(now()));
        for (const auto& u : updates) {
          auto max = run(*c, "SELECT MAX(version) FROM tuf_files WHERE gun = $1 AND role = $2",
                         {gun, u.role});
          check(*c, max, "reading versions");
          if (!max.null(0, 0) && max.i64(0, 0) >= u.version) {
            auto stored = max.i64(0, 0);
            exec(*c, "ROLLBACK");
            return std::unexpected(version_conflict(gun, u.role, u.version, stored));
          }
          const auto sum = sha256_hex(u.data);
          auto ins = run_with_blob(
              *c,
              "INSERT INTO tuf_files (gun, role, version, sha256, data, created_at) "
              "VALUES ($1, $2, $3, $4, $5, $6)",
              {std::string(gun), u.role, std::to_string(u.version), sum, u.data, ts}, 4);
          if (PQresultStatus(ins.get()) != PGRES_COMMAND_OK) {
            if (ins.sqlstate() == "23505") {  // unique_violation: lost a race
              exec(*c, "ROLLBACK");
              return std::unexpected(version_conflict(gun, u.role, u.version, u.version));
            }
            raise(pg_error(c->pg, "inserting metadata"));
          }
          if (u.role == "timestamp") {
            auto feed = run(*c,
                            "INSERT INTO changefeed (created_at, gun, version, sha256, category) "
                            "VALUES ($1, $2, $3, $4, 'update')",
                            {ts, gun, std::to_string(u.version), sum});
            check(*c, feed, "writing changefeed");
          }
        }
        exec(*c, "COMMIT");
      } catch (...) {
        Res r(PQexec(c->pg, "ROLLBACK"));
        throw;
      }
      return {};
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

  Result<std::vector<MetaRecord>> get_all_current(std::string_view gun) override {
    return guarded([&]() -> Result<std::vector<MetaRecord>> {
      auto c = pool_.acquire();
      auto r = run(*c,
                   "SELECT DISTINCT ON (role) gun, role, version, sha256, data, created_at "
                   "FROM tuf_files WHERE gun = $1 ORDER BY role, version DESC",
                   {gun});
      check(*c, r, "reading metadata");
      std::vector<MetaRecord> out;
      for (int i = 0; i < r.rows(); ++i) out.push_back(read_record(r, i));
      return out;
    });
  }

  Status delete_gun(std::string_view gun) override {
    return guarded([&]() -> Status {
      auto c = pool_.acquire();
      exec(*c, "BEGIN");
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
      auto c = pool_.acquire();
      const std::string filter = q.gun ? "1" : "";
      const std::string g = q.gun.value_or("");
      auto r = run(*c, sql.c_str(),
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
      auto c = pool_.acquire();
      auto r = run(*c,
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
      auto c = pool_.acquire();
      auto created = to_ns(k.created == TimePoint{} ? now() : k.created);
      auto r = run(*c,
                   "INSERT INTO server_keys (gun, role, key_id, public_json, created_at) "
                   "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (gun, role, key_id) DO NOTHING",
                   {k.gun, k.role, k.key_id, k.public_json, std::to_string(created)});
      check(*c, r, "adding server key");
      return {};
    });
  }

  Status check_health() override {
    return guarded([&]() -> Status {
      auto c = pool_.acquire();
      exec(*c, "SELECT 1");
      return {};
    });
  }

 private:
  Result<std::optional<MetaRecord>> one(const char* sql,
                                        std::initializer_list<std::string_view> params) {
    return guarded([&]() -> Result<std::optional<MetaRecord>> {
      auto c = pool_.acquire();
      auto r = run(*c, sql, params);
      check(*c, r, "reading metadata");
      if (r.rows() == 0) return std::optional<MetaRecord>();
      return std::optional<MetaRecord>(read_record(r, 0));
    });
  }

  detail::Pool<Conn> pool_;
};

Result<std::unique_ptr<Conn>> connect(const std::string& conninfo) {
  auto c = std::make_unique<Conn>();
  c->pg = PQconnectdb(conninfo.c_str());
  if (PQstatus(c->pg) != CONNECTION_OK) return std::unexpected(pg_error(c->pg, "connecting"));
  PQclear(PQexec(c->pg, "SET client_min_messages = warning"));
  return c;
}

}  // namespace

Result<std::unique_ptr<Storage>> open_postgres_storage(const std::string& conninfo,
                                                       const StorageOptions& o) {
  auto s = std::make_unique<PostgresStorage>();
  for (int i = 0; i < std::max(1, o.pool_size); ++i) {
    auto c = connect(conninfo);
    if (!c) return std::unexpected(c.error());
    if (i == 0) {
      try {
        // Concurrent first starts of several servers must not race on CREATE TABLE.
        exec(**c, "SELECT pg_advisory_lock(7415963)");
        exec(**c, kSchema);
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
