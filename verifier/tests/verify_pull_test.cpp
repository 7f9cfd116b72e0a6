// Verify on pull against a loopback server that is both registry and Notary-protocol trust
// server, its metadata generated and signed by the TUF simulator (Notary dialect).
#include <gtest/gtest.h>

#include <mutex>

#include "client/tests/image_builder.h"
#include "client/tests/test_util.h"
#include "client/transfer.h"
#include "common/digest.h"
#include "common/file.h"
#include "net/testing/loopback_server.h"
#include "net/testing/tls_testing.h"
#include "tuf/simulator.h"
#include "verifier/trust.h"

using namespace docket;
using namespace docket::client;
namespace fs = std::filesystem;
using net::testing::LoopbackServer;

namespace {

struct Peer {
  std::mutex mu;
  std::map<std::string, std::string> manifests;  // tag or digest → bytes
  std::map<std::string, std::string> blobs;
  std::unique_ptr<tuf::Simulator> sim;
  std::string gun;
  std::unique_ptr<LoopbackServer> srv;
  // Earlier snapshot/targets bytes still served by checksum; a hook called (under mu) after
  // each trust file is served; whether targets are served with one bit flipped.
  std::vector<std::string> history;
  std::function<void(const std::string& file)> after_serve;
  bool tamper_targets = false;

  // tls: serve HTTPS; root_cn: the root certificate's CN (default: the GUN).
  explicit Peer(std::optional<net::testing::ServerTls> tls = std::nullopt,
                std::optional<std::string> root_cn = std::nullopt) {
    auto handler = [this](LoopbackServer::Connection& c) {
      while (auto req = c.read_request()) {
        std::lock_guard l(mu);
        const std::string& t = req->target;
        const std::string trust = "/v2/" + gun + "/_trust/tuf/";
        if (t.starts_with(trust)) {
          std::string file = t.substr(trust.size());
          auto body = sim ? sim->serve_metadata(file) : std::nullopt;
          // The current snapshot and targets under their plain names too, as notary-server
          // and docket-server serve them; earlier ones by checksum from `history`.
          for (const char* role : {"snapshot", "targets"})
            if (sim && file == std::string(role) + ".json" && sim->published.count(role))
              body = sim->published.at(role);
          for (const auto& old : history)
            if (!body && (file == "snapshot." + sha256_hex(old) + ".json" ||
                          file == "targets." + sha256_hex(old) + ".json"))
              body = old;
          if (body && tamper_targets && file.starts_with("targets."))
            (*body)[body->size() / 2] ^= 1;
          if (body)
            c.respond(200, {{"Content-Type", "application/json"}}, *body);
          else
            c.respond(404, {}, R"({"errors":[{"code":"METADATA_NOT_FOUND"}]})");
          if (after_serve) after_serve(file);
          continue;
        }
        const std::string mp = "/v2/app/manifests/", bp = "/v2/app/blobs/";
        if (t.starts_with(mp) && manifests.count(t.substr(mp.size())))
          c.respond(200, {{"Content-Type", std::string(media::kOciManifest)}},
                    manifests[t.substr(mp.size())]);
        else if (t.starts_with(bp) && blobs.count(t.substr(bp.size())))
          c.respond(200, {}, blobs[t.substr(bp.size())]);
        else
          c.respond(404, {}, R"({"errors":[{"code":"NOT_FOUND"}]})");
      }
    };
    srv = tls ? std::make_unique<LoopbackServer>(handler, *tls)
              : std::make_unique<LoopbackServer>(handler);
    gun = domain() + "/app";
    tuf::Simulator::Options o;
    o.dialect = tuf::Dialect::notary;
    o.algorithm = keys::Algorithm::ecdsa_p256;
    o.root_certificate_cn = root_cn.value_or(gun);
    sim = std::make_unique<tuf::Simulator>(o);
  }
  std::string domain() const { return "127.0.0.1:" + std::to_string(srv->port()); }
  void publish_image(ImageStore& s, const test::BuiltImage& img, const std::string& tag) {
    std::lock_guard l(mu);
    auto mb = *s.read_blob(img.manifest.digest, 1 << 20);
    manifests[tag] = mb;
    manifests[img.manifest.digest.str()] = mb;
    for (const auto& d : img.layers) blobs[d.digest.str()] = *s.read_blob(d.digest, 1 << 24);
    blobs[img.config.digest.str()] = *s.read_blob(img.config.digest, 1 << 24);
  }
  void sign(ImageStore& s, const test::BuiltImage& img, const std::string& tag) {
    std::lock_guard l(mu);
    sim->add_target("targets", tag, *s.read_blob(img.manifest.digest, 1 << 20));
    sim->bump_targets();
    sim->publish();
  }
};

Reference R(const std::string& s) {
  return value_or_raise(Reference::parse(s));
}

std::shared_ptr<RegistryClient> client_for(const std::string& domain) {
  RegistryOptions o;
  o.insecure_http = true;
  return value_or_raise(RegistryClient::create(domain, std::nullopt, o));
}

// The verified pull as `docket pull` does it with content trust on.
Result<PullResult> verified_pull(Peer& p, ImageStore& dst, const std::string& tag,
                                 const verifier::TrustConfig& cfg,
                                 std::vector<std::string>* warnings = nullptr) {
  Reference ref = R(p.domain() + "/app:" + tag);
  auto t = verifier::resolve_trusted(ref, cfg, [&](const std::string& w) {
    if (warnings) warnings->push_back(w);
  });
  if (!t) return std::unexpected(t.error());
  PullOptions o;
  o.trusted = t->descriptor;
  return pull_image(*client_for(p.domain()), dst, ref, o);
}

}  // namespace

