// One conformance suite for every trust server storage backend. Built twice: with
// DOCKET_STORAGE_BACKEND_SQLITE (unit) and DOCKET_STORAGE_BACKEND_POSTGRES (integration,
// a real PostgreSQL started on loopback by the test itself).
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "common/digest.h"
#include "common/file.h"
#include "trustserver/storage.h"
#include "trustserver/testing/postgres.h"
#if defined(DOCKET_STORAGE_BACKEND_POSTGRES)
#include <libpq-fe.h>
#endif

namespace docket::trustserver {
namespace {
namespace fs = std::filesystem;

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::unique_ptr<Storage> open_fresh() = 0;
  // A second handle on the same database as the last open_fresh() (another "server").
  virtual std::unique_ptr<Storage> open_again() = 0;
  // The database's libpq URL (PostgreSQL only).
  virtual std::string url() const { return ""; }
};

class SqliteBackend : public Backend {
 public:
  SqliteBackend() {
    dir_ = fs::temp_directory_path() / ("docket-store-" + random_hex_id());
    fs::create_directories(dir_);
  }
  ~SqliteBackend() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::unique_ptr<Storage> open_fresh() override {
    path_ = (dir_ / ("db" + std::to_string(++n_) + ".sqlite")).string();
    return open_again();
  }
  std::unique_ptr<Storage> open_again() override {
    auto s = open_storage("sqlite://" + path_);
    if (!s) throw Exception(s.error());
    return std::move(*s);
  }

 private:
  fs::path dir_;
  std::string path_;
  int n_ = 0;
};

class PostgresBackend : public Backend {
 public:
  std::unique_ptr<Storage> open_fresh() override {
    static std::unique_ptr<testing::PostgresServer> server = [] {
      auto s = testing::PostgresServer::start();
      if (!s) throw Exception(s.error());
      return std::move(*s);
    }();
    auto url = server->create_database();
    if (!url) throw Exception(url.error());
    url_ = *url;
    return open_again();
  }
  std::unique_ptr<Storage> open_again() override {
    auto s = open_storage(url_);
    if (!s) throw Exception(s.error());
    return std::move(*s);
  }
  std::string url() const override { return url_; }

 private:
  std::string url_;
};

std::unique_ptr<Backend> make_backend(const std::string& name) {
  if (name == "postgres") return std::make_unique<PostgresBackend>();
  return std::make_unique<SqliteBackend>();
}

class StorageConformance : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    backend_ = make_backend(GetParam());
    store_ = backend_->open_fresh();
  }
  Status put(const std::string& gun, std::vector<MetaUpdate> u) {
    return store_->update_many(gun, u);
  }
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<Storage> store_;
};

const std::string kGun = "docker.io/library/app";

TEST_P(StorageConformance, ReportsItsBackend) {
  EXPECT_EQ(store_->backend(), GetParam());
}

TEST_P(StorageConformance, EmptyStoreHasNothing) {
  auto r = store_->get_current(kGun, "root");
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_FALSE(r->has_value());
  auto all = store_->get_all_current(kGun);
  ASSERT_TRUE(all);
  EXPECT_TRUE(all->empty());
  auto ch = store_->changes({});
  ASSERT_TRUE(ch);
  EXPECT_TRUE(ch->empty());
  EXPECT_TRUE(store_->check_health());
}

TEST_P(StorageConformance, StoresAndLooksUpEveryWay) {
  // Bytes must come back exactly, NUL and non-UTF-8 included.
  const std::string root1 = std::string("{\"root\":1}\0\xff", 13);
  ASSERT_TRUE(put(kGun, {{"root", 1, root1}, {"targets", 1, "t1"}, {"timestamp", 1, "ts1"}}));
  ASSERT_TRUE(put(kGun, {{"targets", 2, "t2"}, {"timestamp", 2, "ts2"}}));

  auto cur = store_->get_current(kGun, "targets");
  ASSERT_TRUE(cur && cur->has_value());
  EXPECT_EQ((*cur)->version, 2);
  EXPECT_EQ((*cur)->data, "t2");
  EXPECT_EQ((*cur)->sha256, sha256_hex("t2"));
  EXPECT_EQ((*cur)->gun, kGun);
  EXPECT_EQ((*cur)->role, "targets");
  EXPECT_GT((*cur)->created.time_since_epoch().count(), 0);

  auto r = store_->get_current(kGun, "root");
  ASSERT_TRUE(r && r->has_value());
  EXPECT_EQ((*r)->data, root1);

  auto v1 = store_->get_version(kGun, "targets", 1);
  ASSERT_TRUE(v1 && v1->has_value());
  EXPECT_EQ((*v1)->data, "t1");
  auto v3 = store_->get_version(kGun, "targets", 3);
  ASSERT_TRUE(v3);
  EXPECT_FALSE(v3->has_value());

  auto byc = store_->get_checksum(kGun, "targets", sha256_hex("t1"));
  ASSERT_TRUE(byc && byc->has_value());
  EXPECT_EQ((*byc)->version, 1);
  // The checksum is looked up within its role (stricter than Notary's memory store).
  auto wrong_role = store_->get_checksum(kGun, "snapshot", sha256_hex("t1"));
  ASSERT_TRUE(wrong_role);
  EXPECT_FALSE(wrong_role->has_value());
  auto other_gun = store_->get_current("docker.io/library/other", "targets");
  ASSERT_TRUE(other_gun);
  EXPECT_FALSE(other_gun->has_value());
}

