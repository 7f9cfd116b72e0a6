// The real notary CLI 0.7 (Debian package `notary`) against `docket-server trust` over TLS.
// One repository's whole life, step by step; every step asserts the CLI's exit code and
// output. Skipped only when the notary binary is absent.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/digest.h"
#include "common/file.h"
#include "common/json.h"
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
  void SetUp() override {
    if (!fs::exists("/usr/bin/notary"))
      GTEST_SKIP() << "notary CLI not installed (Debian package notary)";
    dir_ = fs::temp_directory_path() / ("docket-notary-" + random_hex_id());
    fs::create_directories(dir_);
    pki_ = std::make_unique<TestPki>(dir_);
    port_ = free_port();
    // Common flags only; the rest through the documented environment overrides, which
    // `serve` and `trust` share.
    server_ = std::make_unique<Child>(
        std::vector<std::string>{docket_server_bin(), command(), "--addr",
                                 "127.0.0.1:" + std::to_string(port_), "--data",
                                 (dir_ / "data").string()},
        std::map<std::string, std::string>{
            {"DOCKET_SIGNER_PASSPHRASE_DEFAULT", "interop-pass"},
            {"DOCKET_HTTP_TLS_CERTIFICATE", pki_->server_cert.string()},
            {"DOCKET_HTTP_TLS_KEY", pki_->server_key.string()},
            {"DOCKET_TRUST_STORAGE_URL", "sqlite://" + (dir_ / "trust.db").string()},
            {"DOCKET_TRUST_SIGNER_DIRECTORY", (dir_ / "server-keys").string()},
            {"DOCKET_LOG_LEVEL", "warn"}},
        dir_ / "server.log");
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
                   const std::string& stdin_file = "") {
    auto r = run("notary -c " + sh_quote((dir_ / (client + ".json")).string()) + " " + args,
                 {{"NOTARY_ROOT_PASSPHRASE", "root-pass"},
                  {"NOTARY_TARGETS_PASSPHRASE", "targets-pass"},
                  {"NOTARY_SNAPSHOT_PASSPHRASE", "snapshot-pass"},
                  {"NOTARY_DELEGATION_PASSPHRASE", "deleg-pass"}},
                 stdin_file);
    return r;
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

}  // namespace
}  // namespace docket::trustserver