TEST(VerifyOnPull, SignedTagPullsUnsignedAndTamperedAreRefused) {
  Peer p;
  test::TempDir d;
  auto s = *ImageStore::open(d.path / "s");
  auto img = test::build_image(s, 2, 4000);
  auto other = test::build_image(s, 1, 4000);
  p.publish_image(s, img, "1");
  p.publish_image(s, other, "unsigned");
  p.sign(s, img, "1");
  verifier::TrustConfig cfg{"http://" + p.domain(), d.path / "trust", {}, {}};

  auto dst = *ImageStore::open(d.path / "d");
  std::vector<std::string> warnings;
  auto ok = verified_pull(p, dst, "1", cfg, &warnings);
  ASSERT_TRUE(ok) << ok.error().describe();
  EXPECT_EQ(ok->target.digest, img.manifest.digest);
  ASSERT_EQ(warnings.size(), 1u);  // trust on first use says so
  EXPECT_NE(warnings[0].find("first use"), std::string::npos);
  // The cache holds exactly the bytes served (root.json written on its own thread, waited
  // for before the answer), under Notary's names, and no temp file is left.
  {
    fs::path meta = d.path / "trust" / "tuf" / p.gun / "metadata";
    std::lock_guard l(p.mu);
    EXPECT_EQ(read_file(meta / "root.json").value_or(""), p.sim->signed_roots.back());
    for (const char* role : {"timestamp", "snapshot", "targets"}) {
      ASSERT_TRUE(p.sim->published.count(role)) << role;
      EXPECT_EQ(read_file(meta / (std::string(role) + ".json")).value_or(""),
                p.sim->published.at(role))
          << role;
    }
    for (const auto& e : fs::directory_iterator(meta))
      EXPECT_FALSE(e.path().filename().string().starts_with(".")) << e.path();
  }

  auto unsigned_tag = verified_pull(p, dst, "unsigned", cfg);
  ASSERT_FALSE(unsigned_tag);
  EXPECT_EQ(unsigned_tag.error().code, "not_signed");
  EXPECT_FALSE(*dst.resolve(R(p.domain() + "/app:unsigned")));

  // The registry now serves another manifest for the signed tag (and by its digest).
  {
    std::lock_guard l(p.mu);
    p.manifests["1"] = p.manifests[other.manifest.digest.str()];
    p.manifests[img.manifest.digest.str()] = p.manifests[other.manifest.digest.str()];
  }
  auto dst2 = *ImageStore::open(d.path / "d2");
  auto swapped = verified_pull(p, dst2, "1", cfg);
  ASSERT_FALSE(swapped);
  EXPECT_EQ(swapped.error().code, "hash_mismatch");
  EXPECT_TRUE(dst2.list()->empty());

  // The right manifest again, but one layer's bytes swapped (same length): the blob fails
  // its digest while streaming, nothing is tagged and no blob lands under that digest.
  {
    std::lock_guard l(p.mu);
    p.manifests["1"] = p.manifests[img.manifest.digest.str()] =
        *s.read_blob(img.manifest.digest, 1 << 20);
    std::string& layer = p.blobs[img.layers[1].digest.str()];
    for (auto& ch : layer) ch = static_cast<char>(ch ^ 0x5a);
  }
  auto dst3 = *ImageStore::open(d.path / "d3");
  auto bad_blob = verified_pull(p, dst3, "1", cfg);
  ASSERT_FALSE(bad_blob);
  EXPECT_EQ(bad_blob.error().code, "hash_mismatch") << bad_blob.error().describe();
  EXPECT_NE(bad_blob.error().message.find(img.layers[1].digest.hex().substr(0, 12)),
            std::string::npos)
      << bad_blob.error().message;
  EXPECT_TRUE(dst3.list()->empty());
  EXPECT_FALSE(dst3.has_blob(img.layers[1].digest));
  EXPECT_FALSE(dst3.has_blob(img.manifest.digest));
}

