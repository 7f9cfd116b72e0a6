// The trust server's storage: versioned TUF metadata per GUN and role, the changefeed and
// the records of server-managed keys. One interface, two implementations (SQLite, the
// embedded default; PostgreSQL, shared by several servers behind a load balancer), one
// conformance suite (trustserver/tests/storage_conformance_test.cpp).
//
// Contract every implementation keeps:
//  - update_many() stores all of its roles in one transaction or none of them. A role whose
//    new version is not greater than every stored version of that role fails the whole
//    update with code "version" (Notary's VERSION), so two publishers racing on one GUN
//    never lose an update silently: the loser learns it lost.
//  - Updates to one GUN are serialised across processes (SQLite: BEGIN IMMEDIATE; PostgreSQL:
//    a per-GUN transaction-level advisory lock plus the (gun, role, version) unique key).
//  - Every stored timestamp adds an "update" record to the changefeed carrying the
//    timestamp's version and sha256, in the same transaction; delete_gun() adds a
//    "deletion" record. Change IDs increase monotonically.
//  - Lookups return the bytes exactly as stored.
//  - Cache coherence: a backend either declares this process the database's only writer
//    (sole_writer(): SQLite, a file one server owns), or may offer watch_changes(), which
//    reports every committed write that changes what a GUN serves, from any process
//    (PostgreSQL: LISTEN/NOTIFY, the notification sent inside the writing transaction).
//    A caller caching reads must do neither without one of the two.
// Callers validate GUNs and role names; storage treats them as opaque strings.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/time.h"

namespace docket::trustserver {

// One stored version of one role.
struct MetaRecord {
  std::string gun;
  std::string role;
  std::int64_t version = 0;
  std::string sha256;  // lower hex of data
  std::string data;    // the signed JSON exactly as received or generated
  TimePoint created{};
};

// One role of an atomic update.
struct MetaUpdate {
  std::string role;
  std::int64_t version = 0;
  std::string data;
  // Lower hex sha256 of `data` when the caller already knows it (trusted as given); empty:
  // the store computes it.
  std::string sha256;
};

enum class ChangeCategory { update, deletion };
std::string_view change_category_name(ChangeCategory c);  // "update" / "deletion"

struct Change {
  std::int64_t id = 0;
  TimePoint created{};
  std::string gun;
  std::int64_t version = 0;  // the timestamp's version (0 for deletions)
  std::string sha256;        // hex sha256 of the timestamp ("" for deletions)
  ChangeCategory category = ChangeCategory::update;
};

// A page request on the changefeed, already normalised by the caller (Notary semantics):
// forward: records with id > after_id, ascending; backward: the `limit` records just below
// `before_id` (or the newest when before_id is nullopt), returned in ascending order.
struct ChangeQuery {
  std::optional<std::string> gun;  // nullopt = every GUN
  bool backward = false;
  std::int64_t after_id = 0;              // forward only
  std::optional<std::int64_t> before_id;  // backward only
  std::int64_t limit = 100;
};

// The public half of a server-managed key for (gun, role); the private half is held by the
// signer under key_id.
struct ServerKey {
  std::string gun;
  std::string role;  // "timestamp" or "snapshot"
  std::string key_id;
  std::string public_json;  // {"keytype":..,"keyval":{"private":null,"public":..}}
  TimePoint created{};
};

// Receives the reports of a change watch (Storage::watch_changes), on the watch's own
// thread: implementations must be thread-safe and quick (no storage calls).
class ChangeSink {
 public:
  virtual ~ChangeSink() = default;
  // A write that changes what `gun` serves has committed (this process's writes included).
  virtual void changed(std::string_view gun) = 0;
  // Some GUN changed but the report does not say which (unreadable or oversized report).
  virtual void changed_all() = 0;
  // live=true: reports flow from now on; anything may have changed before (drop every cached
  // read). live=false: reports may be missed from now on (stop caching). The first call is
  // live=true once the watch works; a watch that cannot connect makes none.
  virtual void watching(bool live) = 0;
};

// A running change watch; destroying it stops the reports (no call after the destructor).
class ChangeWatch {
 public:
  virtual ~ChangeWatch() = default;
};

class Storage {
 public:
  virtual ~Storage() = default;

  // "sqlite" / "postgres".
  virtual std::string_view backend() const = 0;

  // Atomically stores every update (see the contract above). Errors: "version" (user fault)
  // on a version conflict naming the role, "storage" (local) on a database failure.
  virtual Status update_many(std::string_view gun, const std::vector<MetaUpdate>& updates) = 0;

