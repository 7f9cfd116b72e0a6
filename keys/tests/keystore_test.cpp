// One conformance suite for every KeyStore implementation.
#include "keys/keystore.h"

#include <gtest/gtest.h>

#include <fstream>
#include <functional>

#include "common/encoding.h"

#include "keys/tests/test_util.h"

namespace docket::keys {
namespace {

namespace fs = std::filesystem;
using testing::run_shell;
using testing::slurp;
using testing::TempDir;

const std::string kGun = "example.com:5000/team/app";

struct StoreFactory {
  const char* name;
  std::function<std::unique_ptr<KeyStore>(const fs::path& dir, PassphraseSource& pass)> make;
};

// Low iteration counts keep the suite fast; the count does not change the format.
const StoreFactory kFactories[] = {
    {"TrustDir",
     [](const fs::path& dir, PassphraseSource& pass) -> std::unique_ptr<KeyStore> {
       return std::make_unique<TrustDirKeyStore>(dir / "trust", pass,
                                                 TrustDirOptions{kMinPbkdf2Iterations});
     }},
    {"Memory",
     [](const fs::path&, PassphraseSource& pass) -> std::unique_ptr<KeyStore> {
       return std::make_unique<MemoryKeyStore>(&pass, kMinPbkdf2Iterations);
     }},
};

PrivateKey cached_rsa() {
  static PrivateKey k = value_or_raise(PrivateKey::generate(Algorithm::rsa, 2048));
  return k;
}

class KeyStoreConformance : public ::testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override {
    pass_ = fixed_passphrase(Secret("correct horse battery"));
    store_ = GetParam().make(tmp_.path() / "a", *pass_);
    other_ = GetParam().make(tmp_.path() / "b", *pass_);
  }
  PrivateKey ec() { return value_or_raise(PrivateKey::generate(Algorithm::ecdsa_p256)); }
  std::string write_tmp(const std::string& name, const std::string& text) {
    auto p = tmp_.path() / name;
    std::ofstream(p) << text;
    return p.string();
  }

