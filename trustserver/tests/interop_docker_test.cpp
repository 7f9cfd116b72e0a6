// The docker CLI's content-trust commands (no engine needed) against `docket-server trust`
// over TLS: DOCKER_CONTENT_TRUST_SERVER set, the CA in $DOCKER_CONFIG/tls/<host:port>/.
// Skipped only when the docker or notary binary is absent.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "common/encoding.h"
#include "common/file.h"
#include "common/json.h"
#include "net/htpasswd.h"
#include "trustserver/tests/interop_util.h"

namespace docket::trustserver {
namespace {
using namespace testing;
namespace fs = std::filesystem;

TEST(DockerTrustInterop, KeySignerInspectRevoke) {
  for (const char* bin : {"docker", "notary"})
    if (run(std::string("which ") + bin).exit_code != 0)
      GTEST_SKIP() << bin << " CLI not installed";
  auto dir = fs::temp_directory_path() / ("docket-docker-" + random_hex_id());
  fs::create_directories(dir);
  TestPki pki(dir);
  const int port = free_port();
  const std::string host = "127.0.0.1:" + std::to_string(port);
  Child server({docket_server_bin(), "trust", "--addr", host, "--data", (dir / "data").string(),
                "--tls-cert", pki.server_cert.string(), "--tls-key", pki.server_key.string(),
                "--log-level", "warn"},
               {{"DOCKET_SIGNER_PASSPHRASE_DEFAULT", "docker-interop"}}, dir / "server.log");
  ASSERT_TRUE(wait_for_port(port, server)) << read_file(dir / "server.log").value_or("");
  const auto cfg = dir / "docker";
  fs::create_directories(cfg / "tls" / host);
  fs::copy_file(pki.ca_cert, cfg / "tls" / host / "ca.crt");
  const std::map<std::string, std::string> env{
      {"DOCKER_CONFIG", cfg.string()},
      {"DOCKER_CONTENT_TRUST_SERVER", "https://" + host},
      {"DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE", "root-pass"},
      {"DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE", "repo-pass"}};
  auto docker = [&](const std::string& args) {
    return run("sh -c " + sh_quote("cd " + sh_quote(dir.string()) + " && docker " + args), env);
  };
  const std::string gun = "example.com/library/app";

  auto r = docker("trust key generate alice");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("Successfully generated and loaded private key"), std::string::npos)
      << r.output;
  ASSERT_TRUE(fs::exists(dir / "alice.pub"));

