// Conformance suite for every Signer implementation, plus the at-rest format of the local
// key store.
#include <gtest/gtest.h>

#include <filesystem>

#include "common/file.h"
#include "common/json.h"
#include "signer/signer.h"
#if DOCKET_SIGNER_REMOTE
#include "net/http_server.h"
#include "net/testing/process.h"
#include "net/testing/tls_testing.h"
#include "signer/remote.h"
#endif

namespace docket::signer {
namespace {
namespace fs = std::filesystem;

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("docket-signer-" + random_hex_id());
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// Cheap KDF settings keep the suite fast; production defaults are tested for shape only.
LocalSignerOptions test_options(const fs::path& dir, std::string pass = "correct horse") {
  LocalSignerOptions o;
  o.directory = dir.string();
  o.kdf_opslimit = 1;
  o.kdf_memlimit = 8192;
  o.passphrase = [pass](std::string_view) -> Result<std::string> { return pass; };
  return o;
}

#if DOCKET_SIGNER_REMOTE
// `docket-server signer`'s API in process: a local signer behind an HttpServer that
// requires client certificates from the test CA, on a loopback port.
struct SignerServer {
  explicit SignerServer(const fs::path& keys, const net::testing::TestPki& pki) {
    local = value_or_raise(open_local_signer(test_options(keys)));
    install_signer_routes(router, *local);
    net::ServerOptions o;
    o.port = 0;
    o.threads = 1;
    o.tls_cert_file = pki.server_cert;
    o.tls_key_file = pki.server_key;
    o.tls_client_ca_file = pki.ca_cert;
    server = std::make_unique<net::HttpServer>(o, router);
    value_or_raise(server->start());
  }
  ~SignerServer() { stop(); }
  void stop() {
    if (!server) return;
    server->stop();
    server->wait();
    server.reset();
  }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(server->port()); }
  std::unique_ptr<Signer> local;
  net::Router router;
  std::unique_ptr<net::HttpServer> server;
};

RemoteSignerOptions remote_options(const std::string& url, const net::testing::TestPki& pki) {
  RemoteSignerOptions o;
  o.url = url;
  o.ca_file = pki.ca_cert.string();
  o.client_cert_file = pki.client_cert.string();
  o.client_key_file = pki.client_key.string();
  o.connect_timeout = std::chrono::milliseconds(2000);
  o.request_timeout = std::chrono::milliseconds(5000);
  return o;
}
#endif

class SignerConformance : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "local") {
      auto s = open_local_signer(test_options(dir_.path));
      ASSERT_TRUE(s) << s.error().describe();
      signer_ = std::move(*s);
      return;
    }
#if DOCKET_SIGNER_REMOTE
    fs::create_directories(dir_.path);
    pki_ = value_or_raise(net::testing::make_test_pki(dir_.path));
    server_ = std::make_unique<SignerServer>(dir_.path / "keys", pki_);
    auto s = open_remote_signer(remote_options(server_->url(), pki_));
    ASSERT_TRUE(s) << s.error().describe();
    signer_ = std::move(*s);
#endif
  }
  TempDir dir_;
  std::unique_ptr<Signer> signer_;
#if DOCKET_SIGNER_REMOTE
  net::testing::TestPki pki_;
  std::unique_ptr<SignerServer> server_;
#endif
};

TEST_P(SignerConformance, CreatesKeysThatSignVerifiably) {
  for (auto alg : {keys::Algorithm::ed25519, keys::Algorithm::ecdsa_p256}) {
    auto k = signer_->create_key("example.com/app", "timestamp", alg);
    ASSERT_TRUE(k) << k.error().describe();
    EXPECT_EQ(k->gun, "example.com/app");
    EXPECT_EQ(k->role, "timestamp");
    EXPECT_EQ(k->key_id.size(), 64u);
    auto pj = parse_json(k->public_json, "public", Fault::bug);
    ASSERT_TRUE(pj);
    auto pub = keys::PublicKey::from_json(*pj);
    ASSERT_TRUE(pub) << pub.error().describe();
    EXPECT_EQ(pub->key_id(), k->key_id);
    EXPECT_TRUE((*pj)["keyval"]["private"].is_null());

    auto sig = signer_->sign(k->key_id, "canonical bytes");
    ASSERT_TRUE(sig) << sig.error().describe();
    EXPECT_TRUE(pub->verify(k->method, "canonical bytes", *sig));
    EXPECT_FALSE(pub->verify(k->method, "other bytes", *sig));
  }
}

