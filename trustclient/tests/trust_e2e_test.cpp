// Content trust end to end, as users type it: `docket-server serve` (registry and trust
// server on one loopback port, plain HTTP) started by the test, and the `docket` executable
// signing on push, pulling with verification from fresh clients, revoking, rotating every
// role's key and co-signing a threshold-2 delegation.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <string>

#include "common/digest.h"
#include "common/encoding.h"
#include "common/file.h"
#include "common/json.h"
#include "net/htpasswd.h"
#include "trustserver/tests/interop_util.h"
#include "tuf/trusted_set.h"

namespace {
namespace fs = std::filesystem;
using namespace docket;
using namespace docket::trustserver::testing;

const std::string kRootPass = "root-passphrase-1";
const std::string kRepoPass = "repo-passphrase-1";

std::string docket_bin() {
  return std::string(DOCKET_BINARY_DIR) + "/cli/docket";
}

// A server and a work directory, cleaned up afterwards (kept on failure for the logs).
class TrustE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("docket-trust-e2e-" + random_hex_id());
    fs::create_directories(dir_ / "rootfs" / "etc");
    ASSERT_TRUE(atomic_write_file(dir_ / "rootfs" / "etc" / "motd", "signed by docket\n"));
    port_ = free_port();
    host_ = "127.0.0.1:" + std::to_string(port_);
    std::map<std::string, std::string> env{{"DOCKET_SIGNER_PASSPHRASE_DEFAULT", "e2e-signer"},
                                           {"DOCKET_LOG_LEVEL", "warn"}};
    for (auto& [k, v] : server_env()) env[k] = v;
    server_ = std::make_unique<Child>(
        std::vector<std::string>{docket_server_bin(), "serve", "--addr", host_, "--data",
                                 (dir_ / "server").string()},
        env, dir_ / "server.log");
    ASSERT_TRUE(wait_for_port(port_, *server_)) << server_log();
  }
  // Extra environment for the server (auth settings); may write files under dir_.
  virtual std::map<std::string, std::string> server_env() { return {}; }
  void TearDown() override {
    server_.reset();
    std::error_code ec;
    if (!HasFailure()) fs::remove_all(dir_, ec);
  }
  std::string server_log() const { return read_file(dir_ / "server.log").value_or(""); }

  // Runs docket as client `who` (its own DOCKER_CONFIG, trust dir and image store), trust on,
  // passphrases set unless `env` overrides them, detached from any terminal (setsid).
  RunResult docket(const std::string& who, const std::string& args,
                   std::map<std::string, std::string> env = {},
                   const std::string& stdin_file = "") const {
    std::map<std::string, std::string> e{{"DOCKER_CONFIG", (dir_ / who / "docker").string()},
                                         {"DOCKET_DATA_DIR", (dir_ / who / "data").string()},
                                         {"DOCKER_CONTENT_TRUST", "1"},
                                         {"DOCKER_CONTENT_TRUST_SERVER", "http://" + host_},
                                         {"DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE", kRootPass},
                                         {"DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE", kRepoPass}};
    for (auto& [k, v] : env) e[k] = v;
    std::string cmd = "setsid -w " + sh_quote(docket_bin());
    cmd += " " + args;
    auto r = run("sh -c " + sh_quote("cd " + sh_quote(dir_.string()) + " && " + cmd), e, stdin_file,
                 120);
    return r;
  }
  std::string image(const std::string& repo_tag) const { return host_ + "/" + repo_tag; }
  // Imports the rootfs as `ref` for client `who` and returns nothing; asserts success.
  void make_image(const std::string& who, const std::string& ref) {
    auto r = docket(who, "import rootfs " + ref);
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  Json inspect(const std::string& who, const std::string& ref) {
    auto r = docket(who, "trust inspect " + ref);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    auto j = parse_json(r.output, "trust inspect", Fault::bug);
    EXPECT_TRUE(j) << r.output;
    return j ? *j : Json::array();
  }
  std::string pushed_digest(const std::string& out) {
    auto p = out.find("sha256:");
    return p == std::string::npos ? "" : out.substr(p + 7, 64);
  }

  fs::path dir_;
  int port_ = 0;
  std::string host_;
  std::unique_ptr<Child> server_;
};

TEST_F(TrustE2E, SignOnPushVerifiedPullUnsignedRefusedRevoke) {
  const std::string img = image("team/app:1");
  make_image("alice", img);
  auto push = docket("alice", "push --insecure " + img);
  ASSERT_EQ(push.exit_code, 0) << push.output << server_log();
  EXPECT_NE(push.output.find("Finished initializing"), std::string::npos) << push.output;
  EXPECT_NE(push.output.find("Successfully signed"), std::string::npos) << push.output;
  auto digest = docket("alice", "push --insecure -q --disable-content-trust " + img);
  ASSERT_EQ(digest.exit_code, 0) << digest.output;
  std::string hex = pushed_digest(digest.output);
  ASSERT_EQ(hex.size(), 64u) << digest.output;

  // Keys landed in the trust directory as docker/notary keep them: a root key and a
  // targets key for the GUN, encrypted.
  auto keys = docket("alice", "trust key list");
  ASSERT_EQ(keys.exit_code, 0) << keys.output;
  EXPECT_NE(keys.output.find("root"), std::string::npos) << keys.output;
  EXPECT_NE(keys.output.find(host_ + "/team/app"), std::string::npos) << keys.output;

  Json j = inspect("alice", host_ + "/team/app");
  ASSERT_EQ(j.size(), 1u);
  ASSERT_EQ(j[0]["SignedTags"].size(), 1u) << j.dump();
  EXPECT_EQ(j[0]["SignedTags"][0]["SignedTag"], "1");
  EXPECT_EQ(j[0]["SignedTags"][0]["Digest"], hex);
  EXPECT_EQ(j[0]["AdministrativeKeys"][0]["Name"], "Root");
  EXPECT_EQ(j[0]["AdministrativeKeys"][0]["Keys"].size(), 1u);

  // A fresh client (no cached trust data, empty store) pulls it verified.
  auto pull = docket("bob", "pull --insecure " + img);
  ASSERT_EQ(pull.exit_code, 0) << pull.output;
  EXPECT_NE(pull.output.find("signed by targets"), std::string::npos) << pull.output;
  EXPECT_NE(pull.output.find(hex), std::string::npos) << pull.output;

  // A tag pushed without signing is refused with trust on.
  const std::string unsigned_img = image("team/app:unsigned");
  ASSERT_EQ(docket("alice", "tag " + img + " " + unsigned_img).exit_code, 0);
  ASSERT_EQ(docket("alice", "push --insecure --disable-content-trust " + unsigned_img).exit_code,
            0);
  auto refused = docket("carol", "pull --insecure " + unsigned_img);
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_NE(refused.output.find("not_signed"), std::string::npos) << refused.output;
  EXPECT_EQ(docket("carol", "images -q").output, "");

  // Revoke: the tag's signature is gone, a fresh client refuses it.
  auto revoke = docket("alice", "trust revoke " + img);
  ASSERT_EQ(revoke.exit_code, 0) << revoke.output;
  EXPECT_NE(revoke.output.find("Successfully deleted signature"), std::string::npos);
  j = inspect("alice", host_ + "/team/app");
  EXPECT_TRUE(j[0]["SignedTags"].empty()) << j.dump();
  auto after = docket("dave", "pull --insecure " + img);
  EXPECT_EQ(after.exit_code, 1) << after.output;
  EXPECT_NE(after.output.find("not_signed"), std::string::npos) << after.output;
  // bob, whose cache still has the signed version, is refused too.
  auto bob_after = docket("bob", "pull --insecure " + img);
  EXPECT_EQ(bob_after.exit_code, 1) << bob_after.output;

  // `trust sign` signs what the registry serves for the tag.
  auto sign = docket("alice", "trust sign --insecure " + img);
  ASSERT_EQ(sign.exit_code, 0) << sign.output;
  EXPECT_NE(sign.output.find(hex), std::string::npos) << sign.output;
  auto again = docket("dave", "pull --insecure " + img);
  EXPECT_EQ(again.exit_code, 0) << again.output;
}

