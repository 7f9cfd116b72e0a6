// Encrypted key files: Notary's samples, the on-disk format, the trust-directory store.
#include "keys/keyfile.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <fstream>

#include "common/encoding.h"
#include "common/json.h"
#include "keys/keystore.h"
#include "keys/tests/test_util.h"

namespace docket::keys {
namespace {

namespace fs = std::filesystem;
using testing::run_shell;
using testing::slurp;
using testing::TempDir;

const fs::path kSamples = fs::path(DOCKET_SHARED_DIR) / "notary" / "samples";
const char* kSamplePassphrase = "smoke-targets-pass";  // samples/*/notes.txt

std::vector<fs::path> sample_key_files() {
  std::vector<fs::path> out;
  for (const auto& d : fs::directory_iterator(kSamples))
    if (d.is_directory())
      for (const auto& f : fs::directory_iterator(d.path()))
        if (f.path().filename().string().starts_with("private-targets-key."))
          out.push_back(f.path());
  return out;
}

// Counts requests; answers with a fixed passphrase.
class CountingSource final : public PassphraseSource {
 public:
  explicit CountingSource(std::string p) : p_(std::move(p)) {}
  Result<Secret> get(const PassphraseRequest& r) override {
    requests.push_back(r);
    return Secret(p_);
  }
  std::vector<PassphraseRequest> requests;

