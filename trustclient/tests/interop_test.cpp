// Content trust interop with the real peers, all on loopback over TLS:
//  - what `docket push` signs on `docket-server serve` is read by `notary list` and
//    `docker trust inspect` from the same trust directory, and a signer key made by docket
//    is added with `docker trust signer add` and then used by `docket push`;
//  - what the `notary` CLI publishes is read by `docket trust inspect`;
//  - sign on push, key rotation and revoke against Debian's notary-server and
//    docker-registry, checked with `notary list` from a client that cached the first root,
//    and with verified pulls by fresh docket clients (signed tags pulled by their signed
//    digest, unsigned and revoked tags refused).
// Skipped only when a peer binary is absent.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>

#include "client/tests/registry_fixture.h"
#include "common/digest.h"
#include "common/file.h"
#include "common/json.h"
#include "trustserver/tests/interop_util.h"
#include "tuf/tests/notary_harness.h"

namespace {
namespace fs = std::filesystem;
using namespace docket;
namespace ts = docket::trustserver::testing;

std::string docket_bin() {
  return std::string(DOCKET_BINARY_DIR) + "/cli/docket";
}

// A client identity: DOCKER_CONFIG (trust dir, tls/<host>/ca.crt), data dir, certs.d.
struct Client {
  fs::path home;
  std::map<std::string, std::string> env;
  Client(const fs::path& h, const std::string& trust_server, const fs::path& ca,
         const std::string& trust_host)
      : home(h) {
    fs::create_directories(home / "docker" / "tls" / trust_host);
    fs::copy_file(ca, home / "docker" / "tls" / trust_host / "ca.crt",
                  fs::copy_options::overwrite_existing);
    env = {{"DOCKER_CONFIG", (home / "docker").string()},
           {"DOCKET_DATA_DIR", (home / "data").string()},
           {"DOCKET_CERTS_D", (home / "docker" / "tls").string()},
           {"DOCKER_CONTENT_TRUST", "1"},
           {"DOCKER_CONTENT_TRUST_SERVER", trust_server},
           {"DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE", "interop-root"},
           {"DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE", "interop-repo"},
           {"HOME", home.string()}};
  }
  ts::RunResult run(const std::string& program, const std::string& args) const {
    return ts::run("setsid -w sh -c " + ts::sh_quote("cd " + ts::sh_quote(home.string()) + " && " +
                                                     program + " " + args),
                   env, "", 120);
  }
  ts::RunResult docket(const std::string& args) const { return run(docket_bin(), args); }
  fs::path trust_dir() const { return home / "docker" / "trust"; }
};

std::string digest_hex(const std::string& out) {
  auto p = out.find("sha256:");
  return p == std::string::npos ? "" : out.substr(p + 7, 64);
}

// The JSON document in a command's output (a trust-on-first-use warning may precede it).
std::optional<Json> json_in(const std::string& out) {
  auto p = out.find("[\n");
  if (p == std::string::npos) return std::nullopt;
  auto j = parse_json(out.substr(p), "command output", Fault::bug);
  if (!j) return std::nullopt;
  return *j;
}

bool have(const char* bin) {
  return ts::run(std::string("which ") + bin).exit_code == 0;
}

// `docket-server serve` over TLS (a CA made for the test) in a fresh directory named
// `prefix`…, stopped when the test ends; the directory is removed unless the test failed.
struct TlsServe {
  fs::path dir;
  ts::TestPki pki;
  int port;
  std::string host;
  ts::Child server;
  explicit TlsServe(const std::string& prefix)
      : dir(made(fs::temp_directory_path() / (prefix + random_hex_id()))),
        pki(dir),
        port(ts::free_port()),
        host("127.0.0.1:" + std::to_string(port)),
        server(
            {ts::docket_server_bin(), "serve", "--addr", host, "--data", (dir / "server").string()},
            {{"DOCKET_SIGNER_PASSPHRASE_DEFAULT", "interop-signer"},
             {"DOCKET_HTTP_TLS_CERTIFICATE", pki.server_cert.string()},
             {"DOCKET_HTTP_TLS_KEY", pki.server_key.string()},
             {"DOCKET_LOG_LEVEL", "warn"}},
            dir / "server.log") {}
  ~TlsServe() {
    server.stop(SIGTERM);
    std::error_code ec;
    if (!::testing::Test::HasFailure()) fs::remove_all(dir, ec);
  }
  bool started() { return ts::wait_for_port(port, server); }
  std::string log() const { return read_file(dir / "server.log").value_or(""); }
  static fs::path made(const fs::path& d) {
    fs::create_directories(d);
    return d;
  }
};

TEST(TrustInterop, NotaryAndDockerReadWhatDocketSignedOnDocketServer) {
  for (const char* bin : {"docker", "notary", "openssl"})
    if (!have(bin)) GTEST_SKIP() << bin << " is not installed (scripts/install-deps.sh --peers)";
  TlsServe serve("docket-trust-interop-");
  ASSERT_TRUE(serve.started()) << serve.log();
  const fs::path& dir = serve.dir;
  const ts::TestPki& pki = serve.pki;
  const std::string& host = serve.host;
  auto log = [&] { return serve.log(); };
  Client me(dir / "me", "https://" + host, pki.ca_cert, host);
  fs::create_directories(me.home / "rootfs");
  ASSERT_TRUE(atomic_write_file(me.home / "rootfs" / "hello.txt", "interop\n"));
  const std::string gun = host + "/team/app";

  ASSERT_EQ(me.docket("import rootfs " + gun + ":1").exit_code, 0);
  auto push = me.docket("push " + gun + ":1");
  ASSERT_EQ(push.exit_code, 0) << push.output << log();
  auto q = me.docket("push -q --disable-content-trust " + gun + ":1");
  std::string hex = digest_hex(q.output);
  ASSERT_EQ(hex.size(), 64u) << q.output;

  // notary, on docket's own trust directory (shared cache and keys).
  ASSERT_TRUE(atomic_write_file(
      dir / "notary.json",
      Json{{"trust_dir", me.trust_dir().string()},
           {"remote_server", {{"url", "https://" + host}, {"root_ca", pki.ca_cert.string()}}}}
          .dump()));
  auto list =
      me.run("notary", "-c " + ts::sh_quote((dir / "notary.json").string()) + " list " + gun);
  ASSERT_EQ(list.exit_code, 0) << list.output;
  EXPECT_NE(list.output.find(hex), std::string::npos) << list.output;
  EXPECT_NE(list.output.find("targets"), std::string::npos) << list.output;

  // docker trust inspect reads the same.
  auto inspect = me.run("docker", "trust inspect " + gun);
  ASSERT_EQ(inspect.exit_code, 0) << inspect.output;
  auto j = parse_json(inspect.output, "docker trust inspect", Fault::bug);
  ASSERT_TRUE(j) << inspect.output;
  ASSERT_EQ((*j)[0]["SignedTags"].size(), 1u) << inspect.output;
  EXPECT_EQ((*j)[0]["SignedTags"][0]["SignedTag"], "1");
  EXPECT_EQ((*j)[0]["SignedTags"][0]["Digest"], hex);
  // ... and docket's own inspect agrees with docker's on keys.
  auto mine = me.docket("trust inspect " + gun);
  ASSERT_EQ(mine.exit_code, 0) << mine.output;
  auto m = json_in(mine.output);
  ASSERT_TRUE(m) << mine.output;
  EXPECT_EQ((*m)[0]["AdministrativeKeys"], (*j)[0]["AdministrativeKeys"]) << mine.output;

  // A signer key docket generated, added by docker, used by docket push.
  auto gen = me.docket("trust key generate alice");
  ASSERT_EQ(gen.exit_code, 0) << gen.output;
  auto add = me.run("docker", "trust signer add --key alice.pub alice " + gun);
  ASSERT_EQ(add.exit_code, 0) << add.output << log();
  ASSERT_EQ(me.docket("tag " + gun + ":1 " + gun + ":2").exit_code, 0);
  auto push2 = me.docket("push " + gun + ":2");
  ASSERT_EQ(push2.exit_code, 0) << push2.output << log();
  EXPECT_NE(push2.output.find("targets/alice"), std::string::npos) << push2.output;
  EXPECT_NE(push2.output.find("targets/releases"), std::string::npos) << push2.output;
  inspect = me.run("docker", "trust inspect " + gun + ":2");
  ASSERT_EQ(inspect.exit_code, 0) << inspect.output;
  j = parse_json(inspect.output, "docker trust inspect", Fault::bug);
  ASSERT_TRUE(j) << inspect.output;
  ASSERT_EQ((*j)[0]["SignedTags"].size(), 1u) << inspect.output;
  EXPECT_EQ((*j)[0]["SignedTags"][0]["Signers"], Json::array({"alice"})) << inspect.output;
}

TEST(TrustInterop, DocketInspectsWhatNotarySigned) {
  auto server = docket::testing::NotaryServer::start();
  if (!server) GTEST_SKIP() << docket::testing::NotaryServer::skip_reason();
  const std::string gun = "docket.test/team/notary-signed";
  fs::path ntrust = server->dir() / "notary-trust";
  ASSERT_TRUE(atomic_write_file(server->dir() / "payload", "signed by notary\n"));
  auto r = server->cli(ntrust, {"init", gun, "-p"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = server->cli(ntrust, {"add", gun, "v1", (server->dir() / "payload").string(), "-p"});
  ASSERT_EQ(r.exit_code, 0) << r.output;

  std::string host = server->url().substr(8);
  Client me(server->dir() / "me", server->url(), server->ca_file(), host);
  auto inspect = me.docket("trust inspect " + gun + ":v1");
  ASSERT_EQ(inspect.exit_code, 0) << inspect.output;
  auto j = json_in(inspect.output);
  ASSERT_TRUE(j) << inspect.output;
  ASSERT_EQ((*j)[0]["SignedTags"].size(), 1u) << inspect.output;
  EXPECT_EQ((*j)[0]["SignedTags"][0]["Digest"], sha256_hex("signed by notary\n"));
  EXPECT_EQ((*j)[0]["AdministrativeKeys"][0]["Keys"].size(), 1u);
  auto pretty = me.docket("trust inspect --pretty " + gun);
  EXPECT_NE(pretty.output.find("(Repo Admin)"), std::string::npos) << pretty.output;
  // A tag notary did not sign.
  auto none = me.docket("trust inspect " + gun + ":v2");
  j = json_in(none.output);
  ASSERT_TRUE(j) << none.output;
  EXPECT_TRUE((*j)[0]["SignedTags"].empty());
}

// A root certificate issued by an intermediate CA, given to `docket trust init` as the chain
// (leaf + intermediate): the real notary client, pinning only the root CA (trust_pinning
// "ca"), builds the path through the bundle in root.json and lists the signed tag; one
// pinning another CA refuses the repository.
TEST(TrustInterop, NotaryWithACaPinAcceptsDocketsCertificateBundleRoot) {
  for (const char* bin : {"notary", "openssl"})
    if (!have(bin)) GTEST_SKIP() << bin << " is not installed (scripts/install-deps.sh --peers)";
  TlsServe serve("docket-trust-bundle-");
  ASSERT_TRUE(serve.started()) << serve.log();
  const fs::path& dir = serve.dir;
  const std::string gun = serve.host + "/team/bundle";
  const fs::path pki = dir / "rootpki";
  fs::create_directories(pki);
  auto sh = [&](const std::string& cmd) {
    auto r = ts::run("sh -c " + ts::sh_quote("cd " + ts::sh_quote(pki.string()) + " && " + cmd));
    EXPECT_EQ(r.exit_code, 0) << cmd << ": " << r.output;
  };
  ASSERT_TRUE(atomic_write_file(pki / "ca.cnf",
                                "basicConstraints=critical,CA:TRUE\nkeyUsage=keyCertSign\n"));
  ASSERT_TRUE(atomic_write_file(pki / "leaf.cnf", "basicConstraints=CA:FALSE\n"));
  std::string cn = gun;  // "/" escaped for openssl -subj
  for (std::size_t i = cn.find('/'); i != std::string::npos; i = cn.find('/', i + 2))
    cn.insert(i, "\\");
  for (const std::string c : {"ca", "other"})
    sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + c +
       ".key -out " + c + ".crt -days 30 -subj /CN=" + c +
       "-root-ca -addext basicConstraints=critical,CA:TRUE 2>&1");
  sh("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout int.key -out int.csr "
     "-subj /CN=intermediate-ca 2>&1");
  sh("openssl x509 -req -in int.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 25 "
     "-extfile ca.cnf -out int.crt 2>&1");
  sh("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out root.key 2>&1");
  sh("openssl req -new -key root.key -subj " + ts::sh_quote("/CN=" + cn) + " -out root.csr 2>&1");
  sh("openssl x509 -req -in root.csr -CA int.crt -CAkey int.key -CAcreateserial -days 20 "
     "-extfile leaf.cnf -out root.crt 2>&1");
  sh("cat root.crt int.crt > chain.crt");

  Client me(dir / "me", "https://" + serve.host, serve.pki.ca_cert, serve.host);
  fs::create_directories(me.home / "rootfs");
  ASSERT_TRUE(atomic_write_file(me.home / "rootfs" / "hello.txt", "bundle\n"));
  auto init = me.docket("trust init " + gun + " --root-key " + (pki / "root.key").string() +
                        " --root-cert " + (pki / "chain.crt").string());
  ASSERT_EQ(init.exit_code, 0) << init.output << serve.log();
  ASSERT_EQ(me.docket("import rootfs " + gun + ":1").exit_code, 0);
  auto push = me.docket("push " + gun + ":1");
  ASSERT_EQ(push.exit_code, 0) << push.output << serve.log();
  auto q = me.docket("push -q --disable-content-trust " + gun + ":1");
  const std::string hex = digest_hex(q.output);
  ASSERT_EQ(hex.size(), 64u) << q.output;

  auto notary_list = [&](const std::string& who, const fs::path& ca) {
    const fs::path cfg = dir / (who + ".json");
    Json j = {{"trust_dir", (dir / (who + "-trust")).string()},
              {"remote_server",
               {{"url", "https://" + serve.host}, {"root_ca", serve.pki.ca_cert.string()}}},
              {"trust_pinning", {{"ca", {{serve.host + "/team/", ca.string()}}}}}};
    EXPECT_TRUE(atomic_write_file(cfg, j.dump()));
    return me.run("notary", "-c " + ts::sh_quote(cfg.string()) + " list " + gun);
  };
  auto pinned = notary_list("pinned", pki / "ca.crt");
  EXPECT_EQ(pinned.exit_code, 0) << pinned.output;
  EXPECT_NE(pinned.output.find(hex), std::string::npos) << pinned.output;
  auto other = notary_list("other", pki / "other.crt");
  EXPECT_NE(other.exit_code, 0) << other.output;
  EXPECT_NE(other.output.find("trust_pinning"), std::string::npos) << other.output;
}

// The state `notary delegation remove` (and `docker trust signer remove`) can leave behind:
// the only key that signed targets/releases is dropped from the delegation, so releases.json
// no longer verifies. docket stays strict on pulls (the repository is refused), but signing
// commands go on without the unverifiable role, and a remaining releases signer signing a
// tag replaces it (a version above the old one, without the old targets), after which
// docket and notary clients verify the repository again.
TEST(TrustInterop, SigningReplacesAReleasesRoleLeftUnverifiableByNotary) {
  for (const char* bin : {"notary", "openssl", "curl"})
    if (!have(bin)) GTEST_SKIP() << bin << " is not installed (scripts/install-deps.sh --peers)";
  TlsServe serve("docket-trust-repair-");
  ASSERT_TRUE(serve.started()) << serve.log();
  const fs::path& dir = serve.dir;
  const ts::TestPki& pki = serve.pki;
  const std::string& host = serve.host;
  auto log = [&] { return serve.log(); };
  const std::string gun = host + "/team/repair";
  auto client = [&](const std::string& who) {
    Client c(dir / who, "https://" + host, pki.ca_cert, host);
    fs::create_directories(c.home / "rootfs");
    EXPECT_TRUE(atomic_write_file(c.home / "rootfs" / "who.txt", who + "\n"));
    return c;
  };
  // The admin holds root, targets and alice's key; bob only his own.
  Client admin = client("admin"), bob = client("bob");
  ASSERT_EQ(admin.docket("import rootfs " + gun + ":1").exit_code, 0);
  auto r = admin.docket("push " + gun + ":1");
  ASSERT_EQ(r.exit_code, 0) << r.output << log();
  ASSERT_EQ(admin.docket("trust key generate alice").exit_code, 0);
  ASSERT_EQ(bob.docket("trust key generate bob").exit_code, 0);
  for (const auto& [name, pub] : {std::pair{std::string("alice"), admin.home / "alice.pub"},
                                  std::pair{std::string("bob"), bob.home / "bob.pub"}}) {
    r = admin.docket("trust signer add --key " + ts::sh_quote(pub.string()) + " " + name + " " +
                     gun);
    ASSERT_EQ(r.exit_code, 0) << r.output << log();
  }
  ASSERT_EQ(bob.docket("import rootfs " + gun + ":v1").exit_code, 0);
  r = bob.docket("push " + gun + ":v1");
  ASSERT_EQ(r.exit_code, 0) << r.output << log();
  EXPECT_NE(r.output.find("targets/releases"), std::string::npos) << r.output;

  auto served = [&](const std::string& role) {
    auto c = ts::run("curl -sf --cacert " + ts::sh_quote(pki.ca_cert.string()) + " https://" +
                     host + "/v2/" + gun + "/_trust/tuf/" + role + ".json");
    EXPECT_EQ(c.exit_code, 0) << role << ": " << c.output;
    auto j = parse_json(c.output, role, Fault::bug);
    EXPECT_TRUE(j) << c.output;
    return j ? *j : Json::object();
  };
  std::string bob_key;
  Json targets = served("targets");
  for (const auto& role : targets["signed"]["delegations"]["roles"])
    if (role["name"] == "targets/bob" && role["keyids"].size() == 1)
      bob_key = role["keyids"][0].get<std::string>();
  ASSERT_FALSE(bob_key.empty()) << targets.dump();
  Json releases = served("targets/releases");
  ASSERT_EQ(releases["signatures"].size(), 1u) << releases.dump();
  ASSERT_EQ(releases["signatures"][0]["keyid"], bob_key) << releases.dump();
  const auto old_version = releases["signed"]["version"].get<std::int64_t>();

  // notary, on the admin's trust directory, drops bob's key from targets/releases without
  // checking that the role still verifies.
  const fs::path ncfg = dir / "notary.json";
  ASSERT_TRUE(atomic_write_file(
      ncfg, Json{{"trust_dir", admin.trust_dir().string()},
                 {"remote_server", {{"url", "https://" + host}, {"root_ca", pki.ca_cert.string()}}}}
                .dump()));
  r = ts::run("setsid -w notary -c " + ts::sh_quote(ncfg.string()) + " delegation remove -p " +
                  gun + " targets/releases " + bob_key,
              {{"NOTARY_TARGETS_PASSPHRASE", "interop-repo"}}, "", 120);
  ASSERT_EQ(r.exit_code, 0) << r.output << log();
  targets = served("targets");
  for (const auto& role : targets["signed"]["delegations"]["roles"])
    if (role["name"] == "targets/releases")
      ASSERT_EQ(role["keyids"].size(), 1u) << "bob's key is still listed";

  // Pulls are refused (strict: TUF 5.6.3), naming the role.
  Client fresh1 = client("fresh1");
  r = fresh1.docket("trust lookup " + gun + ":1");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("bad_signature"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("targets/releases"), std::string::npos) << r.output;
  // Inspecting warns and shows what does verify.
  r = admin.docket("trust inspect " + gun);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("targets/releases of " + gun + " does not verify"), std::string::npos)
      << r.output;

  // alice (the admin's key) signs v2: the warning again, then a releases role of her own.
  ASSERT_EQ(admin.docket("tag " + gun + ":1 " + gun + ":v2").exit_code, 0);
  r = admin.docket("push " + gun + ":v2");
  ASSERT_EQ(r.exit_code, 0) << r.output << log();
  EXPECT_NE(r.output.find("does not verify and is ignored"), std::string::npos) << r.output;
  releases = served("targets/releases");
  EXPECT_EQ(releases["signed"]["version"].get<std::int64_t>(), old_version + 1) << releases.dump();
  EXPECT_EQ(releases["signed"]["targets"].size(), 1u) << releases.dump();
  EXPECT_TRUE(releases["signed"]["targets"].contains("v2")) << releases.dump();

  // Fresh docket clients verify again; notary lists v2 as a releases target.
  Client fresh2 = client("fresh2");
  for (const std::string tag : {"1", "v2"}) {
    r = fresh2.docket("trust lookup " + gun + ":" + tag);
    EXPECT_EQ(r.exit_code, 0) << tag << ": " << r.output;
  }
  r = fresh2.run("notary", "-c " + ts::sh_quote(ncfg.string()) + " -d " +
                               ts::sh_quote((dir / "fresh-notary").string()) + " list " + gun +
                               " --roles targets/releases");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("v2"), std::string::npos) << r.output;
}