// The registry moves the tag to other content (an unsigned push over the signed tag): a
// verified pull must fetch and store what was signed, by digest, not what the tag now names.
TEST_F(TrustE2E, VerifiedPullStoresTheSignedDigestNotTheRegistrysTag) {
  const std::string img = image("team/moved:1");
  make_image("alice", img);
  ASSERT_EQ(docket("alice", "push --insecure " + img).exit_code, 0) << server_log();
  auto signed_push = docket("alice", "push --insecure -q --disable-content-trust " + img);
  ASSERT_EQ(signed_push.exit_code, 0) << signed_push.output;
  const std::string signed_hex = pushed_digest(signed_push.output);
  ASSERT_EQ(signed_hex.size(), 64u) << signed_push.output;

  ASSERT_TRUE(atomic_write_file(dir_ / "rootfs" / "etc" / "motd", "not what was signed\n"));
  const std::string other = image("team/moved:other");
  make_image("mallory", other);
  ASSERT_EQ(docket("mallory", "tag " + other + " " + img).exit_code, 0);
  auto swap = docket("mallory", "push --insecure -q --disable-content-trust " + img);
  ASSERT_EQ(swap.exit_code, 0) << swap.output;
  const std::string swapped_hex = pushed_digest(swap.output);
  ASSERT_EQ(swapped_hex.size(), 64u) << swap.output;
  ASSERT_NE(swapped_hex, signed_hex);

  auto pull = docket("bob", "pull --insecure " + img);
  ASSERT_EQ(pull.exit_code, 0) << pull.output;
  auto stored = docket("bob", "images --format json");
  EXPECT_NE(stored.output.find("sha256:" + signed_hex), std::string::npos) << stored.output;
  EXPECT_EQ(stored.output.find(swapped_hex), std::string::npos) << stored.output;

  // `trust lookup` (a fresh client) names the signed digest too, and refuses an unsigned tag.
  auto lookup = docket("erin", "trust lookup " + img);
  ASSERT_EQ(lookup.exit_code, 0) << lookup.output;
  EXPECT_NE(lookup.output.find("1 sha256:" + signed_hex + " "), std::string::npos) << lookup.output;
  EXPECT_NE(lookup.output.find(" targets\n"), std::string::npos) << lookup.output;
  EXPECT_EQ(lookup.output.find(swapped_hex), std::string::npos) << lookup.output;
  // The lookup ends without the usual exit-time cleanup: its answer must still be written,
  // and a failed write must still fail it.
  auto full = docket("erin", "trust lookup " + img + " >/dev/full");
  EXPECT_EQ(full.exit_code, 1) << full.output;
  EXPECT_NE(full.output.find("writing the output failed"), std::string::npos) << full.output;
  auto unsigned_tag = docket("erin", "trust lookup " + image("team/moved:other"));
  EXPECT_EQ(unsigned_tag.exit_code, 1) << unsigned_tag.output;
  EXPECT_NE(unsigned_tag.output.find("not_signed"), std::string::npos) << unsigned_tag.output;
}

TEST_F(TrustE2E, PassphrasesMissingOrWrongFailAtOnce) {
  const std::string img = image("team/pp:1");
  make_image("alice", img);
  // No passphrase variables and no terminal: refused before anything is pushed, naming the
  // variable to set.
  auto r = docket("alice", "push --insecure " + img,
                  {{"DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE", ""},
                   {"DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE", ""}});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("The push refers to"), std::string::npos) << r.output;

  ASSERT_EQ(docket("alice", "push --insecure " + img).exit_code, 0);
  // A wrong repository passphrase: the targets key cannot be decrypted; exact error.
  const std::string img2 = image("team/pp:2");
  ASSERT_EQ(docket("alice", "tag " + img + " " + img2).exit_code, 0);
  auto wrong = docket("alice", "push --insecure " + img2,
                      {{"DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE", "not-the-passphrase"}});
  EXPECT_EQ(wrong.exit_code, 1) << wrong.output;
  EXPECT_NE(wrong.output.find("passphrase"), std::string::npos) << wrong.output;
  // The change stays staged, and publishing it with the right passphrase completes it.
  auto status = docket("alice", "trust status " + host_ + "/team/pp");
  EXPECT_NE(status.output.find("2"), std::string::npos) << status.output;
  EXPECT_NE(status.output.find("create"), std::string::npos) << status.output;
  auto publish = docket("alice", "trust publish " + host_ + "/team/pp");
  ASSERT_EQ(publish.exit_code, 0) << publish.output;
  EXPECT_NE(publish.output.find("Published targets v"), std::string::npos) << publish.output;
  auto pull = docket("bob", "pull --insecure " + img2);
  EXPECT_EQ(pull.exit_code, 0) << pull.output;
  // Signing again what is signed changes nothing.
  auto same = docket("alice", "trust sign --insecure " + img2);
  EXPECT_EQ(same.exit_code, 0) << same.output;
  EXPECT_NE(same.output.find("already signed"), std::string::npos) << same.output;
  // A key we do not hold: another client cannot sign into this repository.
  const std::string img3 = image("team/pp:3");
  make_image("mallory", img3);
  ASSERT_EQ(docket("mallory", "push --insecure --disable-content-trust " + img3).exit_code, 0);
  auto foreign = docket("mallory", "trust sign --insecure " + img3);
  EXPECT_EQ(foreign.exit_code, 1) << foreign.output;
  EXPECT_NE(foreign.output.find("no_signing_key"), std::string::npos) << foreign.output;
  EXPECT_NE(foreign.output.find("no key for targets"), std::string::npos) << foreign.output;
  auto reset = docket("mallory", "trust reset " + host_ + "/team/pp");
  EXPECT_EQ(reset.exit_code, 0) << reset.output;
  EXPECT_NE(reset.output.find("Dropped 1"), std::string::npos) << reset.output;
}

TEST_F(TrustE2E, KeyRotationOfEveryRoleThenVerifiedPulls) {
  const std::string repo = host_ + "/team/rot";
  make_image("alice", repo + ":1");
  ASSERT_EQ(docket("alice", "push --insecure " + repo + ":1").exit_code, 0);
  // bob caches the first root: he must follow every rotation from there.
  ASSERT_EQ(docket("bob", "pull --insecure " + repo + ":1").exit_code, 0);
  int n = 2;
  // Snapshot goes to a local key first, then back to the server.
  const std::vector<std::pair<std::string, bool>> rotations{{"root", false},     {"targets", false},
                                                            {"snapshot", false}, {"snapshot", true},
                                                            {"timestamp", true}, {"root", false}};
  for (const auto& [role, server] : rotations) {
    auto r = docket("alice",
                    "trust key rotate " + role + " " + repo + (server ? " --server-managed" : ""));
    ASSERT_EQ(r.exit_code, 0) << role << ": " << r.output << server_log();
    EXPECT_NE(r.output.find("Rotated the " + role + " key"), std::string::npos) << r.output;
    // A new tag signed after the rotation, pulled by the old client and a fresh one.
    std::string tag = repo + ":" + std::to_string(n++);
    ASSERT_EQ(docket("alice", "tag " + repo + ":1 " + tag).exit_code, 0);
    auto push = docket("alice", "push --insecure " + tag);
    ASSERT_EQ(push.exit_code, 0) << role << ": " << push.output;
    auto old_client = docket("bob", "pull --insecure " + tag);
    EXPECT_EQ(old_client.exit_code, 0) << role << ": " << old_client.output;
    auto fresh = docket("fresh-" + role + std::to_string(n), "pull --insecure " + tag);
    EXPECT_EQ(fresh.exit_code, 0) << role << ": " << fresh.output;
  }
  Json j = inspect("alice", repo);
  EXPECT_EQ(j[0]["SignedTags"].size(), 7u) << j.dump();
  // A root rotation adds a root key to the trust directory (the old one is kept).
  auto keys = docket("alice", "trust key list");
  std::size_t roots = 0;
  for (std::size_t p = keys.output.find("\nroot "); p != std::string::npos;
       p = keys.output.find("\nroot ", p + 1))
    ++roots;
  EXPECT_EQ(roots, 3u) << keys.output;
  // The timestamp can only be server-managed.
  auto bad = docket("alice", "trust key rotate timestamp " + repo);
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
}

TEST_F(TrustE2E, SignersAndThresholdTwoCoSigning) {
  const std::string repo = host_ + "/team/thr";
  make_image("admin", repo + ":1");
  ASSERT_EQ(docket("admin", "push --insecure " + repo + ":1").exit_code, 0);
  // Two signers, each with their own trust directory and key.
  for (const std::string who : {"alice", "bob"}) {
    auto g = docket(who, "trust key generate " + who + " --dir " + (dir_ / who).string());
    ASSERT_EQ(g.exit_code, 0) << g.output;
    ASSERT_TRUE(fs::exists(dir_ / who / (who + ".pub")));
  }
  auto add = docket("admin", "trust signer add --key " + (dir_ / "alice" / "alice.pub").string() +
                                 " --key " + (dir_ / "bob" / "bob.pub").string() +
                                 " --threshold 2 team " + repo);
  ASSERT_EQ(add.exit_code, 0) << add.output << server_log();
  Json j = inspect("admin", repo);
  ASSERT_EQ(j[0]["Signers"].size(), 1u) << j.dump();
  EXPECT_EQ(j[0]["Signers"][0]["Name"], "team");
  EXPECT_EQ(j[0]["Signers"][0]["Keys"].size(), 2u);

  // alice signs tag 2: one signature of the two needed; nothing is published.
  ASSERT_EQ(docket("admin", "tag " + repo + ":1 " + repo + ":2").exit_code, 0);
  ASSERT_EQ(docket("admin", "push --insecure --disable-content-trust " + repo + ":2").exit_code, 0);
  auto partial = docket("alice", "trust sign --insecure " + repo + ":2");
  EXPECT_EQ(partial.exit_code, 1) << partial.output;
  EXPECT_NE(partial.output.find("threshold_not_met"), std::string::npos) << partial.output;
  EXPECT_NE(partial.output.find("has 1 of the 2 signatures"), std::string::npos) << partial.output;
  auto unsigned_pull = docket("carol", "pull --insecure " + repo + ":2");
  EXPECT_EQ(unsigned_pull.exit_code, 1) << unsigned_pull.output;
  auto status = docket("alice", "trust status " + repo);
  EXPECT_NE(status.output.find("Partially signed"), std::string::npos) << status.output;

  // bob co-signs what alice left and publishes it.
  fs::path partial_dir = dir_ / "alice" / "docker" / "trust" / "tuf" / repo / "partial";
  ASSERT_TRUE(fs::exists(partial_dir / "partial.json"));
  auto cosign = docket("bob", "trust cosign " + repo + " " + partial_dir.string());
  ASSERT_EQ(cosign.exit_code, 0) << cosign.output << server_log();
  EXPECT_NE(cosign.output.find("Published targets/releases"), std::string::npos) << cosign.output;
  auto pull = docket("carol", "pull --insecure " + repo + ":2");
  EXPECT_EQ(pull.exit_code, 0) << pull.output;
  j = inspect("admin", repo + ":2");
  ASSERT_EQ(j[0]["SignedTags"].size(), 1u) << j.dump();
  EXPECT_EQ(j[0]["SignedTags"][0]["Signers"], Json::array({"team"})) << j.dump();

  // Removing the signer (the last one of targets/releases) needs --force, then tag 2 no
  // longer verifies.
  auto rm = docket("admin", "trust signer remove team " + repo);
  EXPECT_EQ(rm.exit_code, 1) << rm.output;
  rm = docket("admin", "trust signer remove --force team " + repo);
  ASSERT_EQ(rm.exit_code, 0) << rm.output << server_log();
  auto gone = docket("dave", "pull --insecure " + repo + ":2");
  EXPECT_EQ(gone.exit_code, 1) << gone.output;
  auto still = docket("dave", "pull --insecure " + repo + ":1");
  EXPECT_EQ(still.exit_code, 0) << still.output;
}

