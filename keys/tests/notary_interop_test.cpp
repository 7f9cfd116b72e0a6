// Interoperability with the real `notary` client (Debian's notary 0.7): keys docket writes
// are used by notary, keys notary writes are used by docket. Runs notary in temporary
// trust directories, offline (no server is involved in key management).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "keys/keystore.h"
#include "keys/tests/test_util.h"

namespace docket::keys {
namespace {

namespace fs = std::filesystem;
using testing::run_shell;
using testing::slurp;
using testing::TempDir;

std::string find_notary() {
  for (const char* p : {"/usr/bin/notary", "/usr/local/bin/notary"})
    if (fs::exists(p)) return p;
  return {};
}

const std::string kGun = "127.0.0.1:4443/interop/app";

class NotaryInterop : public ::testing::Test {
 protected:
  void SetUp() override {
    notary_ = find_notary();
    if (notary_.empty())
      GTEST_SKIP() << "notary binary not installed (scripts/install-deps.sh --peers)";
  }
  // Runs a command with no terminal (setsid) and no stdin, bounded in time; returns the exit
  // code and leaves stdout+stderr in out_.
  int sh(const std::string& env, const std::string& cmd) {
    auto log = tmp_.path() / "out.txt";
    int rc = run_shell("env " + env + " setsid -w timeout 60 " + cmd + " </dev/null >" +
                       log.string() + " 2>&1");
    out_ = slurp(log);
    return rc;
  }
  std::string notary(const fs::path& dir) { return notary_ + " -d " + dir.string(); }
  std::string path(const char* name) { return (tmp_.path() / name).string(); }