TEST(VerifyOnPull, ReplayedTimestampExpiryAndPinsAreRefused) {
  Peer p;
  test::TempDir d;
  auto s = *ImageStore::open(d.path / "s");
  auto img = test::build_image(s, 1, 1000);
  p.publish_image(s, img, "1");
  p.sign(s, img, "1");
  std::string old_timestamp = p.sim->published.at("timestamp");
  p.sign(s, img, "2");  // newer timestamp, snapshot and targets
  p.publish_image(s, img, "2");
  verifier::TrustConfig cfg{"http://" + p.domain(), d.path / "trust", {}, {}};
  auto dst = *ImageStore::open(d.path / "d");
  ASSERT_TRUE(verified_pull(p, dst, "2", cfg));

  // A trust server replaying the older timestamp is refused as a rollback.
  {
    std::lock_guard l(p.mu);
    p.sim->overrides["timestamp.json"] = old_timestamp;
  }
  auto replay = verified_pull(p, dst, "1", cfg);
  ASSERT_FALSE(replay);
  EXPECT_EQ(replay.error().code, "rollback") << replay.error().describe();
  {
    std::lock_guard l(p.mu);
    p.sim->overrides.clear();
  }

  // Stale metadata: with the clock 30 days on, the timestamp has expired.
  verifier::TrustConfig later = cfg;
  later.clock = [] { return std::chrono::system_clock::now() + std::chrono::hours(24 * 30); };
  auto expired = verified_pull(p, dst, "1", later);
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.error().code, "expired") << expired.error().describe();

  // A pinned root key that does not sign the served root: refused on first use.
  fs::create_directories(d.path / "pinned");
  ASSERT_TRUE(
      atomic_write_file(d.path / "pinned" / "trust_pinning.json",
                        R"({"certs": {")" + p.gun + R"(": [")" + std::string(64, 'a') + R"("]}})"));
  verifier::TrustConfig pinned{"http://" + p.domain(), d.path / "pinned", {}, {}};
  auto pin = verified_pull(p, dst, "1", pinned);
  ASSERT_FALSE(pin);
  EXPECT_EQ(pin.error().code, "pin_mismatch");
  EXPECT_FALSE(fs::exists(d.path / "pinned" / "tuf" / p.gun / "metadata" / "root.json"));
}

