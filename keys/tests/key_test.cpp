#include "keys/key.h"

#include <gtest/gtest.h>

#include <cctype>
#include <fstream>
#include <map>

#include "common/digest.h"
#include "common/encoding.h"
#include "common/json.h"
#include "keys/pem.h"
#include "keys/tests/test_util.h"

namespace docket::keys {
namespace {

namespace fs = std::filesystem;
using testing::run_shell;
using testing::slurp;
using testing::TempDir;

const std::string kMessage = R"({"_type":"Targets","version":3})";

bool lower_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

// RSA generation takes up to a second, so RSA keys come from a small pool: consecutive
// calls still return different keys.
PrivateKey gen(Algorithm a, int bits = 2048) {
  if (a != Algorithm::rsa) return value_or_raise(PrivateKey::generate(a));
  static std::map<int, std::vector<PrivateKey>> pool;
  static std::map<int, std::size_t> next;
  auto& keys = pool[bits];
  const std::size_t want = bits == 2048 ? 3 : 1;
  while (keys.size() < want) keys.push_back(value_or_raise(PrivateKey::generate(a, bits)));
  return keys[next[bits]++ % keys.size()];
}

void write(const fs::path& p, std::string_view bytes) {
  std::ofstream out(p, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// ---------------------------------------------------------------------------------------
// Generation, signing, both dialects

struct AlgCase {
  Algorithm alg;
  const char* notary_method;
  const char* tuf_scheme;
};

class SignVerify : public ::testing::TestWithParam<AlgCase> {};

TEST_P(SignVerify, BothDialectsRoundTrip) {
  const auto& c = GetParam();
  PrivateKey k = gen(c.alg);
  EXPECT_EQ(k.algorithm(), c.alg);
  EXPECT_EQ(k.method(Dialect::notary), c.notary_method);
  EXPECT_EQ(k.method(Dialect::tuf), c.tuf_scheme);

  PublicKey np = k.public_key(Dialect::notary);
  PublicKey tp = k.public_key(Dialect::tuf);
  EXPECT_EQ(np.dialect(), Dialect::notary);
  EXPECT_EQ(tp.dialect(), Dialect::tuf);
  EXPECT_EQ(tp.scheme(), c.tuf_scheme);
  EXPECT_EQ(np.public_der(), tp.public_der());
  EXPECT_NE(np.key_id(), tp.key_id());
  EXPECT_EQ(np.algorithm(), c.alg);

  auto nsig = k.sign(kMessage, Dialect::notary);
  auto tsig = k.sign(kMessage, Dialect::tuf);
  ASSERT_TRUE(nsig && tsig);
  EXPECT_TRUE(np.verify(c.notary_method, kMessage, *nsig));
  EXPECT_TRUE(tp.verify(tp.scheme(), kMessage, *tsig));
  EXPECT_FALSE(np.verify(c.notary_method, kMessage + " ", *nsig));
  EXPECT_FALSE(tp.verify(tp.scheme(), kMessage + " ", *tsig));
  // A Notary method on a TUF key and a TUF scheme on a Notary key never verify.
  EXPECT_FALSE(tp.verify(c.notary_method, kMessage, *tsig) &&
               std::string(c.notary_method) != c.tuf_scheme);
  EXPECT_FALSE(np.verify(c.tuf_scheme, kMessage, *nsig) &&
               std::string(c.notary_method) != c.tuf_scheme);
  // Another key of the same type does not verify it.
  PrivateKey other = gen(c.alg);
  EXPECT_FALSE(other.public_key(Dialect::notary).verify(c.notary_method, kMessage, *nsig));

  // Public key objects survive a round trip through their JSON text.
  for (const PublicKey& p : {np, tp}) {
    // Canonical JSON is not JSON when strings hold control characters (PEM newlines), so
    // the text that travels is the ordinary serialisation.
    auto text = canonical_json(p.json());
    ASSERT_TRUE(text.has_value());
    auto reparsed = parse_json(p.json().dump(), "key", Fault::remote);
    ASSERT_TRUE(reparsed.has_value());
    auto again = PublicKey::from_json(*reparsed);
    ASSERT_TRUE(again.has_value()) << again.error().describe();
    EXPECT_EQ(again->key_id(), p.key_id());
    EXPECT_EQ(again->key_id(), sha256_hex(*text));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Keys, SignVerify,
    ::testing::Values(AlgCase{Algorithm::ed25519, "eddsa", "ed25519"},
                      AlgCase{Algorithm::ecdsa_p256, "ecdsa", "ecdsa-sha2-nistp256"},
                      AlgCase{Algorithm::rsa, "rsapss", "rsassa-pss-sha256"}),
    [](const auto& info) { return std::string(algorithm_name(info.param.alg)); });

TEST(PrivateKey, SignatureShapes) {
  PrivateKey ec = gen(Algorithm::ecdsa_p256);
  auto raw = ec.sign(kMessage, Dialect::notary);
  auto der = ec.sign(kMessage, Dialect::tuf);
  EXPECT_EQ(raw->size(), 64u);   // Notary: r||s
  EXPECT_EQ((*der)[0], '\x30');  // TUF: DER SEQUENCE
  EXPECT_EQ(gen(Algorithm::ed25519).sign(kMessage)->size(), 64u);
  EXPECT_EQ(gen(Algorithm::rsa).sign(kMessage)->size(), 256u);
  // The Notary "rsapss" signature also verifies as pycrypto PSS and not as PKCS#1 v1.5.
  PrivateKey rsa = gen(Algorithm::rsa);
  auto s = rsa.sign(kMessage);
  EXPECT_TRUE(rsa.public_key().verify("pycrypto-pkcs#1 pss", kMessage, *s));
  EXPECT_TRUE(rsa.public_key().verify("RSAPSS", kMessage, *s));
  EXPECT_FALSE(rsa.public_key().verify("rsapkcs1v15", kMessage, *s));
}

TEST(PrivateKey, RsaSizes) {
  EXPECT_EQ(gen(Algorithm::rsa, 3072).public_key().bits(), 3072);
  EXPECT_FALSE(PrivateKey::generate(Algorithm::rsa, 1024).has_value());
  EXPECT_FALSE(PrivateKey::generate(Algorithm::rsa, 2047).has_value());
  EXPECT_FALSE(PrivateKey::generate(Algorithm::rsa, 16384).has_value());
}

TEST(PrivateKey, Pkcs8RoundTrip) {
  TempDir tmp;
  for (Algorithm a : {Algorithm::ed25519, Algorithm::ecdsa_p256, Algorithm::rsa}) {
    PrivateKey k = gen(a);
    std::string der = k.to_pkcs8_der();
    auto back = PrivateKey::from_pkcs8_der(der);
    ASSERT_TRUE(back.has_value()) << back.error().describe();
    EXPECT_EQ(back->algorithm(), a);
    EXPECT_EQ(back->public_key().key_id(), k.public_key().key_id());
    EXPECT_EQ(back->to_pkcs8_der(), der);
    auto sig = back->sign(kMessage);
    EXPECT_TRUE(k.public_key().verify(k.method(), kMessage, *sig));
    // OpenSSL reads it as PKCS#8 and derives the same public key.
    write(tmp.path() / "k.der", der);
    ASSERT_EQ(run_shell("openssl pkey -inform DER -in " + (tmp.path() / "k.der").string() +
                        " -pubout -outform DER -out " + (tmp.path() / "pub.der").string()),
              0);
    std::string pub = slurp(tmp.path() / "pub.der");
    if (a == Algorithm::ed25519)
      EXPECT_EQ(pub.substr(pub.size() - 32), k.public_key().public_der());
    else
      EXPECT_EQ(pub, k.public_key().public_der());
  }
}

TEST(PrivateKey, Pkcs8Malformed) {
  PrivateKey k = gen(Algorithm::ecdsa_p256);
  std::string der = k.to_pkcs8_der();
  for (const std::string& bad : {std::string(), der.substr(0, der.size() - 1), der + '\0',
                                 std::string(50, '\x30'), std::string("not der")}) {
    auto r = PrivateKey::from_pkcs8_der(bad, Fault::local);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, "bad_key");
    EXPECT_EQ(r.error().fault, Fault::local);
  }
}

TEST(PrivateKey, PrivateKeyOnOtherCurveRejected) {
  TempDir tmp;
  auto f = (tmp.path() / "p384.der").string();
  ASSERT_EQ(run_shell("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 | openssl "
                      "pkcs8 -topk8 -nocrypt -outform DER -out " +
                      f),
            0);
  auto r = PrivateKey::from_pkcs8_der(slurp(f));
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("P-256"), std::string::npos);
}

// ---------------------------------------------------------------------------------------
// Root certificates as Notary makes them

TEST(Certificate, NotaryRootCertificate) {
  TempDir tmp;
  const std::string gun = "docker.io/library/some-image_name";
  for (Algorithm a : {Algorithm::ecdsa_p256, Algorithm::rsa}) {
    PrivateKey k = gen(a);
    auto cert = k.self_signed_certificate(gun, std::chrono::hours(24 * 3650));
    ASSERT_TRUE(cert.has_value()) << cert.error().describe();
    EXPECT_EQ(cert->keytype(), a == Algorithm::rsa ? "rsa-x509" : "ecdsa-x509");
    EXPECT_TRUE(cert->is_x509());
    EXPECT_EQ(*cert->certificate_common_name(), gun);
    EXPECT_FALSE(*cert->certificate_is_ca());
    auto span = *cert->certificate_not_after() - *cert->certificate_not_before();
    EXPECT_EQ(std::chrono::duration_cast<std::chrono::hours>(span).count(), 24 * 3650);
    auto age = now() - *cert->certificate_not_before();
    EXPECT_LT(std::chrono::abs(age), std::chrono::minutes(5));
    // The private key file is named by the canonical ID, the bare key's ID.
    EXPECT_EQ(cert->canonical_key_id(), k.public_key().key_id());
    EXPECT_NE(cert->key_id(), cert->canonical_key_id());
    auto sig = k.sign(kMessage);
    EXPECT_TRUE(cert->verify(k.method(), kMessage, *sig));

    // Extensions, as OpenSSL reads them.
    auto pem = base64_decode(cert->json()["keyval"]["public"].get<std::string>());
    ASSERT_TRUE(pem.has_value());
    EXPECT_TRUE(pem->starts_with("-----BEGIN CERTIFICATE-----\n"));
    write(tmp.path() / "c.pem", *pem);
    ASSERT_EQ(run_shell("openssl x509 -in " + (tmp.path() / "c.pem").string() + " -noout -text > " +
                        (tmp.path() / "c.txt").string()),
              0);
    std::string text = slurp(tmp.path() / "c.txt");
    EXPECT_NE(text.find("X509v3 Key Usage: critical"), std::string::npos) << text;
    EXPECT_NE(text.find("Digital Signature, Key Encipherment"), std::string::npos);
    EXPECT_NE(text.find("Code Signing"), std::string::npos);
    EXPECT_NE(text.find("CA:FALSE"), std::string::npos);
    EXPECT_NE(text.find("Version: 3"), std::string::npos);
    EXPECT_NE(text.find("Subject: CN = " + gun), std::string::npos);
  }
  EXPECT_FALSE(
      gen(Algorithm::ed25519).self_signed_certificate(gun, std::chrono::hours(1)).has_value());
  EXPECT_FALSE(
      gen(Algorithm::ecdsa_p256).self_signed_certificate("", std::chrono::hours(1)).has_value());
}

TEST(Certificate, LongCommonNameAndCaFlag) {
  TempDir tmp;
  // Longer than X.520's 64-character upper bound, which Go (and so Notary) ignores.
  std::string gun = "registry.example.com:5000/" + std::string(80, 'a');
  auto cert = gen(Algorithm::ecdsa_p256).self_signed_certificate(gun, std::chrono::hours(1));
  ASSERT_TRUE(cert.has_value()) << cert.error().describe();
  EXPECT_EQ(*cert->certificate_common_name(), gun);
  EXPECT_FALSE(cert->canonical_key_id().empty());

  // A CA certificate made by openssl is reported as one.
  auto key = (tmp.path() / "ca.key").string(), crt = (tmp.path() / "ca.crt").string();
  ASSERT_EQ(
      run_shell("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " +
                key + " -out " + crt +
                " -subj /CN=ca.example -days 2 -addext basicConstraints=critical,CA:TRUE "
                "2>/dev/null"),
      0);
  Json j{{"keytype", "ecdsa-x509"},
         {"keyval", Json{{"private", nullptr}, {"public", base64_encode(slurp(crt))}}}};
  auto ca = PublicKey::from_json(j);
  ASSERT_TRUE(ca.has_value()) << ca.error().describe();
  EXPECT_TRUE(*ca->certificate_is_ca());
  EXPECT_EQ(*ca->certificate_common_name(), "ca.example");
  // Not-x509 keys answer the certificate questions with an error.
  PublicKey bare = gen(Algorithm::ed25519).public_key();
  EXPECT_FALSE(bare.certificate_common_name().has_value());
  EXPECT_FALSE(bare.certificate_is_ca().has_value());
  EXPECT_FALSE(bare.certificate_not_after().has_value());
}

// ---------------------------------------------------------------------------------------
// TUF-dialect vectors made by the openssl command-line tool

class OpensslVectors : public ::testing::Test {
 protected:
  TempDir tmp;
  std::string p(const char* name) { return (tmp.path() / name).string(); }
  void SetUp() override { write(tmp.path() / "msg", kMessage); }
  void sh(const std::string& cmd) { ASSERT_EQ(run_shell(cmd + " 2>/dev/null"), 0) << cmd; }
  PublicKey tuf_key(const std::string& keytype, const std::string& scheme, const std::string& pub) {
    Json j{{"keytype", keytype},
           {"scheme", scheme},
           {"keyval", Json{{"public", pub}}},
           {"keyid_hash_algorithms", Json::array({"sha256", "sha512"})}};
    auto k = PublicKey::from_json(j);
    EXPECT_TRUE(k.has_value()) << (k ? "" : k.error().describe());
    return *k;
  }
};

TEST_F(OpensslVectors, EcdsaDerSignatures) {
  struct {
    const char* curve;
    const char* md;
    const char* scheme;
  } cases[] = {{"P-256", "sha256", "ecdsa-sha2-nistp256"},
               {"P-384", "sha384", "ecdsa-sha2-nistp384"},
               {"P-521", "sha512", "ecdsa-sha2-nistp521"}};
  for (const auto& c : cases) {
    sh("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:" + std::string(c.curve) +
       " -out " + p("ec.pem"));
    sh("openssl pkey -in " + p("ec.pem") + " -pubout -out " + p("ec.pub"));
    sh("openssl dgst -" + std::string(c.md) + " -sign " + p("ec.pem") + " -out " + p("ec.sig") +
       " " + p("msg"));
    std::string pub = slurp(p("ec.pub")), sig = slurp(p("ec.sig"));
    for (const char* keytype : {"ecdsa", c.scheme}) {
      PublicKey k = tuf_key(keytype, c.scheme, pub);
      EXPECT_TRUE(k.verify(c.scheme, kMessage, sig)) << c.scheme;
      EXPECT_TRUE(k.verify(
          std::string(c.scheme) == "ecdsa-sha2-nistp256" ? "ECDSA-SHA2-NISTP256" : c.scheme,
          kMessage, sig));
      EXPECT_FALSE(k.verify(c.scheme, kMessage + "x", sig));
      EXPECT_FALSE(k.verify("ecdsa", kMessage, sig)) << "Notary method on a TUF key";
      EXPECT_FALSE(k.verify(c.scheme, kMessage, sig + '\0')) << "trailing byte after DER";
    }
    // A key whose curve does not match the scheme is refused.
    const char* wrong = std::string(c.scheme) == "ecdsa-sha2-nistp256" ? "ecdsa-sha2-nistp384"
                                                                       : "ecdsa-sha2-nistp256";
    Json j{{"keytype", "ecdsa"}, {"scheme", wrong}, {"keyval", Json{{"public", pub}}}};
    EXPECT_FALSE(PublicKey::from_json(j).has_value());
  }
}

// EC keys in the usual DER form (named curve, uncompressed point) are imported without
// OpenSSL's decoder; the other forms take the decoder. Both must give the same key, the same
// DER (what `openssl pkey` writes back) and the same verdicts.
TEST_F(OpensslVectors, EcSpkiFormsParseAlike) {
  struct {
    const char* curve;
    const char* md;
    const char* scheme;
    int bits;
  } cases[] = {{"P-256", "sha256", "ecdsa-sha2-nistp256", 256},
               {"P-384", "sha384", "ecdsa-sha2-nistp384", 384},
               {"P-521", "sha512", "ecdsa-sha2-nistp521", 521}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.curve);
    sh("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:" + std::string(c.curve) +
       " -out " + p("ec.pem"));
    sh("openssl pkey -in " + p("ec.pem") + " -pubout -outform DER -out " + p("named.der"));
    sh("openssl ec -in " + p("ec.pem") + " -pubout -conv_form compressed -outform DER -out " +
       p("compressed.der"));
    sh("openssl dgst -" + std::string(c.md) + " -sign " + p("ec.pem") + " -out " + p("ec.sig") +
       " " + p("msg"));
    // What OpenSSL writes back for the uncompressed key, after its own decode.
    sh("openssl pkey -pubin -inform DER -in " + p("named.der") + " -outform DER -out " +
       p("reencoded.der"));
    std::string named = slurp(p("named.der")), compressed = slurp(p("compressed.der"));
    std::string sig = slurp(p("ec.sig"));
    ASSERT_EQ(slurp(p("reencoded.der")), named);
    auto pem = [](const std::string& der) {
      return "-----BEGIN PUBLIC KEY-----\n" + base64_encode(der) + "\n-----END PUBLIC KEY-----\n";
    };
    PublicKey fast = tuf_key("ecdsa", c.scheme, pem(named));
    PublicKey general = tuf_key("ecdsa", c.scheme, pem(compressed));
    EXPECT_EQ(fast.public_der(), named);
    EXPECT_EQ(fast.bits(), c.bits);
    EXPECT_EQ(general.bits(), c.bits);
    EXPECT_EQ(fast.algorithm(), Algorithm::ecdsa_p256);
    for (const PublicKey* k : {&fast, &general}) {
      EXPECT_TRUE(k->verify(c.scheme, kMessage, sig));
      EXPECT_FALSE(k->verify(c.scheme, kMessage + "x", sig));
    }
    // Notary dialect (base64 DER): the same key ID as the bytes say, the same verdicts.
    Json nj{{"keytype", "ecdsa"},
            {"keyval", Json{{"private", nullptr}, {"public", base64_encode(named)}}}};
    auto notary = PublicKey::from_json(nj);
    ASSERT_TRUE(notary.has_value()) << notary.error().describe();
    EXPECT_EQ(notary->public_der(), named);
    // A point off the curve, in the fast form, is refused like any malformed key.
    std::string off = named;
    off.back() = static_cast<char>(off.back() ^ 0x01);
    Json bad{{"keytype", "ecdsa"},
             {"keyval", Json{{"private", nullptr}, {"public", base64_encode(off)}}}};
    auto r = PublicKey::from_json(bad);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, "bad_key");
    // A truncated point is no fast-form key either.
    Json shortj{{"keytype", "ecdsa"},
                {"keyval", Json{{"private", nullptr},
                                {"public", base64_encode(named.substr(0, named.size() - 1))}}}};
    EXPECT_FALSE(PublicKey::from_json(shortj).has_value());
  }
}

// A root certificate's bare-key ID comes from the certificate's SPKI, read without the
// encoder for the usual EC form: it must equal the ID of the same key given bare.
TEST(Certificate, CanonicalIdMatchesTheBareKey) {
  PrivateKey k = gen(Algorithm::ecdsa_p256);
  auto cert = k.self_signed_certificate("example.com/app", std::chrono::hours(1));
  ASSERT_TRUE(cert.has_value()) << cert.error().describe();
  EXPECT_EQ(cert->public_der(), k.public_key().public_der());
  EXPECT_EQ(cert->canonical_key_id(), k.public_key().key_id());
  EXPECT_FALSE(*cert->certificate_signed_with_sha1());
  EXPECT_FALSE(k.public_key().certificate_signed_with_sha1().has_value());
}

TEST_F(OpensslVectors, RsaPssAnySaltAndPkcs1) {
  sh("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out " + p("rsa.pem"));
  sh("openssl pkey -in " + p("rsa.pem") + " -pubout -out " + p("rsa.pub"));
  std::string pub = slurp(p("rsa.pub"));
  PublicKey pss = tuf_key("rsa", "rsassa-pss-sha256", pub);
  PublicKey pkcs1 = tuf_key("rsa", "rsa-pkcs1v15-sha256", pub);
  for (const char* salt : {"digest", "max", "0", "20"}) {
    sh("openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:" +
       std::string(salt) + " -sign " + p("rsa.pem") + " -out " + p("pss.sig") + " " + p("msg"));
    std::string sig = slurp(p("pss.sig"));
    EXPECT_TRUE(pss.verify("rsassa-pss-sha256", kMessage, sig)) << "salt " << salt;
    EXPECT_FALSE(pkcs1.verify("rsa-pkcs1v15-sha256", kMessage, sig)) << "salt " << salt;
    EXPECT_FALSE(pss.verify("rsa-pkcs1v15-sha256", kMessage, sig)) << "scheme is bound to the key";
  }
  sh("openssl dgst -sha256 -sign " + p("rsa.pem") + " -out " + p("v15.sig") + " " + p("msg"));
  std::string sig = slurp(p("v15.sig"));
  EXPECT_TRUE(pkcs1.verify("rsa-pkcs1v15-sha256", kMessage, sig));
  EXPECT_FALSE(pss.verify("rsassa-pss-sha256", kMessage, sig));

  // The same key and signatures in the Notary dialect (DER SPKI in base64).
  auto der_pub = parse_single_pem(pub, "pub", Fault::local);
  Json nj{{"keytype", "rsa"},
          {"keyval", Json{{"private", nullptr}, {"public", base64_encode(der_pub->bytes)}}}};
  auto notary = PublicKey::from_json(nj);
  ASSERT_TRUE(notary.has_value());
  EXPECT_TRUE(notary->verify("rsapkcs1v15", kMessage, sig));
  EXPECT_FALSE(notary->verify("rsapss", kMessage, sig));
  sh("openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:max -sign " +
     p("rsa.pem") + " -out " + p("pss.sig") + " " + p("msg"));
  EXPECT_TRUE(notary->verify("rsapss", kMessage, slurp(p("pss.sig"))));
  EXPECT_TRUE(notary->verify("pycrypto-pkcs#1 pss", kMessage, slurp(p("pss.sig"))));
}

TEST_F(OpensslVectors, Ed25519) {
  sh("openssl genpkey -algorithm ed25519 -out " + p("ed.pem"));
  sh("openssl pkey -in " + p("ed.pem") + " -pubout -outform DER -out " + p("ed.pub"));
  sh("openssl pkeyutl -sign -rawin -inkey " + p("ed.pem") + " -in " + p("msg") + " -out " +
     p("ed.sig"));
  std::string spki = slurp(p("ed.pub")), sig = slurp(p("ed.sig"));
  std::string raw = spki.substr(spki.size() - 32);
  PublicKey k = tuf_key("ed25519", "ed25519", hex_encode(raw));
  EXPECT_TRUE(k.verify("ed25519", kMessage, sig));
  EXPECT_FALSE(k.verify("ed25519", kMessage + ".", sig));
  Json nj{{"keytype", "ed25519"},
          {"keyval", Json{{"private", nullptr}, {"public", base64_encode(raw)}}}};
  EXPECT_TRUE(PublicKey::from_json(nj)->verify("eddsa", kMessage, sig));
}

TEST_F(OpensslVectors, OpensslVerifiesOurTufSignatures) {
  PrivateKey ec = gen(Algorithm::ecdsa_p256), rsa = gen(Algorithm::rsa),
             ed = gen(Algorithm::ed25519);
  auto pem_of = [](const PrivateKey& k) {
    return k.public_key(Dialect::tuf).json()["keyval"]["public"].get<std::string>();
  };
  write(tmp.path() / "ec.pub", pem_of(ec));
  write(tmp.path() / "ec.sig", *ec.sign(kMessage, Dialect::tuf));
  sh("openssl dgst -sha256 -verify " + p("ec.pub") + " -signature " + p("ec.sig") + " " + p("msg"));
  write(tmp.path() / "rsa.pub", pem_of(rsa));
  write(tmp.path() / "rsa.sig", *rsa.sign(kMessage, Dialect::tuf));
  // Salt length = digest length exactly, as Notary's verifier demands.
  sh("openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest -verify " +
     p("rsa.pub") + " -signature " + p("rsa.sig") + " " + p("msg"));
  // ed25519 via a DER SPKI built from the raw key.
  std::string spki = std::string("\x30\x2a\x30\x05\x06\x03\x2b\x65\x70\x03\x21\x00", 12) +
                     ed.public_key().public_der();
  write(tmp.path() / "ed.pub", spki);
  write(tmp.path() / "ed.sig", *ed.sign(kMessage, Dialect::tuf));
  sh("openssl pkeyutl -verify -rawin -pubin -keyform DER -inkey " + p("ed.pub") + " -in " +
     p("msg") + " -sigfile " + p("ed.sig"));
}

// ---------------------------------------------------------------------------------------
// Adversarial key objects

Json notary_key(const std::string& keytype, const std::string& pub) {
  return Json{{"keytype", keytype}, {"keyval", Json{{"private", nullptr}, {"public", pub}}}};
}

TEST(PublicKeyParse, RejectsMalformedKeyObjects) {
  PrivateKey ec = gen(Algorithm::ecdsa_p256), rsa = gen(Algorithm::rsa),
             ed = gen(Algorithm::ed25519);
  std::string ec_der = ec.public_key().public_der(), rsa_der = rsa.public_key().public_der();
  std::string ec_cert_pem = *base64_decode(ec.self_signed_certificate("gun", std::chrono::hours(1))
                                               ->json()["keyval"]["public"]
                                               .get<std::string>());
  std::string rsa_cert_pem =
      *base64_decode(rsa.self_signed_certificate("gun", std::chrono::hours(1))
                         ->json()["keyval"]["public"]
                         .get<std::string>());
  std::string ec_pem = ec.public_key(Dialect::tuf).json()["keyval"]["public"];
  std::string cert_der = parse_single_pem(ec_cert_pem, "cert", Fault::local)->bytes;
  std::string ed_hex = hex_encode(ed.public_key().public_der());

  struct Case {
    const char* name;
    Json key;
  } cases[] = {
      {"not an object", Json::array({1, 2})},
      {"string", Json("ed25519")},
      {"no keytype", Json{{"keyval", Json{{"public", "AAAA"}}}}},
      {"keytype not a string", Json{{"keytype", 7}, {"keyval", Json{{"public", "AAAA"}}}}},
      {"no keyval", Json{{"keytype", "ed25519"}}},
      {"keyval not an object", Json{{"keytype", "ed25519"}, {"keyval", "AAAA"}}},
      {"no public", Json{{"keytype", "ed25519"}, {"keyval", Json{{"private", nullptr}}}}},
      {"public not a string", Json{{"keytype", "ed25519"}, {"keyval", Json{{"public", 5}}}}},
      {"public empty", notary_key("ed25519", "")},
      {"private key material",
       Json{{"keytype", "ed25519"},
            {"keyval", Json{{"private", base64_encode(std::string(64, 'k'))},
                            {"public", base64_encode(ed.public_key().public_der())}}}}},
      {"unknown keytype", notary_key("dsa", base64_encode(ec_der))},
      {"keytype case differs", notary_key("ECDSA", base64_encode(ec_der))},
      {"ed25519 31 bytes", notary_key("ed25519", base64_encode(std::string(31, 'a')))},
      {"ed25519 33 bytes", notary_key("ed25519", base64_encode(std::string(33, 'a')))},
      {"bad base64", notary_key("ed25519", "not*base64!")},
      {"base64 without padding",
       notary_key("ed25519", base64_encode(std::string(32, 'a')).substr(0, 43))},
      {"base64 with whitespace", notary_key("ecdsa", " " + base64_encode(ec_der))},
      {"ecdsa holding RSA", notary_key("ecdsa", base64_encode(rsa_der))},
      {"rsa holding ECDSA", notary_key("rsa", base64_encode(ec_der))},
      {"ecdsa garbage DER", notary_key("ecdsa", base64_encode("\x30\x03\x02\x01\x01"))},
      {"ecdsa truncated DER",
       notary_key("ecdsa", base64_encode(ec_der.substr(0, ec_der.size() - 1)))},
      {"ecdsa DER trailing bytes", notary_key("ecdsa", base64_encode(ec_der + '\0'))},
      {"ecdsa point off the curve",
       notary_key("ecdsa", base64_encode(ec_der.substr(0, ec_der.size() - 1) +
                                         static_cast<char>(ec_der.back() ^ 1)))},
      {"ecdsa as PEM", notary_key("ecdsa", base64_encode(ec_pem))},
      {"x509 not PEM", notary_key("ecdsa-x509", base64_encode("hello world"))},
      {"x509 holding a public key PEM", notary_key("ecdsa-x509", base64_encode(ec_pem))},
      {"x509 DER instead of PEM", notary_key("ecdsa-x509", base64_encode(ec_der))},
      {"ecdsa-x509 holding RSA cert", notary_key("ecdsa-x509", base64_encode(rsa_cert_pem))},
      {"rsa-x509 holding ECDSA cert", notary_key("rsa-x509", base64_encode(ec_cert_pem))},
      {"x509 trailing garbage", notary_key("ecdsa-x509", base64_encode(ec_cert_pem + "junk\n"))},
      {"x509 bundle of two leaf certs",
       notary_key("ecdsa-x509", base64_encode(ec_cert_pem + ec_cert_pem))},
      {"x509 truncated cert",
       notary_key("ecdsa-x509", base64_encode(encode_pem(PemBlock{
                                    "CERTIFICATE", {}, cert_der.substr(0, cert_der.size() - 8)})))},
      {"x509 cert with trailing bytes",
       notary_key("ecdsa-x509",
                  base64_encode(encode_pem(PemBlock{"CERTIFICATE", {}, cert_der + '\0'})))},
      {"oversized public", notary_key("ecdsa", std::string(kMaxPublicValueBytes + 4, 'A'))},
      {"invalid UTF-8 keytype", notary_key("ed\xff\xfe", base64_encode(std::string(32, 'a')))},
      // TUF dialect
      {"tuf scheme not a string",
       Json{{"keytype", "ed25519"}, {"scheme", 1}, {"keyval", Json{{"public", ed_hex}}}}},
      {"tuf unknown scheme",
       Json{{"keytype", "ed25519"}, {"scheme", "ed448"}, {"keyval", Json{{"public", ed_hex}}}}},
      {"tuf scheme for another keytype", Json{{"keytype", "ed25519"},
                                              {"scheme", "rsassa-pss-sha256"},
                                              {"keyval", Json{{"public", ed_hex}}}}},
      {"tuf ed25519 not hex",
       Json{{"keytype", "ed25519"},
            {"scheme", "ed25519"},
            {"keyval", Json{{"public", base64_encode(ed.public_key().public_der())}}}}},
      {"tuf ed25519 short hex", Json{{"keytype", "ed25519"},
                                     {"scheme", "ed25519"},
                                     {"keyval", Json{{"public", ed_hex.substr(2)}}}}},
      {"tuf ecdsa DER base64 instead of PEM",
       Json{{"keytype", "ecdsa"},
            {"scheme", "ecdsa-sha2-nistp256"},
            {"keyval", Json{{"public", base64_encode(ec_der)}}}}},
      {"tuf ecdsa truncated PEM",
       Json{{"keytype", "ecdsa"},
            {"scheme", "ecdsa-sha2-nistp256"},
            {"keyval", Json{{"public", ec_pem.substr(0, ec_pem.size() - 20)}}}}},
      {"tuf ecdsa keytype and scheme disagree", Json{{"keytype", "ecdsa-sha2-nistp384"},
                                                     {"scheme", "ecdsa-sha2-nistp256"},
                                                     {"keyval", Json{{"public", ec_pem}}}}},
      {"tuf rsa holding ECDSA", Json{{"keytype", "rsa"},
                                     {"scheme", "rsassa-pss-sha256"},
                                     {"keyval", Json{{"public", ec_pem}}}}},
      {"tuf float field (no canonical form)", Json{{"keytype", "ecdsa"},
                                                   {"scheme", "ecdsa-sha2-nistp256"},
                                                   {"keyval", Json{{"public", ec_pem}}},
                                                   {"x-extra", 1.5}}},
  };
  for (const auto& c : cases) {
    auto r = PublicKey::from_json(c.key, Fault::remote);
    EXPECT_FALSE(r.has_value()) << c.name;
    if (!r) {
      EXPECT_EQ(r.error().code, "bad_key") << c.name << ": " << r.error().describe();
      EXPECT_EQ(r.error().fault, Fault::remote) << c.name;
      EXPECT_FALSE(r.error().message.empty()) << c.name;
    }
  }
  // The caller's fault is used.
  auto local = PublicKey::from_json(notary_key("dsa", "AAAA"), Fault::local);
  ASSERT_FALSE(local.has_value());
  EXPECT_EQ(local.error().fault, Fault::local);
}

TEST(PublicKeyParse, WeakRsaRejected) {
  TempDir tmp;
  auto f = (tmp.path() / "rsa1024.der").string();
  ASSERT_EQ(run_shell("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 2>/dev/null | "
                      "openssl pkey -pubout -outform DER -out " +
                      f),
            0);
  auto r = PublicKey::from_json(notary_key("rsa", base64_encode(slurp(f))));
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("1024"), std::string::npos) << r.error().message;
}

