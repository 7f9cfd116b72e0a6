#include "client/docker_config.h"
#include "client/trust_auth.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>

#include "client/tests/test_util.h"
#include "common/encoding.h"
#include "common/file.h"

using namespace docket;
using namespace docket::client;

TEST(DockerConfig, MissingFileIsEmpty) {
  test::TempDir d;
  auto c = DockerConfig::load(d.path);
  ASSERT_TRUE(c);
  auto g = c->get("localhost:5000");
  ASSERT_TRUE(g);
  EXPECT_FALSE(*g);
}

TEST(DockerConfig, ReadsDockersFormatAndPreservesUnknownFields) {
  test::TempDir d;
  std::string text = R"({
    "auths": {
      "https://index.docker.io/v1/": {"auth": ")" +
                     base64_encode("alice:s3cr:et") + R"("},
      "http://reg.example:5000/v2/": {"auth": ")" +
                     base64_encode("bob:pw") + R"(", "identitytoken": "tok"}
    },
    "psFormat": "table {{.ID}}",
    "proxies": {"default": {"httpProxy": "x"}}
  })";
  ASSERT_TRUE(atomic_write_file(d.path / "config.json", text));
  auto c = DockerConfig::load(d.path);
  ASSERT_TRUE(c) << c.error().describe();
  auto a = c->get("docker.io");
  ASSERT_TRUE(a && *a);
  EXPECT_EQ((*a)->username, "alice");
  EXPECT_EQ((*a)->password, "s3cr:et");
  auto b = c->get("reg.example:5000");
  ASSERT_TRUE(b && *b);
  EXPECT_EQ((*b)->username, "bob");
  EXPECT_EQ((*b)->identity_token, "tok");

  ASSERT_TRUE(c->store("127.0.0.1:5001", Credentials{"carol", "pw2", ""}));
  struct stat st {};
  ASSERT_EQ(::stat((d.path / "config.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto again = DockerConfig::load(d.path);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->json()["psFormat"], "table {{.ID}}");
  EXPECT_EQ(again->json()["auths"]["127.0.0.1:5001"]["auth"], base64_encode("carol:pw2"));
  auto e = again->erase("reg.example:5000");
  ASSERT_TRUE(e);
  EXPECT_TRUE(*e);
  auto e2 = again->erase("reg.example:5000");
  ASSERT_TRUE(e2);
  EXPECT_FALSE(*e2);
  auto third = DockerConfig::load(d.path);
  EXPECT_FALSE(third->json()["auths"].contains("http://reg.example:5000/v2/"));
  EXPECT_TRUE(third->json()["auths"].contains("https://index.docker.io/v1/"));
}

TEST(DockerConfig, MalformedFileIsAUserConfigError) {
  test::TempDir d;
  ASSERT_TRUE(atomic_write_file(d.path / "config.json", "{\"auths\": [1]}"));
  auto c = DockerConfig::load(d.path);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().fault, Fault::user);
  EXPECT_EQ(c.error().code, "config");
  ASSERT_TRUE(atomic_write_file(d.path / "config.json", "{nope"));
  EXPECT_FALSE(DockerConfig::load(d.path));
  ASSERT_TRUE(atomic_write_file(d.path / "config.json", "{\"auths\":{\"h\":{\"auth\":\"!!\"}}}"));
  auto bad = DockerConfig::load(d.path);
  ASSERT_TRUE(bad);
  EXPECT_FALSE(bad->get("h"));
}

// A credential helper speaking Docker's protocol (get/store/erase on stdin/stdout), backed
// by files in a directory, put first on PATH.
TEST(DockerConfig, CredentialHelpersAreHonoured) {
  test::TempDir d;
  auto bin = d.path / "bin";
  auto db = d.path / "db";
  std::filesystem::create_directories(bin);
  std::filesystem::create_directories(db);
  std::string script = "#!/bin/sh\nDB='" + db.string() + R"SH('
read_all() { cat; }
case "$1" in
  get) key=$(read_all | tr '/:' '__'); if [ -f "$DB/$key" ]; then cat "$DB/$key"; else echo "credentials not found in native keychain"; exit 1; fi ;;
  store) in=$(read_all); key=$(printf '%s' "$in" | sed -n 's/.*"ServerURL":"\([^"]*\)".*/\1/p' | tr '/:' '__'); printf '%s' "$in" > "$DB/$key" ;;
  erase) key=$(read_all | tr '/:' '__'); rm -f "$DB/$key" ;;
