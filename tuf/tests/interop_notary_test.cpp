// Interop with Debian's Notary 0.7: metadata the editor writes is accepted by the real
// notary-server and read by the real notary CLI; what the real CLI publishes (delegations
// and root rotations included) is read back by our updater in Notary fetch mode.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/digest.h"
#include "common/encoding.h"
#include "common/file.h"
#include "keys/pem.h"
#include "tuf/changelist.h"
#include "tuf/editor.h"
#include "tuf/fetcher.h"
#include "tuf/repo_publish.h"
#include "tuf/repo_store.h"
#include "tuf/store.h"
#include "tuf/tests/notary_harness.h"
#include "tuf/updater.h"

namespace docket::tuf {
namespace {
namespace fs = std::filesystem;
using docket::testing::NotaryServer;
using keys::Dialect;
using keys::PrivateKey;
using keys::PublicKey;

// Fetches through the harness's client, which trusts the test CA.
class HarnessFetcher : public Fetcher {
 public:
  explicit HarnessFetcher(net::HttpClient c) : client_(std::move(c)) {}
  Result<std::string> fetch(const std::string& url, std::size_t max_bytes) override {
    net::HttpRequest req;
    req.url = url;
    req.max_body_bytes = max_bytes;
    auto r = client_.send(req);
    if (!r) return std::unexpected(r.error());
    if (r->status == 200) return std::move(r->body);
    if (r->status == 404) return make_error(Fault::remote, "not_found", "GET " + url + ": 404");
    return make_error(Fault::remote, "http_status",
                      "GET " + url + ": " + std::to_string(r->status));
  }

 private:
  net::HttpClient client_;
};

class NotaryInterop : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = NotaryServer::start();
    if (!server_) GTEST_SKIP() << NotaryServer::skip_reason();
    http_.emplace(server_->http());
    work_ = server_->dir() / "work";
    fs::create_directories(work_);
  }

  // GET /v2/<gun>/_trust/tuf/<role>.key: the server-held key for timestamp or snapshot.
  PublicKey server_key(const std::string& gun, const std::string& role) {
    auto k = fetch_server_key(*http_, server_->url(), gun, role);
    EXPECT_TRUE(k.has_value()) << k.error().describe();
    return *k;
  }

  // POSTs signed roles the way Notary's client does.
  Status publish(const std::string& gun, const std::vector<SignedRole>& roles) {
    return publish_to_notary(*http_, server_->url(), gun, roles);
  }

  fs::path write(const std::string& name, const std::string& content) {
    fs::path p = work_ / name;
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }

  std::unique_ptr<NotaryServer> server_;
  std::optional<net::HttpClient> http_;
  fs::path work_;
};

PrivateKey gen() {
  return *PrivateKey::generate(keys::Algorithm::ecdsa_p256);
}