TEST(PublicKeyParse, JsonTextAttacks) {
  // Bytes that never reach from_json because the strict parser refuses them.
  for (std::string text :
       {std::string("{\"keytype\":\"ed25519\",\"keyval\":{\"public\":\"\xc3\x28\"}}"),
        std::string("{\"keytype\":\"ed25519\",\"keytype\":\"rsa\",\"keyval\":{}}")}) {
    EXPECT_FALSE(parse_json(text, "key", Fault::remote).has_value());
  }
  // A huge number is not canonical, so a TUF key carrying one has no ID.
  PrivateKey ec = gen(Algorithm::ecdsa_p256);
  std::string pem = ec.public_key(Dialect::tuf).json()["keyval"]["public"];
  std::string text =
      R"({"keytype":"ecdsa","scheme":"ecdsa-sha2-nistp256","x":1e400,"keyval":{"public":)" +
      Json(pem).dump() + "}}";
  auto j = parse_json(text, "key", Fault::remote);
  if (j) {
    auto r = PublicKey::from_json(*j);
    EXPECT_FALSE(r.has_value());
  }
  // Unknown fields are kept (TUF) and do count in the TUF key ID.
  Json with = ec.public_key(Dialect::tuf).json();
  with["keyid_hash_algorithms"] = Json::array({"sha256", "sha512"});
  auto k = PublicKey::from_json(with);
  ASSERT_TRUE(k.has_value());
  EXPECT_TRUE(k->json().contains("keyid_hash_algorithms"));
  EXPECT_NE(k->key_id(), ec.public_key(Dialect::tuf).key_id());
  EXPECT_EQ(k->key_id(), sha256_hex(*canonical_json(with)));
  // ...but not in a Notary key ID, which Notary computes over its own re-serialisation.
  Json nk = ec.public_key().json();
  nk["extra"] = "ignored";
  auto n = PublicKey::from_json(nk);
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->key_id(), ec.public_key().key_id());
  EXPECT_TRUE(n->json().contains("extra"));
}

