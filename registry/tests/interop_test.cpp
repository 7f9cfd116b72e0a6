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
  void SetUp() override {
    skopeo = nt::find_executable("skopeo");
    podman = nt::find_executable("podman");
    if (!skopeo) GTEST_SKIP() << "skopeo is not installed (scripts/install-deps.sh --peers)";
    auto pki = nt::make_test_pki(dir.path() / "pki");
    ASSERT_TRUE(pki) << pki.error().describe();
    ca_dir = dir.path() / "certs";
    fs::create_directories(ca_dir);
    fs::copy_file(pki->ca_cert, ca_dir / "ca.crt");
    port = nt::free_loopback_port();
    std::string config =
        "http:\n  addr: 127.0.0.1:" + std::to_string(port) +
        "\n  tls:\n    certificate: " + pki->server_cert.string() +
        "\n    key: " + pki->server_key.string() +
        "\nstorage:\n  filesystem:\n    rootdirectory: " + (dir.path() / "data").string() +
        "\nlog:\n  level: warn\n";
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
  std::string host;
  std::optional<nt::Process> server;
};

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