 private:
  std::string p_;
};

TEST(NotaryKeyFiles, SamplesDecryptAndSignForTheirRoot) {
  auto files = sample_key_files();
  ASSERT_GE(files.size(), 2u);
  for (const auto& f : files) {
    std::string id = f.filename().string().substr(20, 64);
    auto block = parse_single_pem(slurp(f), f.string(), Fault::local);
    ASSERT_TRUE(block.has_value()) << block.error().describe();
    EXPECT_EQ(block->type, "ENCRYPTED PRIVATE KEY");
    EXPECT_EQ(block->header("role"), "targets");
    EXPECT_EQ(block->header("gun"), "localhost:4443/library/demo");
    EXPECT_EQ(*pkcs8_iterations(block->bytes), kNotaryPbkdf2Iterations);

    auto wrong = decrypt_pkcs8(block->bytes, "not the passphrase");
    ASSERT_FALSE(wrong.has_value());
    EXPECT_EQ(wrong.error().code, "passphrase");
    EXPECT_EQ(wrong.error().fault, Fault::user);

    auto key = decrypt_pkcs8(block->bytes, kSamplePassphrase);
    ASSERT_TRUE(key.has_value()) << key.error().describe();
    EXPECT_EQ(key->algorithm(), Algorithm::ecdsa_p256);
    EXPECT_EQ(key->public_key().key_id(), id);

    // Its signatures verify with the targets key root.json lists under that ID.
    auto root = parse_json(slurp(f.parent_path() / "root.json"), "root", Fault::local);
    ASSERT_TRUE(root.has_value());
    const Json& kj = (*root)["signed"]["keys"][id];
    auto pub = PublicKey::from_json(kj);
    ASSERT_TRUE(pub.has_value());
    auto sig = key->sign("hello");
    EXPECT_TRUE(pub->verify("ecdsa", "hello", *sig));

    // And the trust-directory store reads it from Notary's layout.
    TempDir tmp;
    fs::create_directories(tmp.path() / "private");
    fs::copy_file(f, tmp.path() / "private" / (id + ".key"));
    MapEnvironment env({{"NOTARY_TARGETS_PASSPHRASE", kSamplePassphrase}});
    auto src = env_passphrase(env);
    TrustDirKeyStore store(tmp.path(), *src);
    auto listed = store.list();
    ASSERT_TRUE(listed.has_value());
    ASSERT_EQ(listed->size(), 1u);
    EXPECT_EQ((*listed)[0].id, id);
    EXPECT_EQ((*listed)[0].role, "targets");
    EXPECT_EQ((*listed)[0].gun, "localhost:4443/library/demo");
    auto got = store.get(id);
    ASSERT_TRUE(got.has_value()) << got.error().describe();
    EXPECT_EQ(got->key.public_key().key_id(), id);
    // Docker's variable works too.
    MapEnvironment denv({{"DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE", kSamplePassphrase}});
    auto dsrc = env_passphrase(denv);
    EXPECT_TRUE(TrustDirKeyStore(tmp.path(), *dsrc).get(id).has_value());
    // The wrong one is a clear passphrase error naming the variable.
    MapEnvironment bad({{"NOTARY_TARGETS_PASSPHRASE", "nope"}});
    auto bsrc = env_passphrase(bad);
    auto e = TrustDirKeyStore(tmp.path(), *bsrc).get(id);
    ASSERT_FALSE(e.has_value());
    EXPECT_EQ(e.error().code, "passphrase");
    EXPECT_NE(e.error().message.find("NOTARY_TARGETS_PASSPHRASE"), std::string::npos)
        << e.error().message;
  }
}

TEST(NotaryKeyFiles, OurFilesHaveNotarysFormat) {
  TempDir tmp;
  CountingSource src("pw-123456");
  TrustDirKeyStore store(tmp.path() / "trust", src, TrustDirOptions{5000});
  PrivateKey k = value_or_raise(PrivateKey::generate(Algorithm::ecdsa_p256));
  auto id = store.add(k, "targets", "docker.io/me/app");
  ASSERT_TRUE(id.has_value()) << id.error().describe();
  ASSERT_EQ(src.requests.size(), 1u);
  EXPECT_TRUE(src.requests[0].create);
  EXPECT_EQ(src.requests[0].role, "targets");

  fs::path file = tmp.path() / "trust" / "private" / (*id + ".key");
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((tmp.path() / "trust" / "private").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat((tmp.path() / "trust").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  // Nothing but the key file (no temp files left behind).
  EXPECT_EQ(std::distance(fs::directory_iterator(file.parent_path()), fs::directory_iterator()), 1);

  std::string text = slurp(file);
  EXPECT_TRUE(
      text.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----\ngun: docker.io/me/app\n"
                       "role: targets\n\n"))
      << text;
  EXPECT_TRUE(text.ends_with("\n-----END ENCRYPTED PRIVATE KEY-----\n"));

  // Same ASN.1 shape as Notary's sample: PBES2, PBKDF2 (8-byte salt, no PRF = HMAC-SHA1),
  // AES-256-CBC.
  auto block = parse_single_pem(text, "k", Fault::local);
  EXPECT_EQ(*pkcs8_iterations(block->bytes), 5000);
  std::ofstream(tmp.path() / "der", std::ios::binary) << block->bytes;
  ASSERT_EQ(run_shell("openssl asn1parse -inform DER -in " + (tmp.path() / "der").string() + " > " +
                      (tmp.path() / "asn1").string()),
            0);
  std::string asn1 = slurp(tmp.path() / "asn1");
  EXPECT_NE(asn1.find(":PBES2"), std::string::npos) << asn1;
  EXPECT_NE(asn1.find(":PBKDF2"), std::string::npos);
  EXPECT_NE(asn1.find(":aes-256-cbc"), std::string::npos);
  EXPECT_EQ(asn1.find("hmacWith"), std::string::npos) << "PRF must be the implicit HMAC-SHA1";
  EXPECT_NE(asn1.find("OCTET STRING      [HEX DUMP]:"), std::string::npos);
  // openssl decrypts it with the passphrase, once the headers are gone.
  std::ofstream(tmp.path() / "bare.pem") << encode_pem(PemBlock{block->type, {}, block->bytes});
  ASSERT_EQ(run_shell("openssl pkcs8 -in " + (tmp.path() / "bare.pem").string() +
                      " -passin pass:pw-123456 -out " + (tmp.path() / "plain.pem").string()),
            0);
  EXPECT_NE(slurp(tmp.path() / "plain.pem").find("PRIVATE KEY"), std::string::npos);
}

TEST(NotaryKeyFiles, Ed25519UsesNotarysEncoding) {
  PrivateKey k = value_or_raise(PrivateKey::generate(Algorithm::ed25519));
  std::string notary = k.to_notary_pkcs8_der();
  EXPECT_EQ(notary.size(), 116u);
  EXPECT_NE(notary, k.to_pkcs8_der());
  auto back = PrivateKey::from_pkcs8_der(notary);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->public_key().key_id(), k.public_key().key_id());
  // A mismatched public half is refused.
  std::string bad = notary;
  bad.back() = static_cast<char>(bad.back() ^ 1);
  EXPECT_FALSE(PrivateKey::from_pkcs8_der(bad).has_value());
  EXPECT_FALSE(PrivateKey::from_pkcs8_der(notary.substr(0, 115)).has_value());
  // Through encryption too.
  auto der = encrypt_pkcs8(k, "pw", kMinPbkdf2Iterations);
  ASSERT_TRUE(der.has_value());
  EXPECT_EQ(decrypt_pkcs8(*der, "pw")->public_key().key_id(), k.public_key().key_id());
}

TEST(NotaryKeyFiles, ReadsOtherPbes2Parameters) {
  TempDir tmp;
  PrivateKey k = value_or_raise(PrivateKey::generate(Algorithm::ecdsa_p256));
  std::ofstream(tmp.path() / "k.der", std::ios::binary) << k.to_pkcs8_der();
  for (const char* opts :
       {"-v2 aes-128-cbc -v2prf hmacWithSHA256", "-v2 aes-256-cbc -v2prf hmacWithSHA512",
        "-v2 des3", "-v2 aes-192-cbc -iter 3000"}) {
    ASSERT_EQ(run_shell("openssl pkcs8 -topk8 -inform DER -in " + (tmp.path() / "k.der").string() +
                        " " + opts + " -passout pass:pw -outform DER -out " +
                        (tmp.path() / "e.der").string() + " 2>/dev/null"),
              0)
        << opts;
    auto r = decrypt_pkcs8(slurp(tmp.path() / "e.der"), "pw");
    ASSERT_TRUE(r.has_value()) << opts << ": " << r.error().describe();
    EXPECT_EQ(r->public_key().key_id(), k.public_key().key_id());
  }
  // PBES1 (PKCS#5 v1.5) is refused as too weak.
  ASSERT_EQ(run_shell("openssl pkcs8 -topk8 -inform DER -in " + (tmp.path() / "k.der").string() +
                      " -v1 PBE-SHA1-3DES -passout pass:pw -outform DER -out " +
                      (tmp.path() / "v1.der").string() + " 2>/dev/null"),
            0);
  auto v1 = decrypt_pkcs8(slurp(tmp.path() / "v1.der"), "pw");
  ASSERT_FALSE(v1.has_value());
  EXPECT_EQ(v1.error().code, "bad_key");
}

// An EncryptedPrivateKeyInfo with the given PBKDF2 count and a dummy ciphertext, built
// without running the KDF.
std::string encrypted_info_with_iterations(int iter) {
  X509_ALGOR* alg =
      PKCS5_pbe2_set_iv(EVP_aes_256_cbc(), iter, nullptr, 8, nullptr, NID_hmacWithSHA1);
  X509_SIG* sig = X509_SIG_new();
  X509_ALGOR* slot = nullptr;
  ASN1_OCTET_STRING* data = nullptr;
  X509_SIG_getm(sig, &slot, &data);
  X509_ALGOR_set0(slot, OBJ_dup(alg->algorithm), V_ASN1_UNDEF, nullptr);
  slot->parameter = alg->parameter;
  alg->parameter = nullptr;
  ASN1_OCTET_STRING_set(data, reinterpret_cast<const unsigned char*>("0123456789abcdef"), 16);
  int n = i2d_X509_SIG(sig, nullptr);
  std::string out(static_cast<std::size_t>(n), '\0');
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  i2d_X509_SIG(sig, &p);
  X509_SIG_free(sig);
  X509_ALGOR_free(alg);
  return out;
}

TEST(NotaryKeyFiles, HugeIterationCountRefusedBeforeAsking) {
  std::string huge = encrypted_info_with_iterations(kMaxPbkdf2Iterations + 1);
  auto it = pkcs8_iterations(huge);
  ASSERT_FALSE(it.has_value());
  EXPECT_EQ(it.error().code, "bad_key");
  EXPECT_EQ(*pkcs8_iterations(encrypted_info_with_iterations(4096)), 4096);
  CountingSource src("pw");
  auto r = decrypt_with(src, huge, PassphraseRequest{"id", "root", "", false, 0});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, "bad_key");
  EXPECT_TRUE(src.requests.empty()) << "nobody should be asked for a passphrase";
  // Writing: the limits apply, and empty passphrases are refused.
  PrivateKey k = value_or_raise(PrivateKey::generate(Algorithm::ecdsa_p256));
  EXPECT_FALSE(encrypt_pkcs8(k, "pw", kMaxPbkdf2Iterations + 1).has_value());
  EXPECT_FALSE(encrypt_pkcs8(k, "pw", 10).has_value());
  EXPECT_EQ(encrypt_pkcs8(k, "", kMinPbkdf2Iterations).error().code, "passphrase");
}

TEST(NotaryKeyFiles, MalformedEncryptedKeys) {
  PrivateKey k = value_or_raise(PrivateKey::generate(Algorithm::ecdsa_p256));
  std::string der = *encrypt_pkcs8(k, "pw", kMinPbkdf2Iterations);
  for (const std::string& bad : {std::string(), std::string("garbage"),
                                 der.substr(0, der.size() - 1), der + '\0', k.to_pkcs8_der()}) {
    auto r = decrypt_pkcs8(bad, "pw");
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, "bad_key");
  }
  // A flipped ciphertext byte cannot be told from a wrong passphrase.
  std::string flipped = der;
  flipped[flipped.size() - 20] = static_cast<char>(flipped[flipped.size() - 20] ^ 0x40);
  auto r = decrypt_pkcs8(flipped, "pw");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, "passphrase");
}