// ---------------------------------------------------------------------------------------
// Adversarial signatures

TEST(Verify, RejectsBadSignatures) {
  struct KeyCase {
    const char* name;
    PrivateKey key;
    Dialect dialect;
  };
  std::vector<KeyCase> keys = {
      {"ed25519/notary", gen(Algorithm::ed25519), Dialect::notary},
      {"ed25519/tuf", gen(Algorithm::ed25519), Dialect::tuf},
      {"ecdsa/notary", gen(Algorithm::ecdsa_p256), Dialect::notary},
      {"ecdsa/tuf", gen(Algorithm::ecdsa_p256), Dialect::tuf},
      {"rsa/notary", gen(Algorithm::rsa), Dialect::notary},
      {"rsa/tuf", gen(Algorithm::rsa), Dialect::tuf},
  };
  for (const auto& kc : keys) {
    PublicKey pub = kc.key.public_key(kc.dialect);
    std::string method = kc.key.method(kc.dialect);
    std::string sig = *kc.key.sign(kMessage, kc.dialect);
    ASSERT_TRUE(pub.verify(method, kMessage, sig)) << kc.name;
    std::string flipped_last = sig;
    flipped_last.back() = static_cast<char>(flipped_last.back() ^ 1);
    const std::pair<const char*, std::string> bad_sigs[] = {
        {"empty", ""},
        {"truncated", sig.substr(0, sig.size() - 1)},
        {"half", sig.substr(0, sig.size() / 2)},
        {"extended", sig + '\0'},
        {"doubled", sig + sig},
        {"oversized", std::string(kMaxSignatureBytes + 1, '\x01')},
        {"zeros", std::string(sig.size(), '\0')},
        {"ones", std::string(sig.size(), '\xff')},
        {"last bit flipped", flipped_last},
    };
    for (const auto& [what, bad] : bad_sigs)
      EXPECT_FALSE(pub.verify(method, kMessage, bad)) << kc.name << ": " << what;
    for (const char* m : {"", "none", "eddsa", "ecdsa", "rsapss", "rsapkcs1v15", "ed25519",
                          "ecdsa-sha2-nistp256", "rsassa-pss-sha256", "rsa-pkcs1v15-sha256"}) {
      if (lower_equal(m, method)) continue;
      EXPECT_FALSE(pub.verify(m, kMessage, sig)) << kc.name << " with method " << m;
    }
  }
}

