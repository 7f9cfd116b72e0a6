// The `docket` client commands end to end, as a user types them, against Debian's
// docker-registry with htpasswd auth on loopback.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>

#include "client/tests/registry_fixture.h"
#include "common/file.h"

using namespace docket;
namespace fs = std::filesystem;

namespace {
struct Run {
  int rc;
  std::string out;
};

class Cli {
 public:
  explicit Cli(const fs::path& home) : home_(home) {}
  Run operator()(const std::string& args, const std::string& stdin_text = "",
                 const std::string& extra_env = "") const {
    std::string in_file = (home_ / "stdin").string();
    (void)atomic_write_file(in_file, stdin_text);
    std::string cmd = "cd " + home_.string() + " && env -u DOCKER_CONTENT_TRUST " + extra_env +
                      " DOCKET_DATA_DIR=" + (home_ / "data").string() +
                      " DOCKER_CONFIG=" + (home_ / "docker").string() +
                      " DOCKET_CERTS_D=" + (home_ / "certs.d").string() +
                      " " DOCKET_BINARY_DIR "/cli/docket " + args + " <" + in_file + " 2>&1";
    Run r{-1, ""};
    FILE* p = ::popen(cmd.c_str(), "r");
    std::array<char, 4096> buf{};
    std::size_t n;
    while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
    int st = ::pclose(p);
    r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
  }

 private:
  fs::path home_;
};
}  // namespace

TEST(DocketCli, LoginPushPullSaveLoadSearch) {
  if (!client::test::have_program("docker-registry"))
    GTEST_SKIP() << "docker-registry not installed";
  client::test::DockerRegistry reg("ci", "pa55");
  ASSERT_TRUE(reg.ready()) << reg.log();
  client::test::TempDir home;
  fs::create_directories(home.path / "rootfs" / "etc");
  ASSERT_TRUE(atomic_write_file(home.path / "rootfs" / "etc" / "motd", "hello from docket\n"));
  Cli docket(home.path);
  std::string img = reg.domain() + "/team/app:1";

  auto imp = docket("import rootfs " + img);
  ASSERT_EQ(imp.rc, 0) << imp.out;
  auto unauth = docket("push --insecure " + img);
  EXPECT_EQ(unauth.rc, 1);
  EXPECT_NE(unauth.out.find("docket login " + reg.domain()), std::string::npos) << unauth.out;

  auto bad = docket("login --insecure -u ci --password-stdin " + reg.domain(), "wrong\n");
  EXPECT_EQ(bad.rc, 1) << bad.out;
  EXPECT_FALSE(fs::exists(home.path / "docker" / "config.json"));
  auto login = docket("login --insecure -u ci --password-stdin " + reg.domain(), "pa55\n");
  ASSERT_EQ(login.rc, 0) << login.out;
  EXPECT_NE(login.out.find("Login Succeeded"), std::string::npos);

  auto push = docket("push --insecure --format json " + img);
  ASSERT_EQ(push.rc, 0) << push.out;
  EXPECT_NE(push.out.find("\"event\":\"done\""), std::string::npos);
  auto digest = docket("push --insecure -q " + img);
  ASSERT_EQ(digest.rc, 0) << digest.out;
  ASSERT_TRUE(digest.out.starts_with("sha256:")) << digest.out;

  ASSERT_EQ(docket("rmi " + img).rc, 0);
  EXPECT_EQ(docket("images -q").out, "");
  auto pull = docket("pull --insecure " + img);
  ASSERT_EQ(pull.rc, 0) << pull.out;
  EXPECT_NE(pull.out.find("Digest: " + digest.out.substr(0, 71)), std::string::npos) << pull.out;
  auto images = docket("images --format json");
  EXPECT_NE(images.out.find("\"Tag\":\"1\""), std::string::npos) << images.out;

  ASSERT_EQ(docket("save -o app.tar " + img).rc, 0);
  ASSERT_EQ(docket("rmi " + img).rc, 0);
  auto load = docket("load -i app.tar");
  ASSERT_EQ(load.rc, 0) << load.out;
  EXPECT_NE(load.out.find("Loaded image: " + img), std::string::npos) << load.out;

  auto search = docket("search --insecure --limit 5 " + reg.domain() + "/app");
  ASSERT_EQ(search.rc, 0) << search.out;
  EXPECT_NE(search.out.find(reg.domain() + "/team/app"), std::string::npos);
  EXPECT_EQ(docket("search --insecure --limit 0 " + reg.domain() + "/app").rc, 2);
  auto none = docket("search --insecure -f tag=nope " + reg.domain() + "/app");
  EXPECT_EQ(none.out.find("team/app"), std::string::npos);

  auto badref = docket("pull --insecure Upper/Case");
  EXPECT_EQ(badref.rc, 1);
  EXPECT_NE(badref.out.find("bad_reference"), std::string::npos) << badref.out;
  // Content trust requested but not verifiable: refused, never silently unverified.
  // With content trust on, a pull from a registry with no trust data fails (never falls
  // back to unverified), and a push without a trust server to sign into is refused.
  auto trust = docket("pull --insecure " + img, "",
                      "DOCKER_CONTENT_TRUST=1 DOCKER_CONTENT_TRUST_SERVER=http://" + reg.domain());
  EXPECT_EQ(trust.rc, 1) << trust.out;
  // Signing on push needs a trust server; this registry has none, so the push is refused
  // before any byte is sent (never an unsigned push when trust was asked for).
  auto trust_push =
      docket("push --insecure " + img, "",
             "DOCKER_CONTENT_TRUST=1 DOCKER_CONTENT_TRUST_SERVER=http://" + reg.domain());
  EXPECT_EQ(trust_push.rc, 1);
  EXPECT_EQ(trust_push.out.find("The push refers to"), std::string::npos) << trust_push.out;
  EXPECT_NE(trust_push.out.find("does not act as a trust server"), std::string::npos)
      << trust_push.out;
  EXPECT_EQ(
      docket("pull --disable-content-trust --insecure " + img, "", "DOCKER_CONTENT_TRUST=1").rc, 0);
  ASSERT_EQ(docket("logout " + reg.domain()).rc, 0);
  auto after = docket("pull --insecure " + img);
  EXPECT_EQ(after.rc, 1);
}