TEST_P(StorageConformance, GetAllCurrentReturnsNewestOfEachRoleIncludingDelegations) {
  ASSERT_TRUE(put(kGun, {{"root", 1, "r1"}, {"targets", 1, "t1"}, {"snapshot", 1, "s1"}}));
  ASSERT_TRUE(put(kGun, {{"targets/releases", 1, "d1"}, {"snapshot", 2, "s2"}}));
  ASSERT_TRUE(put(kGun, {{"targets/releases", 2, "d2"}, {"snapshot", 3, "s3"}}));
  ASSERT_TRUE(put("other/gun", {{"root", 5, "x"}}));
  auto all = store_->get_all_current(kGun);
  ASSERT_TRUE(all) << all.error().describe();
  std::map<std::string, std::string> got;
  for (const auto& m : *all) got[m.role] = m.data;
  EXPECT_EQ(
      got, (std::map<std::string, std::string>{
               {"root", "r1"}, {"snapshot", "s3"}, {"targets", "t1"}, {"targets/releases", "d2"}}));
}

TEST_P(StorageConformance, StoresTheGivenSha256OrComputesIt) {
  MetaUpdate given{"targets", 1, "t1", sha256_hex("t1")};
  ASSERT_TRUE(put(kGun, {given, {"snapshot", 1, "s1"}}));
  auto t = store_->get_checksum(kGun, "targets", sha256_hex("t1"));
  ASSERT_TRUE(t && *t);
  EXPECT_EQ((*t)->data, "t1");
  auto s = store_->get_current(kGun, "snapshot");
  ASSERT_TRUE(s && *s);
  EXPECT_EQ((*s)->sha256, sha256_hex("s1"));
}

TEST_P(StorageConformance, GetAllCurrentCanLeaveOutTheDataOfNamedRoles) {
  ASSERT_TRUE(put(kGun, {{"root", 1, "r1"}, {"targets", 1, "t1"}, {"targets/a\"b", 1, "d1"}}));
  ASSERT_TRUE(put(kGun, {{"targets", 2, "t2"}, {"snapshot", 1, "s1"}}));
  auto all = store_->get_all_current(kGun, {"targets", "targets/a\"b", "absent"});
  ASSERT_TRUE(all) << all.error().message;
  std::map<std::string, MetaRecord> by_role;
  for (auto& r : *all) by_role[r.role] = r;
  ASSERT_EQ(by_role.size(), 4u);
  EXPECT_EQ(by_role["root"].data, "r1");
  EXPECT_EQ(by_role["snapshot"].data, "s1");
  EXPECT_EQ(by_role["targets"].data, "");
  EXPECT_EQ(by_role["targets"].version, 2);
  EXPECT_EQ(by_role["targets"].sha256, sha256_hex("t2"));
  EXPECT_EQ(by_role["targets/a\"b"].data, "");
  EXPECT_EQ(by_role["targets/a\"b"].version, 1);
  EXPECT_EQ(by_role["targets"].created, TimePoint{});
  EXPECT_NE(by_role["root"].created, TimePoint{});
  EXPECT_NE(by_role["snapshot"].created, TimePoint{});
  EXPECT_EQ(store_->get_all_current(kGun)->size(), 4u);
}