TEST(Verify, EcdsaEncodingsAreNotInterchangeable) {
  PrivateKey k = gen(Algorithm::ecdsa_p256);
  std::string raw = *k.sign(kMessage, Dialect::notary);
  std::string der = *k.sign(kMessage, Dialect::tuf);
  EXPECT_FALSE(k.public_key(Dialect::notary).verify("ecdsa", kMessage, der));
  EXPECT_FALSE(k.public_key(Dialect::tuf).verify("ecdsa-sha2-nistp256", kMessage, raw));
  // Non-minimal DER: an extra leading zero in r.
  ASSERT_EQ(der[0], '\x30');
  ASSERT_EQ(der[2], '\x02');
  std::string padded = der;
  padded[1] = static_cast<char>(padded[1] + 1);
  padded[3] = static_cast<char>(padded[3] + 1);
  padded.insert(4, 1, '\0');
  EXPECT_FALSE(k.public_key(Dialect::tuf).verify("ecdsa-sha2-nistp256", kMessage, padded));
  // r = 0 or s = 0 in raw form.
  std::string r0 = raw, s0 = raw;
  std::fill(r0.begin(), r0.begin() + 32, '\0');
  std::fill(s0.begin() + 32, s0.end(), '\0');
  EXPECT_FALSE(k.public_key().verify("ecdsa", kMessage, r0));
  EXPECT_FALSE(k.public_key().verify("ecdsa", kMessage, s0));
}