// Docker's preference: targets/releases first, then targets; a tag only another delegation
// signed is not trusted. Delegations are cached where notary keeps them.
TEST(VerifyOnPull, ReleasesIsPreferredAndOtherDelegationsAreNotTrusted) {
  Peer p;
  test::TempDir d;
  auto s = *ImageStore::open(d.path / "s");
  auto a = test::build_image(s, 1, 1000), b = test::build_image(s, 1, 1001),
       c = test::build_image(s, 1, 1002);
  for (const auto* img : {&a, &b, &c}) p.publish_image(s, *img, img->manifest.digest.hex());
  auto manifest = [&](const test::BuiltImage& i) {
    return *s.read_blob(i.manifest.digest, 1 << 20);
  };
  {
    std::lock_guard l(p.mu);
    // "alice" is listed before "releases" in targets, so TUF's plain pre-order search alone
    // would find alice's signature first.
    p.sim->add_delegation("targets", "targets/alice", {""});
    p.sim->add_delegation("targets", "targets/releases", {""});
    p.sim->add_target("targets", "both", manifest(a));
    p.sim->add_target("targets/releases", "both", manifest(b));
    p.sim->add_target("targets/alice", "both", manifest(c));
    p.sim->add_target("targets", "top", manifest(a));
    p.sim->add_target("targets/alice", "top", manifest(c));
    p.sim->add_target("targets/alice", "alice-only", manifest(c));
    p.sim->add_target("targets/releases", "released", manifest(b));
    p.sim->bump_targets("targets/alice");
    p.sim->bump_targets("targets/releases");
    p.sim->bump_targets("targets");
    p.sim->publish();
  }
  verifier::TrustConfig cfg{"http://" + p.domain(), d.path / "trust", {}, {}};
  auto resolve = [&](const std::string& tag) {
    return verifier::resolve_trusted(R(p.domain() + "/app:" + tag), cfg, {});
  };
  auto both = resolve("both");
  ASSERT_TRUE(both) << both.error().describe();
  EXPECT_EQ(both->descriptor.digest, b.manifest.digest);
  EXPECT_EQ(both->role, "targets/releases");
  auto top = resolve("top");
  ASSERT_TRUE(top) << top.error().describe();
  EXPECT_EQ(top->descriptor.digest, a.manifest.digest);
  EXPECT_EQ(top->role, "targets");
  auto released = resolve("released");
  ASSERT_TRUE(released) << released.error().describe();
  EXPECT_EQ(released->descriptor.digest, b.manifest.digest);
  auto alice = resolve("alice-only");
  ASSERT_FALSE(alice);
  EXPECT_EQ(alice.error().code, "not_signed");
  EXPECT_NE(alice.error().message.find("targets/alice"), std::string::npos)
      << alice.error().message;

  fs::path meta = d.path / "trust" / "tuf" / p.gun / "metadata";
  EXPECT_TRUE(fs::is_regular_file(meta / "targets" / "releases.json"));
  EXPECT_TRUE(fs::is_regular_file(meta / "targets" / "alice.json"));
  EXPECT_TRUE(fs::is_regular_file(meta / "targets.json"));
  EXPECT_TRUE(fs::is_regular_file(meta / "snapshot.json"));
  EXPECT_FALSE(fs::exists(meta / "targets%2Freleases.json"));
}

// Notary's root checks: a root whose certificate names another repository is refused before
// anything is cached.
TEST(VerifyOnPull, RootCertificateForAnotherRepositoryIsRefused) {
  Peer p(std::nullopt, "127.0.0.1/someone-else");
  test::TempDir d;
  auto s = *ImageStore::open(d.path / "s");
  auto img = test::build_image(s, 1, 1000);
  p.publish_image(s, img, "1");
  p.sign(s, img, "1");
  verifier::TrustConfig cfg{"http://" + p.domain(), d.path / "trust", {}, {}};
  auto dst = *ImageStore::open(d.path / "d");
  auto r = verified_pull(p, dst, "1", cfg);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "bad_root_certificate") << r.error().describe();
  EXPECT_NE(r.error().message.find("someone-else"), std::string::npos);
  EXPECT_FALSE(fs::exists(d.path / "trust" / "tuf" / p.gun / "metadata" / "root.json"));
  EXPECT_TRUE(dst.list()->empty());
}