TEST_P(StorageConformance, StaleVersionFailsTheWholeUpdateWithVersion) {
  ASSERT_TRUE(put(kGun, {{"root", 1, "r1"}, {"targets", 3, "t3"}}));
  // targets v4 is fine, root v1 is not newer: nothing of this update may be stored.
  auto st = put(kGun, {{"targets", 4, "t4"}, {"root", 1, "r1-again"}});
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, "version");
  EXPECT_NE(st.error().message.find("root"), std::string::npos) << st.error().message;
  auto t = store_->get_current(kGun, "targets");
  ASSERT_TRUE(t && t->has_value());
  EXPECT_EQ((*t)->version, 3);
  // Lower than stored is refused as well.
  auto lower = put(kGun, {{"targets", 2, "t2"}});
  ASSERT_FALSE(lower);
  EXPECT_EQ(lower.error().code, "version");
  EXPECT_NE(lower.error().message.find("stored v3"), std::string::npos) << lower.error().message;
  // The store is still writable after a refused update.
  EXPECT_TRUE(put(kGun, {{"targets", 4, "t4"}}));
}

TEST_P(StorageConformance, TimestampsFeedTheChangefeed) {
  ASSERT_TRUE(put(kGun, {{"root", 1, "r"}, {"timestamp", 1, "ts1"}}));
  ASSERT_TRUE(put("b/gun", {{"timestamp", 1, "b-ts1"}}));
  ASSERT_TRUE(put(kGun, {{"targets", 2, "t"}, {"timestamp", 2, "ts2"}}));
  ASSERT_TRUE(put(kGun, {{"targets", 3, "t3"}}));  // no timestamp: no record
  ASSERT_TRUE(store_->delete_gun("b/gun"));

  auto all = store_->changes({});
  ASSERT_TRUE(all) << all.error().describe();
  ASSERT_EQ(all->size(), 4u);
  EXPECT_EQ((*all)[0].gun, kGun);
  EXPECT_EQ((*all)[0].version, 1);
  EXPECT_EQ((*all)[0].sha256, sha256_hex("ts1"));
  EXPECT_EQ((*all)[0].category, ChangeCategory::update);
  EXPECT_EQ((*all)[1].gun, "b/gun");
  EXPECT_EQ((*all)[2].version, 2);
  EXPECT_EQ((*all)[3].category, ChangeCategory::deletion);
  EXPECT_EQ((*all)[3].gun, "b/gun");
  EXPECT_EQ((*all)[3].sha256, "");
  for (std::size_t i = 1; i < all->size(); ++i) EXPECT_GT((*all)[i].id, (*all)[i - 1].id);

  // Forward paging from an ID.
  ChangeQuery fwd;
  fwd.after_id = (*all)[1].id;
  fwd.limit = 1;
  auto page = store_->changes(fwd);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->size(), 1u);
  EXPECT_EQ((*page)[0].id, (*all)[2].id);

  // Backward from the end: the newest `limit`, in ascending order.
  ChangeQuery back;
  back.backward = true;
  back.limit = 2;
  auto newest = store_->changes(back);
  ASSERT_TRUE(newest);
  ASSERT_EQ(newest->size(), 2u);
  EXPECT_EQ((*newest)[0].id, (*all)[2].id);
  EXPECT_EQ((*newest)[1].id, (*all)[3].id);
  back.before_id = (*all)[2].id;
  auto older = store_->changes(back);
  ASSERT_TRUE(older);
  ASSERT_EQ(older->size(), 2u);
  EXPECT_EQ((*older)[0].id, (*all)[0].id);
  EXPECT_EQ((*older)[1].id, (*all)[1].id);

  // Per-GUN filter.
  ChangeQuery only;
  only.gun = kGun;
  auto mine = store_->changes(only);
  ASSERT_TRUE(mine);
  ASSERT_EQ(mine->size(), 2u);
  for (const auto& c : *mine) EXPECT_EQ(c.gun, kGun);
}

TEST_P(StorageConformance, DeleteGunRemovesEveryVersionOfEveryRoleOnlyThere) {
  ASSERT_TRUE(put(kGun, {{"root", 1, "r"}, {"targets", 1, "t"}, {"timestamp", 1, "ts"}}));
  ASSERT_TRUE(put(kGun, {{"targets/x", 1, "d"}, {"timestamp", 2, "ts2"}}));
  ASSERT_TRUE(put("keep/me", {{"root", 1, "r"}}));
  ASSERT_TRUE(store_->delete_gun(kGun));
  auto all = store_->get_all_current(kGun);
  ASSERT_TRUE(all);
  EXPECT_TRUE(all->empty());
  auto old = store_->get_version(kGun, "timestamp", 1);
  ASSERT_TRUE(old);
  EXPECT_FALSE(old->has_value());
  auto kept = store_->get_current("keep/me", "root");
  ASSERT_TRUE(kept && kept->has_value());
  // After a delete the GUN starts again from version 1.
  EXPECT_TRUE(put(kGun, {{"root", 1, "new-r"}}));
}