TEST_F(NotaryInterop, EditorRepositoryIsAcceptedAndReadByNotaryCli) {
  const std::string gun = "docket.test/library/editor";
  MemoryKeyRing ring;
  PrivateKey root = gen(), targets = gen(), snapshot = gen(), releases = gen();
  for (auto* k : {&root, &targets, &snapshot, &releases}) ring.add(*k);
  CreateOptions o;
  o.gun = gun;
  o.root.keys = {*make_root_certificate(root, gun)};
  o.targets.keys = {targets.public_key()};
  o.snapshot.keys = {snapshot.public_key()};
  o.timestamp.keys = {server_key(gun, "timestamp")};
  auto e = Editor::create(o, ring);
  ASSERT_TRUE(e.has_value()) << e.error().describe();
  const std::string v1 = "release one\n", rel = "from the releases delegation\n";
  ASSERT_TRUE(e->add_target("targets", "v1", make_target_file(Dialect::notary, v1)).has_value());
  ASSERT_TRUE(e->add_delegation({"targets/releases", "targets", {releases.public_key()}, 1, {""}})
                  .has_value());
  ASSERT_TRUE(e->add_target("targets/releases", "rel-1", make_target_file(Dialect::notary, rel))
                  .has_value());
  auto signed_roles = e->sign();
  ASSERT_TRUE(signed_roles.has_value()) << signed_roles.error().describe();
  auto published = publish(gun, *signed_roles);
  ASSERT_TRUE(published.has_value()) << published.error().describe() << "\n" << server_->log();

  fs::path trust = work_ / "cli-trust";
  auto list = server_->cli(trust, {"list", gun});
  ASSERT_EQ(list.exit_code, 0) << list.output;
  EXPECT_NE(list.output.find("v1"), std::string::npos) << list.output;
  EXPECT_NE(list.output.find(sha256_hex(v1)), std::string::npos) << list.output;
  EXPECT_NE(list.output.find("rel-1"), std::string::npos) << list.output;
  EXPECT_NE(list.output.find("targets/releases"), std::string::npos) << list.output;

  auto lookup = server_->cli(trust, {"lookup", gun, "rel-1"});
  ASSERT_EQ(lookup.exit_code, 0) << lookup.output;
  EXPECT_NE(lookup.output.find("sha256:" + sha256_hex(rel)), std::string::npos) << lookup.output;
  EXPECT_NE(lookup.output.find(std::to_string(rel.size())), std::string::npos);

  auto verify = server_->cli(trust, {"verify", gun, "v1"}, v1);
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
  EXPECT_NE(verify.output.find(v1), std::string::npos) << verify.output;
  auto tampered = server_->cli(trust, {"verify", gun, "v1"}, "release 0ne\n");
  EXPECT_NE(tampered.exit_code, 0) << tampered.output;

  // Second publish: a cross-signed root rotation to two new root certificates (threshold
  // 2), a targets threshold of 2, and a new target. The CLI's trust dir holds root v1
  // and must follow the rotation.
  PrivateKey r2a = gen(), r2b = gen(), t2 = gen();
  for (auto* k : {&r2a, &r2b, &t2}) ring.add(*k);
  ASSERT_TRUE(e->rotate_keys(
                   "root", {*make_root_certificate(r2a, gun), *make_root_certificate(r2b, gun)}, 2)
                  .has_value());
  ASSERT_TRUE(e->rotate_keys("targets", {targets.public_key(), t2.public_key()}, 2).has_value());
  const std::string v2 = "release two\n";
  ASSERT_TRUE(e->add_target("targets", "v2", make_target_file(Dialect::notary, v2)).has_value());
  signed_roles = e->sign();
  ASSERT_TRUE(signed_roles.has_value()) << signed_roles.error().describe();
  published = publish(gun, *signed_roles);
  ASSERT_TRUE(published.has_value()) << published.error().describe() << "\n" << server_->log();

  list = server_->cli(trust, {"list", gun});
  ASSERT_EQ(list.exit_code, 0) << list.output;
  EXPECT_NE(list.output.find("v2"), std::string::npos) << list.output;
  auto cached = read_file(trust / "tuf" / gun / "metadata/root.json");
  ASSERT_TRUE(cached.has_value());
  auto cached_root = parse_root(*cached);
  ASSERT_TRUE(cached_root.has_value());
  EXPECT_EQ(cached_root->signed_.version, 2);
  EXPECT_EQ(cached_root->signed_.role(RoleType::root).threshold, 2);
  verify = server_->cli(trust, {"verify", gun, "v2"}, v2);
  EXPECT_EQ(verify.exit_code, 0) << verify.output;

  // A root rotation missing the old root's signature is refused by the server: the
  // cross-signature is what makes the rotation acceptable.
  MemoryKeyRing only_new;
  PrivateKey r3 = gen();
  only_new.add(r3);
  only_new.add(targets);
  only_new.add(t2);
  only_new.add(snapshot);
  RepoFiles files = repo_files_from(e->files());
  files.timestamp.reset();
  auto e3 = Editor::load(files, gun, only_new);
  ASSERT_TRUE(e3.has_value()) << e3.error().describe();
  ASSERT_TRUE(e3->rotate_keys("root", {*make_root_certificate(r3, gun)}, 1).has_value());
  auto partial = e3->sign(SignOptions{true, docket::now()});
  ASSERT_TRUE(partial.has_value()) << partial.error().describe();
  auto refused = publish(gun, *partial);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, "update_rejected");
  EXPECT_EQ(refused.error().fault, Fault::user);
  EXPECT_NE(refused.error().message.find("INVALID_UPDATE"), std::string::npos)
      << refused.error().message;
  EXPECT_NE(refused.error().message.find("ErrBadRoot"), std::string::npos)
      << refused.error().message;
}