// An HTTPS trust server is trusted through $DOCKER_CONFIG/tls/<host:port>/ca.crt (docker's
// place for a notary CA) or /etc/docker/certs.d/<host:port>/, never without a CA.
TEST(VerifyOnPull, TrustServerCaFromCertsDirectories) {
  test::TempDir d;
  auto pki = net::testing::make_test_pki(d.path / "pki");
  ASSERT_TRUE(pki) << pki.error().describe();
  Peer p(net::testing::ServerTls{pki->server_cert, pki->server_key, std::nullopt});
  auto s = *ImageStore::open(d.path / "s");
  auto img = test::build_image(s, 1, 1000);
  p.publish_image(s, img, "1");
  p.sign(s, img, "1");
  Reference ref = R(p.domain() + "/app:1");

  verifier::TrustConfig cfg{"https://" + p.domain(), d.path / "trust", {d.path / "none"}, {}};
  auto no_ca = verifier::resolve_trusted(ref, cfg, {});
  ASSERT_FALSE(no_ca);
  EXPECT_EQ(no_ca.error().code, "network") << no_ca.error().describe();

  fs::create_directories(d.path / "second" / p.domain());
  fs::copy_file(pki->ca_cert, d.path / "second" / p.domain() / "ca.crt");
  cfg.certs_dirs = {d.path / "first", d.path / "second"};
  auto ok = verifier::resolve_trusted(ref, cfg, {});
  ASSERT_TRUE(ok) << ok.error().describe();
  EXPECT_EQ(ok->descriptor.digest, img.manifest.digest);

  // The environment picks the server and the directories as docker does.
  ::setenv("DOCKER_CONFIG", (d.path / "dockercfg").c_str(), 1);
  ::setenv("DOCKER_CONTENT_TRUST_SERVER", ("https://" + p.domain() + "/").c_str(), 1);
  auto env_cfg = verifier::trust_config_for(R("registry.example:5000/team/app:1"));
  ::unsetenv("DOCKER_CONTENT_TRUST_SERVER");
  EXPECT_EQ(env_cfg.server_url, "https://" + p.domain());
  ASSERT_FALSE(env_cfg.certs_dirs.empty());
  EXPECT_EQ(env_cfg.certs_dirs[0], d.path / "dockercfg" / "tls");
  EXPECT_EQ(env_cfg.trust_dir, d.path / "dockercfg" / "trust");
  fs::create_directories(d.path / "dockercfg" / "tls" / p.domain());
  fs::copy_file(pki->ca_cert, d.path / "dockercfg" / "tls" / p.domain() / "ca.crt");
  auto via_env = verifier::resolve_trusted(ref, env_cfg, {});
  ::unsetenv("DOCKER_CONFIG");
  ASSERT_TRUE(via_env) << via_env.error().describe();
  EXPECT_EQ(via_env->descriptor.digest, img.manifest.digest);
  auto default_server = verifier::trust_config_for(R("registry.example:5000/team/app:1"));
  EXPECT_EQ(default_server.server_url, "https://registry.example:5000");
}

// ---- pipelined first-use lookups (verifier/trust.cpp, tuf::SendFetcher::prefetch) ----