TEST_P(StorageConformance, ServerKeysKeepInsertionOrderAndIgnoreDuplicates) {
  ASSERT_TRUE(store_->add_server_key({kGun, "timestamp", "k1", "{\"a\":1}", {}}));
  ASSERT_TRUE(store_->add_server_key({kGun, "timestamp", "k2", "{\"a\":2}", {}}));
  ASSERT_TRUE(store_->add_server_key({kGun, "timestamp", "k1", "{\"changed\":1}", {}}));
  ASSERT_TRUE(store_->add_server_key({kGun, "snapshot", "k3", "{}", {}}));
  auto ks = store_->server_keys(kGun, "timestamp");
  ASSERT_TRUE(ks) << ks.error().describe();
  ASSERT_EQ(ks->size(), 2u);
  EXPECT_EQ((*ks)[0].key_id, "k1");
  EXPECT_EQ((*ks)[0].public_json, "{\"a\":1}");
  EXPECT_EQ((*ks)[1].key_id, "k2");
  auto none = store_->server_keys("other", "timestamp");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  // Keys survive a repository delete: the server keeps signing for a re-created GUN.
  ASSERT_TRUE(store_->delete_gun(kGun));
  auto after = store_->server_keys(kGun, "timestamp");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->size(), 2u);
}

// Racing publishers (two handles on one database, as two servers behind a load balancer):
// each reads the current timestamp version and writes version+1 with a targets update.
// Every attempt either lands or fails with "version"; no version is stored twice and
// every landed update is in the store.
TEST_P(StorageConformance, RacingPublishersNeverLoseAnUpdate) {
  auto second = backend_->open_again();
  ASSERT_TRUE(put(kGun, {{"timestamp", 1, "ts-1"}}));
  constexpr int kThreads = 4, kAttempts = 25;
  std::atomic<int> landed{0}, lost{0}, other{0};
  std::mutex mu;
  std::set<std::int64_t> versions;
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&, t] {
      Storage& s = (t % 2) ? *second : *store_;
      for (int i = 0; i < kAttempts; ++i) {
        auto cur = s.get_current(kGun, "timestamp");
        if (!cur || !cur->has_value()) {
          ++other;
          continue;
        }
        auto v = (*cur)->version + 1;
        auto data = "ts-" + std::to_string(v) + "-by-" + std::to_string(t);
        auto st = s.update_many(kGun, {{"targets", v, "t-" + data}, {"timestamp", v, data}});
        if (st) {
          ++landed;
          std::lock_guard lk(mu);
          EXPECT_TRUE(versions.insert(v).second) << "version " << v << " stored twice";
        } else if (st.error().code == "version") {
          ++lost;
        } else {
          ++other;
          ADD_FAILURE() << st.error().describe();
        }
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(landed + lost, kThreads * kAttempts);
  auto cur = store_->get_current(kGun, "timestamp");
  ASSERT_TRUE(cur && cur->has_value());
  EXPECT_EQ((*cur)->version, 1 + landed.load());
  ChangeQuery q;
  q.limit = 1000;
  auto feed = store_->changes(q);
  ASSERT_TRUE(feed);
  EXPECT_EQ(static_cast<int>(feed->size()), 1 + landed.load());
  for (auto v : versions) {
    auto t = store_->get_version(kGun, "targets", v);
    ASSERT_TRUE(t && t->has_value()) << v;
    auto ts2 = store_->get_version(kGun, "timestamp", v);
    ASSERT_TRUE(ts2 && ts2->has_value());
    EXPECT_EQ((*t)->data, "t-" + (*ts2)->data) << "roles of one update stored apart";
  }
}

// Records what a change watch reports.
class RecordingSink : public ChangeSink {
 public:
  void changed(std::string_view gun) override {
    record([&] { guns_.emplace_back(gun); });
  }
  void changed_all() override {
    record([&] { guns_.emplace_back("<all>"); });
  }
  void watching(bool live) override {
    record([&] { live_ = live; });
  }
  // Waits (bounded: 10 s) until pred() holds under the lock; returns whether it did.
  template <class P>
  bool wait_for(P pred) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, std::chrono::seconds(10), pred);
  }
  std::vector<std::string> guns_;
  bool live_ = false;

 private:
  template <class F>
  void record(F f) {
    {
      std::lock_guard lk(mu_);
      f();
    }
    cv_.notify_all();
  }
  std::mutex mu_;
  std::condition_variable cv_;
};