  TempDir tmp_;
  std::unique_ptr<PassphraseSource> pass_;
  std::unique_ptr<KeyStore> store_, other_;
};

TEST_P(KeyStoreConformance, AddGetEveryAlgorithm) {
  for (const PrivateKey& k :
       {value_or_raise(PrivateKey::generate(Algorithm::ed25519)), ec(), cached_rsa()}) {
    auto id = store_->add(k, "targets", kGun);
    ASSERT_TRUE(id.has_value()) << id.error().describe();
    EXPECT_EQ(*id, k.public_key().key_id());
    auto got = store_->get(*id);
    ASSERT_TRUE(got.has_value()) << got.error().describe();
    EXPECT_EQ(got->role, "targets");
    EXPECT_EQ(got->gun, kGun);
    EXPECT_EQ(got->key.algorithm(), k.algorithm());
    EXPECT_EQ(got->key.public_key().key_id(), *id);
    auto sig = got->key.sign("payload");
    EXPECT_TRUE(k.public_key().verify(k.method(), "payload", *sig));
  }
  EXPECT_EQ(store_->list()->size(), 3u);
}

TEST_P(KeyStoreConformance, RolesAndGuns) {
  PrivateKey root = ec(), targets = ec(), snapshot = ec(), deleg = ec();
  ASSERT_TRUE(store_->add(root, "root", kGun));  // root keys carry no GUN
  ASSERT_TRUE(store_->add(targets, "targets", kGun));
  ASSERT_TRUE(store_->add(snapshot, "snapshot", "other.example/x"));
  ASSERT_TRUE(store_->add(deleg, "targets/releases", kGun));  // nor do delegation keys
  EXPECT_EQ(store_->get(root.public_key().key_id())->gun, "");
  EXPECT_EQ(store_->get(deleg.public_key().key_id())->gun, "");
  EXPECT_EQ(store_->get(deleg.public_key().key_id())->role, "targets/releases");

  auto all = store_->list();
  ASSERT_TRUE(all.has_value());
  ASSERT_EQ(all->size(), 4u);
  // Sorted by role, then GUN, then ID.
  EXPECT_EQ((*all)[0].role, "root");
  EXPECT_EQ((*all)[1].role, "snapshot");
  EXPECT_EQ((*all)[2].role, "targets");
  EXPECT_EQ((*all)[3].role, "targets/releases");
  for (const auto& k : *all) EXPECT_EQ(k.location, store_->location());

  EXPECT_EQ(store_->find("targets")->size(), 1u);
  EXPECT_EQ(store_->find("targets", kGun)->size(), 1u);
  EXPECT_EQ(store_->find("targets", "nope")->size(), 0u);
  EXPECT_EQ(store_->find("snapshot", "other.example/x")->at(0).id, snapshot.public_key().key_id());
  // A targets key need not name its GUN (notary key generate --role targets writes none).
  PrivateKey unbound = ec();
  ASSERT_TRUE(store_->add(unbound, "targets", ""));
  EXPECT_EQ(store_->get(unbound.public_key().key_id())->gun, "");
}

TEST_P(KeyStoreConformance, RejectsBadRolesGunsAndIds) {
  PrivateKey k = ec();
  for (const char* role : {"", "../root", "targets//a", "targets/..", "targets/", "/targets", "a b",
                           "role\nx", "targets/.", "r\xc3\xa9le"}) {
    auto r = store_->add(k, role, kGun);
    ASSERT_FALSE(r.has_value()) << role;
    EXPECT_EQ(r.error().code, "usage") << role;
    EXPECT_EQ(r.error().fault, Fault::user);
  }
  EXPECT_FALSE(store_->add(k, std::string(kMaxRoleBytes + 1, 'r'), kGun).has_value());
  for (const std::string& gun :
       {std::string("a b"), std::string("x\ngun: evil"), std::string(kMaxGunBytes + 1, 'g')}) {
    auto r = store_->add(k, "targets", gun);
    ASSERT_FALSE(r.has_value()) << gun;
    EXPECT_EQ(r.error().code, "usage");
  }
  for (const std::string& id :
       {std::string("../../etc/passwd"), std::string(64, 'A'), std::string(63, 'a'),
        std::string(65, 'a'), std::string(), std::string(62, 'a') + "/x"}) {
    auto g = store_->get(id);
    ASSERT_FALSE(g.has_value()) << id;
    EXPECT_EQ(g.error().code, "usage") << id;
    EXPECT_FALSE(store_->remove(id).has_value());
    EXPECT_FALSE(store_->export_pem(id).has_value());
  }
  EXPECT_TRUE(store_->list()->empty());
}

TEST_P(KeyStoreConformance, DuplicatesMissingAndRemove) {
  PrivateKey k = ec();
  auto id = *store_->add(k, "targets", kGun);
  auto dup = store_->add(k, "root", "");
  ASSERT_FALSE(dup.has_value());
  EXPECT_EQ(dup.error().code, "key_exists");
  EXPECT_EQ(store_->get(id)->role, "targets") << "a refused add must not change the key";

  std::string missing(64, 'b');
  auto g = store_->get(missing);
  ASSERT_FALSE(g.has_value());
  EXPECT_EQ(g.error().code, "not_found");
  EXPECT_EQ(g.error().fault, Fault::user);

  ASSERT_TRUE(store_->remove(id).has_value());
  EXPECT_EQ(store_->get(id).error().code, "not_found");
  EXPECT_EQ(store_->remove(id).error().code, "not_found");
  EXPECT_TRUE(store_->list()->empty());
  // Removed keys can be added again.
  EXPECT_TRUE(store_->add(k, "targets", kGun).has_value());
}

TEST_P(KeyStoreConformance, ExportImportRoundTrip) {
  PrivateKey k = ec();
  auto id = *store_->add(k, "targets", kGun);
  auto pem = store_->export_pem(id);
  ASSERT_TRUE(pem.has_value()) << pem.error().describe();
  auto block = parse_single_pem(*pem, "export", Fault::local);
  ASSERT_TRUE(block.has_value());
  EXPECT_EQ(block->type, "ENCRYPTED PRIVATE KEY");
  EXPECT_EQ(block->header("path"), id);
  EXPECT_EQ(block->header("role"), "targets");
  EXPECT_EQ(block->header("gun"), kGun);
  auto dec = decrypt_pkcs8(block->bytes, "correct horse battery");
  ASSERT_TRUE(dec.has_value());
  EXPECT_EQ(dec->public_key().key_id(), id);

  auto imported = other_->import_pem(*pem, "", "");
  ASSERT_TRUE(imported.has_value()) << imported.error().describe();
  ASSERT_EQ(imported->size(), 1u);
  EXPECT_EQ((*imported)[0].id, id);
  EXPECT_EQ((*imported)[0].role, "targets");
  EXPECT_EQ((*imported)[0].gun, kGun);
  EXPECT_EQ(other_->get(id)->key.public_key().key_id(), id);
  // Importing it again is refused and changes nothing.
  auto again = other_->import_pem(*pem, "", "");
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, "key_exists");
}