// Removing a signer must never leave targets/releases signed by no remaining key: every
// client would then refuse the whole repository (TUF 5.6.3) and nothing could repair it.
// The admin (no releases key) is refused until a remaining signer has re-signed the role, and
// the refused attempt leaves nothing staged that would fail the next command.
TEST_F(TrustE2E, SignerRemovalNeverLeavesReleasesUnverifiable) {
  const std::string repo = host_ + "/team/rm";
  make_image("admin", repo + ":1");
  ASSERT_EQ(docket("admin", "push --insecure " + repo + ":1").exit_code, 0);
  for (const std::string who : {"alice", "bob"}) {
    ASSERT_EQ(
        docket(who, "trust key generate " + who + " --dir " + (dir_ / who).string()).exit_code, 0);
    auto add = docket("admin", "trust signer add --key " + (dir_ / who / (who + ".pub")).string() +
                                   " " + who + " " + repo);
    ASSERT_EQ(add.exit_code, 0) << add.output << server_log();
  }
  make_image("bob", repo + ":v1");
  auto sign = docket("bob", "trust sign --insecure " + repo + ":v1");
  ASSERT_EQ(sign.exit_code, 0) << sign.output << server_log();

  // targets/releases is signed by bob alone: removing him is refused, nothing changes.
  auto rm = docket("admin", "trust signer remove bob " + repo);
  EXPECT_EQ(rm.exit_code, 1) << rm.output;
  EXPECT_NE(rm.output.find("unverifiable_delegation"), std::string::npos) << rm.output;
  EXPECT_NE(rm.output.find("targets/releases"), std::string::npos) << rm.output;
  auto status = docket("admin", "trust status " + repo);
  EXPECT_NE(status.output.find("No unpublished changes"), std::string::npos) << status.output;
  for (const std::string tag : {"1", "v1"}) {
    auto l = docket("fresh1", "trust lookup " + repo + ":" + tag);
    EXPECT_EQ(l.exit_code, 0) << tag << ": " << l.output;
  }

  // Once alice has signed (which re-signs targets/releases with her key), bob can go.
  make_image("alice", repo + ":v2");
  sign = docket("alice", "trust sign --insecure " + repo + ":v2");
  ASSERT_EQ(sign.exit_code, 0) << sign.output << server_log();
  rm = docket("admin", "trust signer remove bob " + repo);
  ASSERT_EQ(rm.exit_code, 0) << rm.output << server_log();
  for (const std::string tag : {"1", "v1", "v2"}) {
    auto l = docket("fresh2", "trust lookup " + repo + ":" + tag);
    EXPECT_EQ(l.exit_code, 0) << tag << ": " << l.output;
  }
  Json j = inspect("fresh2", repo);
  ASSERT_EQ(j[0]["Signers"].size(), 1u) << j.dump();
  EXPECT_EQ(j[0]["Signers"][0]["Name"], "alice");

  // alice is the last releases signer: --force removes targets/releases with her.
  rm = docket("admin", "trust signer remove alice " + repo);
  EXPECT_EQ(rm.exit_code, 1) << rm.output;
  rm = docket("admin", "trust signer remove --force alice " + repo);
  ASSERT_EQ(rm.exit_code, 0) << rm.output << server_log();
  auto one = docket("fresh3", "trust lookup " + repo + ":1");
  EXPECT_EQ(one.exit_code, 0) << one.output;
  auto v2 = docket("fresh3", "trust lookup " + repo + ":v2");
  EXPECT_EQ(v2.exit_code, 1) << v2.output;
  EXPECT_NE(v2.output.find("not_signed"), std::string::npos) << v2.output;
}