// Cache coherence (storage.h): a backend is its database's sole writer, or its change watch
// reports every committed change any handle makes, in commit order, and nothing else.
TEST_P(StorageConformance, ReportsEveryCommittedChangeOrIsTheSoleWriter) {
  RecordingSink sink;
  auto watch = store_->watch_changes(sink);
  if (!watch) {
    EXPECT_TRUE(store_->sole_writer()) << "a shared database without a change watch";
    return;
  }
  EXPECT_FALSE(store_->sole_writer());
  ASSERT_TRUE(sink.wait_for([&] { return sink.live_; })) << "the watch never came up";
  auto other = backend_->open_again();  // another server
  ASSERT_TRUE(other->update_many(kGun, {{"root", 1, "r"}, {"timestamp", 1, "t"}}));
  ASSERT_TRUE(store_->update_many("docker.io/library/mine", {{"root", 1, "r"}}));
  // A rejected update commits nothing, so it reports nothing.
  ASSERT_FALSE(other->update_many(kGun, {{"root", 1, "again"}}));
  ASSERT_TRUE(other->delete_gun("docker.io/library/gone"));
  ASSERT_TRUE(sink.wait_for([&] { return sink.guns_.size() >= 3; }));
  watch.reset();  // stops the reports; no call after this
  EXPECT_EQ(sink.guns_,
            (std::vector<std::string>{kGun, "docker.io/library/mine", "docker.io/library/gone"}));
}

// A GUN too long to name in a report still gets one: "something changed" (all).
TEST_P(StorageConformance, AChangeTooLongToNameIsReportedAsEverything) {
  RecordingSink sink;
  auto watch = store_->watch_changes(sink);
  if (!watch) {  // nothing to report to: nobody else writes
    EXPECT_TRUE(store_->sole_writer());
    return;
  }
  ASSERT_TRUE(sink.wait_for([&] { return sink.live_; })) << "the watch never came up";
  const std::string long_gun = "docker.io/" + std::string(9000, 'a');
  ASSERT_TRUE(store_->update_many(long_gun, {{"root", 1, "r"}}));
  ASSERT_TRUE(store_->update_many(kGun, {{"root", 1, "r"}}));
  ASSERT_TRUE(sink.wait_for([&] { return sink.guns_.size() >= 2; }));
  watch.reset();
  EXPECT_EQ(sink.guns_, (std::vector<std::string>{"<all>", kGun}));
}

TEST_P(StorageConformance, ReopeningKeepsData) {
  ASSERT_TRUE(put(kGun, {{"root", 1, "r"}}));
  store_.reset();
  auto again = backend_->open_again();
  auto r = again->get_current(kGun, "root");
  ASSERT_TRUE(r && r->has_value());
  EXPECT_EQ((*r)->data, "r");
}

#if defined(DOCKET_STORAGE_BACKEND_POSTGRES)
// Large metadata is stored lz4-compressed (storage_postgres.cpp prefer_lz4: pglz cost more
// database CPU than the rest of a big publish). PostgreSQL 14+ with lz4, as Debian builds it.
TEST_P(StorageConformance, PostgresStoresLargeMetadataLz4Compressed) {
  std::string big;
  for (int i = 0; big.size() < 64 * 1024; ++i)
    big +=
        "\"tag-" + std::to_string(i) + "\":{\"hashes\":{\"sha256\":\"" + sha256_hex(big) + "\"}},";
  ASSERT_TRUE(put(kGun, {{"targets", 1, big}}));
  PGconn* pg = PQconnectdb(backend_->url().c_str());
  ASSERT_EQ(PQstatus(pg), CONNECTION_OK) << PQerrorMessage(pg);
  PGresult* r = PQexec(pg,
                       "SELECT pg_column_compression(data), length(data) FROM tuf_files "
                       "WHERE role = 'targets'");
  ASSERT_EQ(PQresultStatus(r), PGRES_TUPLES_OK) << PQerrorMessage(pg);
  ASSERT_EQ(PQntuples(r), 1);
  EXPECT_STREQ(PQgetvalue(r, 0, 0), "lz4");
  EXPECT_EQ(std::string(PQgetvalue(r, 0, 1)), std::to_string(big.size()));
  PQclear(r);
  PQfinish(pg);
  auto back = store_->get_current(kGun, "targets");
  ASSERT_TRUE(back && *back);
  EXPECT_EQ((*back)->data, big);
}