  auto gen = run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out " +
                 sh_quote((dir / "bob.key").string()) + " && openssl req -new -x509 -key " +
                 sh_quote((dir / "bob.key").string()) + " -subj /CN=bob -days 30 -out " +
                 sh_quote((dir / "bob.crt").string()));
  ASSERT_EQ(gen.exit_code, 0) << gen.output;
  r = docker("trust key load --name bob bob.key");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("Successfully imported key"), std::string::npos) << r.output;

  // signer add initialises the repository on our server (root, targets, snapshot; server
  // timestamp).
  r = docker("trust signer add --key alice.pub alice " + gun);
  ASSERT_EQ(r.exit_code, 0) << r.output << read_file(dir / "server.log").value_or("");
  EXPECT_NE(r.output.find("Successfully initialized"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Successfully added signer: alice"), std::string::npos) << r.output;
  r = docker("trust signer add --key bob.crt bob " + gun);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("Successfully added signer: bob"), std::string::npos) << r.output;

  // A signed tag in targets/releases (what `docker trust sign` writes), via the notary CLI on
  // docker's own trust directory.
  auto ncfg = dir / "notary.json";
  ASSERT_TRUE(atomic_write_file(
      ncfg, Json{{"trust_dir", (cfg / "trust").string()},
                 {"remote_server", {{"url", "https://" + host}, {"root_ca", pki.ca_cert.string()}}}}
                .dump()));
  r = run(
      "notary -c " + sh_quote(ncfg.string()) + " addhash " + gun +
          " v1 3 --sha256 ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad --roles "
          "targets/releases -p",
      {{"NOTARY_DELEGATION_PASSPHRASE", "repo-pass"}, {"NOTARY_TARGETS_PASSPHRASE", "repo-pass"}});
  ASSERT_EQ(r.exit_code, 0) << r.output;

  r = docker("trust inspect " + gun);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto j = parse_json(r.output, "docker trust inspect", Fault::bug);
  ASSERT_TRUE(j) << r.output;
  ASSERT_EQ((*j)[0]["Name"], gun);
  ASSERT_EQ((*j)[0]["SignedTags"].size(), 1u) << r.output;
  EXPECT_EQ((*j)[0]["SignedTags"][0]["SignedTag"], "v1");
  EXPECT_EQ((*j)[0]["SignedTags"][0]["Digest"],
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  std::set<std::string> signers;
  for (const auto& s : (*j)[0]["Signers"]) signers.insert(s["Name"].get<std::string>());
  EXPECT_EQ(signers, (std::set<std::string>{"alice", "bob"})) << r.output;
  EXPECT_EQ((*j)[0]["AdministrativeKeys"].size(), 2u) << r.output;

  r = docker("trust revoke -y " + gun + ":v1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("Successfully deleted signature for " + gun + ":v1"), std::string::npos)
      << r.output;
  r = docker("trust inspect --pretty " + gun);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("No signatures for " + gun), std::string::npos) << r.output;

  // `docker trust signer remove`: docker 28's CLI only removes a signer in the case where it
  // asks for confirmation (the signer signed the last release); otherwise its
  // maybePromptForSignerRemoval() returns false and it exits 0 having sent nothing but
  // metadata GETs (a client bug). What is asserted here: the command runs against our server
  // without error and the repository still inspects cleanly afterwards (the removal that
  // happens is SignerRemoveOfTheLastReleaseSignerIsConfirmedOnStdin).
  r = docker("trust signer remove bob " + gun);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("Removing signer \"bob\" from " + gun), std::string::npos) << r.output;
  r = docker("trust inspect " + gun);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ASSERT_TRUE(parse_json(r.output, "docker trust inspect", Fault::bug)) << r.output;

  server.stop(SIGTERM);
  std::error_code ec;
  if (!::testing::Test::HasFailure()) fs::remove_all(dir, ec);
}