// `docket trust key export`: a signer key leaves the trust directory encrypted as stored and
// works as that signer's key in another trust directory after `docket trust key load`.
TEST_F(TrustE2E, TrustKeyExportLoadsElsewhereAndSigns) {
  const std::string repo = host_ + "/team/exp";
  make_image("admin", repo + ":1");
  ASSERT_EQ(docket("admin", "push --insecure " + repo + ":1").exit_code, 0) << server_log();
  auto g = docket("alice", "trust key generate alice --dir " + (dir_ / "alice").string());
  ASSERT_EQ(g.exit_code, 0) << g.output;
  auto idp = g.output.find("Key ID: ");
  ASSERT_NE(idp, std::string::npos) << g.output;
  const std::string id = g.output.substr(idp + 8, 64);

  // By name, to a file: mode 0600, one encrypted block with notary's headers, no clear key.
  const fs::path pem = dir_ / "alice-export.pem";
  auto ex = docket("alice", "trust key export alice -o " + pem.string());
  ASSERT_EQ(ex.exit_code, 0) << ex.output;
  EXPECT_NE(ex.output.find("Exported 1 encrypted key"), std::string::npos) << ex.output;
  auto text = read_file(pem);
  ASSERT_TRUE(text) << text.error().describe();
  EXPECT_NE(text->find("-----BEGIN ENCRYPTED PRIVATE KEY-----"), std::string::npos) << *text;
  EXPECT_EQ(text->find("-----BEGIN PRIVATE KEY-----"), std::string::npos);
  EXPECT_EQ(text->find("-----BEGIN EC PRIVATE KEY-----"), std::string::npos);
  EXPECT_NE(text->find("role: alice"), std::string::npos) << *text;
  EXPECT_NE(text->find("path: " + id), std::string::npos) << *text;
  EXPECT_EQ(fs::status(pem).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  // By key ID prefix, to stdout: the same block.
  auto by_id = docket("alice", "trust key export " + id.substr(0, 12));
  ASSERT_EQ(by_id.exit_code, 0) << by_id.output;
  EXPECT_EQ(by_id.output, *text);
  // Nothing by that name or ID: a user error naming it, no file written.
  auto none = docket("alice", "trust key export nobody -o " + (dir_ / "none.pem").string());
  EXPECT_EQ(none.exit_code, 1) << none.output;
  EXPECT_NE(none.output.find("not_found"), std::string::npos) << none.output;
  EXPECT_NE(none.output.find("nobody"), std::string::npos) << none.output;
  EXPECT_FALSE(fs::exists(dir_ / "none.pem"));

  // The admin makes alice a signer; "ci" (a fresh trust directory) loads the export, with the
  // wrong passphrase first (refused, nothing stored), then the right one, and signs as alice.
  auto add = docket("admin", "trust signer add --key " + (dir_ / "alice" / "alice.pub").string() +
                                 " alice " + repo);
  ASSERT_EQ(add.exit_code, 0) << add.output << server_log();
  auto wrong = docket("ci", "trust key load " + pem.string() + " --name alice",
                      {{"DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE", "not-it"}});
  EXPECT_EQ(wrong.exit_code, 1) << wrong.output;
  EXPECT_EQ(docket("ci", "trust key list").output.find(id), std::string::npos);
  auto load = docket("ci", "trust key load " + pem.string() + " --name alice");
  ASSERT_EQ(load.exit_code, 0) << load.output;
  EXPECT_NE(load.output.find(id), std::string::npos) << load.output;
  EXPECT_NE(docket("ci", "trust key list").output.find(id), std::string::npos);
  ASSERT_EQ(docket("admin", "tag " + repo + ":1 " + repo + ":2").exit_code, 0);
  ASSERT_EQ(docket("admin", "push --insecure --disable-content-trust " + repo + ":2").exit_code, 0);
  auto sign = docket("ci", "trust sign --insecure " + repo + ":2");
  ASSERT_EQ(sign.exit_code, 0) << sign.output << server_log();
  EXPECT_NE(sign.output.find("targets/releases"), std::string::npos) << sign.output;
  Json j = inspect("admin", repo + ":2");
  ASSERT_EQ(j[0]["SignedTags"].size(), 1u) << j.dump();
  EXPECT_EQ(j[0]["SignedTags"][0]["Signers"], Json::array({"alice"})) << j.dump();
  auto pull = docket("bob", "pull --insecure " + repo + ":2");
  EXPECT_EQ(pull.exit_code, 0) << pull.output;

  // ci cached the delegation it published in notary's layout (metadata/targets/releases.json,
  // where the verifier and notary look), byte for byte what the server serves; its verified
  // pull then uses that file as is (a fetched one would replace it: another inode).
  fs::path meta = dir_ / "ci" / "docker" / "trust" / "tuf" / repo / "metadata";
  fs::path rel = meta / "targets" / "releases.json";
  ASSERT_TRUE(fs::exists(rel));
  auto served =
      run("curl -sf http://" + host_ + "/v2/" + repo + "/_trust/tuf/targets/releases.json");
  ASSERT_EQ(served.exit_code, 0) << served.output;
  EXPECT_EQ(read_file(rel).value_or(""), served.output);
  for (const auto& e : fs::recursive_directory_iterator(meta))
    EXPECT_EQ(e.path().filename().string().find('%'), std::string::npos) << e.path();
  struct stat before {};
  ASSERT_EQ(::stat(rel.c_str(), &before), 0);
  auto ci_pull = docket("ci", "pull --insecure " + repo + ":2");
  ASSERT_EQ(ci_pull.exit_code, 0) << ci_pull.output;
  EXPECT_NE(ci_pull.output.find("signed by targets/releases"), std::string::npos) << ci_pull.output;
  struct stat after {};
  ASSERT_EQ(::stat(rel.c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino) << "the verified pull fetched targets/releases again";
}

// Threshold 2 on targets: setting it (with bob's key added) is itself partial until bob
// co-signs; then every tag needs both signatures: admin's alone is not published and a
// verified pull refuses the tag until bob co-signs.
TEST_F(TrustE2E, TargetsThresholdTwoNeedsACoSigner) {
  const std::string repo = host_ + "/team/thr2";
  make_image("admin", repo + ":1");
  ASSERT_EQ(docket("admin", "push --insecure " + repo + ":1").exit_code, 0) << server_log();
  auto g = docket("bob", "trust key generate bob --dir " + (dir_ / "bob").string());
  ASSERT_EQ(g.exit_code, 0) << g.output;
  fs::path partial = dir_ / "admin" / "docker" / "trust" / "tuf" / repo / "partial";
  ASSERT_EQ(docket("carol", "pull --insecure " + repo + ":1").exit_code, 0);

  // Bad requests: snapshot, a threshold above the number of keys.
  auto snap = docket("admin", "trust threshold set " + repo + " snapshot 2");
  EXPECT_EQ(snap.exit_code, 1) << snap.output;
  auto too_high = docket("admin", "trust threshold set " + repo + " targets 2");
  EXPECT_EQ(too_high.exit_code, 1) << too_high.output;
  EXPECT_NE(too_high.output.find("exceeds its 1 key"), std::string::npos) << too_high.output;

  auto set = docket("admin", "trust threshold set " + repo + " targets 2 --add-key " +
                                 (dir_ / "bob" / "bob.pub").string());
  EXPECT_EQ(set.exit_code, 1) << set.output;
  EXPECT_NE(set.output.find("threshold_not_met"), std::string::npos) << set.output;
  EXPECT_NE(set.output.find("has 1 of the 2 signatures"), std::string::npos) << set.output;
  ASSERT_TRUE(fs::exists(partial / "partial.json"));
  Json j = inspect("admin", repo);
  EXPECT_EQ(j[0]["AdministrativeKeys"][1]["Keys"].size(), 1u) << j.dump();

  auto co = docket("bob", "trust cosign " + repo + " " + partial.string());
  ASSERT_EQ(co.exit_code, 0) << co.output << server_log();
  EXPECT_NE(co.output.find("Published root"), std::string::npos) << co.output;
  EXPECT_NE(co.output.find("Published targets"), std::string::npos) << co.output;
  j = inspect("admin", repo);
  EXPECT_EQ(j[0]["AdministrativeKeys"][1]["Keys"].size(), 2u) << j.dump();
  // carol cached the old root: she follows the new one, and tag 1 still verifies.
  EXPECT_EQ(docket("carol", "pull --insecure " + repo + ":1").exit_code, 0);

  // admin signs tag 2 on push: one of two signatures, not published.
  ASSERT_EQ(docket("admin", "tag " + repo + ":1 " + repo + ":2").exit_code, 0);
  auto push = docket("admin", "push --insecure " + repo + ":2");
  EXPECT_EQ(push.exit_code, 1) << push.output;
  EXPECT_NE(push.output.find("has 1 of the 2 signatures"), std::string::npos) << push.output;
  auto early = docket("dave", "pull --insecure " + repo + ":2");
  EXPECT_EQ(early.exit_code, 1) << early.output;
  EXPECT_NE(early.output.find("not_signed"), std::string::npos) << early.output;

  co = docket("bob", "trust cosign " + repo + " " + partial.string());
  ASSERT_EQ(co.exit_code, 0) << co.output << server_log();
  auto pull = docket("dave", "pull --insecure " + repo + ":2");
  EXPECT_EQ(pull.exit_code, 0) << pull.output;
  EXPECT_NE(pull.output.find("signed by targets"), std::string::npos) << pull.output;
  // Back to 1: admin alone may do it (root key plus one targets signature).
  auto back = docket("admin", "trust threshold set " + repo + " targets 1");
  ASSERT_EQ(back.exit_code, 0) << back.output;
  EXPECT_NE(back.output.find("now needs 1 signature"), std::string::npos) << back.output;
}

// Threshold 2 on root, end to end. bob makes a root key and its certificate for the GUN
// (`trust key root-cert`); the admin adds it with `threshold set … root 2`: the new root is
// signed by the old root's key but not by a threshold of its own, so it is kept partial (the
// server refuses it if posted as is) until bob co-signs. Then fresh clients (first use and
// pinned to bob's key) and a client holding the old root verify. A later root rotation must
// be signed by both old root keys (threshold 2 of the trusted root, TUF 5.3.4): the admin
// alone leaves it partial, clients holding the threshold-2 root refuse what he signed alone,
// and once bob co-signs, clients holding root v1 or v2 walk the chain to v3.
TEST_F(TrustE2E, RootThresholdTwoCoSignedThenRotatedByBothRootKeys) {
  const std::string repo = host_ + "/team/rootthr";
  const fs::path partial = dir_ / "admin" / "docker" / "trust" / "tuf" / repo / "partial";
  auto served_root = [&] {
    auto r = run("curl -sf http://" + host_ + "/v2/" + repo + "/_trust/tuf/root.json");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    auto j = parse_json(r.output, "root.json", Fault::bug);
    EXPECT_TRUE(j) << r.output;
    return j ? *j : Json::object();
  };
  // POSTs the partial metadata as is, the way a client publishes; returns the response body
  // and " HTTP <status>".
  auto post_partial = [&] {
    std::string cmd = "curl -s -w ' HTTP %{http_code}'";
    for (const std::string f : {"root", "snapshot"})
      if (fs::exists(partial / (f + ".json")))
        cmd += " -F " + sh_quote("files=@" + (partial / (f + ".json")).string() + ";filename=" + f);
    return run(cmd + " http://" + host_ + "/v2/" + repo + "/_trust/tuf/").output;
  };
  make_image("admin", repo + ":1");
  ASSERT_EQ(docket("admin", "push --insecure " + repo + ":1").exit_code, 0) << server_log();
  ASSERT_EQ(docket("carol", "pull --insecure " + repo + ":1").exit_code, 0);  // caches root v1

  // bob's root key and certificate for the GUN; one for another GUN is refused as a root key.
  auto cert = docket("bob", "trust key root-cert " + repo + " -o " + (dir_ / "bob.crt").string());
  ASSERT_EQ(cert.exit_code, 0) << cert.output;
  auto idp = cert.output.find("Root key ID ");
  ASSERT_NE(idp, std::string::npos) << cert.output;
  const std::string bob_key = cert.output.substr(idp + 12, 64);
  auto other = docket("bob", "trust key root-cert " + host_ + "/team/other --key " +
                                 bob_key.substr(0, 8) + " -o " + (dir_ / "other.crt").string());
  ASSERT_EQ(other.exit_code, 0) << other.output;
  EXPECT_NE(other.output.find("Root key ID " + bob_key), std::string::npos) << other.output;
  auto short_id = docket("bob", "trust key root-cert " + repo + " --key " + bob_key.substr(0, 6));
  EXPECT_EQ(short_id.exit_code, 1) << short_id.output;
  EXPECT_NE(short_id.output.find("at least 7"), std::string::npos) << short_id.output;
  auto unknown = docket("admin", "trust key root-cert " + repo + " --key " + bob_key.substr(0, 12));
  EXPECT_EQ(unknown.exit_code, 1) << unknown.output;
  EXPECT_NE(unknown.output.find("not_found"), std::string::npos) << unknown.output;
  auto wrong = docket("admin", "trust threshold set " + repo + " root 2 --add-key " +
                                   (dir_ / "other.crt").string());
  EXPECT_EQ(wrong.exit_code, 1) << wrong.output;
  EXPECT_NE(wrong.output.find("not the GUN"), std::string::npos) << wrong.output;
  EXPECT_FALSE(fs::exists(partial / "partial.json"));

  // The raise: root v2 (two keys, threshold 2) signed by the admin's key only.
  auto set = docket(
      "admin", "trust threshold set " + repo + " root 2 --add-key " + (dir_ / "bob.crt").string());
  EXPECT_EQ(set.exit_code, 1) << set.output;
  EXPECT_NE(set.output.find("threshold_not_met"), std::string::npos) << set.output;
  EXPECT_NE(set.output.find("root v2 has 1 of the 2 signatures"), std::string::npos) << set.output;
  ASSERT_TRUE(fs::exists(partial / "partial.json"));
  Json root = served_root();
  EXPECT_EQ(root["signed"]["version"], 1) << root.dump();
  auto posted = post_partial();
  EXPECT_TRUE(posted.ends_with(" HTTP 400")) << posted;
  EXPECT_NE(posted.find("threshold 2 of itself not met"), std::string::npos) << posted;
  EXPECT_EQ(served_root()["signed"]["version"], 1);
  // A fresh client gets the one-key root v1 (trusted on first use) and verifies with it.
  auto dave = docket("dave", "pull --insecure " + repo + ":1");
  EXPECT_EQ(dave.exit_code, 0) << dave.output;
  Json j = inspect("dave", repo);
  EXPECT_EQ(j[0]["AdministrativeKeys"][0]["Name"], "Root") << j.dump();
  EXPECT_EQ(j[0]["AdministrativeKeys"][0]["Keys"].size(), 1u) << j.dump();

  auto co = docket("bob", "trust cosign " + repo + " " + partial.string());
  ASSERT_EQ(co.exit_code, 0) << co.output << server_log();
  EXPECT_NE(co.output.find("Published root v2"), std::string::npos) << co.output;
  root = served_root();
  EXPECT_EQ(root["signed"]["version"], 2) << root.dump();
  EXPECT_EQ(root["signed"]["roles"]["root"]["threshold"], 2) << root.dump();
  ASSERT_EQ(root["signed"]["roles"]["root"]["keyids"].size(), 2u) << root.dump();
  EXPECT_EQ(root["signatures"].size(), 2u) << root.dump();
  const Json v2_ids = root["signed"]["roles"]["root"]["keyids"];
  const std::string root_v2 =
      read_file(dir_ / "bob" / "docker" / "trust" / "tuf" / repo / "metadata" / "root.json")
          .value_or("");

  // Verified pulls: carol follows v1 -> v2; erin trusts v2 on first use; frank pins bob's
  // root key (its certificate's ID as root.json lists it).
  EXPECT_EQ(docket("carol", "pull --insecure " + repo + ":1").exit_code, 0);
  auto erin = docket("erin", "pull --insecure " + repo + ":1");
  EXPECT_EQ(erin.exit_code, 0) << erin.output;
  EXPECT_NE(erin.output.find("without a pin"), std::string::npos) << erin.output;
  auto cidp = cert.output.find("certificate key ID ");
  ASSERT_NE(cidp, std::string::npos) << cert.output;
  const std::string bob_cert_id = cert.output.substr(cidp + 19, 64);
  EXPECT_NE(std::find(v2_ids.begin(), v2_ids.end(), Json(bob_cert_id)), v2_ids.end())
      << v2_ids.dump() << " " << bob_cert_id;
  fs::create_directories(dir_ / "frank" / "docker" / "trust");
  ASSERT_TRUE(atomic_write_file(dir_ / "frank" / "docker" / "trust" / "trust_pinning.json",
                                Json{{"certs", {{repo, {bob_cert_id}}}}}.dump()));
  auto frank = docket("frank", "pull --insecure " + repo + ":1");
  EXPECT_EQ(frank.exit_code, 0) << frank.output;
  EXPECT_EQ(frank.output.find("without a pin"), std::string::npos) << frank.output;
  // targets keeps threshold 1: the admin signs tag 2 alone.
  ASSERT_EQ(docket("admin", "tag " + repo + ":1 " + repo + ":2").exit_code, 0);
  auto push = docket("admin", "push --insecure " + repo + ":2");
  ASSERT_EQ(push.exit_code, 0) << push.output << server_log();
  EXPECT_EQ(docket("erin", "pull --insecure " + repo + ":2").exit_code, 0);

  // Rotating root again: the admin's old key alone is 1 of the 2 signatures root v2 requires.
  auto rot = docket("admin", "trust key rotate root " + repo);
  EXPECT_EQ(rot.exit_code, 1) << rot.output;
  EXPECT_NE(rot.output.find("threshold_not_met"), std::string::npos) << rot.output;
  ASSERT_TRUE(fs::exists(partial / "root.json")) << rot.output;
  const std::string lone_v3 = read_file(partial / "root.json").value_or("");
  posted = post_partial();
  EXPECT_TRUE(posted.ends_with(" HTTP 400")) << posted;
  EXPECT_NE(posted.find("threshold 2 of root v2 not met"), std::string::npos) << posted;
  EXPECT_EQ(served_root()["signed"]["version"], 2);
  co = docket("bob", "trust cosign " + repo + " " + partial.string());
  ASSERT_EQ(co.exit_code, 0) << co.output << server_log();
  EXPECT_NE(co.output.find("Published root v3"), std::string::npos) << co.output;
  root = served_root();
  EXPECT_EQ(root["signed"]["version"], 3) << root.dump();
  EXPECT_EQ(root["signed"]["roles"]["root"]["keyids"].size(), 1u) << root.dump();
  std::set<std::string> signed_by;
  for (const auto& sig : root["signatures"]) signed_by.insert(sig["keyid"].get<std::string>());
  for (const auto& id : v2_ids)
    EXPECT_TRUE(signed_by.contains(id.get<std::string>())) << root.dump();
  EXPECT_EQ(signed_by.size(), 3u) << root.dump();

  // erin and frank hold v2, dave holds v1: all walk to v3. A fresh client trusts v3.
  for (const std::string who : {"erin", "frank", "dave", "gina"}) {
    auto p = docket(who, "pull --insecure " + repo + ":2");
    EXPECT_EQ(p.exit_code, 0) << who << ": " << p.output;
  }

  // What the admin signed alone (old key 1 of 2, plus the new key) is refused by a client
  // that trusts root v2, as the TUF client checks a new root; the co-signed v3 is accepted.
  ASSERT_FALSE(root_v2.empty());
  ASSERT_FALSE(lone_v3.empty());
  auto served_v3 = run("curl -sf http://" + host_ + "/v2/" + repo + "/_trust/tuf/root.json");
  ASSERT_EQ(served_v3.exit_code, 0);
  auto clock = [] { return docket::now(); };
  auto ts = tuf::TrustedSet::create(root_v2, tuf::Limits{}, clock);
  ASSERT_TRUE(ts) << ts.error().describe();
  EXPECT_EQ(ts->root()->version, 2);
  auto refused = ts->update_root(lone_v3);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "bad_signature") << refused.error().describe();
  EXPECT_NE(refused.error().message.find("root"), std::string::npos) << refused.error().describe();
  auto accepted = ts->update_root(served_v3.output);
  EXPECT_TRUE(accepted) << accepted.error().describe();
  EXPECT_EQ(ts->root()->version, 3);
}

// Trust pinning applies to signing as to pulling: a client whose trust_pinning.json pins the
// GUN to another root key refuses the repository at first use in every signing command,
// before anything is pushed or signed; the right pin (the root key's ID as `trust key list`
// shows it) signs without the first-use warning; a new GUN pinned to a key we lack is not
// created.
// A repository whose root certificate a CA issued, for clients that pin the CA (Notary's
// `ca` trust pinning): `docket trust init --root-key --root-cert` creates it, pinned clients
// verify pulls, a root rotation keeps to CA-issued certificates, and a root that clients with
// the pin would refuse (self-signed) is never published.
TEST_F(TrustE2E, CaIssuedRootCertificatesForCaPinnedClients) {
  const std::string repo = host_ + "/team/ca";
  const fs::path pki = dir_ / "pki";
  fs::create_directories(pki);
  auto sh = [&](const std::string& cmd) {
    auto r = run("sh -c " + sh_quote("cd " + sh_quote(pki.string()) + " && " + cmd));
    EXPECT_EQ(r.exit_code, 0) << cmd << ": " << r.output;
  };
  // The organisation's CA, and two root keys with certificates it issued (CN = GUN).
  ASSERT_TRUE(atomic_write_file(pki / "ca.cnf",
                                "basicConstraints=critical,CA:TRUE\nkeyUsage=keyCertSign\n"));
  ASSERT_TRUE(atomic_write_file(pki / "leaf.cnf", "basicConstraints=CA:FALSE\n"));
  sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key "
     "-out ca.crt -days 30 -subj /CN=docket-test-ca -addext basicConstraints=critical,CA:TRUE "
     "2>&1");
  std::string cn = repo;  // openssl -subj takes "/" inside a value escaped
  for (std::size_t i = cn.find('/'); i != std::string::npos; i = cn.find('/', i + 2))
    cn.insert(i, "\\");
  // root2's comes from an intermediate CA, so clients pinning the CA need the chain.
  sh("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout int.key -out int.csr "
     "-subj /CN=docket-test-intermediate 2>&1");
  sh("openssl x509 -req -in int.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 25 "
     "-extfile ca.cnf -out int.crt 2>&1");
  for (const std::string k : {"root1", "root2"}) {
    sh("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out " + k + ".key 2>&1");
    sh("openssl req -new -key " + k + ".key -subj " + sh_quote("/CN=" + cn) + " -out " + k +
       ".csr 2>&1");
    const std::string issuer = k == "root1" ? "ca" : "int";
    sh("openssl x509 -req -in " + k + ".csr -CA " + issuer + ".crt -CAkey " + issuer +
       ".key -CAcreateserial -days 20 -extfile leaf.cnf -out " + k + ".crt 2>&1");
  }
  sh("cat root2.crt int.crt > root2-chain.crt");
  auto pin_ca = [&](const std::string& who) {
    fs::create_directories(dir_ / who / "docker" / "trust");
    Json j = {{"ca", {{host_ + "/team/", (pki / "ca.crt").string()}}}};
    ASSERT_TRUE(
        atomic_write_file(dir_ / who / "docker" / "trust" / "trust_pinning.json", j.dump()));
  };
  pin_ca("admin");
  make_image("admin", repo + ":1");

  // Without a CA-issued certificate nothing is created: pinned clients would refuse it.
  for (const std::string cmd : {"trust init " + repo, "push --insecure " + repo + ":1"}) {
    auto r = docket("admin", cmd);
    EXPECT_EQ(r.exit_code, 1) << cmd << ": " << r.output;
    EXPECT_NE(r.output.find("pin_mismatch"), std::string::npos) << cmd << ": " << r.output;
    EXPECT_NE(r.output.find("--root-cert"), std::string::npos) << cmd << ": " << r.output;
  }
  auto none = run("curl -s -o /dev/null -w '%{http_code}' http://" + host_ + "/v2/" + repo +
                  "/_trust/tuf/root.json");
  EXPECT_EQ(none.output, "404") << none.output;
  // A certificate for another key is refused before anything is sent.
  auto wrong =
      docket("admin", "trust init " + repo + " --root-key " + (pki / "root1.key").string() +
                          " --root-cert " + (pki / "root2.crt").string());
  EXPECT_EQ(wrong.exit_code, 1) << wrong.output;
  EXPECT_NE(wrong.output.find("bad_key"), std::string::npos) << wrong.output;

  // With root1 (imported by the refused attempt, so named by its ID now) and its CA-issued
  // certificate.
  auto imported = wrong.output.find("Imported root key ");
  ASSERT_NE(imported, std::string::npos) << wrong.output;
  const std::string root1_id = wrong.output.substr(imported + 18, 64);
  auto reimport =
      docket("admin", "trust init " + repo + " --root-key " + (pki / "root1.key").string() +
                          " --root-cert " + (pki / "root1.crt").string());
  EXPECT_EQ(reimport.exit_code, 1) << reimport.output;
  EXPECT_NE(reimport.output.find("key_exists"), std::string::npos) << reimport.output;
  EXPECT_NE(reimport.output.find(root1_id), std::string::npos) << reimport.output;
  auto init = docket("admin", "trust init " + repo + " --root-key " + root1_id.substr(0, 12) +
                                  " --root-cert " + (pki / "root1.crt").string());
  ASSERT_EQ(init.exit_code, 0) << init.output << server_log();
  EXPECT_NE(init.output.find("Initialized " + repo), std::string::npos) << init.output;
  auto again = docket("admin", "trust init " + repo);
  EXPECT_EQ(again.exit_code, 1) << again.output;
  EXPECT_NE(again.output.find("already has trust data"), std::string::npos) << again.output;
  auto push = docket("admin", "push --insecure " + repo + ":1");
  ASSERT_EQ(push.exit_code, 0) << push.output << server_log();

  // A client pinning the CA verifies without a first-use warning; one pinning another CA
  // refuses.
  pin_ca("pinned");
  auto pull = docket("pinned", "pull --insecure " + repo + ":1");
  ASSERT_EQ(pull.exit_code, 0) << pull.output;
  EXPECT_EQ(pull.output.find("first use"), std::string::npos) << pull.output;
  sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key "
     "-out other.crt -days 30 -subj /CN=other-ca -addext basicConstraints=critical,CA:TRUE 2>&1");
  fs::create_directories(dir_ / "other" / "docker" / "trust");
  ASSERT_TRUE(
      atomic_write_file(dir_ / "other" / "docker" / "trust" / "trust_pinning.json",
                        Json{{"ca", {{host_ + "/team/", (pki / "other.crt").string()}}}}.dump()));
  auto refused = docket("other", "trust lookup " + repo + ":1");
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_NE(refused.output.find("pin_mismatch"), std::string::npos) << refused.output;

  // Rotating root to a self-signed certificate is refused, as is root2's certificate
  // without the intermediate that issued it; with the chain (leaf + intermediate, carried
  // whole in root.json) it works, and a client that cached the old root and a new client
  // pinning only the root CA both follow.
  auto self = docket("admin", "trust key rotate root " + repo);
  EXPECT_EQ(self.exit_code, 1) << self.output;
  EXPECT_NE(self.output.find("pin_mismatch"), std::string::npos) << self.output;
  auto unchained = docket("admin", "trust key rotate root " + repo + " --root-key " +
                                       (pki / "root2.key").string() + " --root-cert " +
                                       (pki / "root2.crt").string());
  EXPECT_EQ(unchained.exit_code, 1) << unchained.output;
  EXPECT_NE(unchained.output.find("pin_mismatch"), std::string::npos) << unchained.output;
  auto root2 = unchained.output.find("Imported root key ");
  ASSERT_NE(root2, std::string::npos) << unchained.output;
  auto rot = docket("admin", "trust key rotate root " + repo + " --root-key " +
                                 unchained.output.substr(root2 + 18, 12) + " --root-cert " +
                                 (pki / "root2-chain.crt").string());
  ASSERT_EQ(rot.exit_code, 0) << rot.output << server_log();
  auto root_json = run("curl -sf http://" + host_ + "/v2/" + repo + "/_trust/tuf/root.json");
  auto rj = parse_json(root_json.output, "root.json", Fault::bug);
  ASSERT_TRUE(rj) << root_json.output;
  int bundles = 0;
  for (const auto& [id, k] : (*rj)["signed"]["keys"].items()) {
    auto pem = base64_decode(k["keyval"]["public"].get<std::string>());
    ASSERT_TRUE(pem) << id;
    if (pem->find("BEGIN CERTIFICATE", pem->find("END CERTIFICATE")) != std::string::npos)
      ++bundles;
  }
  EXPECT_EQ(bundles, 1) << root_json.output;
  ASSERT_EQ(docket("admin", "tag " + repo + ":1 " + repo + ":2").exit_code, 0);
  push = docket("admin", "push --insecure " + repo + ":2");
  ASSERT_EQ(push.exit_code, 0) << push.output << server_log();
  pin_ca("late");
  for (const std::string who : {"pinned", "late"}) {
    auto l = docket(who, "trust lookup " + repo + ":2");
    EXPECT_EQ(l.exit_code, 0) << who << ": " << l.output;
  }
}