// PostgreSQL drops connections (a restart, a failover, pg_terminate_backend, an idle-session
// timeout); libpq does not reconnect by itself. Every operation on a pool connection
// dropped while idle re-establishes it and succeeds; before, each pooled connection kept
// failing until the server was restarted.
TEST_P(StorageConformance, PostgresReconnectsDroppedPoolConnections) {
  ASSERT_TRUE(put(kGun, {{"root", 1, "r1"}, {"timestamp", 1, "t1"}}));
  PGconn* admin = PQconnectdb(backend_->url().c_str());
  ASSERT_EQ(PQstatus(admin), CONNECTION_OK) << PQerrorMessage(admin);
  // Terminates every other session on this database and waits (pg_terminate_backend's
  // timeout, PostgreSQL 14+) until each has exited; returns how many there were.
  auto drop_all = [&]() -> int {
    PGresult* r = PQexec(admin,
                         "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity "
                         "WHERE datname = current_database() AND pid <> pg_backend_pid()");
    EXPECT_EQ(PQresultStatus(r), PGRES_TUPLES_OK) << PQerrorMessage(admin);
    int n = PQntuples(r);
    for (int i = 0; i < n; ++i) EXPECT_STREQ(PQgetvalue(r, i, 0), "t");
    PQclear(r);
    return n;
  };
  const std::string sum = sha256_hex("r1");
  std::vector<std::pair<std::string, std::function<Status()>>> ops = {
      {"get_current",
       [&]() -> Status {
         auto r = store_->get_current(kGun, "root");
         if (!r) return std::unexpected(r.error());
         EXPECT_TRUE(*r && (**r).data == "r1");
         return {};
       }},
      {"get_checksum",
       [&]() -> Status {
         auto r = store_->get_checksum(kGun, "root", sum);
         if (!r) return std::unexpected(r.error());
         EXPECT_TRUE(*r && (**r).version == 1);
         return {};
       }},
      {"get_version",
       [&]() -> Status {
         auto r = store_->get_version(kGun, "root", 1);
         if (!r) return std::unexpected(r.error());
         EXPECT_TRUE(*r && (**r).data == "r1");
         return {};
       }},
      {"get_all_current",
       [&]() -> Status {
         auto r = store_->get_all_current(kGun);
         if (!r) return std::unexpected(r.error());
         EXPECT_GE(r->size(), 2u);
         return {};
       }},
      {"changes",
       [&]() -> Status {
         auto r = store_->changes({});
         if (!r) return std::unexpected(r.error());
         EXPECT_FALSE(r->empty());
         return {};
       }},
      {"add_server_key",
       [&] {
         return store_->add_server_key({kGun, "timestamp", "k1", "{}", {}});
       }},
      {"server_keys",
       [&]() -> Status {
         auto r = store_->server_keys(kGun, "timestamp");
         if (!r) return std::unexpected(r.error());
         EXPECT_EQ(r->size(), 1u);
         return {};
       }},
      {"check_health", [&] { return store_->check_health(); }},
      {"update_many",
       [&] {
         return put(kGun, {{"timestamp", 2, "t2"}});
       }},
      {"delete_gun", [&] { return store_->delete_gun("other/gun"); }},
  };
  for (auto& [name, op] : ops) {
    ASSERT_GE(drop_all(), 1) << "no pool connection to drop before " << name;
    auto st = op();
    EXPECT_TRUE(st) << name << ": " << st.error().describe();
  }
  PQfinish(admin);
  auto ts = store_->get_current(kGun, "timestamp");
  ASSERT_TRUE(ts && *ts);
  EXPECT_EQ((*ts)->data, "t2");
}