TEST_F(NotaryInterop, ServerManagedSnapshot) {
  const std::string gun = "docket.test/library/server-snapshot";
  MemoryKeyRing ring;
  PrivateKey root = gen(), targets = gen();
  ring.add(root);
  ring.add(targets);
  CreateOptions o;
  o.gun = gun;
  o.root.keys = {*make_root_certificate(root, gun)};
  o.targets.keys = {targets.public_key()};
  o.snapshot.keys = {server_key(gun, "snapshot")};
  o.timestamp.keys = {server_key(gun, "timestamp")};
  auto e = Editor::create(o, ring);
  ASSERT_TRUE(e.has_value()) << e.error().describe();
  ASSERT_TRUE(e->server_manages_snapshot());
  const std::string latest = "latest image manifest";
  ASSERT_TRUE(
      e->add_target("targets", "latest", make_target_file(Dialect::notary, latest)).has_value());
  auto s = e->sign();
  ASSERT_TRUE(s.has_value()) << s.error().describe();
  ASSERT_EQ(s->size(), 2u);  // root and targets only
  auto published = publish(gun, *s);
  ASSERT_TRUE(published.has_value()) << published.error().describe() << "\n" << server_->log();
  auto lookup = server_->cli(work_ / "trust", {"lookup", gun, "latest"});
  ASSERT_EQ(lookup.exit_code, 0) << lookup.output;
  EXPECT_NE(lookup.output.find(sha256_hex(latest)), std::string::npos) << lookup.output;

  // A targets-only update: the server makes the snapshot again.
  ASSERT_TRUE(e->remove_target("targets", "latest").has_value());
  ASSERT_TRUE(
      e->add_target("targets", "stable", make_target_file(Dialect::notary, "s")).has_value());
  s = e->sign();
  ASSERT_TRUE(s.has_value());
  ASSERT_EQ(s->size(), 1u);
  published = publish(gun, *s);
  ASSERT_TRUE(published.has_value()) << published.error().describe();
  auto list = server_->cli(work_ / "trust", {"list", gun});
  ASSERT_EQ(list.exit_code, 0) << list.output;
  EXPECT_NE(list.output.find("stable"), std::string::npos) << list.output;
  EXPECT_EQ(list.output.find("latest"), std::string::npos) << list.output;
}