TEST_F(TrustE2E, PinnedRootIsEnforcedBySigningCommands) {
  const std::string repo = host_ + "/team/pin";
  make_image("alice", repo + ":1");
  ASSERT_EQ(docket("alice", "push --insecure " + repo + ":1").exit_code, 0) << server_log();
  ASSERT_EQ(docket("alice", "tag " + repo + ":1 " + repo + ":2").exit_code, 0);
  ASSERT_EQ(docket("alice", "push --insecure --disable-content-trust " + repo + ":2").exit_code, 0);
  auto targets_json = [&] {
    return run("curl -sf http://" + host_ + "/v2/" + repo + "/_trust/tuf/targets.json").output;
  };
  const std::string before = targets_json();
  ASSERT_NE(before.find("\"signed\""), std::string::npos) << before;

  // "ci" holds alice's keys (a copy of her trust directory) but no cached trust data.
  fs::path ci_trust = dir_ / "ci" / "docker" / "trust";
  fs::create_directories(ci_trust.parent_path());
  fs::copy(dir_ / "alice" / "docker" / "trust", ci_trust, fs::copy_options::recursive);
  fs::remove_all(ci_trust / "tuf");
  auto keys = docket("ci", "key list --role root --json");
  auto kj = parse_json(keys.output, "key list", Fault::bug);
  ASSERT_TRUE(kj && kj->size() == 1u) << keys.output;
  const std::string root_id = (*kj)[0]["id"];
  const std::string wrong(64, 'a');
  auto pin = [&](const std::string& id) {
    Json j = {{"certs", {{repo, Json::array({id})}}}};
    ASSERT_TRUE(atomic_write_file(ci_trust / "trust_pinning.json", j.dump()));
  };
  ASSERT_EQ(docket("ci", "trust key generate x --dir " + (dir_ / "ci").string()).exit_code, 0);
  pin(wrong);
  for (const std::string& cmd :
       {"trust sign --insecure " + repo + ":2", "push --insecure " + repo + ":2",
        "trust signer add --key " + (dir_ / "ci" / "x.pub").string() + " x " + repo,
        "trust key rotate targets " + repo}) {
    auto r = docket("ci", cmd);
    EXPECT_EQ(r.exit_code, 1) << cmd << ": " << r.output;
    EXPECT_NE(r.output.find("pin_mismatch"), std::string::npos) << cmd << ": " << r.output;
    EXPECT_EQ(r.output.find("The push refers to"), std::string::npos) << r.output;
  }
  EXPECT_FALSE(fs::exists(ci_trust / "tuf" / repo / "metadata" / "root.json"));
  EXPECT_EQ(targets_json(), before);
  auto unsigned_pull = docket("bob", "pull --insecure " + repo + ":2");
  EXPECT_EQ(unsigned_pull.exit_code, 1) << unsigned_pull.output;
  EXPECT_NE(unsigned_pull.output.find("not_signed"), std::string::npos) << unsigned_pull.output;

  // The right pin (a prefix of the root key's ID): signs, and says nothing of first use.
  pin(root_id.substr(0, 16));
  auto sign = docket("ci", "trust sign --insecure " + repo + ":2");
  ASSERT_EQ(sign.exit_code, 0) << sign.output << server_log();
  EXPECT_EQ(sign.output.find("first use"), std::string::npos) << sign.output;
  EXPECT_NE(targets_json(), before);
  EXPECT_EQ(docket("bob", "pull --insecure " + repo + ":2").exit_code, 0);

  // disable_tofu without a pin for the GUN: refused.
  fs::create_directories(dir_ / "dave" / "docker" / "trust");
  ASSERT_TRUE(atomic_write_file(dir_ / "dave" / "docker" / "trust" / "trust_pinning.json",
                                R"({"disable_tofu": true})"));
  fs::copy(dir_ / "alice" / "docker" / "trust" / "private",
           dir_ / "dave" / "docker" / "trust" / "private", fs::copy_options::recursive);
  auto tofu = docket("dave", "trust sign --insecure " + repo + ":1");
  EXPECT_EQ(tofu.exit_code, 1) << tofu.output;
  EXPECT_NE(tofu.output.find("not_pinned"), std::string::npos) << tofu.output;

  // A new GUN pinned to a root key ci does not hold: not created, nothing pushed.
  const std::string fresh = host_ + "/team/pin-new";
  Json j = {{"certs", {{fresh, Json::array({wrong})}}}};
  ASSERT_TRUE(atomic_write_file(ci_trust / "trust_pinning.json", j.dump()));
  make_image("ci", fresh + ":1");
  auto init = docket("ci", "push --insecure " + fresh + ":1");
  EXPECT_EQ(init.exit_code, 1) << init.output;
  EXPECT_NE(init.output.find("pin_mismatch"), std::string::npos) << init.output;
  auto none = docket("erin", "pull --insecure " + fresh + ":1");
  EXPECT_EQ(none.exit_code, 1) << none.output;
  EXPECT_NE(none.output.find("never been signed"), std::string::npos) << none.output;
}

