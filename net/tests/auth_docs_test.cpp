// Runs the shell commands docs/auth.md gives (openssl, htpasswd) and checks that docket
// accepts what they produce.
#include <gtest/gtest.h>

#include <cstdlib>

#include "common/file.h"
#include "net/htpasswd.h"
#include "net/http_client.h"
#include "net/jwt.h"
#include "net/testing/loopback_server.h"
#include "net/testing/process.h"
#include "net/token.h"

namespace docket::net {
namespace {

using testing::TempDir;

int run_in(const std::filesystem::path& dir, const std::string& script) {
  std::string cmd = "cd '" + dir.string() + "' && bash -euo pipefail -c '" + script + "' >" +
                    (dir / "cmd.log").string() + " 2>&1";
  return std::system(cmd.c_str());
}

TEST(AuthDocs, TokenKeyCommands) {
  if (!testing::find_executable("openssl")) GTEST_SKIP() << "openssl is not installed";
  auto dir = TempDir::create("docket-authdocs");
  ASSERT_EQ(run_in(dir.path(),
                   "openssl ecparam -name prime256v1 -genkey -noout -out token.key\n"
                   "openssl req -new -x509 -key token.key -out token.crt -days 365 -subj "
                   "\"/CN=docket token signer\"\n"
                   "chmod 600 token.key\n"
                   "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out rsa.key\n"),
            0)
      << read_file(dir.path() / "cmd.log").value_or("");
  auto key = JwsSigningKey::load(dir.path() / "token.key", dir.path() / "token.crt");
  ASSERT_TRUE(key) << key.error().describe();
  EXPECT_EQ(key->alg(), JwsAlg::es256);
  auto rsa = JwsSigningKey::load(dir.path() / "rsa.key");
  ASSERT_TRUE(rsa) << rsa.error().describe();
  EXPECT_EQ(rsa->alg(), JwsAlg::rs256);
  auto trust = JwsTrust::load(dir.path() / "token.crt");
  ASSERT_TRUE(trust) << trust.error().describe();
  auto issuer = TokenIssuer::create(*key, {.issuer = "iss"}).value();
  auto tok = issuer.issue("alice", "svc", {parse_scope("repository:a:pull").value()}, now());
  ASSERT_TRUE(tok);
  TokenVerifier v(*trust, {"iss", "svc", kTokenLeeway});
  auto ok = v.verify(tok->token, now());
  ASSERT_TRUE(ok) << ok.error().describe();
  EXPECT_TRUE(ok->allows("repository", "a", "pull"));
}

TEST(AuthDocs, TestCaCommands) {
  if (!testing::find_executable("openssl")) GTEST_SKIP() << "openssl is not installed";
  auto dir = TempDir::create("docket-authdocs-ca");
  ASSERT_EQ(
      run_in(dir.path(),
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 "
             "-keyout ca.key -out ca.crt -subj \"/CN=test CA\"\n"
             "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout server.key -out server.csr -subj \"/CN=localhost\"\n"
             "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 "
             "-extfile <(printf \"subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\") -out "
             "server.crt\n"),
      0)
      << read_file(dir.path() / "cmd.log").value_or("");
  testing::LoopbackServer srv(
      [](testing::LoopbackServer::Connection& c) {
        while (auto r = c.read_request()) c.respond(200, {}, "ok");
      },
      testing::ServerTls{dir.path() / "server.crt", dir.path() / "server.key", std::nullopt});
  HttpClientOptions o;
  o.proxy = "";
  o.tls.ca_file = dir.path() / "ca.crt";
  auto client = HttpClient::create(o).value();
  for (auto host : {"127.0.0.1", "localhost"}) {
    auto r = client.get("https://" + std::string(host) + ":" + std::to_string(srv.port()) + "/");
    ASSERT_TRUE(r) << host << ": " << r.error().describe();
    EXPECT_EQ(r->body, "ok");
  }
}

TEST(AuthDocs, HtpasswdCommands) {
  if (!testing::find_executable("htpasswd")) GTEST_SKIP() << "htpasswd is not installed";
  auto dir = TempDir::create("docket-authdocs-htpasswd");
  // The interactive forms read the password twice from the terminal; feed it on stdin.
  ASSERT_EQ(run_in(dir.path(),
                   "printf \"a-pw\\na-pw\\n\" | htpasswd -B -c ./htpasswd alice\n"
                   "printf \"b-pw\\nb-pw\\n\" | htpasswd -B ./htpasswd bob\n"
                   "CI_PASSWORD=ci-pw; htpasswd -B -b ./htpasswd ci \"$CI_PASSWORD\"\n"
                   "printf \"a-pw\\n\" | htpasswd -v ./htpasswd alice\n"
                   "htpasswd -D ./htpasswd bob\n"),
            0)
      << read_file(dir.path() / "cmd.log").value_or("");
  auto h = Htpasswd::load(dir.path() / "htpasswd");
  ASSERT_TRUE(h) << h.error().describe();
  EXPECT_TRUE(h->verify("alice", "a-pw"));
  EXPECT_TRUE(h->verify("ci", "ci-pw"));
  EXPECT_FALSE(h->has_user("bob"));
}

}  // namespace
}  // namespace docket::net
