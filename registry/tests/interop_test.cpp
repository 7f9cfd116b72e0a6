// Real clients against the real `docket-server registry` binary over TLS with a CA made
// for the test (verification on: skopeo --dest-cert-dir / podman --cert-dir; nowhere is
// TLS verification turned off). Skipped only when skopeo/podman are not installed.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>

#include "common/digest.h"
#include "common/file.h"
#include "common/json.h"
#include "net/testing/process.h"
#include "net/testing/tls_testing.h"

using namespace docket;
namespace fs = std::filesystem;
namespace nt = docket::net::testing;

namespace {

struct Cmd {
  int rc;
  std::string out;
};

Cmd run(const std::string& cmd, const fs::path& scratch) {
  fs::path out = scratch / ("cmd-" + random_hex_id());
  int rc = std::system((cmd + " >" + out.string() + " 2>&1").c_str());
  auto text = read_file(out);
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, text ? *text : ""};
}

std::string write_blob(const fs::path& layout, const std::string& bytes) {
  Digest d = Digest::of(bytes);
  EXPECT_TRUE(atomic_write_file(layout / "blobs" / "sha256" / d.hex(), bytes));
  return d.str();
}

// An OCI image layout with `layers` gzip'd tar layers of random content.
void make_layout(const fs::path& layout, const fs::path& scratch, int layers,
                 std::size_t layer_bytes) {
  fs::create_directories(layout / "blobs" / "sha256");
  Json lj = Json::array();
  Json diff_ids = Json::array();
  for (int i = 0; i < layers; ++i) {
    fs::path root = scratch / ("rootfs" + std::to_string(i));
    fs::create_directories(root);
    ASSERT_TRUE(atomic_write_file(root / "data.bin", random_bytes(layer_bytes)));
    ASSERT_TRUE(atomic_write_file(root / "name.txt", "layer " + std::to_string(i)));
    fs::path tar = scratch / ("layer" + std::to_string(i) + ".tar");
    ASSERT_EQ(std::system(("tar -C " + root.string() + " -cf " + tar.string() + " . && gzip -kn " +
                           tar.string())
                              .c_str()),
              0);
    std::string raw = *read_file(tar, 1ull << 32);
    std::string gz = *read_file(tar.string() + ".gz", 1ull << 32);
    diff_ids.push_back(Digest::of(raw).str());
    lj.push_back({{"mediaType", "application/vnd.oci.image.layer.v1.tar+gzip"},
                  {"digest", write_blob(layout, gz)},
                  {"size", gz.size()}});
  }
  std::string cfg = Json{
      {"architecture", "amd64"},
      {"os", "linux"},
      {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}},
      {"config",
       Json::object()}}.dump();
  Json m = {{"schemaVersion", 2},
            {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
            {"config",
             {{"mediaType", "application/vnd.oci.image.config.v1+json"},
              {"digest", write_blob(layout, cfg)},
              {"size", cfg.size()}}},
            {"layers", lj}};
  std::string mb = m.dump();
  Json idx = {{"schemaVersion", 2},
              {"manifests",
               Json::array({{{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                             {"digest", write_blob(layout, mb)},
                             {"size", mb.size()},
                             {"annotations", {{"org.opencontainers.image.ref.name", "v1"}}}}})}};
  ASSERT_TRUE(atomic_write_file(layout / "index.json", idx.dump()));
  ASSERT_TRUE(atomic_write_file(layout / "oci-layout", R"({"imageLayoutVersion":"1.0.0"})"));
}

class Interop : public ::testing::Test {
 protected:
  void SetUp() override { start(""); }
  // `extra_config` is appended to the YAML config (an `auth:` section).
  void start(const std::string& extra_config) {
    skopeo = nt::find_executable("skopeo");
    podman = nt::find_executable("podman");
    if (!skopeo) GTEST_SKIP() << "skopeo is not installed (scripts/install-deps.sh --peers)";
    auto pki = nt::make_test_pki(dir.path() / "pki");
    ASSERT_TRUE(pki) << pki.error().describe();
    ca_dir = dir.path() / "certs";
    fs::create_directories(ca_dir);
    fs::copy_file(pki->ca_cert, ca_dir / "ca.crt");
    port = fixed_port ? fixed_port : nt::free_loopback_port();
    std::string config =
        "http:\n  addr: 127.0.0.1:" + std::to_string(port) +
        "\n  tls:\n    certificate: " + pki->server_cert.string() +
        "\n    key: " + pki->server_key.string() +
        "\nstorage:\n  filesystem:\n    rootdirectory: " + (dir.path() / "data").string() +
        "\nlog:\n  level: warn\n" + extra_config;
    ASSERT_TRUE(atomic_write_file(dir.path() / "config.yml", config));
    nt::ProcessOptions o;
    o.argv = {std::string(DOCKET_BINARY_DIR) + "/cli/docket-server", "registry", "--config",
              (dir.path() / "config.yml").string()};
    o.log_file = dir.path() / "server.log";
    auto p = nt::Process::start(o);
    ASSERT_TRUE(p) << p.error().describe();
    server.emplace(std::move(*p));
    ASSERT_TRUE(server->wait_for_port(port, std::chrono::seconds(20)));
    host = "127.0.0.1:" + std::to_string(port);
  }
  Cmd sh(const std::string& c) { return run(c, dir.path()); }

  nt::TempDir dir = nt::TempDir::create("docket-interop");
  std::optional<fs::path> skopeo, podman;
  fs::path ca_dir;
  int port = 0;
  int fixed_port = 0;  // set before start() when the config must name the port
  std::string host;
  std::optional<nt::Process> server;
};

// Started by the auth tests themselves (they need the port in the config first).
class InteropAuth : public Interop {
 protected:
  void SetUp() override {}
  // alice may do everything; bob may only pull team/*; both over htpasswd (bcrypt).
  std::string users() {
    fs::path h = dir.path() / "htpasswd";
    EXPECT_EQ(sh("htpasswd -Bbc -C 4 " + h.string() + " alice wonderland && htpasswd -Bb -C 4 " +
                 h.string() + " bob builder")
                  .rc,
              0);
    EXPECT_TRUE(atomic_write_file(dir.path() / "policy.json", R"({"rules":[
      {"account":"alice","type":"repository","name":"*","actions":["*"]},
      {"account":"bob","type":"repository","name":"team/*","actions":["pull"]}]})"));
    return "auth:\n  htpasswd:\n    path: " + h.string() + "\n";
  }
  bool have_htpasswd() { return nt::find_executable("htpasswd").has_value(); }
  // A client error that is about credentials or permissions, not transport or TLS.
  static bool auth_refusal(const std::string& out) {
    // Words only: a status number could match a port in the client's message.
    for (const char* w :
         {"unauthorized", "denied", "authentication required", "insufficient_scope"})
      if (out.find(w) != std::string::npos) return true;
    return false;
  }
  std::string pm() {
    return "podman --root " + (dir.path() / "root").string() + " --runroot " +
           (dir.path() / "runroot").string() +
           " --storage-driver vfs --cgroup-manager cgroupfs --events-backend file";
  }
  // Pushes, pulls back and compares bytes as alice, then checks that bob can pull but his
  // push is refused with an auth error and leaves nothing behind.
  void push_pull_deny(const std::string& alice, const std::string& bob) {
    fs::path src = dir.path() / "src";
    make_layout(src, dir.path(), 2, 200 * 1024);
    std::string cd = " --dest-cert-dir " + ca_dir.string();
    std::string sd = " --src-cert-dir " + ca_dir.string();
    // No credentials: refused.
    auto r =
        sh("skopeo copy" + cd + " oci:" + src.string() + ":v1 docker://" + host + "/team/app:v1");
    EXPECT_NE(r.rc, 0);
    EXPECT_TRUE(auth_refusal(r.out)) << r.out;
    r = sh("skopeo copy" + cd + " --dest-creds " + alice + " oci:" + src.string() +
           ":v1 docker://" + host + "/team/app:v1");
    ASSERT_EQ(r.rc, 0) << r.out;
    fs::path back = dir.path() / "back";
    r = sh("skopeo copy" + sd + " --src-creds " + bob + " docker://" + host +
           "/team/app:v1 oci:" + back.string() + ":v1");
    ASSERT_EQ(r.rc, 0) << r.out;
    for (auto& e : fs::directory_iterator(src / "blobs" / "sha256")) {
      auto b = read_file(back / "blobs" / "sha256" / e.path().filename(), 1ull << 32);
      ASSERT_TRUE(b) << "missing after pull: " << e.path().filename();
      EXPECT_TRUE(*b == *read_file(e.path(), 1ull << 32));
    }
    // bob holds pull only: his push fails with the client's auth error.
    r = sh("skopeo copy" + cd + " --dest-creds " + bob + " oci:" + src.string() + ":v1 docker://" +
           host + "/team/app:bob");
    EXPECT_NE(r.rc, 0) << r.out;
    EXPECT_TRUE(auth_refusal(r.out)) << r.out;
    // Wrong password: refused too.
    r = sh("skopeo list-tags --cert-dir " + ca_dir.string() + " --creds alice:nope docker://" +
           host + "/team/app");
    EXPECT_NE(r.rc, 0);
    EXPECT_TRUE(auth_refusal(r.out)) << r.out;
    r = sh("skopeo list-tags --cert-dir " + ca_dir.string() + " --creds " + alice + " docker://" +
           host + "/team/app");
    ASSERT_EQ(r.rc, 0) << r.out;
    EXPECT_EQ(Json::parse(r.out)["Tags"], Json::parse(R"(["v1"])"));  // no "bob" tag

    if (!podman) return;
    // podman: login (stored in a private auth file), pull, push a new tag, denied push.
    std::string af = " --authfile " + (dir.path() / "auth.json").string();
    std::string certs = " --cert-dir " + ca_dir.string();
    auto user = alice.substr(0, alice.find(':')), pass = alice.substr(alice.find(':') + 1);
    r = sh(pm() + " login" + af + certs + " -u " + user + " -p " + pass + " " + host);
    ASSERT_EQ(r.rc, 0) << r.out;
    r = sh(pm() + " pull" + af + certs + " " + host + "/team/app:v1");
    ASSERT_EQ(r.rc, 0) << r.out;
    r = sh(pm() + " push" + af + certs + " " + host + "/team/app:v1 docker://" + host +
           "/team/app:v2");
    ASSERT_EQ(r.rc, 0) << r.out;
    auto buser = bob.substr(0, bob.find(':')), bpass = bob.substr(bob.find(':') + 1);
    std::string bf = " --authfile " + (dir.path() / "auth-bob.json").string();
    r = sh(pm() + " login" + bf + certs + " -u " + buser + " -p " + bpass + " " + host);
    ASSERT_EQ(r.rc, 0) << r.out;
    r = sh(pm() + " push" + bf + certs + " " + host + "/team/app:v1 docker://" + host +
           "/team/app:bob");
    EXPECT_NE(r.rc, 0) << r.out;
    EXPECT_TRUE(auth_refusal(r.out)) << r.out;
    r = sh("skopeo list-tags --cert-dir " + ca_dir.string() + " --creds " + alice + " docker://" +
           host + "/team/app");
    ASSERT_EQ(r.rc, 0) << r.out;
    EXPECT_EQ(Json::parse(r.out)["Tags"], Json::parse(R"(["v1","v2"])"));
  }
};

