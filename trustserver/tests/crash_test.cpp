// Crash safety: `docket-server trust` is killed with SIGKILL while several clients publish
// concurrently (two per GUN, racing). After a restart on the same database and key
// directory, every GUN must serve a consistent, verifiable set (timestamp -> snapshot ->
// root/targets by hash, every signature to threshold) and no acknowledged publish may be
// missing.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <thread>

#include "common/digest.h"
#include "common/file.h"
#include "net/http_client.h"
#include "trustserver/multipart.h"
#include "trustserver/tests/interop_util.h"
#include "trustserver/tests/test_repo.h"
#include "tuf/metadata.h"
#include "tuf/verify.h"

namespace docket::trustserver {
namespace {
using namespace testing;
namespace fs = std::filesystem;

class CrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("docket-crash-" + random_hex_id());
    fs::create_directories(dir_);
    port_ = free_port();
  }
  void TearDown() override {
    server_.reset();
    std::error_code ec;
    if (!HasFailure()) fs::remove_all(dir_, ec);
  }
  void start() {
    server_ = std::make_unique<Child>(
        std::vector<std::string>{docket_server_bin(), "trust", "--data", (dir_ / "data").string(),
                                 "--addr", "127.0.0.1:" + std::to_string(port_), "--storage",
                                 "sqlite://" + (dir_ / "trust.db").string(), "--signer-dir",
                                 (dir_ / "keys").string(), "--log-level", "error"},
        std::map<std::string, std::string>{{"DOCKET_SIGNER_PASSPHRASE_DEFAULT", "crash-pass"}},
        dir_ / "server.log");
    ASSERT_TRUE(wait_for_port(port_, *server_)) << read_file(dir_ / "server.log").value_or("");
  }
  std::string base(const std::string& gun) {
    return "http://127.0.0.1:" + std::to_string(port_) + "/v2/" + gun + "/_trust/tuf/";
  }
  Result<net::HttpResponse> publish(const std::string& gun,
                                    const std::vector<std::pair<std::string, std::string>>& f) {
    net::HttpRequest req;
    req.method = "POST";
    req.url = base(gun);
    req.body = build_multipart(f, "crashboundary");
    req.headers.set("Content-Type", "multipart/form-data; boundary=crashboundary");
    return client_.send(req);
  }
  std::string get(const std::string& url) {
    auto r = client_.get(url);
    if (!r || r->status != 200) return "";
    return r->body;
  }

  fs::path dir_;
  int port_ = 0;
  std::unique_ptr<Child> server_;
  net::HttpClient client_;
};