// `docket trust key export` writes what `notary key import` takes: notary lists the key
// under its role and can decrypt it with the same passphrase (`key passwd` re-encrypts it).
TEST(TrustInterop, NotaryImportsDocketTrustKeyExport) {
  if (!have("notary")) GTEST_SKIP() << "notary is not installed (scripts/install-deps.sh --peers)";
  fs::path dir = fs::temp_directory_path() / ("docket-trust-keyexport-" + random_hex_id());
  fs::create_directories(dir);
  const std::map<std::string, std::string> ours{
      {"DOCKER_CONFIG", (dir / "docker").string()},
      {"DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE", "interop-repo"}};
  auto docket = [&](const std::string& args) {
    return ts::run("setsid -w " + ts::sh_quote(docket_bin()) + " " + args, ours, "", 60);
  };
  auto g = docket("trust key generate alice --dir " + ts::sh_quote(dir.string()));
  ASSERT_EQ(g.exit_code, 0) << g.output;
  auto idp = g.output.find("Key ID: ");
  ASSERT_NE(idp, std::string::npos) << g.output;
  const std::string id = g.output.substr(idp + 8, 64);
  const fs::path pem = dir / "alice.pem";
  auto ex = docket("trust key export alice -o " + ts::sh_quote(pem.string()));
  ASSERT_EQ(ex.exit_code, 0) << ex.output;
  const fs::path theirs = dir / "notary-trust";
  const std::map<std::string, std::string> env{{"NOTARY_DELEGATION_PASSPHRASE", "interop-repo"}};
  auto notary = [&](const std::string& args) {
    return ts::run("setsid -w notary -d " + ts::sh_quote(theirs.string()) + " " + args, env, "",
                   60);
  };
  auto imp = notary("key import " + ts::sh_quote(pem.string()));
  ASSERT_EQ(imp.exit_code, 0) << imp.output;
  auto list = notary("key list");
  ASSERT_EQ(list.exit_code, 0) << list.output;
  EXPECT_NE(list.output.find(id), std::string::npos) << list.output;
  EXPECT_NE(list.output.find("alice"), std::string::npos) << list.output;
  auto passwd = notary("key passwd " + id);
  EXPECT_EQ(passwd.exit_code, 0) << passwd.output;
  EXPECT_NE(passwd.output.find("Successfully updated passphrase"), std::string::npos)
      << passwd.output;
  std::error_code ec;
  if (!::testing::Test::HasFailure()) fs::remove_all(dir, ec);
}