TEST_F(InteropAuth, SkopeoAndPodmanThroughHtpasswdBasicAuth) {
  if (!have_htpasswd()) GTEST_SKIP() << "htpasswd (apache2-utils) is not installed";
  // Basic auth grants every action to every valid user (per-user scopes need the token
  // service, tested below), so this checks credentials: none, wrong, right.
  fs::path h = dir.path() / "htpasswd";
  ASSERT_EQ(sh("htpasswd -Bbc -C 4 " + h.string() + " alice wonderland").rc, 0);
  start("auth:\n  htpasswd:\n    path: " + h.string() + "\n");
  if (IsSkipped() || HasFatalFailure()) return;
  fs::path src = dir.path() / "src";
  make_layout(src, dir.path(), 2, 200 * 1024);
  std::string cd = " --dest-cert-dir " + ca_dir.string();
  auto r =
      sh("skopeo copy" + cd + " oci:" + src.string() + ":v1 docker://" + host + "/basic/app:v1");
  EXPECT_NE(r.rc, 0);
  EXPECT_TRUE(auth_refusal(r.out)) << r.out;
  r = sh("skopeo copy" + cd + " --dest-creds alice:wrong oci:" + src.string() + ":v1 docker://" +
         host + "/basic/app:v1");
  EXPECT_NE(r.rc, 0);
  EXPECT_TRUE(auth_refusal(r.out)) << r.out;
  r = sh("skopeo copy" + cd + " --dest-creds alice:wonderland oci:" + src.string() +
         ":v1 docker://" + host + "/basic/app:v1");
  ASSERT_EQ(r.rc, 0) << r.out;
  fs::path back = dir.path() / "back";
  r = sh("skopeo copy --src-cert-dir " + ca_dir.string() +
         " --src-creds alice:wonderland docker://" + host + "/basic/app:v1 oci:" + back.string() +
         ":v1");
  ASSERT_EQ(r.rc, 0) << r.out;
  for (auto& e : fs::directory_iterator(src / "blobs" / "sha256"))
    EXPECT_EQ(read_file(back / "blobs" / "sha256" / e.path().filename(), 1ull << 32).value_or("-"),
              read_file(e.path(), 1ull << 32).value_or(""))
        << e.path().filename();
  if (!podman) return;
  std::string af = " --authfile " + (dir.path() / "auth.json").string();
  std::string certs = " --cert-dir " + ca_dir.string();
  r = sh(pm() + " login" + af + certs + " -u alice -p wrong " + host);
  EXPECT_NE(r.rc, 0);
  r = sh(pm() + " login" + af + certs + " -u alice -p wonderland " + host);
  ASSERT_EQ(r.rc, 0) << r.out;
  r = sh(pm() + " pull" + af + certs + " " + host + "/basic/app:v1");
  ASSERT_EQ(r.rc, 0) << r.out;
  r = sh(pm() + " push" + af + certs + " " + host + "/basic/app:v1 docker://" + host +
         "/basic/app:v2");
  ASSERT_EQ(r.rc, 0) << r.out;
  r = sh("skopeo list-tags --cert-dir " + ca_dir.string() + " --creds alice:wonderland docker://" +
         host + "/basic/app");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_EQ(Json::parse(r.out)["Tags"], Json::parse(R"(["v1","v2"])"));
}

