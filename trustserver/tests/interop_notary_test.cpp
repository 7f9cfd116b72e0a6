// The real notary CLI 0.7 (Debian package `notary`) against `docket-server trust` over TLS.
// One repository's whole life, step by step; every step asserts the CLI's exit code and
// output. Skipped only when the notary binary is absent.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/digest.h"
#include "common/encoding.h"
#include "common/file.h"
#include "common/json.h"
#include "net/htpasswd.h"
#include "trustserver/tests/interop_util.h"

namespace docket::trustserver {
namespace {
using namespace testing;
namespace fs = std::filesystem;

const std::string kGun = "localhost:4443/library/interop";

class NotaryInterop : public ::testing::Test {
 protected:
  // The server command: "trust" (the role alone) or "serve" (registry + trust on one port).
  virtual std::string command() const { return "trust"; }
  // More server environment (auth set-up); called once dir_, pki_ and port_ are set.
  virtual std::map<std::string, std::string> server_env() { return {}; }
  void SetUp() override {
    if (!fs::exists("/usr/bin/notary"))
      GTEST_SKIP() << "notary CLI not installed (Debian package notary)";
    dir_ = fs::temp_directory_path() / ("docket-notary-" + random_hex_id());
    fs::create_directories(dir_);
    pki_ = std::make_unique<TestPki>(dir_);
    port_ = free_port();
    // Common flags only; the rest through the documented environment overrides, which
    // `serve` and `trust` share.
    std::map<std::string, std::string> env{
        {"DOCKET_SIGNER_PASSPHRASE_DEFAULT", "interop-pass"},
        {"DOCKET_HTTP_TLS_CERTIFICATE", pki_->server_cert.string()},
        {"DOCKET_HTTP_TLS_KEY", pki_->server_key.string()},
        {"DOCKET_TRUST_STORAGE_URL", "sqlite://" + (dir_ / "trust.db").string()},
        {"DOCKET_TRUST_SIGNER_DIRECTORY", (dir_ / "server-keys").string()},
        {"DOCKET_LOG_LEVEL", "warn"}};
    for (auto& [k, v] : server_env()) env[k] = v;
    server_ =
        std::make_unique<Child>(std::vector<std::string>{docket_server_bin(), command(), "--addr",
                                                         "127.0.0.1:" + std::to_string(port_),
                                                         "--data", (dir_ / "data").string()},
                                env, dir_ / "server.log");
    ASSERT_TRUE(wait_for_port(port_, *server_)) << log();
    write_config("client", "");
  }
  void TearDown() override {
    server_.reset();
    std::error_code ec;
    if (!HasFailure())
      fs::remove_all(dir_, ec);
    else
      std::fprintf(stderr, "kept %s for inspection\n", dir_.c_str());
  }
  std::string log() { return read_file(dir_ / "server.log").value_or(""); }
  std::string url() { return "https://127.0.0.1:" + std::to_string(port_); }

  // A notary config for one client trust dir; `pin` = cert ID to pin for kGun.
  fs::path write_config(const std::string& name, const std::string& pin) {
    Json cfg = {{"trust_dir", (dir_ / name).string()},
                {"remote_server", {{"url", url()}, {"root_ca", pki_->ca_cert.string()}}}};
    if (!pin.empty()) cfg["trust_pinning"] = {{"certs", {{kGun, {pin}}}}};
    auto p = dir_ / (name + ".json");
    EXPECT_TRUE(atomic_write_file(p, cfg.dump()));
    return p;
  }
  RunResult notary(const std::string& args, const std::string& client = "client",
                   const std::string& stdin_file = "",
                   const std::map<std::string, std::string>& more_env = {}) {
    std::map<std::string, std::string> env{{"NOTARY_ROOT_PASSPHRASE", "root-pass"},
                                           {"NOTARY_TARGETS_PASSPHRASE", "targets-pass"},
                                           {"NOTARY_SNAPSHOT_PASSPHRASE", "snapshot-pass"},
                                           {"NOTARY_DELEGATION_PASSPHRASE", "deleg-pass"}};
    for (const auto& [k, v] : more_env) env[k] = v;
    return run("notary -c " + sh_quote((dir_ / (client + ".json")).string()) + " " + args, env,
               stdin_file);
  }
  fs::path file(const std::string& name, const std::string& content) {
    auto p = dir_ / name;
    EXPECT_TRUE(atomic_write_file(p, content));
    return p;
  }
  // The sha256 hex column of `notary list` for a target.
  static bool lists(const std::string& out, const std::string& name, const std::string& content) {
    return out.find(name) != std::string::npos &&
           out.find(sha256_hex(content)) != std::string::npos;
  }