TEST_P(SignerConformance, ListsGetsAndDeletesKeys) {
  auto a = signer_->create_key("g", "timestamp", keys::Algorithm::ed25519);
  auto b = signer_->create_key("g", "timestamp", keys::Algorithm::ed25519);
  auto c = signer_->create_key("g", "snapshot", keys::Algorithm::ed25519);
  ASSERT_TRUE(a && b && c);
  auto ts = signer_->list_keys("g", "timestamp");
  ASSERT_TRUE(ts);
  ASSERT_EQ(ts->size(), 2u);
  EXPECT_EQ((*ts)[0].key_id, a->key_id);  // oldest first
  EXPECT_EQ((*ts)[1].key_id, b->key_id);
  auto got = signer_->get_key(c->key_id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->role, "snapshot");
  ASSERT_TRUE(signer_->delete_key(a->key_id));
  auto gone = signer_->get_key(a->key_id);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, "not_found");
  auto nosign = signer_->sign(a->key_id, "x");
  ASSERT_FALSE(nosign);
  EXPECT_EQ(nosign.error().code, "not_found");
  EXPECT_FALSE(signer_->delete_key("../../etc/passwd"));
  EXPECT_TRUE(signer_->check_health());
}

#if DOCKET_SIGNER_REMOTE
INSTANTIATE_TEST_SUITE_P(Signers, SignerConformance, ::testing::Values("local", "remote"));

class RemoteSignerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(dir_.path);
    pki_ = value_or_raise(net::testing::make_test_pki(dir_.path));
    server_ = std::make_unique<SignerServer>(dir_.path / "keys", pki_);
  }
  TempDir dir_;
  net::testing::TestPki pki_;
  std::unique_ptr<SignerServer> server_;
};

TEST_F(RemoteSignerTest, RefusesClientWithoutCertificate) {
  // curl (through HttpClient) without a client certificate: the handshake fails.
  net::HttpClientOptions co;
  co.proxy = "";
  co.tls.ca_file = pki_.ca_cert;
  auto c = value_or_raise(net::HttpClient::create(co));
  auto r = c.get(server_->url() + "/v1/health");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "network");
}

TEST_F(RemoteSignerTest, RefusesClientCertificateFromAnotherCa) {
  TempDir other;
  fs::create_directories(other.path);
  auto other_pki = value_or_raise(net::testing::make_test_pki(other.path));
  auto o = remote_options(server_->url(), pki_);
  o.client_cert_file = other_pki.client_cert.string();
  o.client_key_file = other_pki.client_key.string();
  auto s = value_or_raise(open_remote_signer(o));
  auto k = s->create_key("example.com/app", "timestamp", keys::Algorithm::ed25519);
  ASSERT_FALSE(k);
  EXPECT_EQ(k.error().code, "signer_unavailable");
  EXPECT_EQ(k.error().fault, Fault::remote);
  // Nothing was created on the signer.
  EXPECT_TRUE(value_or_raise(server_->local->list_keys("example.com/app", "timestamp")).empty());
}

TEST_F(RemoteSignerTest, SignerDownIsAClearError) {
  auto s = value_or_raise(open_remote_signer(remote_options(server_->url(), pki_)));
  auto k =
      value_or_raise(s->create_key("example.com/app", "timestamp", keys::Algorithm::ecdsa_p256));
  const auto url = server_->url();
  server_->stop();
  auto sig = s->sign(k.key_id, "bytes");
  ASSERT_FALSE(sig);
  EXPECT_EQ(sig.error().code, "signer_unavailable");
  EXPECT_NE(sig.error().message.find(url), std::string::npos) << sig.error().message;
  auto h = s->check_health();
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error().code, "signer_unavailable");
}

TEST_F(RemoteSignerTest, RejectsBadRequestsWithNamedErrors) {
  auto s = value_or_raise(open_remote_signer(remote_options(server_->url(), pki_)));
  auto k = s->create_key("example.com/app", "targets", keys::Algorithm::ed25519);
  ASSERT_FALSE(k);
  EXPECT_EQ(k.error().code, "bad_request");
  EXPECT_NE(k.error().message.find("role"), std::string::npos) << k.error().message;
  auto g = s->get_key(std::string(64, 'a'));
  ASSERT_FALSE(g);
  EXPECT_EQ(g.error().code, "not_found");
}