// A publish whose connection dies inside its transaction (here: while it waits for the GUN's
// lock, which another session holds) fails with a storage error, stores nothing, is not
// retried (its commit might have happened), and leaves the store usable.
TEST_P(StorageConformance, PostgresConnectionLostMidPublishFailsCleanly) {
  ASSERT_TRUE(put(kGun, {{"timestamp", 1, "t1"}}));
  PGconn* admin = PQconnectdb(backend_->url().c_str());
  ASSERT_EQ(PQstatus(admin), CONNECTION_OK) << PQerrorMessage(admin);
  auto q = [&](const std::string& sql) {
    PGresult* r = PQexec(admin, sql.c_str());
    EXPECT_EQ(PQresultStatus(r), PGRES_TUPLES_OK) << sql << ": " << PQerrorMessage(admin);
    std::string v = PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "";
    PQclear(r);
    return v;
  };
  q("SELECT pg_advisory_lock(hashtextextended('" + kGun + "', 0))");
  Status st;
  std::thread publisher([&] { st = put(kGun, {{"timestamp", 2, "t2"}}); });
  // Bounded wait for the publish to block on the lock, then end its session.
  std::string waiting;
  for (int i = 0; i < 1000 && waiting.empty(); ++i) {
    waiting =
        q("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND "
          "wait_event_type = 'Lock' AND wait_event = 'advisory'");
    if (waiting.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_FALSE(waiting.empty()) << "the publish never waited for the lock";
  EXPECT_EQ(q("SELECT pg_terminate_backend(" + waiting + ", 10000)"), "t");
  publisher.join();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, "storage") << st.error().describe();
  q("SELECT pg_advisory_unlock(hashtextextended('" + kGun + "', 0))");
  PQfinish(admin);
  auto ts = store_->get_current(kGun, "timestamp");
  ASSERT_TRUE(ts && *ts) << (ts ? "" : ts.error().describe());
  EXPECT_EQ((*ts)->version, 1);
  EXPECT_TRUE(put(kGun, {{"timestamp", 2, "t2"}}));
  auto feed = store_->changes({});
  ASSERT_TRUE(feed);
  EXPECT_EQ(feed->size(), 2u);  // v1 and the v2 that landed; nothing of the lost attempt
}

INSTANTIATE_TEST_SUITE_P(Postgres, StorageConformance, ::testing::Values("postgres"));

std::size_t count(const std::string& hay, std::string_view needle) {
  std::size_t n = 0;
  for (auto at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) ++n;
  return n;
}

// While PostgreSQL is down, requests fail at once with the storage error instead of each
// trying to connect: attempts are spaced by a doubling backoff (read from an injected clock,
// so nothing here depends on timing), the log holds one "cannot reach" warning, at most one
// "still unreachable" line per interval and one "reached again" line, and the connection
// string's password appears in neither errors nor log. Once PostgreSQL is back, operations
// succeed. A server of its own, since the test stops it.
TEST(PostgresOutage, FailsFastQuietlyBoundedAndRecovers) {
  auto server = testing::PostgresServer::start();
  ASSERT_TRUE(server) << server.error().describe();
  auto db = (*server)->create_database();
  ASSERT_TRUE(db) << db.error().describe();
  // Trust authentication ignores the password; it must still never be shown.
  const std::string secret = "Pw-9f3c1e77";
  std::string url = *db;
  url.insert(url.find("postgres@") + 8, ":" + secret);
  std::atomic<std::int64_t> ms{0};
  const auto base = std::chrono::steady_clock::now();
  StorageOptions o;
  o.pool_size = 2;
  o.pool_backoff_min = std::chrono::milliseconds(100);
  o.pool_backoff_max = std::chrono::milliseconds(400);
  o.outage_log_interval = std::chrono::seconds(30);
  o.clock = [&] { return base + std::chrono::milliseconds(ms.load()); };
  auto opened = open_postgres_storage(url, o);
  ASSERT_TRUE(opened) << opened.error().describe();
  auto& store = **opened;
  ASSERT_TRUE(store.update_many(kGun, {{"root", 1, "r1", ""}, {"timestamp", 1, "t1", ""}}));
  auto stats = postgres_pool_stats(store);
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->connect_attempts, 0u);
  EXPECT_TRUE(stats->reachable);

  ::testing::internal::CaptureStderr();
  ASSERT_TRUE((*server)->stop());
  auto fail_all = [&](int n) {
    for (int i = 0; i < n; ++i) {
      auto r = store.get_current(kGun, "root");
      ASSERT_FALSE(r) << "request " << i << " succeeded with PostgreSQL down";
      EXPECT_EQ(r.error().code, "storage");
      EXPECT_EQ(r.error().fault, Fault::local);
      EXPECT_TRUE(r.error().message.starts_with("postgres: the database is unreachable since "))
          << r.error().message;
      EXPECT_EQ(r.error().message.find(secret), std::string::npos) << r.error().message;
      EXPECT_TRUE(store.outage_logged(r.error().message));
    }
  };
  fail_all(200);
  EXPECT_EQ(postgres_pool_stats(store)->connect_attempts, 1u);
  auto during = store.get_current(kGun, "root");
  ASSERT_FALSE(during);
  EXPECT_NE(during.error().message.find("next connection attempt in 100 ms"), std::string::npos)
      << during.error().message;
  auto health = store.check_health();
  ASSERT_FALSE(health);
  EXPECT_EQ(health.error().code, "storage");
  EXPECT_TRUE(store.outage_logged(health.error().message)) << health.error().message;
  EXPECT_FALSE(store.update_many(kGun, {{"timestamp", 2, "t2", ""}}));
  EXPECT_FALSE(store.delete_gun(kGun));
  EXPECT_EQ(postgres_pool_stats(store)->connect_attempts, 1u);

  // Past the backoff: exactly one more attempt, which fails and doubles the backoff.
  ms += 150;
  fail_all(100);
  stats = postgres_pool_stats(store);
  EXPECT_EQ(stats->connect_attempts, 2u);
  EXPECT_EQ(stats->connect_failures, 2u);
  EXPECT_FALSE(stats->reachable);
  auto doubled = store.get_current(kGun, "root");
  ASSERT_FALSE(doubled);
  EXPECT_NE(doubled.error().message.find("next connection attempt in 200 ms"), std::string::npos)
      << doubled.error().message;
  // Past the log interval: one attempt and one "still unreachable" line however many fail.
  ms += 31'000;
  fail_all(100);
  EXPECT_EQ(postgres_pool_stats(store)->connect_attempts, 3u);
  EXPECT_GE(postgres_pool_stats(store)->failed_fast, 400u);

  ASSERT_TRUE((*server)->start_again());
  ms += 1'000;  // past the cap (400 ms)
  auto back = store.get_current(kGun, "root");
  ASSERT_TRUE(back) << back.error().describe();
  ASSERT_TRUE(*back);
  EXPECT_EQ((**back).data, "r1");
  EXPECT_TRUE(store.update_many(kGun, {{"timestamp", 2, "t2", ""}}));
  EXPECT_TRUE(store.check_health());
  stats = postgres_pool_stats(store);
  EXPECT_TRUE(stats->reachable);
  // Both pool connections were re-established, each with one attempt.
  EXPECT_LE(stats->connect_attempts, 5u);
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(count(log, "cannot reach PostgreSQL"), 1u) << log;
  EXPECT_EQ(count(log, "PostgreSQL still unreachable"), 1u) << log;
  EXPECT_EQ(count(log, "reached PostgreSQL again"), 1u) << log;
  EXPECT_LE(count(log, "\n"), 8u) << log;  // vs. 400+ failed requests
  EXPECT_EQ(log.find(secret), std::string::npos) << log;
}