// `docker trust signer remove` where it matters: bob's key alone signed the current
// targets/releases, so removing bob makes every release unverifiable. docker 28 asks for
// confirmation on stdin (any reader, no terminal needed); only "y" removes: -f skips the
// question and the removal (its maybePromptForSignerRemoval() returns false). Answered "n",
// nothing on the server changes; answered "y", targets/bob and bob's key in targets/releases
// are gone from the server's targets.json, and the tag bob signed no longer verifies for
// docket (lookup, as a verified pull resolves it) nor shows as signed to docker.
TEST(DockerTrustInterop, SignerRemoveOfTheLastReleaseSignerIsConfirmedOnStdin) {
  for (const char* bin : {"docker", "notary"})
    if (run(std::string("which ") + bin).exit_code != 0)
      GTEST_SKIP() << bin << " CLI not installed";
  auto dir = fs::temp_directory_path() / ("docket-docker-rm-" + random_hex_id());
  fs::create_directories(dir);
  TestPki pki(dir);
  const int port = free_port();
  const std::string host = "127.0.0.1:" + std::to_string(port);
  Child server({docket_server_bin(), "trust", "--addr", host, "--data", (dir / "data").string(),
                "--tls-cert", pki.server_cert.string(), "--tls-key", pki.server_key.string(),
                "--log-level", "warn"},
               {{"DOCKET_SIGNER_PASSPHRASE_DEFAULT", "docker-interop"}}, dir / "server.log");
  ASSERT_TRUE(wait_for_port(port, server)) << read_file(dir / "server.log").value_or("");
  auto server_log = [&] { return read_file(dir / "server.log").value_or(""); };
  // One DOCKER_CONFIG per person: the admin (root, targets; alice's key) and bob (his key
  // only), each trusting the test CA for the trust server.
  auto config = [&](const std::string& who) {
    fs::path cfg = dir / who;
    fs::create_directories(cfg / "tls" / host);
    fs::copy_file(pki.ca_cert, cfg / "tls" / host / "ca.crt");
    return cfg;
  };
  const fs::path admin_cfg = config("admin"), bob_cfg = config("bob"), eve_cfg = config("eve");
  auto env_of = [&](const fs::path& cfg) {
    return std::map<std::string, std::string>{
        {"DOCKER_CONFIG", cfg.string()},
        {"DOCKER_CONTENT_TRUST_SERVER", "https://" + host},
        {"DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE", "root-pass"},
        {"DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE", "repo-pass"}};
  };
  auto docker = [&](const fs::path& cfg, const std::string& args,
                    const std::string& stdin_file = "") {
    return run("sh -c " + sh_quote("cd " + sh_quote(dir.string()) + " && docker " + args),
               env_of(cfg), stdin_file);
  };
  const std::string docket_bin = std::string(DOCKET_BINARY_DIR) + "/cli/docket";
  auto docket = [&](const fs::path& cfg, const std::string& args) {
    return run(sh_quote(docket_bin) + " " + args, env_of(cfg));
  };
  const std::string gun = "example.com/library/app";
  // What the server serves for `role` (no client cache in between).
  auto served = [&](const std::string& role) {
    auto r = run("curl -sf --cacert " + sh_quote(pki.ca_cert.string()) + " https://" + host +
                 "/v2/" + gun + "/_trust/tuf/" + role + ".json");
    EXPECT_EQ(r.exit_code, 0) << role << ": " << r.output;
    return r.output;
  };
  auto answer = [&](const std::string& name, const std::string& text) {
    fs::path f = dir / name;
    EXPECT_TRUE(atomic_write_file(f, text));
    return f.string();
  };

  auto r = docker(admin_cfg, "trust key generate alice");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = docker(bob_cfg, "trust key generate bob");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = docker(admin_cfg, "trust signer add --key alice.pub alice " + gun);
  ASSERT_EQ(r.exit_code, 0) << r.output << server_log();
  r = docker(admin_cfg, "trust signer add --key bob.pub bob " + gun);
  ASSERT_EQ(r.exit_code, 0) << r.output << server_log();

  // bob signs v1 as `docker trust sign` does (into targets/releases and targets/bob), with
  // the notary CLI on his own trust directory: the only key it holds is his, so his is the
  // only signature on targets/releases.
  auto ncfg = dir / "bob-notary.json";
  ASSERT_TRUE(atomic_write_file(
      ncfg, Json{{"trust_dir", (bob_cfg / "trust").string()},
                 {"remote_server", {{"url", "https://" + host}, {"root_ca", pki.ca_cert.string()}}}}
                .dump()));
  const std::string digest = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  r = run("notary -c " + sh_quote(ncfg.string()) + " addhash " + gun + " v1 3 --sha256 " + digest +
              " --roles targets/releases --roles targets/bob -p",
          {{"NOTARY_DELEGATION_PASSPHRASE", "repo-pass"}});
  ASSERT_EQ(r.exit_code, 0) << r.output << server_log();

  // bob's key ID as targets.json lists it, and the one signature on targets/releases.
  auto targets = parse_json(served("targets"), "targets.json", Fault::bug);
  ASSERT_TRUE(targets);
  std::string bob_key;
  for (const auto& role : (*targets)["signed"]["delegations"]["roles"])
    if (role["name"] == "targets/bob" && role["keyids"].size() == 1)
      bob_key = role["keyids"][0].get<std::string>();
  ASSERT_FALSE(bob_key.empty()) << targets->dump();
  auto releases = parse_json(served("targets/releases"), "releases.json", Fault::bug);
  ASSERT_TRUE(releases);
  ASSERT_EQ((*releases)["signatures"].size(), 1u) << releases->dump();
  ASSERT_EQ((*releases)["signatures"][0]["keyid"], bob_key) << releases->dump();
  ASSERT_TRUE((*releases)["signed"]["targets"].contains("v1")) << releases->dump();

  // Before: v1 verifies for a fresh docket client and docker shows it signed by bob.
  r = docket(eve_cfg, "trust lookup " + gun + ":v1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("v1 sha256:" + digest + " 3 targets/releases"), std::string::npos)
      << r.output;
  r = docker(admin_cfg, "trust inspect " + gun + ":v1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto j = parse_json(r.output, "docker trust inspect", Fault::bug);
  ASSERT_TRUE(j) << r.output;
  ASSERT_EQ((*j)[0]["SignedTags"].size(), 1u) << r.output;
  EXPECT_EQ((*j)[0]["SignedTags"][0]["Signers"], Json::array({"bob"})) << r.output;

  // Answer "n": docker asks, aborts, and the server's metadata is untouched.
  const std::string targets_before = served("targets");
  const std::string releases_before = served("targets/releases");
  r = docker(admin_cfg, "trust signer remove bob " + gun, answer("no", "n\n"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("signed the last released version of " + gun), std::string::npos)
      << r.output;
  EXPECT_EQ(r.output.find("Successfully removed"), std::string::npos) << r.output;
  EXPECT_EQ(served("targets"), targets_before);
  EXPECT_EQ(served("targets/releases"), releases_before);
  r = docket(eve_cfg, "trust lookup " + gun + ":v1");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  // -f skips the question and, in docker 28, the removal with it.
  r = docker(admin_cfg, "trust signer remove -f bob " + gun);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.find("Successfully removed"), std::string::npos) << r.output;
  EXPECT_EQ(served("targets"), targets_before);

  // Answer "y": docker publishes a targets.json without targets/bob or bob's releases key.
  r = docker(admin_cfg, "trust signer remove bob " + gun, answer("yes", "y\n"));
  ASSERT_EQ(r.exit_code, 0) << r.output << server_log();
  EXPECT_NE(r.output.find("signed the last released version of " + gun), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("Successfully removed bob from " + gun), std::string::npos) << r.output;
  targets = parse_json(served("targets"), "targets.json", Fault::bug);
  ASSERT_TRUE(targets);
  EXPECT_GT(
      (*targets)["signed"]["version"].get<int>(),
      parse_json(targets_before, "targets.json", Fault::bug)->at("signed")["version"].get<int>());
  std::set<std::string> roles;
  for (const auto& role : (*targets)["signed"]["delegations"]["roles"]) {
    roles.insert(role["name"].get<std::string>());
    if (role["name"] == "targets/releases") {
      EXPECT_EQ(role["keyids"].size(), 1u) << targets->dump();
      for (const auto& id : role["keyids"]) EXPECT_NE(id, bob_key) << targets->dump();
    }
  }
  EXPECT_EQ(roles, (std::set<std::string>{"targets/alice", "targets/releases"})) << targets->dump();
  // targets/releases itself is as bob left it, now signed by no key it lists.
  EXPECT_EQ(served("targets/releases"), releases_before);

  // v1 no longer verifies: eve, who cached the old state, and a fresh docket client refuse
  // it; docker (the admin's cache) shows no signed tag.
  for (const fs::path& cfg : {eve_cfg, config("frank")}) {
    r = docket(cfg, "trust lookup " + gun + ":v1");
    EXPECT_EQ(r.exit_code, 1) << cfg << ": " << r.output;
    // Strict: the releases role's signature no longer counts, so resolving fails as a bad
    // signature (docker only warns and shows no signed tag, below).
    EXPECT_NE(r.output.find("bad_signature"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("targets/releases"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("sha256:" + digest), std::string::npos) << r.output;
  }
  r = docker(admin_cfg, "trust inspect " + gun);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("valid signatures did not meet threshold for targets/releases"),
            std::string::npos)
      << r.output;
  // The JSON document on stdout, after the warnings docker logs on stderr.
  std::size_t start = r.output.starts_with("[") ? 0 : r.output.find("\n[");
  ASSERT_NE(start, std::string::npos) << r.output;
  j = parse_json(r.output.substr(start), "docker trust inspect", Fault::bug);
  ASSERT_TRUE(j) << r.output;
  EXPECT_EQ((*j)[0]["SignedTags"].size(), 0u) << r.output;
  std::set<std::string> signers;
  for (const auto& s : (*j)[0]["Signers"]) signers.insert(s["Name"].get<std::string>());
  EXPECT_EQ(signers, (std::set<std::string>{"alice"})) << r.output;

  server.stop(SIGTERM);
  std::error_code ec;
  if (!::testing::Test::HasFailure()) fs::remove_all(dir, ec);
}

// Token auth: `docket-server serve` with auth.token.* (the registry's token endpoint and the
// trust routes' shared authorizer). docker sends the credentials it holds for the image's
// registry (here the same host:port) to the token realm named by the challenge.
TEST(DockerTrustInterop, InspectAndSignerAddWithTokenAuth) {
  for (const char* bin : {"docker", "notary"})
    if (run(std::string("which ") + bin).exit_code != 0)
      GTEST_SKIP() << bin << " CLI not installed";
  auto dir = fs::temp_directory_path() / ("docket-docker-auth-" + random_hex_id());
  fs::create_directories(dir);
  TestPki pki(dir);
  const int port = free_port();
  const std::string host = "127.0.0.1:" + std::to_string(port);
  auto users = value_or_raise(net::Htpasswd::parse(""));
  ASSERT_TRUE(users.set_password("alice", "alice-pass", 4));
  ASSERT_TRUE(atomic_write_file(dir / "htpasswd", users.serialize()));
  auto gen = run("openssl ecparam -name prime256v1 -genkey -noout -out " +
                 sh_quote((dir / "token.key").string()));
  ASSERT_EQ(gen.exit_code, 0) << gen.output;
  Child server({docket_server_bin(), "serve", "--addr", host, "--data", (dir / "data").string()},
               {{"DOCKET_SIGNER_PASSPHRASE_DEFAULT", "docker-interop"},
                {"DOCKET_HTTP_TLS_CERTIFICATE", pki.server_cert.string()},
                {"DOCKET_HTTP_TLS_KEY", pki.server_key.string()},
                {"DOCKET_AUTH_HTPASSWD_PATH", (dir / "htpasswd").string()},
                {"DOCKET_AUTH_TOKEN_REALM", "https://" + host + "/auth/token"},
                {"DOCKET_AUTH_TOKEN_SERVICE", "docket-interop"},
                {"DOCKET_AUTH_TOKEN_SIGNINGKEY", (dir / "token.key").string()},
                {"DOCKET_LOG_LEVEL", "warn"}},
               dir / "server.log");
  ASSERT_TRUE(wait_for_port(port, server)) << read_file(dir / "server.log").value_or("");
  const auto cfg = dir / "docker";
  fs::create_directories(cfg / "tls" / host);
  fs::copy_file(pki.ca_cert, cfg / "tls" / host / "ca.crt");
  const std::map<std::string, std::string> env{
      {"DOCKER_CONFIG", cfg.string()},
      {"DOCKER_CONTENT_TRUST_SERVER", "https://" + host},
      {"DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE", "root-pass"},
      {"DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE", "repo-pass"}};
  auto docker = [&](const std::string& args) {
    return run("sh -c " + sh_quote("cd " + sh_quote(dir.string()) + " && docker " + args), env);
  };
  const std::string gun = host + "/library/app";
  auto r = docker("trust key generate alice");
  ASSERT_EQ(r.exit_code, 0) << r.output;

  // No credentials: the token endpoint refuses, so does the server.
  r = docker("trust signer add --key alice.pub alice " + gun);
  EXPECT_NE(r.exit_code, 0) << r.output;
  // alice's credentials for the registry host, as `docker login` stores them.
  ASSERT_TRUE(atomic_write_file(
      cfg / "config.json",
      Json{{"auths", {{host, {{"auth", base64_encode("alice:alice-pass")}}}}}}.dump()));
  r = docker("trust signer add --key alice.pub alice " + gun);
  ASSERT_EQ(r.exit_code, 0) << r.output << read_file(dir / "server.log").value_or("");
  EXPECT_NE(r.output.find("Successfully added signer: alice"), std::string::npos) << r.output;
  r = docker("trust inspect " + gun);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto j = parse_json(r.output, "docker trust inspect", Fault::bug);
  ASSERT_TRUE(j) << r.output;
  ASSERT_EQ((*j)[0]["Name"], gun);
  ASSERT_EQ((*j)[0]["Signers"].size(), 1u) << r.output;
  EXPECT_EQ((*j)[0]["Signers"][0]["Name"], "alice");
  // Wrong password: the server refuses; docker falls back to its cached copy and says so.
  ASSERT_TRUE(atomic_write_file(
      cfg / "config.json",
      Json{{"auths", {{host, {{"auth", base64_encode("alice:wrong")}}}}}}.dump()));
  r = docker("trust inspect " + gun);
  EXPECT_NE(r.output.find("Error while downloading remote metadata"), std::string::npos)
      << r.output;

  server.stop(SIGTERM);
  std::error_code ec;
  if (!::testing::Test::HasFailure()) fs::remove_all(dir, ec);
}

}  // namespace
}  // namespace docket::trustserver