TEST_F(CrashTest, KillDuringConcurrentPublishesLeavesEveryGunConsistent) {
  start();
  constexpr int kGuns = 3, kWritersPerGun = 2;
  std::vector<Repo> repos;
  for (int g = 0; g < kGuns; ++g) {
    Repo repo("localhost:4443/crash/app" + std::to_string(g));
    repo.timestamp_pub = public_json(get(base(repo.gun) + "timestamp.key"));
    repo.next_root();
    repo.next_targets();
    auto r = publish(
        repo.gun,
        {{"root", repo.root}, {"targets", repo.targets}, {"snapshot", repo.next_snapshot()}});
    ASSERT_TRUE(r && r->status == 200) << (r ? r->body : r.error().describe());
    repos.push_back(repo);
  }

  // Writers: each publishes targets+snapshot with versions it claims from a shared counter,
  // so writers on one GUN race; acknowledged versions are recorded.
  std::vector<std::atomic<std::int64_t>> next(kGuns);
  std::vector<std::atomic<std::int64_t>> acked(kGuns);
  for (int g = 0; g < kGuns; ++g) {
    next[g] = 2;
    acked[g] = 1;
  }
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, conflicts{0};
  std::vector<std::thread> writers;
  for (int g = 0; g < kGuns; ++g)
    for (int w = 0; w < kWritersPerGun; ++w)
      writers.emplace_back([&, g, w] {
        Repo repo = repos[g];
        int i = 0;
        while (!stop) {
          auto v = next[g].fetch_add(1);
          repo.targets_version = v - 1;
          repo.snapshot_version = v - 1;
          repo.add_target("w" + std::to_string(w) + "-" + std::to_string(i++), std::to_string(v));
          repo.next_targets();
          auto r =
              publish(repo.gun, {{"targets", repo.targets}, {"snapshot", repo.next_snapshot()}});
          if (r && r->status == 200) {
            ++ok;
            auto cur = acked[g].load();
            while (v > cur && !acked[g].compare_exchange_weak(cur, v)) {
            }
          } else if (r && r->status == 400) {
            ++conflicts;  // lost a race (VERSION) or snapshot no longer matched
          }
        }
      });
  // Let traffic flow, then kill the server mid-flight.
  for (int i = 0; i < 200 && ok < 20; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  server_->stop(SIGKILL);
  stop = true;
  for (auto& t : writers) t.join();
  ASSERT_GT(ok.load(), 0) << "no publish landed before the kill";
  std::printf("killed after %d acknowledged publishes, %d refused (races)\n", ok.load(),
              conflicts.load());

  start();
  for (int g = 0; g < kGuns; ++g) {
    const auto& gun = repos[g].gun;
    SCOPED_TRACE(gun);
    auto ts_bytes = get(base(gun) + "timestamp.json");
    auto root_bytes = get(base(gun) + "root.json");
    ASSERT_FALSE(ts_bytes.empty());
    ASSERT_FALSE(root_bytes.empty());
    auto root = tuf::parse_root(root_bytes);
    ASSERT_TRUE(root) << root.error().describe();
    const auto& R = root->signed_;
    auto ts = tuf::parse_timestamp(ts_bytes);
    ASSERT_TRUE(ts) << ts.error().describe();
    ASSERT_TRUE(
        tuf::verify_delegate("timestamp", "root", *ts, R.keys, R.role(tuf::RoleType::timestamp)));
    // The snapshot the timestamp names, fetched by checksum.
    const auto& sm = ts->signed_.snapshot_meta();
    auto sha = value_or_raise(base64_decode(sm.hashes.at("sha256")));
    auto snap_bytes = get(base(gun) + "snapshot." + hex_encode(sha) + ".json");
    ASSERT_FALSE(snap_bytes.empty());
    ASSERT_TRUE(tuf::verify_length_and_hashes(snap_bytes, sm.length, sm.hashes,
                                              tuf::Dialect::notary, true, "snapshot"));
    auto snap = tuf::parse_snapshot(snap_bytes);
    ASSERT_TRUE(snap);
    ASSERT_TRUE(
        tuf::verify_delegate("snapshot", "root", *snap, R.keys, R.role(tuf::RoleType::snapshot)));
    // Root and targets as the snapshot describes them.
    for (const char* role : {"root", "targets"}) {
      const auto* m = snap->signed_.find(value_or_raise(tuf::RoleName::make(role)));
      ASSERT_NE(m, nullptr) << role;
      auto h = value_or_raise(base64_decode(m->hashes.at("sha256")));
      auto bytes = get(base(gun) + role + "." + hex_encode(h) + ".json");
      ASSERT_FALSE(bytes.empty()) << role;
      ASSERT_TRUE(tuf::verify_length_and_hashes(bytes, m->length, m->hashes, tuf::Dialect::notary,
                                                true, role));
      if (std::string(role) == "targets") {
        auto t = tuf::parse_targets(bytes);
        ASSERT_TRUE(t);
        ASSERT_TRUE(
            tuf::verify_delegate("targets", "root", *t, R.keys, R.role(tuf::RoleType::targets)));
        // No acknowledged publish is lost.
        EXPECT_GE(t->signed_.version, acked[g].load());
        // The current targets is the one the snapshot names.
        EXPECT_EQ(get(base(gun) + "targets.json"), bytes);
      }
    }
  }
  // The restarted server still accepts publishes.
  Repo again = repos[0];
  auto cur = tuf::parse_targets(get(base(again.gun) + "targets.json"));
  ASSERT_TRUE(cur);
  again.targets_version = cur->signed_.version;
  again.targets = "";
  again.add_target("after-restart", "x");
  again.next_targets();
  auto snapv = tuf::parse_snapshot(get(base(again.gun) + "snapshot.json"));
  ASSERT_TRUE(snapv);
  again.snapshot_version = snapv->signed_.version;
  auto r = publish(again.gun, {{"targets", again.targets}, {"snapshot", again.next_snapshot()}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
}

}  // namespace
}  // namespace docket::trustserver