namespace {

// DOCKET_TRUST_PIPELINE for the life of the object.
struct PipelineSwitch {
  explicit PipelineSwitch(bool on) {
    if (on)
      ::unsetenv("DOCKET_TRUST_PIPELINE");
    else
      ::setenv("DOCKET_TRUST_PIPELINE", "0", 1);
  }
  ~PipelineSwitch() { ::unsetenv("DOCKET_TRUST_PIPELINE"); }
};

// The trust files the server was asked for, in order, from request `from` on.
std::vector<std::string> trust_requests(const Peer& p, std::size_t from = 0) {
  std::vector<std::string> out;
  const std::string trust = "/v2/" + p.gun + "/_trust/tuf/";
  auto all = p.srv->requests();
  for (std::size_t i = from; i < all.size(); ++i)
    if (all[i].target.starts_with(trust)) out.push_back(all[i].target.substr(trust.size()));
  return out;
}

struct SignedPeer {
  Peer p;
  test::TempDir d;
  ImageStore s = *ImageStore::open(d.path / "s");
  test::BuiltImage img = test::build_image(s, 1, 1000);
  SignedPeer() {
    p.publish_image(s, img, "1");
    p.sign(s, img, "1");
  }
  verifier::TrustConfig cfg(const std::string& trust_dir) {
    return verifier::TrustConfig{"http://" + p.domain(), d.path / trust_dir, {}, {}};
  }
  Result<verifier::TrustedTarget> lookup(const std::string& trust_dir, const std::string& tag = "1",
                                         const std::string& repo = "app") {
    return verifier::resolve_trusted(R(p.domain() + "/" + repo + ":" + tag), cfg(trust_dir), {});
  }
};

}  // namespace

// A cold lookup sends its four requests pipelined; the updater's checksum names are served
// from the plain files' bytes (same sha256): as many requests as without pipelining, and
// the same answer.
TEST(PipelinedLookup, FirstUseMakesNoMoreRequestsAndGivesTheSameAnswer) {
  SignedPeer sp;
  std::string snap_hex, targets_hex;
  {
    std::lock_guard l(sp.p.mu);
    snap_hex = sha256_hex(sp.p.sim->published.at("snapshot"));
    targets_hex = sha256_hex(sp.p.sim->published.at("targets"));
  }
  std::size_t before = sp.p.srv->requests().size();
  Result<verifier::TrustedTarget> plain = make_error(Fault::bug, "bug", "unset");
  {
    PipelineSwitch off(false);
    plain = sp.lookup("trust-off");
  }
  ASSERT_TRUE(plain) << plain.error().describe();
  auto sequential = trust_requests(sp.p, before);
  EXPECT_EQ(sequential, (std::vector<std::string>{"root.json", "timestamp.json",
                                                  "snapshot." + snap_hex + ".json",
                                                  "targets." + targets_hex + ".json"}));
  before = sp.p.srv->requests().size();
  int conns = sp.p.srv->connections_accepted();
  PipelineSwitch on(true);
  auto piped = sp.lookup("trust-on");
  ASSERT_TRUE(piped) << piped.error().describe();
  EXPECT_EQ(piped->descriptor.digest, plain->descriptor.digest);
  EXPECT_EQ(piped->descriptor.size, plain->descriptor.size);
  EXPECT_EQ(piped->role, plain->role);
  EXPECT_EQ(
      trust_requests(sp.p, before),
      (std::vector<std::string>{"root.json", "timestamp.json", "snapshot.json", "targets.json"}));
  EXPECT_EQ(sp.p.srv->connections_accepted(), conns + 1);
  // The cache holds what was verified, under the same names either way.
  for (const char* f : {"root.json", "timestamp.json", "snapshot.json", "targets.json"}) {
    auto rel = fs::path("tuf") / sp.p.gun / "metadata" / f;
    EXPECT_EQ(read_file(sp.d.path / "trust-on" / rel).value_or("on"),
              read_file(sp.d.path / "trust-off" / rel).value_or("off"))
        << f;
  }
  // A warm lookup prefetches nothing: only the timestamp (the rest is current).
  before = sp.p.srv->requests().size();
  ASSERT_TRUE(sp.lookup("trust-on"));
  EXPECT_EQ(trust_requests(sp.p, before), std::vector<std::string>{"timestamp.json"});
}