// A connection string libpq cannot parse is reported without quoting it (it may hold the
// password).
TEST(PostgresOutage, UnparsableConnectionStringErrorsHideThePassword) {
  const std::string secret = "Pw-9f3c1e77";
  auto s = open_postgres_storage("host=127.0.0.1 port=1 password=" + secret + " broken");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, "storage");
  EXPECT_EQ(s.error().message.find(secret), std::string::npos) << s.error().message;
  auto u = open_postgres_storage("postgresql://u:" + secret + "@127.0.0.1:1/db?x=%zz" + secret);
  ASSERT_FALSE(u);
  EXPECT_EQ(u.error().message.find(secret), std::string::npos) << u.error().message;
}
#else
INSTANTIATE_TEST_SUITE_P(Sqlite, StorageConformance, ::testing::Values("sqlite"));

TEST(StorageUrl, RejectsUnknownSchemes) {
  auto s = open_storage("mysql://x");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, "config");
  EXPECT_EQ(s.error().fault, Fault::user);
  // A mistyped scheme is quoted without the password.
  auto typo = open_storage("postgress://user:Pw-9f3c1e77@db:5432/trust");
  ASSERT_FALSE(typo);
  EXPECT_EQ(typo.error().message.find("Pw-9f3c1e77"), std::string::npos) << typo.error().message;
  EXPECT_NE(typo.error().message.find("postgress://user:<redacted>@db:5432/trust"),
            std::string::npos)
      << typo.error().message;
}
TEST(StorageUrl, SqliteFileInMissingDirectoryIsALocalError) {
  auto s = open_storage("sqlite:///nonexistent-dir-docket/x.db");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().fault, Fault::local);
}
#endif

}  // namespace
}  // namespace docket::trustserver
