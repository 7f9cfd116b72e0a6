// The Notary API end to end through TrustService::handle (no sockets): real SQLite storage,
// the real local signer, metadata signed like the notary client signs it. One test per
// rejection rule of the issue, each checking the exact error shape the notary client parses.
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "common/file.h"
#include "trustserver/multipart.h"
#include "trustserver/service.h"
#include "trustserver/tests/test_repo.h"
#include "tuf/metadata.h"
#include "tuf/verify.h"

namespace docket::trustserver {
namespace {
namespace fs = std::filesystem;
using testing::Key;
using testing::Repo;

class TrustServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("docket-trustsvc-" + random_hex_id());
    fs::create_directories(dir_);
    storage_ = value_or_raise(open_sqlite_storage((dir_ / "trust.db").string()));
    signer_ = testing::open_test_signer(dir_ / "keys");
    make_service({});
  }
  void TearDown() override {
    svc_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  void make_service(TrustOptions o) {
    svc_ = std::make_unique<TrustService>(*storage_, *signer_, o);
  }

  TrustResponse call(std::string method, std::string path, std::string body = "",
                     std::string ct = "", std::string query = "") {
    TrustRequest r;
    r.method = std::move(method);
    r.path = std::move(path);
    r.body = std::move(body);
    r.content_type = std::move(ct);
    r.query = std::move(query);
    return svc_->handle(r);
  }
  TrustResponse get(const std::string& gun, const std::string& file) {
    return call("GET", "/v2/" + gun + "/_trust/tuf/" + file);
  }
  TrustResponse publish(const std::string& gun,
                        const std::vector<std::pair<std::string, std::string>>& files) {
    return call("POST", "/v2/" + gun + "/_trust/tuf/", build_multipart(files, "XyZ"),
                "multipart/form-data; boundary=XyZ");
  }
  Json server_key(const std::string& gun, const std::string& role) {
    auto r = get(gun, role + ".key");
    EXPECT_EQ(r.status, 200u) << r.body;
    return testing::public_json(r.body);
  }
  // A repository initialised as `notary init` + `notary publish` does (client snapshot).
  Repo init_repo(const std::string& gun, bool server_snapshot = false) {
    Repo repo(gun);
    repo.timestamp_pub = server_key(gun, "timestamp");
    if (server_snapshot) {
      repo.snapshot_key.reset();
      repo.server_snapshot_pub = server_key(gun, "snapshot");
    }
    repo.next_root();
    repo.next_targets();
    std::vector<std::pair<std::string, std::string>> files{{"root", repo.root},
                                                           {"targets", repo.targets}};
    if (!server_snapshot) files.emplace_back("snapshot", repo.next_snapshot());
    auto r = publish(gun, files);
    EXPECT_EQ(r.status, 200u) << r.body;
    return repo;
  }
  static Json detail(const TrustResponse& r) {
    auto j = value_or_raise(parse_json(r.body, "error body", Fault::bug));
    return j["errors"][0].value("detail", Json());
  }
  static std::string code(const TrustResponse& r) {
    auto j = parse_json(r.body, "error body", Fault::bug);
    if (!j || !j->contains("errors")) return "";
    return (*j)["errors"][0]["code"];
  }
  void expect_invalid_update(const TrustResponse& r, const std::string& name,
                             const std::string& needle) {
    EXPECT_EQ(r.status, 400u) << r.body;
    EXPECT_EQ(code(r), "INVALID_UPDATE") << r.body;
    auto d = detail(r);
    EXPECT_EQ(d.value("Name", ""), name) << r.body;
    ASSERT_TRUE(d.contains("Error")) << r.body;
    EXPECT_NE(d["Error"].value("Msg", "").find(needle), std::string::npos) << r.body;
  }

  fs::path dir_;
  std::unique_ptr<Storage> storage_;
  std::unique_ptr<signer::Signer> signer_;
  std::unique_ptr<TrustService> svc_;
};

const std::string kGun = "localhost:4443/library/app";

TEST_F(TrustServiceTest, InitialPublishServesEveryRoleAndAVerifiableTimestamp) {
  auto repo = init_repo(kGun);
  auto root = get(kGun, "root.json");
  ASSERT_EQ(root.status, 200u);
  EXPECT_EQ(root.body, repo.root);
  auto header = [&](const TrustResponse& r, const std::string& k) {
    for (const auto& [h, v] : r.headers)
      if (h == k) return v;
    return std::string();
  };
  EXPECT_EQ(header(root, "Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(header(root, "Cache-Control"), "public, max-age=300, s-maxage=300, must-revalidate");
  EXPECT_TRUE(header(root, "Last-Modified").ends_with(" UTC"));
  EXPECT_EQ(get(kGun, "targets.json").body, repo.targets);
  EXPECT_EQ(get(kGun, "snapshot.json").body, repo.snapshot);
  auto by_version = get(kGun, "1.root.json");
  EXPECT_EQ(by_version.body, repo.root);
  EXPECT_EQ(header(by_version, "Cache-Control"), "public, max-age=2592000, s-maxage=2592000");
  auto by_sum = get(kGun, "snapshot." + sha256_hex(repo.snapshot) + ".json");
  EXPECT_EQ(by_sum.status, 200u);
  EXPECT_EQ(by_sum.body, repo.snapshot);
  EXPECT_EQ(get(kGun, "snapshot." + std::string(64, '0') + ".json").status, 404u);
  // Root and targets are stored under the sha256 the (verified) snapshot lists for them.
  for (const auto& [role, bytes] : {std::pair{"root", repo.root}, {"targets", repo.targets}}) {
    auto r = get(kGun, std::string(role) + "." + sha256_hex(bytes) + ".json");
    EXPECT_EQ(r.status, 200u) << role;
    EXPECT_EQ(r.body, bytes) << role;
  }

  // The timestamp is server-signed with the key root names and covers the snapshot.
  auto ts = get(kGun, "timestamp.json");
  ASSERT_EQ(ts.status, 200u);
  auto t = tuf::parse_timestamp(ts.body);
  ASSERT_TRUE(t) << t.error().describe();
  auto r = value_or_raise(tuf::parse_root(repo.root));
  EXPECT_TRUE(tuf::verify_delegate("timestamp", "root", *t, r.signed_.keys,
                                   r.signed_.role(tuf::RoleType::timestamp)));
  EXPECT_TRUE(tuf::verify_length_and_hashes(repo.snapshot, t->signed_.snapshot_meta().length,
                                            t->signed_.snapshot_meta().hashes, tuf::Dialect::notary,
                                            true, "s"));
  EXPECT_EQ(t->signed_.version, 1);
}

TEST_F(TrustServiceTest, ServerManagedSnapshotIsGeneratedAndEmptyUploadResigns) {
  auto repo = init_repo(kGun, true);
  auto snap = get(kGun, "snapshot.json");
  ASSERT_EQ(snap.status, 200u);
  auto s = value_or_raise(tuf::parse_snapshot(snap.body));
  auto r = value_or_raise(tuf::parse_root(repo.root));
  EXPECT_TRUE(tuf::verify_delegate("snapshot", "root", s, r.signed_.keys,
                                   r.signed_.role(tuf::RoleType::snapshot)));
  ASSERT_TRUE(s.signed_.find(tuf::RoleName::targets()));
  EXPECT_TRUE(tuf::verify_length_and_hashes(
      repo.targets, s.signed_.find(tuf::RoleName::targets())->length,
      s.signed_.find(tuf::RoleName::targets())->hashes, tuf::Dialect::notary, true, "t"));
  // Targets-only publish.
  repo.add_target("v1", "hello");
  ASSERT_EQ(publish(kGun, {{"targets", repo.next_targets()}}).status, 200u);
  auto s2 = value_or_raise(tuf::parse_snapshot(get(kGun, "snapshot.json").body));
  EXPECT_EQ(s2.signed_.version, s.signed_.version + 1);
  // docker trust sign of an existing tag sends an empty multipart.
  auto empty = call("POST", "/v2/" + kGun + "/_trust/tuf/", "\r\n--b--\r\n",
                    "multipart/form-data; boundary=b");
  EXPECT_EQ(empty.status, 200u) << empty.body;
  auto s3 = value_or_raise(tuf::parse_snapshot(get(kGun, "snapshot.json").body));
  EXPECT_EQ(s3.signed_.version, s2.signed_.version + 1);
}

TEST_F(TrustServiceTest, RejectsABadSignature) {
  auto repo = init_repo(kGun);
  Key wrong = testing::make_key();
  repo.add_target("v1", "x");
  auto t = testing::sign(repo.targets_signed(++repo.targets_version), {&wrong});
  repo.targets = t;
  auto r = publish(kGun, {{"targets", t}, {"snapshot", repo.next_snapshot()}});
  expect_invalid_update(r, "ErrBadTargets", "valid signatures did not meet threshold for targets");
}

TEST_F(TrustServiceTest, RejectsARootBelowThreshold) {
  Repo repo(kGun);
  repo.timestamp_pub = server_key(kGun, "timestamp");
  repo.root_keys.push_back(testing::make_root_key(kGun));
  repo.root_threshold = 2;
  repo.next_root({&repo.root_keys[0]});  // one of two required signatures
  repo.next_targets();
  auto r = publish(
      kGun, {{"root", repo.root}, {"targets", repo.targets}, {"snapshot", repo.next_snapshot()}});
  expect_invalid_update(r, "ErrBadRoot", "threshold");
}

TEST_F(TrustServiceTest, RejectsAStaleVersionWithVERSION) {
  auto repo = init_repo(kGun);
  repo.add_target("v1", "x");
  ASSERT_EQ(
      publish(kGun, {{"targets", repo.next_targets()}, {"snapshot", repo.next_snapshot()}}).status,
      200u);
  // Same version again, new content.
  repo.add_target("v2", "y");
  --repo.targets_version;
  auto r = publish(kGun, {{"targets", repo.next_targets()}, {"snapshot", repo.next_snapshot()}});
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(
      r.body,
      "{\"errors\":[{\"code\":\"VERSION\",\"message\":\"A newer version of metadata is already "
      "available.\",\"detail\":{}}]}\n");
}

TEST_F(TrustServiceTest, RejectsExpiredMetadata) {
  auto repo = init_repo(kGun);
  auto t = testing::sign(repo.targets_signed(++repo.targets_version, "2020-01-01T00:00:00Z"),
                         {&repo.targets_key});
  repo.targets = t;
  auto r = publish(kGun, {{"targets", t}, {"snapshot", repo.next_snapshot()}});
  expect_invalid_update(r, "ErrBadTargets", "expired");
}

TEST_F(TrustServiceTest, RejectsARootCertificateWhoseCNIsNotTheGun) {
  Repo repo(kGun);
  repo.root_keys = {testing::make_root_key("evil.example.com/other")};
  repo.timestamp_pub = server_key(kGun, "timestamp");
  repo.next_root();
  repo.next_targets();
  auto r = publish(
      kGun, {{"root", repo.root}, {"targets", repo.targets}, {"snapshot", repo.next_snapshot()}});
  expect_invalid_update(r, "ErrBadRoot", "is not the GUN");
}

TEST_F(TrustServiceTest, RejectsANonX509RootKey) {
  Repo repo(kGun);
  repo.root_keys = {testing::make_key()};
  repo.timestamp_pub = server_key(kGun, "timestamp");
  repo.next_root();
  repo.next_targets();
  auto r = publish(
      kGun, {{"root", repo.root}, {"targets", repo.targets}, {"snapshot", repo.next_snapshot()}});
  expect_invalid_update(r, "ErrBadRoot", "x509");
}

TEST_F(TrustServiceTest, DelegationsAreCheckedAgainstTheirParentsPaths) {
  auto repo = init_repo(kGun);
  Key dk = testing::make_key();
  repo.delegations["keys"][dk.id] = dk.pub;
  repo.delegations["roles"] = Json::array({{{"name", "targets/releases"},
                                            {"keyids", {dk.id}},
                                            {"threshold", 1},
                                            {"paths", {"releases/"}}}});
  repo.next_targets();
  ASSERT_EQ(publish(kGun, {{"targets", repo.targets}, {"snapshot", repo.next_snapshot()}}).status,
            200u);

  auto deleg = [&](const std::string& name, std::int64_t v) {
    Json t = Json::object();
    t[name] = testing::meta_of("content");
    return testing::sign({{"_type", "Targets"},
                          {"delegations", {{"keys", Json::object()}, {"roles", Json::array()}}},
                          {"expires", testing::expires_in(std::chrono::hours(1000))},
                          {"targets", t},
                          {"version", v}},
                         {&dk});
  };
  // Inside its paths: accepted (with a snapshot that lists it).
  auto ok = deleg("releases/v1", 1);
  auto r1 = publish(kGun, {{"targets/releases", ok},
                           {"snapshot", repo.next_snapshot({{"targets/releases", ok}})}});
  EXPECT_EQ(r1.status, 200u) << r1.body;
  // Outside: rejected, naming the target and the role.
  auto bad = deleg("other/v1", 2);
  auto r2 = publish(kGun, {{"targets/releases", bad},
                           {"snapshot", repo.next_snapshot({{"targets/releases", bad}})}});
  expect_invalid_update(r2, "ErrBadTargets", "outside the paths delegated to targets/releases");
  // A role the parent does not delegate to.
  auto stray = deleg("releases/v1", 1);
  auto r3 = publish(kGun, {{"targets/stray", stray}});
  expect_invalid_update(r3, "ErrBadTargets", "does not delegate to targets/stray");
  // A snapshot that does not describe the delegation as stored.
  auto ok2 = deleg("releases/v2", 3);
  auto r4 = publish(kGun, {{"targets/releases", ok2},
                           {"snapshot", repo.next_snapshot({{"targets/releases", ok}})}});
  expect_invalid_update(r4, "ErrBadSnapshot", "targets/releases");
}

TEST_F(TrustServiceTest, RejectsMalformedUploads) {
  auto notmp = call("POST", "/v2/" + kGun + "/_trust/tuf/", "x", "text/plain");
  EXPECT_EQ(notmp.status, 400u);
  EXPECT_EQ(notmp.body,
            "{\"errors\":[{\"code\":\"MALFORMED_UPLOAD\",\"message\":\"The body of your request is "
            "malformed.\"}]}\n");
  auto torn = call("POST", "/v2/" + kGun + "/_trust/tuf/",
                   "--B\r\nContent-Disposition: form-data; filename=\"root\"\r\n\r\n{",
                   "multipart/form-data; boundary=B");
  EXPECT_EQ(code(torn), "MALFORMED_UPLOAD");
  auto badrole = publish(kGun, {{"bogus", "{}"}});
  EXPECT_EQ(badrole.body,
            "{\"errors\":[{\"code\":\"INVALID_ROLE\",\"message\":\"The role you are attempting to "
            "operate on is invalid.\",\"detail\":\"bogus\"}]}\n");
  auto badjson = publish(kGun, {{"root", "{not json"}});
  EXPECT_EQ(code(badjson), "MALFORMED_JSON");
  auto nofile = call("POST", "/v2/" + kGun + "/_trust/tuf/",
                     "--B\r\nContent-Disposition: form-data; name=\"files\"\r\n\r\n{}\r\n--B--",
                     "multipart/form-data; boundary=B");
  EXPECT_EQ(code(nofile), "NO_FILENAME");
  auto noroot = publish(kGun, {{"targets", "{\"signed\":{\"version\":1},\"signatures\":[]}"}});
  expect_invalid_update(noroot, "ErrValidation",
                        "no pre-existing root and no root provided in update.");
}

TEST_F(TrustServiceTest, RejectsAnOversizePart) {
  TrustOptions o;
  o.multipart.max_part_bytes = 1024;
  make_service(o);
  auto r = publish(kGun, {{"root", std::string(2000, ' ') + "{}"}});
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(code(r), "MALFORMED_UPLOAD");
  EXPECT_NE(detail(r).get<std::string>().find("max_part_bytes"), std::string::npos);
}

TEST_F(TrustServiceTest, RejectsGunsWithDotDot) {
  for (std::string p : {"/v2/a/../b/_trust/tuf/root.json", "/v2/a/%2E%2E/b/_trust/tuf/",
                        "/v2/../_trust/changefeed"}) {
    auto r = call(p.ends_with("tuf/") ? "POST" : "GET", p);
    EXPECT_EQ(r.status, 400u) << p;
    EXPECT_EQ(code(r), "INVALID_GUN") << p;
  }
}

TEST_F(TrustServiceTest, RootRotationMustBeCrossSigned) {
  auto repo = init_repo(kGun);
  Key old = repo.root_keys[0];
  Key fresh = testing::make_root_key(kGun);
  repo.root_keys = {fresh};
  // Signed by the new key only: the old root's threshold is not met.
  auto lonely = repo.next_root({&fresh});
  auto r1 = publish(kGun, {{"root", lonely}});
  expect_invalid_update(r1, "ErrBadRoot", "previous root");
  // Signed by both: accepted; snapshot must then describe the new root.
  --repo.root_version;
  repo.next_root({&fresh, &old});
  auto r2 = publish(kGun, {{"root", repo.root}, {"snapshot", repo.next_snapshot()}});
  EXPECT_EQ(r2.status, 200u) << r2.body;
  EXPECT_EQ(get(kGun, "2.root.json").body, repo.root);
  // Skipping a version is refused.
  repo.root_version += 1;
  auto r3 = publish(kGun, {{"root", repo.next_root()}, {"snapshot", repo.next_snapshot()}});
  expect_invalid_update(r3, "ErrBadRoot", "increment");
}

TEST_F(TrustServiceTest, KeyRotationCreatesAPendingKeyThatRootActivates) {
  auto k1 = server_key(kGun, "timestamp");
  auto k1again = server_key(kGun, "timestamp");
  EXPECT_EQ(k1, k1again);  // get-or-create is stable
  auto rot = call("POST", "/v2/" + kGun + "/_trust/tuf/timestamp.key");
  ASSERT_EQ(rot.status, 200u);
  auto k2 = testing::public_json(rot.body);
  EXPECT_NE(k1, k2);
  EXPECT_EQ(server_key(kGun, "timestamp"), k2);  // the newest key is offered
}

TEST_F(TrustServiceTest, DeleteRemovesTheRepositoryAndFeedsTheChangefeed) {
  init_repo(kGun);
  auto other = init_repo("localhost:4443/library/other");
  auto del = call("DELETE", "/v2/" + kGun + "/_trust/tuf/");
  EXPECT_EQ(del.status, 200u);
  EXPECT_EQ(get(kGun, "root.json").status, 404u);
  EXPECT_EQ(get(kGun, "1.root.json").status, 404u);
  EXPECT_EQ(get("localhost:4443/library/other", "root.json").status, 200u);

  auto feed = call("GET", "/v2/" + kGun + "/_trust/changefeed", "", "", "change_id=0&records=100");
  ASSERT_EQ(feed.status, 200u) << feed.body;
  auto j = value_or_raise(parse_json(feed.body, "feed", Fault::bug));
  ASSERT_EQ(j["count"], 2);
  EXPECT_EQ(j["records"][0]["Category"], "update");
  EXPECT_EQ(j["records"][0]["Version"], 1);
  EXPECT_EQ(j["records"][1]["Category"], "deletion");
  EXPECT_EQ(j["records"][1]["GUN"], kGun);
  auto all = call("GET", "/v2/_trust/changefeed", "", "", "records=-1");
  auto ja = value_or_raise(parse_json(all.body, "feed", Fault::bug));
  ASSERT_EQ(ja["count"], 1);
  EXPECT_EQ(ja["records"][0]["Category"], "deletion");  // the newest
  auto missing = call("GET", "/v2/_trust/changefeed", "", "", "change_id=0");
  EXPECT_EQ(code(missing), "INVALID_PARAMETERS");
  auto bad = call("GET", "/v2/_trust/changefeed", "", "", "change_id=x&records=1");
  EXPECT_EQ(code(bad), "INVALID_PARAMETERS");
}

TEST_F(TrustServiceTest, StaleTimestampIsResignedOnGet) {
  init_repo(kGun);
  auto t1 = value_or_raise(tuf::parse_timestamp(get(kGun, "timestamp.json").body));
  TrustOptions o;
  o.timestamp_refresh_margin = std::chrono::hours(24 * 30);  // longer than its 14 days
  make_service(o);
  auto t2 = value_or_raise(tuf::parse_timestamp(get(kGun, "timestamp.json").body));
  EXPECT_EQ(t2.signed_.version, t1.signed_.version + 1);
}

TEST_F(TrustServiceTest, RacingPublishersOneWinsTheOthersGetVERSION) {
  auto repo = init_repo(kGun);
  constexpr int kN = 4;
  std::vector<std::string> bodies;
  for (int i = 0; i < kN; ++i) {
    Repo r = repo;
    r.add_target("t" + std::to_string(i), std::to_string(i));
    r.next_targets();
    bodies.push_back(
        build_multipart({{"targets", r.targets}, {"snapshot", r.next_snapshot()}}, "XyZ"));
  }
  std::vector<unsigned> status(kN);
  std::vector<std::string> codes(kN);
  std::vector<std::thread> ts;
  for (int i = 0; i < kN; ++i)
    ts.emplace_back([&, i] {
      auto r = call("POST", "/v2/" + kGun + "/_trust/tuf/", bodies[i],
                    "multipart/form-data; boundary=XyZ");
      status[i] = r.status;
      codes[i] = code(r);
    });
  for (auto& t : ts) t.join();
  int ok = 0;
  for (int i = 0; i < kN; ++i) {
    if (status[i] == 200)
      ++ok;
    else
      EXPECT_EQ(codes[i], "VERSION");
  }
  EXPECT_EQ(ok, 1);
}

TEST_F(TrustServiceTest, UnknownRoutesAndMethodsAre404AndHealthIsUp) {
  EXPECT_EQ(call("GET", "/v2/x/_trust/tuf/bogus.json").status, 404u);
  EXPECT_EQ(call("PUT", "/v2/x/_trust/tuf/root.json").status, 404u);
  EXPECT_EQ(call("GET", "/nothing").status, 404u);
  auto h = call("GET", "/_notary_server/health");
  EXPECT_EQ(h.status, 200u);
  EXPECT_EQ(h.body, "{}");
  auto ping = call("GET", "/v2/");
  EXPECT_EQ(ping.body, "{}");
  auto m = call("GET", "/metrics");
  EXPECT_NE(m.body.find("docket_trust_publishes_total"), std::string::npos);
}

TEST_F(TrustServiceTest, PartsNeedJsonWithAnIntegerSignedVersion) {
  // Each of these is Notary's MALFORMED_JSON (checked by the one strict parse of each part,
  // before validation; the document is then handed to validation).
  for (const std::string& bad : std::vector<std::string>{
           "{not json", "[]", "{}", "{\"signed\":[]}", "{\"signed\":{}}",
           "{\"signed\":{\"version\":3},\"signed\":{\"version\":4}}",
           "{\"signed\":{\"version\":\"3\"}}", "{\"signed\":{\"version\":3.5}}",
           "{\"signed\":{\"x\":{\"version\":3}}}", "{\"a\":{\"signed\":{\"version\":3}}}",
           "{\"signed\":{\"version\":3}} trailing", std::string(100, '[') + std::string(100, ']'),
           "{\"signed\":{\"version\":3}"}) {
    auto r = publish(kGun, {{"targets", bad}});
    EXPECT_EQ(code(r), "MALFORMED_JSON") << bad << " -> " << r.body;
  }
  // Well-formed with an integer version: past the probe, rejected by validation instead.
  for (const std::string& ok : std::vector<std::string>{
           "{\"signed\":{\"version\":3}}",
           "{\"signatures\":[],\"signed\":{\"a\":{\"b\":[1,{\"version\":\"x\"}]},"
           "\"version\":-1}}"}) {
    auto r = publish(kGun, {{"targets", ok}});
    EXPECT_NE(code(r), "MALFORMED_JSON") << ok << " -> " << r.body;
    EXPECT_EQ(r.status, 400u) << r.body;
  }
}

TEST_F(TrustServiceTest, MetricsCountPublishesAndSignerCalls) {
  auto value = [&](const std::string& series) -> long {
    auto m = call("GET", "/metrics").body;
    auto at = m.find("\n" + series + " ");
    if (at == std::string::npos) return -1;
    return std::stol(m.substr(at + series.size() + 2));
  };
  EXPECT_EQ(value("docket_trust_publish_duration_seconds_count"), 0);
  EXPECT_EQ(value("docket_trust_signer_calls_total{op=\"sign\",result=\"ok\"}"), 0);
  init_repo(kGun);
  // One publish (init_repo), one signature (the server's timestamp), one key created.
  EXPECT_EQ(value("docket_trust_publish_duration_seconds_count"), 1);
  EXPECT_EQ(value("docket_trust_publish_duration_seconds_bucket{le=\"+Inf\"}"), 1);
  EXPECT_EQ(value("docket_trust_signer_calls_total{op=\"sign\",result=\"ok\"}"), 1);
  EXPECT_EQ(value("docket_trust_signer_calls_total{op=\"create_key\",result=\"ok\"}"), 1);
  EXPECT_EQ(value("docket_trust_signer_call_duration_seconds_count{op=\"sign\"}"), 1);
  // A rejected publish is timed too; it signs nothing.
  auto bad = publish(kGun, {{"targets", "{}"}});
  EXPECT_EQ(bad.status, 400u);
  EXPECT_EQ(value("docket_trust_publish_duration_seconds_count"), 2);
  EXPECT_EQ(value("docket_trust_signer_calls_total{op=\"sign\",result=\"ok\"}"), 1);
  EXPECT_EQ(value("docket_trust_signer_calls_total{op=\"sign\",result=\"error\"}"), 0);
}

TEST(AccessFor, NotaryScopes) {
  EXPECT_EQ(access_for("GET", "/v2/g/_trust/tuf/root.json").actions,
            std::vector<std::string>{"pull"});
  EXPECT_EQ(access_for("POST", "/v2/g/_trust/tuf/").actions,
            (std::vector<std::string>{"push", "pull"}));
  EXPECT_EQ(access_for("DELETE", "/v2/g/_trust/tuf/").actions, std::vector<std::string>{"*"});
  EXPECT_EQ(access_for("POST", "/v2/g/_trust/tuf/timestamp.key").actions,
            std::vector<std::string>{"*"});
  EXPECT_EQ(access_for("GET", "/v2/g/_trust/tuf/timestamp.key").actions,
            (std::vector<std::string>{"push", "pull"}));
  EXPECT_EQ(access_for("GET", "/v2/_trust/changefeed").kind, AccessNeed::catalog);
  EXPECT_EQ(access_for("GET", "/_notary_server/health").kind, AccessNeed::none);
}

}  // namespace
}  // namespace docket::trustserver