// The registry's stored bytes of a blob (distribution's layout: …/blobs/sha256/xx/<hex>/data).
fs::path stored_blob(const fs::path& server_dir, const std::string& hex) {
  for (const auto& e : fs::recursive_directory_iterator(server_dir))
    if (e.path().filename() == "data" && e.path().parent_path().filename() == hex) return e.path();
  return {};
}

// A two-platform index for `ref` in `who`'s store: two imported images (linux/amd64,
// linux/arm64) saved as OCI layouts and joined under a new image index, then loaded.
// Returns the platform manifests' descriptors {amd64, arm64} as JSON.
class TrustMultiArchE2E : public TrustE2E {
 protected:
  // No manifest cache: the test swaps a stored manifest's bytes under the registry.
  std::map<std::string, std::string> server_env() override {
    return {{"DOCKET_REGISTRY_CACHE_MANIFEST_BYTES", "0"}};
  }
  std::vector<Json> make_index(const std::string& who, const std::string& ref) {
    std::vector<Json> children;
    fs::path oci = dir_ / "oci";
    fs::create_directories(oci);
    for (const std::string& arch : std::vector<std::string>{"amd64", "arm64"}) {
      EXPECT_TRUE(atomic_write_file(dir_ / "rootfs" / "etc" / "motd", "built for " + arch + "\n"));
      const std::string one = ref + "-" + arch;
      auto r = docket(who, "import --platform linux/" + arch + " rootfs " + one);
      EXPECT_EQ(r.exit_code, 0) << r.output;
      fs::path part = dir_ / ("oci-" + arch);
      fs::create_directories(part);
      r = docket(who, "save -o " + (part / "img.tar").string() + " " + one);
      EXPECT_EQ(r.exit_code, 0) << r.output;
      auto x = run("tar -xf " + sh_quote((part / "img.tar").string()) + " -C " +
                   sh_quote(part.string()) + " && cp -rn " + sh_quote((part / "blobs").string()) +
                   " " + sh_quote((part / "oci-layout").string()) + " " + sh_quote(oci.string()));
      EXPECT_EQ(x.exit_code, 0) << x.output;
      auto idx = parse_json(read_file(part / "index.json").value_or("{}"), "index", Fault::bug);
      EXPECT_TRUE(idx && (*idx)["manifests"].size() == 1u);
      if (!idx || (*idx)["manifests"].size() != 1u) return {};
      Json m = (*idx)["manifests"][0];
      Json child = {{"mediaType", m["mediaType"]},
                    {"digest", m["digest"]},
                    {"size", m["size"]},
                    {"platform", {{"architecture", arch}, {"os", "linux"}}}};
      children.push_back(child);
    }
    Json index = {{"schemaVersion", 2},
                  {"mediaType", "application/vnd.oci.image.index.v1+json"},
                  {"manifests", Json::array({children[0], children[1]})}};
    const std::string bytes = index.dump();
    const std::string hex = sha256_hex(bytes);
    EXPECT_TRUE(atomic_write_file(oci / "blobs" / "sha256" / hex, bytes));
    Json top = {{"schemaVersion", 2},
                {"manifests",
                 Json::array({{{"mediaType", "application/vnd.oci.image.index.v1+json"},
                               {"digest", "sha256:" + hex},
                               {"size", bytes.size()},
                               {"annotations", {{"org.opencontainers.image.ref.name", ref}}}}})}};
    EXPECT_TRUE(atomic_write_file(oci / "index.json", top.dump()));
    auto t = run("tar -cf " + sh_quote((dir_ / "multi.tar").string()) + " -C " +
                 sh_quote(oci.string()) + " oci-layout index.json blobs");
    EXPECT_EQ(t.exit_code, 0) << t.output;
    auto l = docket(who, "load -i " + (dir_ / "multi.tar").string());
    EXPECT_EQ(l.exit_code, 0) << l.output;
    index_hex_ = hex;
    return children;
  }
  std::string index_hex_;
};