// A publish between the prefetch of the timestamp and that of snapshot/targets: the plain
// files no longer hash to what the timestamp names, so they are not used and the checksum
// URLs are fetched; the answer is the one the timestamp vouches for.
TEST(PipelinedLookup, RepositoryChangedDuringThePrefetchIsFetchedByChecksum) {
  SignedPeer sp;
  auto img2 = test::build_image(sp.s, 1, 1200);
  sp.p.publish_image(sp.s, img2, "2");
  std::string old_snap_hex, old_targets_hex;
  bool fired = false;
  {
    std::lock_guard l(sp.p.mu);
    old_snap_hex = sha256_hex(sp.p.sim->published.at("snapshot"));
    old_targets_hex = sha256_hex(sp.p.sim->published.at("targets"));
    sp.p.after_serve = [&](const std::string& file) {
      if (file != "timestamp.json" || fired) return;
      fired = true;
      sp.p.history.push_back(sp.p.sim->published.at("snapshot"));
      sp.p.history.push_back(sp.p.sim->published.at("targets"));
      sp.p.sim->add_target("targets", "2", *sp.s.read_blob(img2.manifest.digest, 1 << 20));
      sp.p.sim->bump_targets();
      sp.p.sim->publish();
    };
  }
  std::size_t before = sp.p.srv->requests().size();
  PipelineSwitch on(true);
  auto r = sp.lookup("trust", "1");
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_TRUE(fired);
  EXPECT_EQ(r->descriptor.digest, sp.img.manifest.digest);
  EXPECT_EQ(trust_requests(sp.p, before),
            (std::vector<std::string>{"root.json", "timestamp.json", "snapshot.json",
                                      "targets.json", "snapshot." + old_snap_hex + ".json",
                                      "targets." + old_targets_hex + ".json"}));
  // The cached snapshot is the one the cached timestamp names, not the newer plain file.
  auto cached =
      read_file(sp.d.path / "trust" / "tuf" / sp.p.gun / "metadata" / "snapshot.json").value_or("");
  EXPECT_EQ(sha256_hex(cached), old_snap_hex);
}

// Tampered targets (plain and by checksum), an unsigned repository, a tag that is not
// signed: the same error, word for word, with and without pipelining.
TEST(PipelinedLookup, FailuresAreTheSameErrorsAsWithoutPipelining) {
  SignedPeer sp;
  auto both = [&](const std::string& name, auto&& run) {
    Result<verifier::TrustedTarget> off = make_error(Fault::bug, "bug", "unset");
    {
      PipelineSwitch sw(false);
      off = run(name + "-off");
    }
    PipelineSwitch sw(true);
    auto on = run(name + "-on");
    if (off || on) {
      ADD_FAILURE() << name << ": a lookup succeeded";
      return Error{};
    }
    EXPECT_EQ(on.error().describe(), off.error().describe()) << name;
    return on.error();
  };
  auto never_signed =
      both("nosuch", [&](const std::string& dir) { return sp.lookup(dir, "1", "nosuch"); });
  EXPECT_EQ(never_signed.code, "not_signed") << never_signed.describe();
  auto unsigned_tag = both("tag", [&](const std::string& dir) { return sp.lookup(dir, "nope"); });
  EXPECT_EQ(unsigned_tag.code, "not_signed") << unsigned_tag.describe();
  {
    std::lock_guard l(sp.p.mu);
    sp.p.tamper_targets = true;
  }
  auto tampered = both("tampered", [&](const std::string& dir) { return sp.lookup(dir); });
  EXPECT_EQ(tampered.code, "hash_mismatch") << tampered.describe();
  EXPECT_NE(tampered.message.find("targets"), std::string::npos) << tampered.describe();
  // Nothing past the refused file was cached.
  EXPECT_FALSE(
      fs::exists(sp.d.path / "tampered-on" / "tuf" / sp.p.gun / "metadata" / "targets.json"));
}