// The real CLI publishes (init, add, delegation add, key rotate root and targets); our
// updater, trusting the first root it saw, follows every rotation and finds the targets.
TEST_F(NotaryInterop, UpdaterReadsWhatNotaryCliPublished) {
  const std::string gun = "docket.test/library/cli";
  fs::path trust = work_ / "publisher";
  auto run = [&](const std::vector<std::string>& args, const std::string& in = "") {
    auto r = server_->cli(trust, args, in);
    if (r.exit_code != 0) {
      std::string cmd = "notary";
      for (const auto& a : args) cmd += " " + a;
      ADD_FAILURE() << cmd << " exited " << r.exit_code << ":\n" << r.output;
    }
    return r;
  };
  const std::string c1 = "one\n", c2 = "two\n", c3 = "three\n";
  run({"init", gun});
  run({"add", gun, "v1", write("c1", c1).string()});
  run({"publish", gun});

  // What a client pinned on first use: root v1.
  auto first_root = http_->get(notary_tuf_url(server_->url(), gun) + "root.json");
  ASSERT_TRUE(first_root.has_value());
  ASSERT_EQ(first_root->status, 200);

  fs::path key = work_ / "releases.key", cert = work_ / "releases.pem";
  NotaryServer::openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                         "-nodes", "-keyout", key.string(), "-out", cert.string(), "-days", "30",
                         "-subj", "/CN=releases"});
  run({"delegation", "add", gun, "targets/releases", cert.string(), "--all-paths"});
  run({"publish", gun});
  run({"key", "import", key.string(), "--role", "targets/releases"});
  run({"add", gun, "v2", write("c2", c2).string(), "--roles", "targets/releases"});
  run({"publish", gun});
  run({"key", "rotate", gun, "root"}, "yes\n");
  run({"key", "rotate", gun, "targets"});
  run({"key", "rotate", gun, "root"}, "yes\n");
  run({"add", gun, "v3", write("c3", c3).string()});
  run({"publish", gun});

  MemoryStore store;
  ASSERT_TRUE(store.store(RoleName::root(), first_root->body).has_value());
  HarnessFetcher fetcher(server_->http());
  UpdaterOptions uo;
  uo.metadata_url = notary_tuf_url(server_->url(), gun);
  Updater u(uo, store, fetcher);
  auto refreshed = u.refresh();
  ASSERT_TRUE(refreshed.has_value()) << refreshed.error().describe();
  auto root = parse_root(store.files.at("root.json"));
  ASSERT_TRUE(root.has_value());
  // Root v1 (init) -> v2 (root rotation) -> v3 (targets key rotation) -> v4 (root again).
  EXPECT_EQ(root->signed_.version, 4);

  for (auto [name, content, role] :
       {std::tuple{"v1", c1, "targets"}, std::tuple{"v2", c2, "targets/releases"},
        std::tuple{"v3", c3, "targets"}}) {
    auto t = u.find_target(*TargetPath::make(name));
    ASSERT_TRUE(t.has_value()) << name << ": " << t.error().describe();
    ASSERT_TRUE(t->has_value()) << name << " not found";
    EXPECT_EQ((*t)->role.str(), role);
    EXPECT_TRUE(u.verify_target(**t, content).has_value()) << name;
    EXPECT_FALSE(u.verify_target(**t, content + "x").has_value()) << name;
  }

  // The CLI's trust directory layout (nested targets/<delegation>.json) reads back.
  auto store_dir = RepoStore::open(trust, gun);
  ASSERT_TRUE(store_dir.has_value());
  auto cli_files = store_dir->load();
  ASSERT_TRUE(cli_files.has_value()) << cli_files.error().describe();
  EXPECT_TRUE(cli_files->targets.contains("targets/releases"));

  // Our editor takes over the repository the CLI made: the metadata the updater just
  // verified, the CLI's private keys (decrypted with openssl), a new target in targets and
  // in the delegation, signed and published; the CLI then sees it.
  std::optional<RepoFiles> files{RepoFiles{}};
  for (const auto& [name, bytes] : store.files) {
    auto role = percent_decode(name.substr(0, name.size() - 5));
    ASSERT_TRUE(role.has_value());
    if (*role == "root")
      files->root = bytes;
    else if (*role == "snapshot")
      files->snapshot = bytes;
    else if (*role == "timestamp")
      files->timestamp = bytes;
    else
      files->targets[*role] = bytes;
  }
  ASSERT_TRUE(files->targets.contains("targets/releases"));
  {
    MemoryKeyRing none;
    auto e = Editor::load(*files, gun, none);
    ASSERT_TRUE(e.has_value()) << e.error().describe();
    EXPECT_TRUE(e->targets("targets")->signed_.targets.contains("v3"));
    ASSERT_TRUE(e->add_target("targets", "v4", make_target_file(Dialect::notary, "4")).has_value());
    auto s = e->sign();
    ASSERT_FALSE(s.has_value());  // no keys held: refused, naming the role
    EXPECT_EQ(s.error().code, "missing_keys");
    EXPECT_NE(s.error().message.find("targets"), std::string::npos);
  }
  MemoryKeyRing cli_keys;
  auto pass = NotaryServer::passphrase_env();
  for (const auto& entry : fs::directory_iterator(trust / "private")) {
    auto text = read_file(entry.path());
    ASSERT_TRUE(text.has_value());
    auto block = keys::parse_single_pem(*text, entry.path().string(), Fault::local);
    ASSERT_TRUE(block.has_value()) << block.error().describe();
    std::string role = block->header("role");
    std::string var = role == "root"       ? "NOTARY_ROOT_PASSPHRASE"
                      : role == "targets"  ? "NOTARY_TARGETS_PASSPHRASE"
                      : role == "snapshot" ? "NOTARY_SNAPSHOT_PASSPHRASE"
                                           : "NOTARY_DELEGATION_PASSPHRASE";
    block->headers.clear();
    fs::path enc = work_ / "enc.pem", der = work_ / "key.der";
    ASSERT_TRUE(atomic_write_file(enc, keys::encode_pem(*block), 0600).has_value());
    NotaryServer::openssl({"pkcs8", "-topk8", "-nocrypt", "-in", enc.string(), "-passin",
                           "pass:" + pass.at(var), "-outform", "DER", "-out", der.string()});
    auto k = PrivateKey::from_pkcs8_der(*read_file(der));
    ASSERT_TRUE(k.has_value()) << k.error().describe();
    cli_keys.add(*k);
  }
  auto e = Editor::load(*files, gun, cli_keys);
  ASSERT_TRUE(e.has_value()) << e.error().describe();
  const std::string c4 = "four\n", c5 = "five\n";
  ASSERT_TRUE(e->add_target("targets", "v4", make_target_file(Dialect::notary, c4)).has_value());
  ASSERT_TRUE(
      e->add_target("targets/releases", "v5", make_target_file(Dialect::notary, c5)).has_value());
  auto s = e->sign();
  ASSERT_TRUE(s.has_value()) << s.error().describe();
  auto published = publish(gun, *s);
  ASSERT_TRUE(published.has_value()) << published.error().describe() << "\n" << server_->log();
  ASSERT_TRUE(store_dir->save(e->files()).has_value());

  for (const fs::path& dir : {trust, work_ / "reader"}) {
    auto list = server_->cli(dir, {"list", gun});
    ASSERT_EQ(list.exit_code, 0) << list.output;
    for (const char* name : {"v1", "v2", "v3", "v4", "v5"})
      EXPECT_NE(list.output.find(name), std::string::npos) << name << "\n" << list.output;
  }
  auto verify = server_->cli(work_ / "reader", {"verify", gun, "v5"}, c5);
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
}