TEST_F(TrustMultiArchE2E, RecursiveSigningOfAnIndexAndVerifiedPlatformPulls) {
  const std::string repo = host_ + "/team/multi";
  auto children = make_index("alice", repo + ":1");
  ASSERT_EQ(children.size(), 2u);
  const std::string amd = children[0]["digest"], arm = children[1]["digest"];

  // --recursive needs content trust.
  auto plain =
      docket("alice", "push --insecure --disable-content-trust --recursive " + repo + ":1");
  EXPECT_EQ(plain.exit_code, 1) << plain.output;
  EXPECT_NE(plain.output.find("needs content trust"), std::string::npos) << plain.output;

  auto push = docket("alice", "push --insecure --recursive " + repo + ":1");
  ASSERT_EQ(push.exit_code, 0) << push.output << server_log();
  EXPECT_NE(push.output.find("Signed platform manifest " + amd + " (linux/amd64)"),
            std::string::npos)
      << push.output;
  EXPECT_NE(push.output.find("Signed platform manifest " + arm + " (linux/arm64)"),
            std::string::npos)
      << push.output;

  // inspect lists the tag (the index digest) and each platform manifest under its digest.
  Json j = inspect("alice", repo);
  std::map<std::string, std::string> signed_;
  for (const auto& t : j[0]["SignedTags"]) signed_[t["SignedTag"]] = t["Digest"];
  EXPECT_EQ(signed_.size(), 3u) << j.dump();
  EXPECT_EQ(signed_["1"], index_hex_) << j.dump();
  EXPECT_EQ(signed_[amd], amd.substr(7)) << j.dump();
  EXPECT_EQ(signed_[arm], arm.substr(7)) << j.dump();

  // A fresh client pulls each platform verified, the platform manifest against its entry.
  for (const auto& [arch, digest] : {std::pair{"amd64", amd}, std::pair{"arm64", arm}}) {
    auto pull = docket(std::string("bob-") + arch,
                       "pull --insecure --platform linux/" + std::string(arch) + " " + repo + ":1");
    ASSERT_EQ(pull.exit_code, 0) << pull.output;
    EXPECT_NE(pull.output.find("signed by targets"), std::string::npos) << pull.output;
    EXPECT_NE(
        pull.output.find("Platform manifest " + digest + " (linux/" + arch + ") signed by targets"),
        std::string::npos)
        << pull.output;
  }

  // trust sign --recursive of what the registry serves: the same three entries, unchanged.
  auto again = docket("alice", "trust sign --insecure --recursive " + repo + ":1");
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("already signed"), std::string::npos) << again.output;

  // The registry serves other bytes for the amd64 manifest: refused, nothing stored.
  fs::path amd_blob = stored_blob(dir_ / "server", amd.substr(7));
  ASSERT_FALSE(amd_blob.empty());
  fs::path arm_blob = stored_blob(dir_ / "server", arm.substr(7));
  ASSERT_FALSE(arm_blob.empty());
  ASSERT_TRUE(atomic_write_file(amd_blob, read_file(arm_blob).value_or("")));
  auto swapped = docket("carol", "pull --insecure --platform linux/amd64 " + repo + ":1");
  EXPECT_EQ(swapped.exit_code, 1) << swapped.output;
  EXPECT_NE(swapped.output.find("hash_mismatch"), std::string::npos) << swapped.output;
  EXPECT_EQ(docket("carol", "images -q").output, "");

  // The arm64 entry re-signed with another length (staged as notary stages a target, then
  // published): the index's entry no longer matches the signature, so the pull is refused.
  auto len = children[1]["size"].get<std::uint64_t>();
  auto raw = hex_decode(arm.substr(7));
  ASSERT_TRUE(raw);
  Json meta = {{"length", len + 1}, {"hashes", {{"sha256", base64_encode(*raw)}}}};
  Json change = {{"action", "create"},
                 {"role", "targets"},
                 {"type", "target"},
                 {"path", arm},
                 {"data", base64_encode(meta.dump())}};
  fs::path cl = dir_ / "alice" / "docker" / "trust" / "tuf" / repo / "changelist";
  fs::create_directories(cl);
  ASSERT_TRUE(atomic_write_file(
      cl / "09999999999999999999_0f0e0d0c-0b0a-4908-8706-050403020100.change", change.dump()));
  auto pub = docket("alice", "trust publish " + repo);
  ASSERT_EQ(pub.exit_code, 0) << pub.output << server_log();
  auto forged = docket("dave", "pull --insecure --platform linux/arm64 " + repo + ":1");
  EXPECT_EQ(forged.exit_code, 1) << forged.output;
  EXPECT_NE(forged.output.find("hash_mismatch"), std::string::npos) << forged.output;
  EXPECT_NE(forged.output.find("signed as " + std::to_string(len + 1) + " bytes"),
            std::string::npos)
      << forged.output;
  EXPECT_EQ(docket("dave", "images -q").output, "");
}