  std::string notary_;
  TempDir tmp_;
  std::string out_;
};

TEST_F(NotaryInterop, NotaryImportsAndUsesOurExports) {
  struct Case {
    Algorithm alg;
    const char* role;
    const char* env;
  } cases[] = {{Algorithm::ecdsa_p256, "targets", "NOTARY_TARGETS_PASSPHRASE"},
               {Algorithm::ed25519, "targets/releases", "NOTARY_DELEGATION_PASSPHRASE"},
               {Algorithm::rsa, "root", "NOTARY_ROOT_PASSPHRASE"}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.role);
    auto ours_dir = tmp_.path() / ("ours-" + std::string(algorithm_name(c.alg)));
    auto theirs_dir = tmp_.path() / ("theirs-" + std::string(algorithm_name(c.alg)));
    auto pass = fixed_passphrase(Secret("interop-pass-1"));
    TrustDirKeyStore ours(ours_dir, *pass);  // default (production) iteration count
    PrivateKey k = value_or_raise(PrivateKey::generate(c.alg, 2048));
    std::string id = value_or_raise(ours.add(k, c.role, kGun));
    std::string pem = value_or_raise(ours.export_pem(id));
    std::ofstream(path("export.pem")) << pem;

    const std::string env = std::string(c.env) + "=interop-pass-1";
    ASSERT_EQ(sh(env, notary(theirs_dir) + " key import " + path("export.pem")), 0) << out_;
    ASSERT_EQ(sh(env, notary(theirs_dir) + " key list"), 0) << out_;
    EXPECT_NE(out_.find(id), std::string::npos) << out_;
    EXPECT_NE(out_.find(c.role), std::string::npos) << out_;
    // `key passwd` decrypts the key and re-encrypts it: proof notary can use it.
    ASSERT_EQ(sh(env, notary(theirs_dir) + " key passwd " + id), 0) << out_;
    EXPECT_NE(out_.find("Successfully updated passphrase"), std::string::npos) << out_;
    // ...and the file notary rewrote still reads back as the same key here.
    TrustDirKeyStore back(theirs_dir, *pass);
    auto got = back.get(id);
    ASSERT_TRUE(got.has_value()) << got.error().describe();
    EXPECT_EQ(got->key.public_key().key_id(), id);
    EXPECT_EQ(got->role, c.role);
  }
}

TEST_F(NotaryInterop, NotaryReadsOurTrustDirectory) {
  auto dir = tmp_.path() / "shared";
  auto pass = fixed_passphrase(Secret("interop-pass-2"));
  TrustDirKeyStore ours(dir, *pass);
  std::string root = value_or_raise(
      ours.add(value_or_raise(PrivateKey::generate(Algorithm::ecdsa_p256)), "root", ""));
  std::string targets = value_or_raise(
      ours.add(value_or_raise(PrivateKey::generate(Algorithm::ecdsa_p256)), "targets", kGun));
  const std::string env =
      "NOTARY_ROOT_PASSPHRASE=interop-pass-2 NOTARY_TARGETS_PASSPHRASE=interop-pass-2";
  ASSERT_EQ(sh(env, notary(dir) + " key list"), 0) << out_;
  EXPECT_NE(out_.find(root), std::string::npos) << out_;
  EXPECT_NE(out_.find(targets), std::string::npos) << out_;
  ASSERT_EQ(sh(env, notary(dir) + " key passwd " + root), 0) << out_;
  ASSERT_EQ(sh(env, notary(dir) + " key passwd " + targets), 0) << out_;
  // A wrong passphrase is refused by notary too (it is really encrypted).
  EXPECT_NE(sh("NOTARY_ROOT_PASSPHRASE=wrong", notary(dir) + " key passwd " + root), 0) << out_;
}

TEST_F(NotaryInterop, WeUseKeysNotaryGenerates) {
  auto dir = tmp_.path() / "notary-made";
  const std::string env =
      "NOTARY_ROOT_PASSPHRASE=np-root NOTARY_DELEGATION_PASSPHRASE=np-deleg "
      "NOTARY_TARGETS_PASSPHRASE=np-targets";
  std::regex id_re("keyID: ([0-9a-f]{64})");
  std::map<std::string, std::string> ids;  // role -> id
  for (const char* role : {"root", "targets/releases", "targets"}) {
    ASSERT_EQ(sh(env, notary(dir) + " key generate ecdsa --role " + role), 0) << out_;
    std::smatch m;
    ASSERT_TRUE(std::regex_search(out_, m, id_re)) << out_;
    ids[role] = m[1];
  }
  MapEnvironment menv({{"NOTARY_ROOT_PASSPHRASE", "np-root"},
                       {"NOTARY_DELEGATION_PASSPHRASE", "np-deleg"},
                       {"NOTARY_TARGETS_PASSPHRASE", "np-targets"}});
  auto src = env_passphrase(menv);
  TrustDirKeyStore store(dir, *src);
  auto listed = store.list();
  ASSERT_TRUE(listed.has_value());
  EXPECT_EQ(listed->size(), 3u);
  for (const auto& [role, id] : ids) {
    auto k = store.get(id);
    ASSERT_TRUE(k.has_value()) << role << ": " << k.error().describe();
    EXPECT_EQ(k->role, role);
    EXPECT_EQ(k->key.public_key().key_id(), id) << "our canonical ID must equal notary's";
    auto sig = k->key.sign("signed bytes");
    ASSERT_TRUE(sig.has_value());
    EXPECT_TRUE(k->key.public_key().verify("ecdsa", "signed bytes", *sig));
    // A root certificate made from it is keyed by the same canonical ID.
    auto cert = k->key.self_signed_certificate(kGun, std::chrono::hours(24 * 3650));
    EXPECT_EQ(cert->canonical_key_id(), id);
  }
  // notary's own export (encrypted, with path headers) imports here.
  ASSERT_EQ(sh(env, notary(dir) + " key export -o " + path("notary-export.pem")), 0) << out_;
  auto other_dir = tmp_.path() / "imported";
  TrustDirKeyStore other(other_dir, *src);
  auto imported = other.import_pem(slurp(path("notary-export.pem")), "", "");
  ASSERT_TRUE(imported.has_value()) << imported.error().describe();
  EXPECT_EQ(imported->size(), 3u);
}

// The `docket key` commands as docs/keys.md shows them, against notary.
TEST_F(NotaryInterop, DocketKeyCommands) {
  const std::string docket = std::string(DOCKET_BINARY_DIR) + "/cli/docket";
  ASSERT_TRUE(fs::exists(docket)) << docket;
  auto ours = tmp_.path() / "cli-ours";
  auto theirs = tmp_.path() / "cli-theirs";
  const std::string env = "NOTARY_TARGETS_PASSPHRASE=cli-pass NOTARY_ROOT_PASSPHRASE=cli-root";

  ASSERT_EQ(sh(env, docket + " key generate --trust-dir " + ours.string() +
                        " --role targets --gun " + kGun),
            0)
      << out_;
  std::smatch m;
  std::regex id_re("with ID ([0-9a-f]{64})");
  ASSERT_TRUE(std::regex_search(out_, m, id_re)) << out_;
  std::string id = m[1];
  ASSERT_EQ(sh(env, docket + " key list --trust-dir " + ours.string()), 0) << out_;
  EXPECT_NE(out_.find(id), std::string::npos);
  EXPECT_NE(out_.find(kGun), std::string::npos);
  ASSERT_EQ(sh(env, docket + " key list --json --trust-dir " + ours.string()), 0) << out_;
  EXPECT_NE(out_.find("\"role\": \"targets\""), std::string::npos) << out_;
  ASSERT_EQ(sh(env, docket + " key export --trust-dir " + ours.string() + " --key " + id +
                        " --output " + path("cli.pem")),
            0)
      << out_;
  ASSERT_EQ(sh(env, notary(theirs) + " key import " + path("cli.pem")), 0) << out_;
  ASSERT_EQ(sh(env, notary(theirs) + " key passwd " + id), 0) << out_;
  // Round trip back through notary's export into a third directory.
  ASSERT_EQ(sh(env, notary(theirs) + " key export -o " + path("back.pem")), 0) << out_;
  auto third = tmp_.path() / "cli-third";
  ASSERT_EQ(sh(env, docket + " key import --trust-dir " + third.string() + " " + path("back.pem")),
            0)
      << out_;
  EXPECT_NE(out_.find(id), std::string::npos) << out_;
  ASSERT_EQ(sh(env, docket + " key remove --trust-dir " + third.string() + " " + id), 0) << out_;
  ASSERT_EQ(sh(env, docket + " key list --trust-dir " + third.string()), 0) << out_;
  EXPECT_EQ(out_.find(id), std::string::npos) << out_;

  // No passphrase and no terminal: a clear, immediate user error.
  EXPECT_EQ(sh("HOME=" + tmp_.path().string(),
               docket + " key generate --trust-dir " + ours.string() + " --role root"),
            1);
  EXPECT_NE(out_.find("passphrase"), std::string::npos) << out_;
  EXPECT_NE(out_.find("NOTARY_ROOT_PASSPHRASE"), std::string::npos) << out_;
  EXPECT_NE(out_.find("DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE"), std::string::npos) << out_;
  // A bad algorithm is a usage error.
  EXPECT_NE(sh(env, docket + " key generate dsa --trust-dir " + ours.string()), 0);
  EXPECT_NE(out_.find("dsa"), std::string::npos) << out_;
}

}  // namespace
}  // namespace docket::keys