TEST(TrustDirStore, CorruptAndForeignFiles) {
  TempDir tmp;
  auto src = fixed_passphrase(Secret("pw-abcdef"));
  TrustDirKeyStore store(tmp.path(), *src, TrustDirOptions{kMinPbkdf2Iterations});
  PrivateKey a = value_or_raise(PrivateKey::generate(Algorithm::ecdsa_p256));
  PrivateKey b = value_or_raise(PrivateKey::generate(Algorithm::ecdsa_p256));
  auto ida = *store.add(a, "root", "");
  auto idb = *store.add(b, "root", "");
  // b's file under a third name: listed, but get refuses it.
  std::string idc(64, 'c');
  fs::copy_file(store.key_path(idb), store.key_path(idc));
  auto c = store.get(idc);
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().code, "bad_key");
  EXPECT_EQ(c.error().fault, Fault::local);
  // A corrupt file is skipped by list and refused by get.
  std::ofstream(store.key_path(ida), std::ios::trunc)
      << "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAA==\n";
  auto listed = store.list();
  ASSERT_TRUE(listed.has_value());
  EXPECT_EQ(listed->size(), 2u);
  EXPECT_EQ(store.get(ida).error().code, "bad_key");
  // Unrelated files are ignored.
  std::ofstream(tmp.path() / "private" / "README") << "x";
  std::ofstream(tmp.path() / "private" / "short.key") << "x";
  EXPECT_EQ(store.list()->size(), 2u);
}