esac
)SH";
  ASSERT_TRUE(atomic_write_file(bin / "docker-credential-dockettest", script, 0755));
  std::string old_path = std::getenv("PATH") ? std::getenv("PATH") : "";
  ::setenv("PATH", (bin.string() + ":" + old_path).c_str(), 1);

  ASSERT_TRUE(atomic_write_file(d.path / "config.json",
                                R"({"credHelpers": {"h.example:5000": "dockettest"}})"));
  auto c = DockerConfig::load(d.path);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->helper_for("h.example:5000"), "dockettest");
  EXPECT_FALSE(c->helper_for("other:1"));
  auto none = c->get("h.example:5000");
  ASSERT_TRUE(none) << none.error().describe();
  EXPECT_FALSE(*none);
  ASSERT_TRUE(c->store("h.example:5000", Credentials{"dave", "hunter2", ""}));
  auto got = c->get("h.example:5000");
  ASSERT_TRUE(got && *got) << (got ? "none" : got.error().describe());
  EXPECT_EQ((*got)->username, "dave");
  EXPECT_EQ((*got)->password, "hunter2");
  // The secret lives in the helper, not in config.json.
  auto text = read_file(d.path / "config.json");
  EXPECT_EQ(text->find("hunter2"), std::string::npos);
  EXPECT_EQ(text->find(base64_encode("dave:hunter2")), std::string::npos);
  auto er = c->erase("h.example:5000");
  ASSERT_TRUE(er && *er);
  auto gone = c->get("h.example:5000");
  ASSERT_TRUE(gone);
  EXPECT_FALSE(*gone);

  // A helper that is not installed is a clear user error.
  ASSERT_TRUE(atomic_write_file(d.path / "config.json", R"({"credsStore": "no-such-helper-xyz"})"));
  auto c2 = DockerConfig::load(d.path);
  auto fail = c2->get("any:1");
  ASSERT_FALSE(fail);
  EXPECT_EQ(fail.error().fault, Fault::user);
  EXPECT_NE(fail.error().message.find("docker-credential-no-such-helper-xyz"), std::string::npos);
  ::setenv("PATH", old_path.c_str(), 1);
}

// Which stored credentials a trust server gets (client/trust_auth.h): its own host's first,
// then the registry's when it shares the registry's host, Docker Hub's for notary.docker.io.
TEST(DockerConfig, TrustServerCredentialsFollowDockersChoice) {
  test::TempDir d;
  const char* old = std::getenv("DOCKER_CONFIG");
  std::string saved = old ? old : "";
  ::setenv("DOCKER_CONFIG", d.path.c_str(), 1);
  auto c = DockerConfig::load(d.path);
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->store("reg.example:5000", Credentials{"reguser", "regpass", ""}));
  ASSERT_TRUE(c->store("reg.example:4443", Credentials{"trustuser", "trustpass", ""}));
  ASSERT_TRUE(c->store("docker.io", Credentials{"hubuser", "hubpass", ""}));
  auto user_of = [](Result<std::optional<Credentials>> r) -> std::string {
    if (!r) return "error: " + r.error().message;
    return *r ? (*r)->username : "none";
  };
  // The trust server's own entry wins.
  EXPECT_EQ(user_of(trust_server_credentials("https://reg.example:4443", "reg.example:5000")),
            "trustuser");
  // Same host as the registry (the default trust server URL, or another port without an entry).
  EXPECT_EQ(user_of(trust_server_credentials("https://reg.example:5000", "reg.example:5000")),
            "reguser");
  EXPECT_EQ(user_of(trust_server_credentials("https://reg.example:9999", "reg.example:5000")),
            "reguser");
  // Another host: never the registry's credentials.
  EXPECT_EQ(user_of(trust_server_credentials("https://notary.other:4443", "reg.example:5000")),
            "none");
  EXPECT_EQ(user_of(trust_server_credentials("https://notary.docker.io", "docker.io")), "hubuser");
  EXPECT_EQ(user_of(trust_server_credentials("https://notary.docker.io", "reg.example:5000")),
            "none");
  if (old)
    ::setenv("DOCKER_CONFIG", saved.c_str(), 1);
  else
    ::unsetenv("DOCKER_CONFIG");
}

TEST(TrustAuth, UrlHostPort) {
  EXPECT_EQ(url_host_port("https://h.example:4443/v2/x"), "h.example:4443");
  EXPECT_EQ(url_host_port("http://user:pw@h.example"), "h.example");
  EXPECT_EQ(url_host_port("https://[::1]:4443"), "[::1]:4443");
}