TEST_F(InteropAuth, SkopeoAndPodmanThroughTheTokenService) {
  if (!have_htpasswd()) GTEST_SKIP() << "htpasswd (apache2-utils) is not installed";
  std::string auth = users();
  ASSERT_EQ(sh("openssl ecparam -name prime256v1 -genkey -noout -out " +
               (dir.path() / "token.pem").string())
                .rc,
            0);
  // The realm is this server's own token endpoint, over the same verified TLS.
  int p = nt::free_loopback_port();
  fixed_port = p;
  start(auth + "  token:\n    realm: https://127.0.0.1:" + std::to_string(p) +
        "/auth/token\n    service: docket-interop\n    signingkey: " +
        (dir.path() / "token.pem").string() +
        "\n    policy: " + (dir.path() / "policy.json").string() + "\n");
  if (IsSkipped() || HasFatalFailure()) return;
  ASSERT_EQ(port, p);
  push_pull_deny("alice:wonderland", "bob:builder");
}

TEST_F(Interop, SkopeoPushPullOciAndDockerFormatsListAndDelete) {
  fs::path src = dir.path() / "src";
  make_layout(src, dir.path(), 3, 700 * 1024);
  std::string tls = " --dest-cert-dir " + ca_dir.string();
  auto r =
      sh("skopeo copy" + tls + " oci:" + src.string() + ":v1 docker://" + host + "/interop/oci:v1");
  ASSERT_EQ(r.rc, 0) << r.out;
  r = sh("skopeo copy" + tls + " --format v2s2 oci:" + src.string() + ":v1 docker://" + host +
         "/interop/docker:v1");
  ASSERT_EQ(r.rc, 0) << r.out;
  // Pull back and compare bytes: every blob of the source must come back identical.
  fs::path back = dir.path() / "back";
  r = sh("skopeo copy --src-cert-dir " + ca_dir.string() + " docker://" + host +
         "/interop/oci:v1 oci:" + back.string() + ":v1");
  ASSERT_EQ(r.rc, 0) << r.out;
  for (auto& e : fs::directory_iterator(src / "blobs" / "sha256")) {
    auto a = read_file(e.path(), 1ull << 32);
    auto b = read_file(back / "blobs" / "sha256" / e.path().filename(), 1ull << 32);
    ASSERT_TRUE(b) << "missing after pull: " << e.path().filename();
    EXPECT_TRUE(*a == *b);
  }
  r = sh("skopeo inspect --raw --cert-dir " + ca_dir.string() + " docker://" + host +
         "/interop/docker:v1");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("application/vnd.docker.distribution.manifest.v2+json"), std::string::npos);
  r = sh("skopeo copy" + tls + " docker://" + host + "/interop/oci:v1 docker://" + host +
         "/interop/oci:v2 --src-cert-dir " + ca_dir.string());
  ASSERT_EQ(r.rc, 0) << r.out;
  r = sh("skopeo list-tags --cert-dir " + ca_dir.string() + " docker://" + host + "/interop/oci");
  ASSERT_EQ(r.rc, 0) << r.out;
  auto tags = Json::parse(r.out)["Tags"];
  EXPECT_EQ(tags, Json::parse(R"(["v1","v2"])"));
  r = sh("skopeo delete --cert-dir " + ca_dir.string() + " docker://" + host +
         "/interop/docker:v1");
  ASSERT_EQ(r.rc, 0) << r.out;
  r = sh("skopeo inspect --cert-dir " + ca_dir.string() + " docker://" + host +
         "/interop/docker:v1");
  EXPECT_NE(r.rc, 0);
  // Without the CA the client refuses the server: TLS is really verified.
  r = sh("skopeo inspect docker://" + host + "/interop/oci:v1");
  EXPECT_NE(r.rc, 0);
}