  virtual Result<std::optional<MetaRecord>> get_current(std::string_view gun,
                                                        std::string_view role) = 0;
  // Looks up by sha256 hex within (gun, role).
  virtual Result<std::optional<MetaRecord>> get_checksum(std::string_view gun,
                                                         std::string_view role,
                                                         std::string_view sha256) = 0;
  virtual Result<std::optional<MetaRecord>> get_version(std::string_view gun, std::string_view role,
                                                        std::int64_t version) = 0;
  // The current version of every role stored for a GUN (delegations included). Roles named
  // in `without_data` come back with empty `data` and an unset `created` (TimePoint{}),
  // everything else filled in: a publish replacing a role never looks at its stored bytes,
  // a targets file can be megabytes, and SQLite stores created_at after the data.
  virtual Result<std::vector<MetaRecord>> get_all_current(
      std::string_view gun, const std::vector<std::string>& without_data = {}) = 0;

  // Deletes every version of every role of the GUN and records a deletion in the changefeed
  // (also when nothing was stored, as Notary does). Server keys are kept.
  virtual Status delete_gun(std::string_view gun) = 0;

  virtual Result<std::vector<Change>> changes(const ChangeQuery& q) = 0;

  // Server-managed keys, newest last.
  virtual Result<std::vector<ServerKey>> server_keys(std::string_view gun,
                                                     std::string_view role) = 0;
  // Adds a key record; an existing (gun, role, key_id) is left unchanged.
  virtual Status add_server_key(const ServerKey& key) = 0;

  // Cheap liveness check for /_notary_server/health.
  virtual Status check_health() = 0;

  // True when `error_message` is that of a failure caused by a database outage this store
  // already logs itself (once when it starts, then rate-limited): callers need not log each
  // such failed request.
  virtual bool outage_logged(std::string_view error_message) const {
    (void)error_message;
    return false;
  }

  // True when no other process writes this database (see the coherence contract above).
  virtual bool sole_writer() const = 0;
  // Starts reporting committed changes to `sink` (which must outlive the watch), or returns
  // nullptr when the backend cannot (then only sole_writer() backends may be cached).
  virtual std::unique_ptr<ChangeWatch> watch_changes(ChangeSink& sink) {
    (void)sink;
    return nullptr;
  }
};

struct StorageOptions {
  // Connections kept open (readers; SQLite also opens one writer).
  int pool_size = 4;
  // How long a writer waits for a lock held by another process (SQLite busy timeout).
  std::chrono::milliseconds busy_timeout{10'000};
  // PostgreSQL change watch: reconnect backoff (doubling from min to max) and how long the
  // watch connection may stay silent before a round trip checks that it is alive.
  std::chrono::milliseconds watch_backoff_min{100};
  std::chrono::milliseconds watch_backoff_max{5'000};
  std::chrono::milliseconds watch_heartbeat{10'000};
  // PostgreSQL pool while the database is unreachable: after a failed (re)connect, the next
  // attempt waits a backoff doubling from pool_backoff_min to pool_backoff_max (reset by a
  // success); requests needing a connection meanwhile fail at once. A "still unreachable"
  // warning is logged at most once per outage_log_interval.
  std::chrono::milliseconds pool_backoff_min{100};
  std::chrono::milliseconds pool_backoff_max{5'000};
  std::chrono::milliseconds outage_log_interval{30'000};
  // Tests only: the clock the pool's backoff and log interval read (empty: steady_clock).
  std::function<std::chrono::steady_clock::time_point()> clock;
};

// A PostgreSQL store's connection-attempt counters (monitoring and tests); nullopt for
// other backends.
struct PostgresPoolStats {
  std::uint64_t connect_attempts = 0;  // pool (re)connects tried since open (initial excluded)
  std::uint64_t connect_failures = 0;
  std::uint64_t failed_fast = 0;  // requests refused during a backoff without an attempt
  bool reachable = true;
};
std::optional<PostgresPoolStats> postgres_pool_stats(const Storage& s);

// Opens (and migrates) a SQLite database file, in WAL mode.
Result<std::unique_ptr<Storage>> open_sqlite_storage(const std::string& path,
                                                     const StorageOptions& o = {});
// Opens (and migrates) a PostgreSQL database from a libpq connection string
// ("postgresql://user@host:port/db" or "host=... dbname=...").
Result<std::unique_ptr<Storage>> open_postgres_storage(const std::string& conninfo,
                                                       const StorageOptions& o = {});
// "sqlite:///path/to/db" or "sqlite:relative/path", "postgres://..." / "postgresql://...".
Result<std::unique_ptr<Storage>> open_storage(const std::string& url, const StorageOptions& o = {});

// Builds the "version" conflict error both backends return.
Error version_conflict(std::string_view gun, std::string_view role, std::int64_t attempted,
                       std::int64_t stored);

}  // namespace docket::trustserver