// Changes staged with our Changelist in the CLI's own trust directory are published by the
// real `notary publish`: the entry format is Notary's.
TEST_F(NotaryInterop, NotaryCliPublishesOurChangelist) {
  const std::string gun = "docket.test/library/changelist";
  fs::path trust = work_ / "cl-trust";
  auto init = server_->cli(trust, {"init", gun});
  ASSERT_EQ(init.exit_code, 0) << init.output;

  auto cl = Changelist::open(trust, gun);
  ASSERT_TRUE(cl.has_value()) << cl.error().describe();
  const std::string content = "staged by docket\n";
  TargetChange t{static_cast<std::int64_t>(content.size()),
                 {{"sha256", sha256(content)}, {"sha512", sha512(content)}},
                 std::nullopt};
  ASSERT_TRUE(cl->add(make_target_change("create", "targets", "from-docket", t)).has_value());
  PrivateKey team = gen();
  auto team_cert = team.self_signed_certificate("team", std::chrono::hours(24 * 30));
  ASSERT_TRUE(team_cert.has_value()) << team_cert.error().describe();
  DelegationChange d;
  d.threshold = 1;
  d.add_keys = {team_cert->json()};
  d.add_paths = {"team/"};
  ASSERT_TRUE(cl->add(make_delegation_change("create", "targets/team", d)).has_value());

  auto status = server_->cli(trust, {"status", gun});
  EXPECT_EQ(status.exit_code, 0) << status.output;
  EXPECT_NE(status.output.find("from-docket"), std::string::npos) << status.output;
  auto pub = server_->cli(trust, {"publish", gun});
  ASSERT_EQ(pub.exit_code, 0) << pub.output;
  auto names = cl->names();
  ASSERT_TRUE(names.has_value());
  EXPECT_TRUE(names->empty());  // Notary cleared what it applied

  auto lookup = server_->cli(work_ / "cl-reader", {"lookup", gun, "from-docket"});
  ASSERT_EQ(lookup.exit_code, 0) << lookup.output;
  EXPECT_NE(lookup.output.find(sha256_hex(content)), std::string::npos) << lookup.output;
  auto dl = server_->cli(work_ / "cl-reader", {"delegation", "list", gun});
  ASSERT_EQ(dl.exit_code, 0) << dl.output;
  EXPECT_NE(dl.output.find("targets/team"), std::string::npos) << dl.output;
  EXPECT_NE(dl.output.find("team/"), std::string::npos) << dl.output;
}

}  // namespace
}  // namespace docket::tuf
