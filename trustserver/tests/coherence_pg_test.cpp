// Cache coherence of trust servers sharing one PostgreSQL database (a real server started
// on loopback by the test): two TrustServices, A and B, each with its own storage handle
// (its own connection pool and LISTEN/NOTIFY change watch), as two servers behind a load
// balancer. Writes go through A; B serves from its cache and must never keep serving what
// A replaced once the change has been reported, nor serve its cache while it cannot hear
// reports. Waits are bounded polls; nothing asserts on timing.
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "common/file.h"
#include "trustserver/multipart.h"
#include "trustserver/service.h"
#include "trustserver/testing/postgres.h"
#include "trustserver/tests/test_repo.h"

namespace docket::trustserver {
namespace {
namespace fs = std::filesystem;
using testing::Repo;

constexpr auto kPatience = std::chrono::seconds(10);
const std::string kGun = "localhost:4443/library/app";

// Polls `pred` until it holds or kPatience passes; returns its last value.
template <class P>
bool eventually(P pred) {
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return pred();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

// A counter or gauge from the service's /metrics text.
std::uint64_t metric(const TrustService& s, const std::string& name) {
  const auto text = s.metrics_text();
  const auto at = text.find("\n" + name + " ");
  if (at == std::string::npos) throw Exception(Error{Fault::bug, "test", "no metric " + name});
  return std::stoull(text.substr(at + name.size() + 2));
}

// Runs one statement on the database (the test's own connection).
void sql(const std::string& url, const std::string& statement) {
  PGconn* c = PQconnectdb(url.c_str());
  ASSERT_EQ(PQstatus(c), CONNECTION_OK) << PQerrorMessage(c);
  PGresult* r = PQexec(c, statement.c_str());
  EXPECT_TRUE(PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK)
      << PQerrorMessage(c);
  PQclear(r);
  PQfinish(c);
}

class PostgresCoherence : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto s = docket::testing::PostgresServer::start();
    if (!s) throw Exception(s.error());
    server_ = std::move(*s).release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("docket-coherence-" + random_hex_id());
    fs::create_directories(dir_);
    url_ = value_or_raise(server_->create_database());
    signer_ = testing::open_test_signer(dir_ / "keys");
  }
  void TearDown() override {
    a_.reset();
    b_.reset();
    store_a_.reset();
    store_b_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // Opens A and B; B's reconnect backoff is `b_backoff` (a long one keeps B's watch down
  // for a while after it is cut).
  void start(std::chrono::milliseconds b_backoff = std::chrono::milliseconds(50),
             TrustOptions o = {}) {
    StorageOptions sa;
    sa.watch_backoff_min = sa.watch_backoff_max = std::chrono::milliseconds(50);
    StorageOptions sb;
    sb.watch_backoff_min = sb.watch_backoff_max = b_backoff;
    store_a_ = value_or_raise(open_postgres_storage(url_, sa));
    store_b_ = value_or_raise(open_postgres_storage(url_, sb));
    a_ = std::make_unique<TrustService>(*store_a_, *signer_, o);
    b_ = std::make_unique<TrustService>(*store_b_, *signer_, o);
  }

  static TrustResponse call(TrustService& s, std::string method, std::string path,
                            std::string body = "", std::string ct = "", std::string query = "") {
    TrustRequest r;
    r.method = std::move(method);
    r.path = std::move(path);
    r.body = std::move(body);
    r.content_type = std::move(ct);
    r.query = std::move(query);
    return s.handle(r);
  }
  static TrustResponse get(TrustService& s, const std::string& file) {
    return call(s, "GET", "/v2/" + kGun + "/_trust/tuf/" + file);
  }
  static TrustResponse publish(TrustService& s,
                               const std::vector<std::pair<std::string, std::string>>& files) {
    return call(s, "POST", "/v2/" + kGun + "/_trust/tuf/", build_multipart(files, "XyZ"),
                "multipart/form-data; boundary=XyZ");
  }
  static std::int64_t version_of(const TrustResponse& r) {
    auto j = value_or_raise(parse_json(r.body, "metadata", Fault::bug));
    return j["signed"]["version"].get<std::int64_t>();
  }
  static std::int64_t feed_count(TrustService& s) {
    auto r =
        call(s, "GET", "/v2/" + kGun + "/_trust/changefeed", "", "", "change_id=0&records=100");
    EXPECT_EQ(r.status, 200u) << r.body;
    return value_or_raise(parse_json(r.body, "changefeed", Fault::bug))["count"]
        .get<std::int64_t>();
  }

  // `notary init` + publish through A (client-signed snapshot, server timestamp).
  Repo init_repo() {
    Repo repo(kGun);
    auto key = get(*a_, "timestamp.key");
    EXPECT_EQ(key.status, 200u) << key.body;
    repo.timestamp_pub = testing::public_json(key.body);
    repo.next_root();
    repo.next_targets();
    auto r = publish(
        *a_, {{"root", repo.root}, {"targets", repo.targets}, {"snapshot", repo.next_snapshot()}});
    EXPECT_EQ(r.status, 200u) << r.body;
    return repo;
  }
  // A new targets version (and snapshot) through A.
  void publish_next_targets(Repo& repo) {
    repo.add_target("v" + std::to_string(repo.targets_version + 1), "content");
    repo.next_targets();
    auto r = publish(*a_, {{"targets", repo.targets}, {"snapshot", repo.next_snapshot()}});
    ASSERT_EQ(r.status, 200u) << r.body;
  }

  static docket::testing::PostgresServer* server_;
  fs::path dir_;
  std::string url_;
  std::unique_ptr<signer::Signer> signer_;
  std::unique_ptr<Storage> store_a_, store_b_;
  std::unique_ptr<TrustService> a_, b_;
};
docket::testing::PostgresServer* PostgresCoherence::server_ = nullptr;

TEST_F(PostgresCoherence, BServesWhatAPublishedAndNeverTheOldVersionAfterTheReport) {
  start();
  ASSERT_TRUE(eventually([&] { return a_->cache_in_use() && b_->cache_in_use(); }))
      << "the change watches never came up";
  auto repo = init_repo();
  // Every committed write reaches B as one report (A's writes included): wait for the
  // initial publish's, so the one counted below is the next publish's.
  ASSERT_TRUE(
      eventually([&] { return metric(*b_, "docket_trust_cache_change_reports_total") >= 1; }));
  const auto reports = metric(*b_, "docket_trust_cache_change_reports_total");

  // B caches version 1 (the second GET is served from memory).
  ASSERT_EQ(version_of(get(*b_, "targets.json")), 1);
  const auto hits = metric(*b_, "docket_trust_cache_hits_total");
  ASSERT_EQ(version_of(get(*b_, "targets.json")), 1);
  EXPECT_EQ(metric(*b_, "docket_trust_cache_hits_total"), hits + 1) << "B does not cache";
  const auto feed_before = feed_count(*b_);
  ASSERT_EQ(feed_count(*b_), feed_before);  // cached page

  publish_next_targets(repo);
  ASSERT_TRUE(eventually([&] {
    return metric(*b_, "docket_trust_cache_change_reports_total") > reports;
  })) << "B never heard of A's publish";
  // Reported: every GET through B now returns version 2, from the database or its cache.
  for (int i = 0; i < 20; ++i) {
    auto r = get(*b_, "targets.json");
    ASSERT_EQ(r.status, 200u);
    ASSERT_EQ(r.body, repo.targets) << "GET " << i << " after the report";
    ASSERT_EQ(get(*b_, "snapshot.json").body, repo.snapshot);
  }
  EXPECT_EQ(get(*b_, "timestamp.json").body, get(*a_, "timestamp.json").body);
  EXPECT_EQ(feed_count(*b_), feed_before + 1) << "B's cached changefeed page survived";

  // Deleting through A: B stops serving the GUN.
  ASSERT_EQ(call(*a_, "DELETE", "/v2/" + kGun + "/_trust/tuf/").status, 200u);
  EXPECT_TRUE(eventually([&] { return get(*b_, "targets.json").status == 404u; }));
  EXPECT_TRUE(eventually([&] { return get(*b_, "root.json").status == 404u; }));
}

// Readers on B racing publishes through A: each reader's versions never go backwards (a read
// of the database that raced a change must not be cached after the change's report).
TEST_F(PostgresCoherence, ConcurrentReadersOnBNeverGoBackwards) {
  start();
  ASSERT_TRUE(eventually([&] { return a_->cache_in_use() && b_->cache_in_use(); }));
  auto repo = init_repo();
  std::atomic<bool> done{false};
  std::atomic<int> regressions{0}, failures{0}, reads{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t)
    readers.emplace_back([&] {
      std::int64_t last = 0;
      while (!done) {
        auto r = get(*b_, "targets.json");
        if (r.status != 200u) {
          ++failures;
          continue;
        }
        auto v = version_of(r);
        if (v < last) ++regressions;
        last = std::max(last, v);
        ++reads;
      }
    });
  constexpr int kPublishes = 8;
  for (int i = 0; i < kPublishes; ++i) publish_next_targets(repo);
  EXPECT_TRUE(eventually([&] { return version_of(get(*b_, "targets.json")) == kPublishes + 1; }));
  done = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(regressions, 0) << "a reader saw an older version after a newer one";
  EXPECT_EQ(failures, 0);
  EXPECT_GT(reads, 0);
}

TEST_F(PostgresCoherence, WhileBsWatchIsDownBBypassesItsCacheAndRecoversAfter) {
  // B waits 2 s before reconnecting, so the publish below normally lands while it is down;
  // if it reconnects first, it has dropped its cache: either way it must not serve v1.
  start(std::chrono::milliseconds(2000));
  ASSERT_TRUE(eventually([&] { return a_->cache_in_use() && b_->cache_in_use(); }));
  auto repo = init_repo();
  ASSERT_EQ(version_of(get(*b_, "targets.json")), 1);  // cached in B
  const auto resets = metric(*b_, "docket_trust_cache_resets_total");

  // Cut every change-watch connection of this database (A's and B's).
  sql(url_,
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
      "WHERE application_name = 'docket-trust-watch' AND datname = current_database()");
  ASSERT_TRUE(eventually([&] { return !b_->cache_in_use(); }) ||
              metric(*b_, "docket_trust_cache_resets_total") >= resets + 2)
      << "B did not notice its watch connection was cut";

  publish_next_targets(repo);
  EXPECT_EQ(get(*b_, "targets.json").body, repo.targets) << "B served its cache while deaf";

  // B reconnects, drops its cache, and caches again.
  ASSERT_TRUE(eventually([&] { return b_->cache_in_use(); })) << "B's watch never came back";
  EXPECT_GE(metric(*b_, "docket_trust_cache_resets_total"), resets + 2);
  ASSERT_EQ(get(*b_, "targets.json").body, repo.targets);
  const auto hits = metric(*b_, "docket_trust_cache_hits_total");
  ASSERT_EQ(get(*b_, "targets.json").body, repo.targets);
  EXPECT_EQ(metric(*b_, "docket_trust_cache_hits_total"), hits + 1) << "B stopped caching";

  // And hears A again.
  ASSERT_TRUE(eventually([&] { return a_->cache_in_use(); }));
  publish_next_targets(repo);
  EXPECT_TRUE(eventually([&] { return get(*b_, "targets.json").body == repo.targets; }));
}

// Anything on the channel B cannot read makes it drop its whole cache.
TEST_F(PostgresCoherence, AnUnreadableReportDropsTheWholeCache) {
  start();
  ASSERT_TRUE(eventually([&] { return a_->cache_in_use() && b_->cache_in_use(); }));
  auto repo = init_repo();
  ASSERT_TRUE(
      eventually([&] { return metric(*b_, "docket_trust_cache_change_reports_total") >= 1; }));
  ASSERT_EQ(get(*b_, "targets.json").body, repo.targets);
  const auto hits = metric(*b_, "docket_trust_cache_hits_total");
  ASSERT_EQ(get(*b_, "targets.json").body, repo.targets);
  ASSERT_EQ(metric(*b_, "docket_trust_cache_hits_total"), hits + 1);  // cached
  const auto resets = metric(*b_, "docket_trust_cache_resets_total");
  sql(url_, "NOTIFY docket_trust_changes, 'not-a-report'");
  ASSERT_TRUE(eventually([&] { return metric(*b_, "docket_trust_cache_resets_total") > resets; }));
  ASSERT_EQ(get(*b_, "targets.json").body, repo.targets);
  EXPECT_EQ(metric(*b_, "docket_trust_cache_hits_total"), hits + 1) << "served a dropped entry";
  EXPECT_TRUE(b_->cache_in_use());
}

TEST_F(PostgresCoherence, CacheOffNeverCachesOrWatches) {
  TrustOptions o;
  o.cache_current = false;
  start(std::chrono::milliseconds(50), o);
  auto repo = init_repo();
  for (int i = 0; i < 3; ++i) ASSERT_EQ(get(*b_, "targets.json").body, repo.targets);
  EXPECT_FALSE(b_->cache_in_use());
  EXPECT_EQ(metric(*b_, "docket_trust_cache_hits_total"), 0u);
  publish_next_targets(repo);
  EXPECT_EQ(get(*b_, "targets.json").body, repo.targets);  // no wait: straight from the DB
}

// A server whose PostgreSQL is down answers every request needing the database at once with
// a 500 and health with a 503 naming the outage, logging the outage once rather than a
// "trust server error" line per request, and makes one connect attempt per backoff (the
// store's clock is frozen here, so the backoff never passes: exactly one attempt).
TEST(PostgresOutageService, AnswersAtOnceAndLogsTheOutageOnce) {
  auto server = value_or_raise(docket::testing::PostgresServer::start());
  const auto dir = fs::temp_directory_path() / ("docket-outage-" + random_hex_id());
  fs::create_directories(dir);
  {
    StorageOptions so;
    const auto frozen = std::chrono::steady_clock::now();
    so.clock = [frozen] { return frozen; };
    auto store =
        value_or_raise(open_postgres_storage(value_or_raise(server->create_database()), so));
    auto signer = testing::open_test_signer(dir / "keys");
    TrustOptions o;
    o.cache_current = false;
    TrustService svc(*store, *signer, o);
    auto health = [&] {
      TrustRequest r;
      r.method = "GET";
      r.path = "/_notary_server/health";
      return svc.handle(r);
    };
    ASSERT_EQ(health().status, 200u);
    ::testing::internal::CaptureStderr();
    ASSERT_TRUE(server->stop());
    for (int i = 0; i < 100; ++i) {
      TrustRequest r;
      r.method = "GET";
      r.path = "/v2/" + kGun + "/_trust/tuf/root.json";
      EXPECT_EQ(svc.handle(r).status, 500u) << "request " << i;
    }
    auto h = health();
    EXPECT_EQ(h.status, 503u);
    const std::string log = ::testing::internal::GetCapturedStderr();
    EXPECT_NE(h.body.find("the database is unreachable"), std::string::npos) << h.body;
    EXPECT_EQ(postgres_pool_stats(*store)->connect_attempts, 1u);
    std::size_t outage_lines = 0, request_lines = 0;
    for (auto at = log.find("cannot reach PostgreSQL"); at != std::string::npos;
         at = log.find("cannot reach PostgreSQL", at + 1))
      ++outage_lines;
    for (auto at = log.find("trust server error"); at != std::string::npos;
         at = log.find("trust server error", at + 1))
      ++request_lines;
    EXPECT_EQ(outage_lines, 1u) << log;
    EXPECT_EQ(request_lines, 0u) << log;
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace
}  // namespace docket::trustserver