TEST(Verify, Ed25519NonCanonicalSRejected) {
  PrivateKey k = gen(Algorithm::ed25519);
  std::string sig = *k.sign(kMessage);
  // S + L (the group order), little-endian: the same point equation, not canonical.
  static const unsigned char L[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58,
                                      0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
                                      0,    0,    0,    0,    0,    0,    0,    0,
                                      0,    0,    0,    0,    0,    0,    0,    0x10};
  std::string mall = sig;
  unsigned carry = 0;
  for (int i = 0; i < 32; ++i) {
    unsigned v = static_cast<unsigned char>(mall[32 + i]) + L[i] + carry;
    mall[32 + i] = static_cast<char>(v & 0xff);
    carry = v >> 8;
  }
  EXPECT_FALSE(k.public_key().verify("eddsa", kMessage, mall));
  EXPECT_TRUE(k.public_key().verify("eddsa", kMessage, sig));
}

TEST(Algorithms, ParseNames) {
  EXPECT_EQ(*parse_algorithm("ED25519"), Algorithm::ed25519);
  EXPECT_EQ(*parse_algorithm("ecdsa"), Algorithm::ecdsa_p256);
  EXPECT_EQ(*parse_algorithm("rsa"), Algorithm::rsa);
  auto bad = parse_algorithm("dsa");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().fault, Fault::user);
}

}  // namespace
}  // namespace docket::keys