TEST(RemoteSignerConfig, NeedsHttpsAndMutualTlsFiles) {
  RemoteSignerOptions o;
  o.url = "http://127.0.0.1:1";
  o.ca_file = o.client_cert_file = o.client_key_file = "/nonexistent";
  auto s = open_remote_signer(o);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, "config");
  o.url = "https://127.0.0.1:1";
  o.client_key_file.clear();
  s = open_remote_signer(o);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, "config");
  o.client_key_file = "/nonexistent";
  s = open_remote_signer(o);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, "config");
}
#else
INSTANTIATE_TEST_SUITE_P(Signers, SignerConformance, ::testing::Values("local"));
#endif

TEST(LocalSigner, KeysAreEncryptedAtRestAndSurviveARestart) {
  TempDir dir;
  std::string id, method;
  {
    auto s = open_local_signer(test_options(dir.path));
    ASSERT_TRUE(s);
    auto k = (*s)->create_key("g", "timestamp", keys::Algorithm::ecdsa_p256);
    ASSERT_TRUE(k);
    id = k->key_id;
    method = k->method;
  }
  auto file = dir.path / (id + ".json");
  ASSERT_TRUE(fs::exists(file));
  EXPECT_EQ(fs::status(file).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  auto text = read_file(file);
  ASSERT_TRUE(text);
  EXPECT_EQ(text->find("PRIVATE"), std::string::npos);
  auto rec = parse_json(*text, "record", Fault::bug);
  ASSERT_TRUE(rec);
  EXPECT_EQ((*rec)["format"], "docket-signer-key/1");
  EXPECT_EQ((*rec)["kdf"]["name"], "argon2id13");

  // A new process with the same passphrase signs with the stored key.
  auto again = open_local_signer(test_options(dir.path));
  ASSERT_TRUE(again) << again.error().describe();
  auto info = (*again)->get_key(id);
  ASSERT_TRUE(info);
  auto sig = (*again)->sign(id, "m");
  ASSERT_TRUE(sig) << sig.error().describe();
  auto pub = keys::PublicKey::from_json(*parse_json(info->public_json, "p", Fault::bug));
  ASSERT_TRUE(pub);
  EXPECT_TRUE(pub->verify(method, "m", *sig));

  // The wrong passphrase loads the public halves but cannot sign.
  auto wrong = open_local_signer(test_options(dir.path, "wrong"));
  ASSERT_TRUE(wrong);
  auto bad = (*wrong)->sign(id, "m");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, "passphrase");
  EXPECT_EQ(bad.error().fault, Fault::user);
}

TEST(LocalSigner, RelabelledRecordIsRejected) {
  TempDir dir;
  std::string id;
  {
    auto s = open_local_signer(test_options(dir.path));
    auto k = (*s)->create_key("victim/gun", "timestamp", keys::Algorithm::ed25519);
    ASSERT_TRUE(k);
    id = k->key_id;
  }
  auto file = dir.path / (id + ".json");
  auto rec = *parse_json(*read_file(file), "r", Fault::bug);
  rec["gun"] = "attacker/gun";
  ASSERT_TRUE(atomic_write_file(file, rec.dump(), 0600));
  auto s = open_local_signer(test_options(dir.path));
  ASSERT_TRUE(s);
  auto sig = (*s)->sign(id, "m");
  ASSERT_FALSE(sig);  // the AEAD's associated data binds gun and role
}

TEST(LocalSigner, MissingPassphraseFailsAtStartNamingTheVariable) {
  TempDir dir;
  LocalSignerOptions o;
  o.directory = dir.path.string();
  o.default_alias = "ci-alias-unset-xyz";
  auto s = open_local_signer(o);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, "passphrase");
  EXPECT_NE(s.error().message.find("DOCKET_SIGNER_PASSPHRASE_CI_ALIAS_UNSET_XYZ"),
            std::string::npos);
}

TEST(LocalSigner, PassphraseFromEnvironment) {
  EXPECT_EQ(passphrase_env_name("prod.eu-1"), "DOCKET_SIGNER_PASSPHRASE_PROD_EU_1");
  ::setenv("DOCKET_SIGNER_PASSPHRASE_UNITTEST", "s3cret", 1);
  auto p = passphrase_from_env("unittest");
  ASSERT_TRUE(p);
  EXPECT_EQ(*p, "s3cret");
  ::setenv("DOCKET_SIGNER_PASSPHRASE_UNITTEST", "", 1);
  EXPECT_FALSE(passphrase_from_env("unittest"));
}

}  // namespace
}  // namespace docket::signer