  fs::path dir_;
  std::unique_ptr<TestPki> pki_;
  int port_ = 0;
  std::unique_ptr<Child> server_;
};

#define STEP(r, expect_ok)                                                          \
  ASSERT_EQ((r).exit_code == 0, (expect_ok)) << "exit " << (r).exit_code << "\n"    \
                                             << (r).output << "\n--- server log:\n" \
                                             << log()

TEST_F(NotaryInterop, WholeRepositoryLifecycle) {
  const std::string g = sh_quote(kGun);
  // init + publish: root v1, targets, client snapshot, server timestamp.
  auto r = notary("init " + g + " -p");
  STEP(r, true);

  // add, status, publish, list, lookup, verify.
  auto v1 = file("v1.txt", "version one\n");
  r = notary("add " + g + " v1 " + sh_quote(v1.string()));
  STEP(r, true);
  r = notary("status " + g);
  STEP(r, true);
  EXPECT_NE(r.output.find("v1"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("create"), std::string::npos) << r.output;
  r = notary("publish " + g);
  STEP(r, true);
  r = notary("status " + g);
  STEP(r, true);
  EXPECT_NE(r.output.find("No unpublished changes"), std::string::npos) << r.output;
  r = notary("list " + g);
  STEP(r, true);
  EXPECT_TRUE(lists(r.output, "v1", "version one\n")) << r.output;
  r = notary("lookup " + g + " v1");
  STEP(r, true);
  EXPECT_NE(r.output.find(sha256_hex("version one\n")), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("12"), std::string::npos) << r.output;
  r = notary("verify " + g + " v1", "client", v1.string());
  STEP(r, true);
  EXPECT_NE(r.output.find("version one"), std::string::npos) << r.output;
  auto tampered = file("tampered.txt", "version 0ne\n");
  r = notary("verify " + g + " v1", "client", tampered.string());
  STEP(r, false);
  EXPECT_NE(r.output.find("data not present in the trusted collection"), std::string::npos)
      << r.output;

  // A cold client that trusts on first use, and one pinned to the root certificate; both
  // cached root v1 now and must walk the root chain after the rotations below.
  write_config("tofu", "");
  r = notary("list " + g, "tofu");
  STEP(r, true);
  EXPECT_TRUE(lists(r.output, "v1", "version one\n")) << r.output;

  // reset drops staged changes.
  auto v2 = file("v2.txt", "two");
  r = notary("add " + g + " v2 " + sh_quote(v2.string()));
  STEP(r, true);
  r = notary("reset " + g + " --all");
  STEP(r, true);
  r = notary("status " + g);
  EXPECT_NE(r.output.find("No unpublished changes"), std::string::npos) << r.output;

  // addhash.
  r = notary("addhash " + g + " v3 3 --sha256 " + sha256_hex("abc") + " -p");
  STEP(r, true);
  r = notary("list " + g);
  EXPECT_TRUE(lists(r.output, "v3", "abc")) << r.output;

  // key list shows the client's keys.
  r = notary("key list");
  STEP(r, true);
  EXPECT_NE(r.output.find("root"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("targets"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("snapshot"), std::string::npos) << r.output;

  // Snapshot key to the server, then a publish relying on the server's snapshot.
  r = notary("key rotate " + g + " snapshot -r");
  STEP(r, true);
  auto v4 = file("v4.txt", "four");
  r = notary("add " + g + " v4 " + sh_quote(v4.string()) + " -p");
  STEP(r, true);
  r = notary("list " + g);
  EXPECT_TRUE(lists(r.output, "v4", "four")) << r.output;

  // Targets key rotation (client-held).
  r = notary("key rotate " + g + " targets");
  STEP(r, true);
  // Root rotation, twice.
  r = notary("key rotate " + g + " root");
  STEP(r, true);
  r = notary("key rotate " + g + " root");
  STEP(r, true);
  // Timestamp rotation on the server.
  r = notary("key rotate " + g + " timestamp -r");
  STEP(r, true);
  r = notary("list " + g);
  STEP(r, true);
  EXPECT_TRUE(lists(r.output, "v4", "four")) << r.output;

  // The cold client walks 2.root.json, 3.root.json ... from its cached root v1.
  r = notary("list " + g, "tofu");
  STEP(r, true);
  EXPECT_TRUE(lists(r.output, "v4", "four")) << r.output;

  // Delegation with its own key (x509 certificate, as notary wants).
  auto dkey = dir_ / "deleg.key", dcrt = dir_ / "deleg.crt";
  auto gen =
      run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 "
          "-subj /CN=releases "
          "-keyout " +
          sh_quote(dkey.string()) + " -out " + sh_quote(dcrt.string()));
  ASSERT_EQ(gen.exit_code, 0) << gen.output;
  r = notary("delegation add " + g + " targets/releases " + sh_quote(dcrt.string()) +
             " --all-paths -p");
  STEP(r, true);
  r = notary("delegation list " + g);
  STEP(r, true);
  EXPECT_NE(r.output.find("targets/releases"), std::string::npos) << r.output;
  r = notary("key import " + sh_quote(dkey.string()) + " --role targets/releases");
  STEP(r, true);
  auto rel = file("rel.txt", "release build");
  r = notary("add " + g + " rel1 " + sh_quote(rel.string()) + " --roles targets/releases -p");
  STEP(r, true);
  r = notary("list " + g + " --roles targets/releases");
  STEP(r, true);
  EXPECT_TRUE(lists(r.output, "rel1", "release build")) << r.output;

  // remove, witness.
  r = notary("remove " + g + " v1 -p");
  STEP(r, true);
  r = notary("list " + g);
  STEP(r, true);
  EXPECT_EQ(r.output.find(sha256_hex("version one\n")), std::string::npos) << r.output;
  r = notary("witness " + g + " targets/releases -p");
  STEP(r, true);
  r = notary("delegation remove " + g + " targets/releases -y -p");
  STEP(r, true);
  r = notary("delegation list " + g);
  STEP(r, true);
  EXPECT_EQ(r.output.find("targets/releases"), std::string::npos) << r.output;

  // A client pinned to the current root certificate; a wrong pin is refused.
  auto root_json = run("curl -sS --cacert " + sh_quote(pki_->ca_cert.string()) + " " +
                       sh_quote(url() + "/v2/" + kGun + "/_trust/tuf/root.json"));
  ASSERT_EQ(root_json.exit_code, 0) << root_json.output;
  auto root = value_or_raise(parse_json(root_json.output, "root", Fault::bug));
  std::string cert_id = root["signed"]["roles"]["root"]["keyids"][0];
  write_config("pinned", cert_id);
  r = notary("list " + g, "pinned");
  STEP(r, true);
  EXPECT_TRUE(lists(r.output, "v4", "four")) << r.output;
  write_config("badpin", std::string(64, 'a'));
  r = notary("list " + g, "badpin");
  STEP(r, false);

  // delete --remote: the server forgets the GUN.
  r = notary("delete " + g + " --remote");
  STEP(r, true);
  write_config("fresh", "");
  r = notary("list " + g, "fresh");
  STEP(r, false);
  EXPECT_NE(r.output.find("does not have trust data"), std::string::npos) << r.output;
}

// The same API mounted beside the registry on one port (`docket-server serve`).
class NotaryInteropServe : public NotaryInterop {
 protected:
  std::string command() const override { return "serve"; }
};

TEST_F(NotaryInteropServe, PublishAndListThroughTheRegistryPort) {
  const std::string g = sh_quote(kGun);
  auto r = notary("init " + g + " -p");
  STEP(r, true);
  auto v1 = file("v1.txt", "served beside the registry");
  r = notary("add " + g + " v1 " + sh_quote(v1.string()) + " -p");
  STEP(r, true);
  r = notary("list " + g);
  STEP(r, true);
  EXPECT_TRUE(lists(r.output, "v1", "served beside the registry")) << r.output;
  // The registry still owns its API on the same port.
  auto cat = run("curl -sS --cacert " + sh_quote(pki_->ca_cert.string()) + " " +
                 sh_quote(url() + "/v2/_catalog"));
  EXPECT_EQ(cat.exit_code, 0) << cat.output;
  EXPECT_NE(cat.output.find("repositories"), std::string::npos) << cat.output;
  auto health = run("curl -sS --cacert " + sh_quote(pki_->ca_cert.string()) + " " +
                    sh_quote(url() + "/_notary_server/health"));
  EXPECT_EQ(health.output, "{}");
}

// Token auth (Docker token spec, Notary's scopes): the server's own token endpoint, users in
// an htpasswd file, an access policy. The notary CLI reads the challenge from the /v2/ ping,
// asks the realm for a token with Basic credentials from NOTARY_AUTH (base64 user:pass;
// read-only commands ask anonymously) and retries with the Bearer token. Run on `trust`
// alone (it serves /auth/token itself) and on `serve` (the registry's token endpoint and
// authorizer, shared).
class NotaryInteropAuth : public NotaryInterop, public ::testing::WithParamInterface<std::string> {
 protected:
  std::string command() const override { return GetParam(); }
  std::map<std::string, std::string> server_env() override {
    auto users = value_or_raise(net::Htpasswd::parse(""));
    EXPECT_TRUE(users.set_password("alice", "alice-pass", 4));
    EXPECT_TRUE(users.set_password("bob", "bob-pass", 4));
    EXPECT_TRUE(atomic_write_file(dir_ / "htpasswd", users.serialize()));
    auto gen = run("openssl ecparam -name prime256v1 -genkey -noout -out " +
                   sh_quote((dir_ / "token.key").string()));
    EXPECT_EQ(gen.exit_code, 0) << gen.output;
    // alice owns localhost:4443/*; bob and anonymous users may only pull.
    Json policy = {{"rules",
                    {{{"account", "alice"}, {"name", "localhost:4443/*"}, {"actions", {"*"}}},
                     {{"account", "bob"}, {"name", "localhost:4443/*"}, {"actions", {"pull"}}},
                     {{"account", ""}, {"name", "localhost:4443/*"}, {"actions", {"pull"}}}}}};
    EXPECT_TRUE(atomic_write_file(dir_ / "policy.json", policy.dump()));
    return {{"DOCKET_AUTH_HTPASSWD_PATH", (dir_ / "htpasswd").string()},
            {"DOCKET_AUTH_TOKEN_REALM", url() + "/auth/token"},
            {"DOCKET_AUTH_TOKEN_SERVICE", "notary-interop"},
            {"DOCKET_AUTH_TOKEN_SIGNINGKEY", (dir_ / "token.key").string()},
            {"DOCKET_AUTH_TOKEN_POLICY", (dir_ / "policy.json").string()},
            {"DOCKET_AUTH_ANONYMOUS_PULL", "true"}};
  }
  static std::map<std::string, std::string> as(const std::string& user, const std::string& pw) {
    return {{"NOTARY_AUTH", base64_encode(user + ":" + pw)}};
  }
};

TEST_P(NotaryInteropAuth, TokenAuthWithNotarysScopes) {
  const std::string g = sh_quote(kGun);
  // The challenge names our token endpoint, the service and the scope (reads are open to
  // anonymous users here, so ask for the server's key, which needs push,pull).
  auto raw = run("curl -sS -i --cacert " + sh_quote(pki_->ca_cert.string()) + " " +
                 sh_quote(url() + "/v2/" + kGun + "/_trust/tuf/timestamp.key"));
  ASSERT_EQ(raw.exit_code, 0) << raw.output;
  EXPECT_NE(raw.output.find(" 401"), std::string::npos) << raw.output;
  EXPECT_NE(raw.output.find("Bearer realm=\"" + url() + "/auth/token\""), std::string::npos)
      << raw.output;
  EXPECT_NE(raw.output.find("scope=\"repository:" + kGun + ":pull,push\""), std::string::npos)
      << raw.output;
  EXPECT_NE(raw.output.find("\"code\":\"UNAUTHORIZED\""), std::string::npos) << raw.output;

  // No credentials for a write: the client cannot get a push token (its prompt reads EOF).
  auto r = notary("init " + g + " -p");
  STEP(r, false);
  // A wrong password is refused by the token endpoint.
  r = notary("init " + g + " -p", "client", "", as("alice", "wrong"));
  STEP(r, false);
  // alice holds everything on the GUN: init, publish.
  r = notary("init " + g + " -p", "client", "", as("alice", "alice-pass"));
  STEP(r, true);
  auto v1 = file("v1.txt", "behind token auth");
  r = notary("add " + g + " v1 " + sh_quote(v1.string()) + " -p", "client", "",
             as("alice", "alice-pass"));
  STEP(r, true);
  // Reads go anonymously and are allowed by the policy.
  r = notary("list " + g);
  STEP(r, true);
  EXPECT_TRUE(lists(r.output, "v1", "behind token auth")) << r.output;
  // bob may only pull: his publish is refused and nothing changes.
  auto v2 = file("v2.txt", "bob was here");
  r = notary("add " + g + " v2 " + sh_quote(v2.string()) + " -p", "client", "",
             as("bob", "bob-pass"));
  STEP(r, false);
  r = notary("reset " + g + " --all");
  STEP(r, true);
  r = notary("list " + g);
  STEP(r, true);
  EXPECT_EQ(r.output.find("v2"), std::string::npos) << r.output;
  // Rotation of the server's timestamp key needs "*": bob cannot, alice can.
  r = notary("key rotate " + g + " timestamp -r", "client", "", as("bob", "bob-pass"));
  STEP(r, false);
  r = notary("key rotate " + g + " timestamp -r", "client", "", as("alice", "alice-pass"));
  STEP(r, true);
  r = notary("list " + g);
  STEP(r, true);
  EXPECT_TRUE(lists(r.output, "v1", "behind token auth")) << r.output;
  // delete --remote needs "*" as well.
  r = notary("delete " + g + " --remote", "client", "", as("bob", "bob-pass"));
  STEP(r, false);
  r = notary("delete " + g + " --remote", "client", "", as("alice", "alice-pass"));
  STEP(r, true);
  write_config("fresh", "");
  r = notary("list " + g, "fresh");
  STEP(r, false);
  EXPECT_NE(r.output.find("does not have trust data"), std::string::npos) << r.output;
}

INSTANTIATE_TEST_SUITE_P(Commands, NotaryInteropAuth, ::testing::Values("trust", "serve"));

// The server-managed keys live in a separate `docket-server signer`, reached over mutual
// TLS with a client certificate from the test CA: key creation, rotation and every
// timestamp signature go over the wire, and the notary CLI verifies the result.
class NotaryInteropRemoteSigner : public NotaryInterop {
 protected:
  std::map<std::string, std::string> server_env() override {
    auto [crt, key] = pki_->client_cert("trust-server");
    signer_port_ = free_port();
    start_signer();
    return {{"DOCKET_TRUST_SIGNER_URL", signer_url()},
            {"DOCKET_TRUST_SIGNER_CA", pki_->ca_cert.string()},
            {"DOCKET_TRUST_SIGNER_CERT", crt.string()},
            {"DOCKET_TRUST_SIGNER_KEY", key.string()},
            // The trust server itself holds no key and needs no passphrase.
            {"DOCKET_SIGNER_PASSPHRASE_DEFAULT", ""}};
  }
  void start_signer() {
    signer_ = std::make_unique<Child>(
        std::vector<std::string>{docket_server_bin(), "signer", "--addr",
                                 "127.0.0.1:" + std::to_string(signer_port_), "--tls-cert",
                                 pki_->server_cert.string(), "--tls-key", pki_->server_key.string(),
                                 "--client-ca", pki_->ca_cert.string(), "--dir",
                                 (dir_ / "signer-keys").string(), "--log-level", "warn"},
        std::map<std::string, std::string>{{"DOCKET_SIGNER_PASSPHRASE_DEFAULT", "signer-pass"}},
        dir_ / "signer.log");
    ASSERT_TRUE(wait_for_port(signer_port_, *signer_))
        << read_file(dir_ / "signer.log").value_or("");
  }
  std::string signer_url() const { return "https://127.0.0.1:" + std::to_string(signer_port_); }
  std::string curl(const std::string& path) {
    return run("curl -sS --cacert " + sh_quote(pki_->ca_cert.string()) + " " +
               sh_quote(url() + path))
        .output;
  }
  int signer_port_ = 0;
  std::unique_ptr<Child> signer_;
};

TEST_F(NotaryInteropRemoteSigner, PublishesThroughTheRemoteSigner) {
  const std::string g = sh_quote(kGun);
  auto r = notary("init " + g + " -p");
  STEP(r, true);
  auto v1 = file("v1.txt", "signed remotely");
  r = notary("add " + g + " v1 " + sh_quote(v1.string()) + " -p");
  STEP(r, true);
  r = notary("verify " + g + " v1", "client", v1.string());
  STEP(r, true);
  // The timestamp key is in the signer's directory; the trust server wrote no key.
  auto keys_in = [](const fs::path& d) {
    std::size_t n = 0;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(d, ec))
      if (e.path().extension() == ".json") ++n;
    return n;
  };
  EXPECT_EQ(keys_in(dir_ / "signer-keys"), 1u);
  EXPECT_FALSE(fs::exists(dir_ / "server-keys"));
  // Rotation over the wire, then a publish signed with the new key.
  r = notary("key rotate " + g + " timestamp -r");
  STEP(r, true);
  EXPECT_EQ(keys_in(dir_ / "signer-keys"), 2u);
  r = notary("key rotate " + g + " snapshot -r");
  STEP(r, true);
  auto v2 = file("v2.txt", "second");
  r = notary("add " + g + " v2 " + sh_quote(v2.string()) + " -p");
  STEP(r, true);
  write_config("cold", "");
  r = notary("list " + g, "cold");
  STEP(r, true);
  EXPECT_TRUE(lists(r.output, "v1", "signed remotely")) << r.output;
  EXPECT_TRUE(lists(r.output, "v2", "second")) << r.output;

  // Signer down: health says so, a publish fails with Notary's error and stores nothing.
  signer_->stop(SIGTERM);
  auto health = curl("/_notary_server/health");
  EXPECT_NE(health.find("signer"), std::string::npos) << health;
  auto v3 = file("v3.txt", "third");
  r = notary("add " + g + " v3 " + sh_quote(v3.string()) + " -p");
  STEP(r, false);
  EXPECT_NE(log().find("signer_unavailable"), std::string::npos) << log();
  write_config("cold2", "");
  r = notary("list " + g, "cold2");
  STEP(r, true);
  EXPECT_TRUE(lists(r.output, "v2", "second")) << r.output;
  EXPECT_EQ(r.output.find("v3"), std::string::npos) << r.output;
  // Signer back: the staged change publishes.
  start_signer();
  r = notary("publish " + g);
  STEP(r, true);
  r = notary("list " + g, "cold2");
  STEP(r, true);
  EXPECT_TRUE(lists(r.output, "v3", "third")) << r.output;
  signer_.reset();
}

}  // namespace
}  // namespace docket::trustserver