// The same server behind token auth (htpasswd users, an access policy): the trust routes
// answer 401 with a Bearer challenge, and the client authenticates with what `docket login`
// stored for the server's host. alice may do everything; bob may push and pull images but
// only read trust data; a logged-out client gets nothing.
class TrustAuthE2E : public TrustE2E {
 protected:
  std::map<std::string, std::string> server_env() override {
    fs::create_directories(dir_);
    auto users = value_or_raise(net::Htpasswd::parse(""));
    EXPECT_TRUE(users.set_password("alice", "alice-pass", 4));
    EXPECT_TRUE(users.set_password("bob", "bob-pass", 4));
    EXPECT_TRUE(atomic_write_file(dir_ / "htpasswd", users.serialize()));
    EXPECT_TRUE(atomic_write_file(dir_ / "alice.pass", "alice-pass\n"));
    EXPECT_TRUE(atomic_write_file(dir_ / "bob.pass", "bob-pass\n"));
    // Registry names are "team/…"; GUNs are "127.0.0.1:<port>/team/…".
    EXPECT_TRUE(atomic_write_file(dir_ / "policy.json", R"({"rules": [
      {"account": "alice", "type": "repository", "name": "*", "actions": ["*"]},
      {"account": "bob", "type": "repository", "name": "team/*", "actions": ["push", "pull"]},
      {"account": "bob", "type": "repository", "name": "127.0.0.1:*", "actions": ["pull"]}]})"));
    auto gen = run("openssl ecparam -name prime256v1 -genkey -noout -out " +
                   sh_quote((dir_ / "token.key").string()));
    EXPECT_EQ(gen.exit_code, 0) << gen.output;
    return {{"DOCKET_AUTH_HTPASSWD_PATH", (dir_ / "htpasswd").string()},
            {"DOCKET_AUTH_TOKEN_REALM", "http://" + host_ + "/auth/token"},
            {"DOCKET_AUTH_TOKEN_SERVICE", "docket-e2e"},
            {"DOCKET_AUTH_TOKEN_SIGNINGKEY", (dir_ / "token.key").string()},
            {"DOCKET_AUTH_TOKEN_POLICY", (dir_ / "policy.json").string()}};
  }
  void login(const std::string& who) {
    auto r = docket(who, "login --insecure -u " + who + " --password-stdin " + host_, {},
                    (dir_ / (who + ".pass")).string());
    ASSERT_EQ(r.exit_code, 0) << r.output << server_log();
  }
  // What `docket login` stored for `who`.
  Json docker_config(const std::string& who) {
    return value_or_raise(parse_json(
        value_or_raise(read_file(dir_ / who / "docker" / "config.json")), "config", Fault::bug));
  }
  // A client with no stored credentials is refused with the remedy named.
  void expect_login_required(const RunResult& r) {
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("unauthorized"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("docket login " + host_), std::string::npos) << r.output;
  }
};

TEST_F(TrustAuthE2E, LoggedInUsersSignAndVerifyOthersAreRefused) {
  const std::string img = image("team/app:1");
  make_image("alice", img);
  login("alice");
  // The token service issued an identity token: login kept it instead of the password, and
  // everything below authenticates with it (OAuth2 refresh grant), registry and trust server.
  auto cfg = docker_config("alice");
  ASSERT_TRUE(cfg["auths"].contains(host_)) << cfg.dump();
  EXPECT_TRUE(cfg["auths"][host_]["identitytoken"].is_string()) << cfg.dump();
  EXPECT_EQ(cfg["auths"][host_]["auth"], base64_encode("alice:")) << cfg.dump();
  EXPECT_EQ(cfg.dump().find("alice-pass"), std::string::npos);
  auto push = docket("alice", "push --insecure " + img);
  ASSERT_EQ(push.exit_code, 0) << push.output << server_log();
  EXPECT_NE(push.output.find("Successfully signed"), std::string::npos) << push.output;
  // No secret in anything the client printed.
  EXPECT_EQ(push.output.find("alice-pass"), std::string::npos);
  Json j = inspect("alice", host_ + "/team/app");
  ASSERT_EQ(j.size(), 1u);
  ASSERT_EQ(j[0]["SignedTags"].size(), 1u) << j.dump();

  // A second user, logged in with pull rights on the trust data, pulls verified.
  login("bob");
  auto pull = docket("bob", "pull --insecure " + img);
  ASSERT_EQ(pull.exit_code, 0) << pull.output << server_log();
  EXPECT_NE(pull.output.find("signed by targets"), std::string::npos) << pull.output;

  // A logged-out client: a clear unauthorized error naming the server and the remedy, and
  // nothing pulled.
  expect_login_required(docket("carol", "pull --insecure " + img));
  EXPECT_EQ(docket("carol", "images -q").output, "");

  // bob may push images but not trust data: the image goes up, signing it is refused by the
  // trust server (his token lacks push on the GUN) and the push fails.
  const std::string bobs = image("team/bobapp:1");
  make_image("bob", bobs);
  auto bob_push = docket("bob", "push --insecure " + bobs);
  EXPECT_NE(bob_push.exit_code, 0) << bob_push.output;
  EXPECT_NE(bob_push.output.find("unauthorized"), std::string::npos) << bob_push.output;
  EXPECT_NE(bob_push.output.find("refused"), std::string::npos) << bob_push.output;
  EXPECT_EQ(bob_push.output.find("bob-pass"), std::string::npos);
  // Nothing was signed for it.
  auto bob_pull = docket("alice", "pull --insecure " + bobs);
  EXPECT_NE(bob_pull.exit_code, 0) << bob_pull.output;
  EXPECT_NE(bob_pull.output.find("not_signed"), std::string::npos) << bob_pull.output;
}

// htpasswd alone: the trust routes challenge with Basic, and the stored credentials are sent.
class TrustBasicAuthE2E : public TrustAuthE2E {
 protected:
  std::map<std::string, std::string> server_env() override {
    auto env = TrustAuthE2E::server_env();
    for (auto it = env.begin(); it != env.end();)
      it = it->first.starts_with("DOCKET_AUTH_TOKEN_") ? env.erase(it) : std::next(it);
    return env;
  }
};

TEST_F(TrustBasicAuthE2E, BasicCredentialsSignAndVerify) {
  const std::string img = image("team/app:1");
  make_image("alice", img);
  login("alice");
  // Basic auth has no identity tokens: login stored the password.
  auto cfg = docker_config("alice");
  EXPECT_EQ(cfg["auths"][host_].value("auth", ""), base64_encode("alice:alice-pass")) << cfg.dump();
  EXPECT_FALSE(cfg["auths"][host_].contains("identitytoken")) << cfg.dump();
  auto push = docket("alice", "push --insecure " + img);
  ASSERT_EQ(push.exit_code, 0) << push.output << server_log();
  EXPECT_NE(push.output.find("Successfully signed"), std::string::npos) << push.output;
  login("bob");
  auto pull = docket("bob", "pull --insecure " + img);
  ASSERT_EQ(pull.exit_code, 0) << pull.output << server_log();
  EXPECT_NE(pull.output.find("signed by targets"), std::string::npos) << pull.output;
  expect_login_required(docket("carol", "pull --insecure " + img));
}

}  // namespace