TEST_F(Interop, PodmanPushAndPull) {
  if (!podman) GTEST_SKIP() << "podman is not installed (scripts/install-deps.sh --peers)";
  fs::path src = dir.path() / "src";
  make_layout(src, dir.path(), 2, 300 * 1024);
  std::string pm = "podman --root " + (dir.path() / "root").string() + " --runroot " +
                   (dir.path() / "runroot").string() +
                   " --storage-driver vfs --cgroup-manager cgroupfs --events-backend file";
  auto r = sh(pm + " pull oci:" + src.string() + ":v1");
  ASSERT_EQ(r.rc, 0) << r.out;
  std::string id =
      r.out.substr(r.out.find_last_not_of("\n") > 64 ? r.out.find_last_not_of("\n") - 63 : 0, 64);
  r = sh(pm + " push --cert-dir " + ca_dir.string() + " " + id + " docker://" + host +
         "/podman/img:v1");
  ASSERT_EQ(r.rc, 0) << r.out;
  r = sh(pm + " rmi -a -f");
  r = sh(pm + " pull --cert-dir " + ca_dir.string() + " " + host + "/podman/img:v1");
  ASSERT_EQ(r.rc, 0) << r.out;
  r = sh(pm + " images --format '{{.Repository}}:{{.Tag}}'");
  EXPECT_NE(r.out.find(host + "/podman/img:v1"), std::string::npos) << r.out;
}

}  // namespace