TEST_P(KeyStoreConformance, ImportsOpensslKeysWithFallbacks) {
  TempDir t;
  auto p = [&](const char* n) { return (t.path() / n).string(); };
  ASSERT_EQ(
      run_shell("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out " +
                p("pk8.pem") + " && openssl ec -in " + p("pk8.pem") + " -out " + p("sec1.pem") +
                " 2>/dev/null && openssl genpkey -algorithm ed25519 -out " + p("ed.pem")),
      0);
  std::string pk8 = slurp(p("pk8.pem")), sec1 = slurp(p("sec1.pem")), ed = slurp(p("ed.pem"));
  ASSERT_NE(sec1.find("EC PRIVATE KEY"), std::string::npos);

  // No role anywhere: refused, store untouched.
  auto norole = store_->import_pem(pk8, "", "");
  ASSERT_FALSE(norole.has_value());
  EXPECT_EQ(norole.error().code, "usage");
  EXPECT_TRUE(store_->list()->empty());

  auto a = store_->import_pem(pk8, "targets", kGun);
  ASSERT_TRUE(a.has_value()) << a.error().describe();
  EXPECT_EQ((*a)[0].gun, kGun);
  // SEC1 and PKCS#8 encodings of one key give one ID.
  auto b = other_->import_pem(sec1 + ed, "targets/releases", kGun);
  ASSERT_TRUE(b.has_value()) << b.error().describe();
  ASSERT_EQ(b->size(), 2u);
  EXPECT_EQ((*b)[0].id, (*a)[0].id);
  EXPECT_EQ((*b)[0].gun, "") << "delegation keys carry no GUN";
  EXPECT_EQ(other_->get((*b)[1].id)->key.algorithm(), Algorithm::ed25519);
  auto dup = store_->import_pem(sec1, "root", "");
  ASSERT_FALSE(dup.has_value());
  EXPECT_EQ(dup.error().code, "key_exists");
}

TEST_P(KeyStoreConformance, ImportIsAllOrNothing) {
  PrivateKey k1 = ec(), k2 = ec();
  auto pem1 = encode_pem(PemBlock{"PRIVATE KEY", {{"role", "root"}}, k1.to_pkcs8_der()});
  auto cert = value_or_raise(k2.self_signed_certificate(kGun, std::chrono::hours(1)));
  auto cert_pem = *base64_decode(cert.json()["keyval"]["public"].get<std::string>());
  auto r = store_->import_pem(pem1 + cert_pem, "", "");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, "bad_key");
  EXPECT_TRUE(store_->list()->empty());

  // A path header naming another key is refused.
  auto mismatched = encode_pem(PemBlock{
      "PRIVATE KEY", {{"role", "root"}, {"path", k2.public_key().key_id()}}, k1.to_pkcs8_der()});
  auto m = store_->import_pem(mismatched, "", "");
  ASSERT_FALSE(m.has_value());
  EXPECT_EQ(m.error().code, "bad_key");

  // Garbage is not a key.
  EXPECT_FALSE(store_->import_pem("hello", "root", "").has_value());
  EXPECT_FALSE(store_->import_pem("", "root", "").has_value());
  EXPECT_TRUE(store_->list()->empty());

  // Two good blocks import together.
  auto pem2 =
      encode_pem(PemBlock{"PRIVATE KEY", {{"role", "targets"}, {"gun", kGun}}, k2.to_pkcs8_der()});
  auto both = store_->import_pem(pem1 + pem2, "", "");
  ASSERT_TRUE(both.has_value()) << both.error().describe();
  EXPECT_EQ(both->size(), 2u);
  EXPECT_EQ(store_->list()->size(), 2u);
}

TEST_P(KeyStoreConformance, EncryptedImportWithWrongPassphrase) {
  PrivateKey k = ec();
  auto der = *encrypt_pkcs8(k, "some other passphrase", kMinPbkdf2Iterations);
  auto pem = encode_pem(PemBlock{"ENCRYPTED PRIVATE KEY", {{"role", "root"}}, der});
  auto r = store_->import_pem(pem, "", "");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, "passphrase");
  EXPECT_EQ(r.error().fault, Fault::user);
  EXPECT_TRUE(store_->list()->empty());
  // With the right passphrase and no path header it imports (docket reads what notary refuses).
  auto right =
      encode_pem(PemBlock{"ENCRYPTED PRIVATE KEY",
                          {{"role", "root"}},
                          *encrypt_pkcs8(k, "correct horse battery", kMinPbkdf2Iterations)});
  EXPECT_TRUE(store_->import_pem(right, "", "").has_value());
}

INSTANTIATE_TEST_SUITE_P(Stores, KeyStoreConformance, ::testing::ValuesIn(kFactories),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace docket::keys