TEST(TrustDirStore, WrongPassphraseRetriesThenFails) {
  TempDir tmp;
  auto writer = fixed_passphrase(Secret("right-pass"));
  TrustDirKeyStore w(tmp.path(), *writer, TrustDirOptions{kMinPbkdf2Iterations});
  auto id = *w.add(value_or_raise(PrivateKey::generate(Algorithm::ecdsa_p256)), "root", "");

  // Wrong twice, then right.
  struct Scripted final : PassphraseSource {
    std::vector<std::string> answers;
    std::size_t i = 0;
    std::vector<int> attempts;
    Result<Secret> get(const PassphraseRequest& r) override {
      attempts.push_back(r.attempt);
      if (i == answers.size()) return make_error(Fault::user, "passphrase", "out of answers");
      return Secret(answers[i++]);
    }
  } s;
  s.answers = {"no", "nope", "right-pass"};
  TrustDirKeyStore r(tmp.path(), s);
  auto got = r.get(id);
  ASSERT_TRUE(got.has_value()) << got.error().describe();
  EXPECT_EQ(s.attempts, (std::vector<int>{0, 1, 2}));

  s.answers = {"a", "b", "c", "d", "right-pass"};
  s.i = 0;
  s.attempts.clear();
  auto fail = r.get(id);
  ASSERT_FALSE(fail.has_value());
  EXPECT_EQ(fail.error().code, "passphrase");
  EXPECT_EQ(s.attempts.size(), static_cast<std::size_t>(kMaxPassphraseAttempts));
}

}  // namespace
}  // namespace docket::keys