TEST(TrustInterop, SignOnPushRotateRevokeAgainstNotaryServerAndDockerRegistry) {
  if (!client::test::have_program("docker-registry"))
    GTEST_SKIP() << "docker-registry not installed";
  auto server = docket::testing::NotaryServer::start();
  if (!server) GTEST_SKIP() << docket::testing::NotaryServer::skip_reason();
  client::test::DockerRegistry reg;
  ASSERT_TRUE(reg.ready()) << reg.log();
  std::string host = server->url().substr(8);
  Client me(server->dir() / "me", server->url(), server->ca_file(), host);
  fs::create_directories(me.home / "rootfs");
  ASSERT_TRUE(atomic_write_file(me.home / "rootfs" / "a.txt", "to notary-server\n"));
  const std::string gun = reg.domain() + "/team/app";
  ASSERT_EQ(me.docket("import rootfs " + gun + ":1").exit_code, 0);
  auto push = me.docket("push --insecure " + gun + ":1");
  ASSERT_EQ(push.exit_code, 0) << push.output << server->log();
  std::string hex =
      digest_hex(me.docket("push --insecure -q --disable-content-trust " + gun + ":1").output);
  ASSERT_EQ(hex.size(), 64u);

  fs::path watcher = server->dir() / "watcher";  // a notary client that cached the first root
  auto list = server->cli(watcher, {"list", gun});
  ASSERT_EQ(list.exit_code, 0) << list.output;
  EXPECT_NE(list.output.find(hex), std::string::npos) << list.output;

  int n = 2;
  for (std::string role : {"targets", "root", "snapshot", "timestamp"}) {
    bool server_managed = role == "snapshot" || role == "timestamp";
    auto rot = me.docket("trust key rotate " + role + " " + gun +
                         (server_managed ? " --server-managed" : ""));
    ASSERT_EQ(rot.exit_code, 0) << role << ": " << rot.output << server->log();
    std::string tag = std::to_string(n++);
    ASSERT_EQ(me.docket("tag " + gun + ":1 " + gun + ":" + tag).exit_code, 0);
    auto p = me.docket("push --insecure " + gun + ":" + tag);
    ASSERT_EQ(p.exit_code, 0) << role << ": " << p.output << server->log();
    list = server->cli(watcher, {"list", gun});
    ASSERT_EQ(list.exit_code, 0) << role << ": " << list.output;
    EXPECT_NE(list.output.find("\n" + tag + " "), std::string::npos) << role << ": " << list.output;
    // docket's verified view from a fresh client agrees, and it pulls the tag verified.
    Client fresh(server->dir() / ("fresh-" + role), server->url(), server->ca_file(), host);
    auto inspect = fresh.docket("trust inspect " + gun + ":" + tag);
    ASSERT_EQ(inspect.exit_code, 0) << role << ": " << inspect.output;
    auto j = json_in(inspect.output);
    ASSERT_TRUE(j);
    EXPECT_EQ((*j)[0]["SignedTags"].size(), 1u) << inspect.output;
    auto pulled = fresh.docket("pull --insecure " + gun + ":" + tag);
    ASSERT_EQ(pulled.exit_code, 0) << role << ": " << pulled.output << server->log();
    EXPECT_NE(pulled.output.find(hex), std::string::npos) << role << ": " << pulled.output;
  }

  // An unsigned tag on docker-registry is refused, and nothing is stored.
  ASSERT_EQ(me.docket("tag " + gun + ":1 " + gun + ":unsigned").exit_code, 0);
  ASSERT_EQ(me.docket("push --insecure -q --disable-content-trust " + gun + ":unsigned").exit_code,
            0);
  Client stranger(server->dir() / "stranger", server->url(), server->ca_file(), host);
  auto refused = stranger.docket("pull --insecure " + gun + ":unsigned");
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_NE(refused.output.find("not_signed"), std::string::npos) << refused.output;
  EXPECT_EQ(stranger.docket("images -q").output, "");

  // docker-registry's tag 2 is moved to other content: a verified pull still fetches the
  // signed digest, never what the registry's tag now names.
  ASSERT_TRUE(atomic_write_file(me.home / "rootfs" / "a.txt", "moved under the signature\n"));
  ASSERT_EQ(me.docket("import rootfs " + gun + ":2").exit_code, 0);
  std::string moved_hex =
      digest_hex(me.docket("push --insecure -q --disable-content-trust " + gun + ":2").output);
  ASSERT_EQ(moved_hex.size(), 64u);
  ASSERT_NE(moved_hex, hex);
  auto verified = stranger.docket("pull --insecure " + gun + ":2");
  ASSERT_EQ(verified.exit_code, 0) << verified.output;
  auto stored = stranger.docket("images --format json");
  EXPECT_NE(stored.output.find("sha256:" + hex), std::string::npos) << stored.output;
  EXPECT_EQ(stored.output.find(moved_hex), std::string::npos) << stored.output;

  auto revoke = me.docket("trust revoke " + gun + ":1");
  ASSERT_EQ(revoke.exit_code, 0) << revoke.output << server->log();
  list = server->cli(watcher, {"list", gun});
  ASSERT_EQ(list.exit_code, 0) << list.output;
  EXPECT_EQ(list.output.find("\n1 "), std::string::npos) << list.output;
  EXPECT_NE(list.output.find("\n2 "), std::string::npos) << list.output;
  // The revoked tag is refused by a client that had pulled from this repository before.
  auto revoked = stranger.docket("pull --insecure " + gun + ":1");
  EXPECT_EQ(revoked.exit_code, 1) << revoked.output;
  EXPECT_NE(revoked.output.find("not_signed"), std::string::npos) << revoked.output;
}

}  // namespace
