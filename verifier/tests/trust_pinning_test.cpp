// Trust pinning on first use (verifier/trust.h): Notary's "ca" pins (root certificates must
// chain to a pinned CA), their precedence below "certs" pins, prefix choice, and the user's
// errors for a CA file that cannot be used. Certificates are made here with OpenSSL.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <memory>

#include "client/tests/test_util.h"
#include "common/encoding.h"
#include "common/file.h"
#include "common/json.h"
#include "tuf/editor.h"
#include "verifier/root_certs.h"
#include "verifier/trust.h"

using namespace docket;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

const std::string kGun = "registry.example:5000/team/app";

using PkeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;

PkeyPtr new_ec_key() {
  PkeyPtr k(EVP_EC_gen("P-256"), &EVP_PKEY_free);
  if (!k) throw std::runtime_error("EVP_EC_gen failed");
  return k;
}

PkeyPtr public_of(const keys::PrivateKey& k) {
  std::string der = k.public_key().public_der();
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  PkeyPtr pk(d2i_PUBKEY(nullptr, &p, long(der.size())), &EVP_PKEY_free);
  if (!pk) throw std::runtime_error("d2i_PUBKEY failed");
  return pk;
}

void add_ext(X509* c, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, c, nullptr, nullptr, 0);
  X509_EXTENSION* e = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (!e) throw std::runtime_error("bad extension");
  X509_add_ext(c, e, -1);
  X509_EXTENSION_free(e);
}

// A certificate for `subject` named `cn`, signed by issuer_key (issuer == nullptr:
// self-signed), valid from `from` for `validity`; a CA (keyCertSign) or a Notary-style leaf.
X509Ptr make_cert(EVP_PKEY* subject, const std::string& cn, X509* issuer, EVP_PKEY* issuer_key,
                  bool ca, std::chrono::seconds from, std::chrono::seconds validity) {
  static long serial = 1;
  X509Ptr c(X509_new(), &X509_free);
  X509_set_version(c.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(c.get()), serial++);
  X509_gmtime_adj(X509_getm_notBefore(c.get()), long(from.count()));
  X509_gmtime_adj(X509_getm_notAfter(c.get()), long((from + validity).count()));
  X509_set_pubkey(c.get(), subject);
  X509_NAME* name = X509_get_subject_name(c.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(c.get(), issuer ? X509_get_subject_name(issuer) : name);
  if (ca) {
    add_ext(c.get(), issuer ? issuer : c.get(), NID_basic_constraints, "critical,CA:TRUE");
    add_ext(c.get(), issuer ? issuer : c.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_ext(c.get(), issuer ? issuer : c.get(), NID_key_usage,
            "critical,digitalSignature,keyEncipherment");
    add_ext(c.get(), issuer ? issuer : c.get(), NID_ext_key_usage, "codeSigning");
  }
  if (X509_sign(c.get(), issuer_key ? issuer_key : subject, EVP_sha256()) <= 0)
    throw std::runtime_error("X509_sign failed");
  return c;
}

std::string pem_of(X509* c) {
  std::unique_ptr<BIO, decltype(&BIO_free)> b(BIO_new(BIO_s_mem()), &BIO_free);
  PEM_write_bio_X509(b.get(), c);
  char* data = nullptr;
  long n = BIO_get_mem_data(b.get(), &data);
  return std::string(data, std::size_t(n));
}

// A CA: its key and self-signed certificate.
struct Ca {
  PkeyPtr key = new_ec_key();
  X509Ptr cert;
  explicit Ca(const std::string& cn, std::chrono::seconds validity = 24h * 365 * 10)
      : cert(make_cert(key.get(), cn, nullptr, nullptr, true, 0s, validity)) {}
};

// A Notary root key (ecdsa-x509) whose certificate bundle is `pem`.
keys::PublicKey x509_key(const std::string& pem) {
  Json j = {{"keytype", "ecdsa-x509"},
            {"keyval", {{"public", base64_encode(pem)}, {"private", nullptr}}}};
  return value_or_raise(keys::PublicKey::from_json(j, Fault::local));
}

// A signed Notary root for kGun whose root role is `root_certs` (threshold `threshold`),
// signed by every private key in `ring`.
tuf::Metadata<tuf::Root> make_root(const std::vector<keys::PublicKey>& root_certs,
                                   tuf::MemoryKeyRing ring, int threshold = 1) {
  tuf::CreateOptions o;
  o.gun = kGun;
  o.root.keys = root_certs;
  o.root.threshold = threshold;
  for (auto* spec : {&o.targets, &o.snapshot, &o.timestamp}) {
    auto k = value_or_raise(keys::PrivateKey::generate(keys::Algorithm::ecdsa_p256));
    ring.add(k);
    spec->keys = {k.public_key()};
  }
  auto ed = value_or_raise(tuf::Editor::create(o, ring));
  auto signed_roles = value_or_raise(ed.sign());
  for (const auto& r : signed_roles)
    if (r.role == "root") return value_or_raise(tuf::parse_root(r.bytes));
  throw std::runtime_error("no root signed");
}

struct Fixture : ::testing::Test {
  client::test::TempDir dir;
  Ca ca{"Docket Test Root CA"};
  keys::PrivateKey root_key =
      value_or_raise(keys::PrivateKey::generate(keys::Algorithm::ecdsa_p256));
  tuf::MemoryKeyRing ring;
  std::vector<std::string> warnings;

  void SetUp() override { ring.add(root_key); }

  void write(const std::string& name, const std::string& text) {
    ASSERT_TRUE(atomic_write_file(dir.path / name, text));
  }
  void pin(const Json& j) { write(verifier::kTrustPinningFile, j.dump()); }

  // The root key's certificate issued by `issuer` (with extra PEM appended to the bundle).
  keys::PublicKey issued_by(X509* issuer, EVP_PKEY* issuer_key, const std::string& extra = "",
                            std::chrono::seconds validity = 24h * 365) {
    auto leaf =
        make_cert(public_of(root_key).get(), kGun, issuer, issuer_key, false, -60s, validity);
    return x509_key(pem_of(leaf.get()) + extra);
  }

  Status first_use(const tuf::Metadata<tuf::Root>& root, TimePoint at = now()) {
    auto pins = verifier::load_trust_pins(dir.path, kGun);
    if (!pins) return std::unexpected(pins.error());
    return verifier::check_first_use_root(
        root, *pins, kGun, "https://notary.example",
        [this](const std::string& w) { warnings.push_back(w); }, at);
  }
};

using TrustPinningCa = Fixture;

TEST_F(TrustPinningCa, RootIssuedByThePinnedCaIsAcceptedWithoutTheFirstUseWarning) {
  write("ca.pem", pem_of(ca.cert.get()));
  pin({{"ca", {{"registry.example:5000/team/", "ca.pem"}}}});  // relative to the trust dir
  auto root = make_root({issued_by(ca.cert.get(), ca.key.get())}, ring);
  ASSERT_TRUE(verifier::check_root_certificates(root, kGun, now()));
  auto pins = value_or_raise(verifier::load_trust_pins(dir.path, kGun));
  ASSERT_TRUE(pins.ca_prefix);
  EXPECT_EQ(*pins.ca_prefix, "registry.example:5000/team/");
  EXPECT_EQ(pins.ca_file, dir.path / "ca.pem");
  EXPECT_EQ(pins.ca_certs_der.size(), 1u);
  auto s = first_use(root);
  EXPECT_TRUE(s) << s.error().message;
  EXPECT_TRUE(warnings.empty()) << warnings.front();
}

TEST_F(TrustPinningCa, SelfSignedRootCertificateIsRefusedAsPinMismatch) {
  write("ca.pem", pem_of(ca.cert.get()));
  pin({{"ca", {{"registry.example:5000/", (dir.path / "ca.pem").string()}}}});
  // What notary and docket make by default: a self-signed certificate with CN = GUN.
  auto cert = value_or_raise(tuf::make_root_certificate(root_key, kGun));
  auto root = make_root({cert}, ring);
  ASSERT_TRUE(verifier::check_root_certificates(root, kGun, now()));  // valid, but not issued
  auto s = first_use(root);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().fault, Fault::remote);
  EXPECT_EQ(s.error().code, "pin_mismatch");
  EXPECT_NE(s.error().message.find((dir.path / "ca.pem").string()), std::string::npos)
      << s.error().message;
  EXPECT_NE(s.error().message.find("does not chain"), std::string::npos) << s.error().message;
  EXPECT_TRUE(warnings.empty());
}

TEST_F(TrustPinningCa, CertificateFromAnotherCaIsRefused) {
  Ca other("Some Other CA");
  write("ca.pem", pem_of(ca.cert.get()));
  pin({{"ca", {{"registry.example:5000/", "ca.pem"}}}});
  auto root = make_root({issued_by(other.cert.get(), other.key.get())}, ring);
  auto s = first_use(root);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, "pin_mismatch");
}

// An intermediate CA reaches the check through the pinned CA file...
TEST_F(TrustPinningCa, LeafIssuedByAnIntermediateChainsThroughThePinnedBundle) {
  PkeyPtr int_key = new_ec_key();
  auto intermediate = make_cert(int_key.get(), "Docket Test Intermediate", ca.cert.get(),
                                ca.key.get(), true, 0s, 24h * 365 * 5);
  auto root = make_root({issued_by(intermediate.get(), int_key.get())}, ring);
  // The root CA alone: the leaf's issuer is unknown.
  write("ca.pem", pem_of(ca.cert.get()));
  pin({{"ca", {{"registry.example:5000/team/app", "ca.pem"}}}});  // the GUN itself is a prefix
  auto s = first_use(root);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, "pin_mismatch");
  // Root CA + intermediate in the pinned bundle: chains.
  write("bundle.pem", pem_of(ca.cert.get()) + pem_of(intermediate.get()));
  pin({{"ca", {{"registry.example:5000/team/app", "bundle.pem"}}}});
  EXPECT_EQ(value_or_raise(verifier::load_trust_pins(dir.path, kGun)).ca_certs_der.size(), 2u);
  auto ok = first_use(root);
  EXPECT_TRUE(ok) << ok.error().message;
  // The intermediate alone (not self-signed) is a trust anchor too.
  write("int.pem", pem_of(intermediate.get()));
  pin({{"ca", {{"registry.example:5000/team/app", "int.pem"}}}});
  auto anchored = first_use(root);
  EXPECT_TRUE(anchored) << anchored.error().message;
}

// ...or through the root key itself, whose certificate may be a bundle (leaf, then the CAs
// that issued it) as Notary writes for CA-issued roots. Bundled CAs only complete a path:
// they are never trust anchors.
TEST_F(TrustPinningCa, LeafBundledWithItsIntermediateChainsToThePinnedRootCa) {
  PkeyPtr int_key = new_ec_key();
  auto intermediate = make_cert(int_key.get(), "Docket Test Intermediate", ca.cert.get(),
                                ca.key.get(), true, 0s, 24h * 365 * 5);
  auto bundled = issued_by(intermediate.get(), int_key.get(), pem_of(intermediate.get()));
  EXPECT_EQ(value_or_raise(bundled.certificate_common_name()), kGun);
  EXPECT_FALSE(value_or_raise(bundled.certificate_is_ca()));
  ASSERT_EQ(value_or_raise(bundled.certificate_chain_der()).size(), 1u);
  write("ca.pem", pem_of(ca.cert.get()));
  pin({{"ca", {{"registry.example:5000/team/app", "ca.pem"}}}});
  auto ok = first_use(make_root({bundled}, ring));
  EXPECT_TRUE(ok) << ok.error().message;
  EXPECT_TRUE(warnings.empty());
  // Without the intermediate in the bundle the same leaf does not chain.
  auto alone = first_use(make_root({issued_by(intermediate.get(), int_key.get())}, ring));
  ASSERT_FALSE(alone);
  EXPECT_EQ(alone.error().code, "pin_mismatch");
  // A CA of the signer's own making in the bundle is no anchor.
  Ca rogue{"Rogue CA"};
  auto s = first_use(
      make_root({issued_by(rogue.cert.get(), rogue.key.get(), pem_of(rogue.cert.get()))}, ring));
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, "pin_mismatch");
}

TEST_F(TrustPinningCa, BundleMustBeALeafFollowedByCaCertificates) {
  auto leaf = make_cert(public_of(root_key).get(), kGun, ca.cert.get(), ca.key.get(), false, -60s,
                        24h * 365);
  auto as_key = [](const std::string& pem) {
    Json j = {{"keytype", "ecdsa-x509"},
              {"keyval", {{"public", base64_encode(pem)}, {"private", nullptr}}}};
    return keys::PublicKey::from_json(j, Fault::remote);
  };
  auto two_leaves = as_key(pem_of(leaf.get()) + pem_of(leaf.get()));
  ASSERT_FALSE(two_leaves);
  EXPECT_EQ(two_leaves.error().code, "bad_key");
  EXPECT_EQ(two_leaves.error().fault, Fault::remote);
  EXPECT_NE(two_leaves.error().message.find("certificate 2 of 2 is not a CA"), std::string::npos)
      << two_leaves.error().message;
  auto junk_tail =
      as_key(pem_of(leaf.get()) + "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n");
  ASSERT_FALSE(junk_tail);
  EXPECT_EQ(junk_tail.error().code, "bad_key");
  // The leaf + its CA is one key whose ID covers the whole bundle, as Notary computes it.
  auto with_ca = as_key(pem_of(leaf.get()) + pem_of(ca.cert.get()));
  ASSERT_TRUE(with_ca) << with_ca.error().message;
  auto single = as_key(pem_of(leaf.get()));
  ASSERT_TRUE(single);
  EXPECT_NE(with_ca->key_id(), single->key_id());
  EXPECT_EQ(with_ca->canonical_key_id(), single->canonical_key_id());
  EXPECT_EQ(with_ca->public_der(), single->public_der());
  EXPECT_TRUE(value_or_raise(single->certificate_chain_der()).empty());
}

TEST_F(TrustPinningCa, ChainIsCheckedAtTheGivenTime) {
  write("ca.pem", pem_of(ca.cert.get()));
  pin({{"ca", {{"registry.example:5000/", "ca.pem"}}}});
  auto root = make_root({issued_by(ca.cert.get(), ca.key.get(), "", 24h * 30)}, ring);
  EXPECT_TRUE(first_use(root, now() + 24h));
  auto s = first_use(root, now() + 24h * 60);  // the leaf expired after 30 days
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, "pin_mismatch");
  EXPECT_NE(s.error().message.find("expired"), std::string::npos) << s.error().message;
}

TEST_F(TrustPinningCa, ThresholdCountsOnlyCertificatesThatChain) {
  // Two root keys, threshold 2: one issued by the CA, one self-signed; both sign.
  auto second = value_or_raise(keys::PrivateKey::generate(keys::Algorithm::ecdsa_p256));
  ring.add(second);
  auto self_signed = value_or_raise(tuf::make_root_certificate(second, kGun));
  write("ca.pem", pem_of(ca.cert.get()));
  pin({{"ca", {{"registry.example:5000/", "ca.pem"}}}});
  auto both = make_root({issued_by(ca.cert.get(), ca.key.get()), self_signed}, ring, 2);
  auto s = first_use(both);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, "pin_mismatch");
  // Threshold 1 with the same keys: the chaining certificate's signature suffices.
  auto one = make_root({issued_by(ca.cert.get(), ca.key.get()), self_signed}, ring, 1);
  auto ok = first_use(one);
  EXPECT_TRUE(ok) << ok.error().message;
}

TEST_F(TrustPinningCa, CertsPinForTheGunTakesPrecedence) {
  // The CA file does not even exist: with a certs entry for the GUN it is never read.
  auto cert = value_or_raise(tuf::make_root_certificate(root_key, kGun));
  auto root = make_root({cert}, ring);
  const std::string root_id = root.signed_.role(tuf::RoleType::root).keyids.front();
  pin({{"certs", {{kGun, {root_id}}}}, {"ca", {{"registry.example:5000/", "missing.pem"}}}});
  auto pins = value_or_raise(verifier::load_trust_pins(dir.path, kGun));
  EXPECT_FALSE(pins.ca_prefix);
  EXPECT_EQ(pins.key_ids, std::vector<std::string>{root_id});
  auto s = first_use(root);
  EXPECT_TRUE(s) << s.error().message;
  EXPECT_TRUE(warnings.empty());
  // A wildcard certs pin ("<prefix>*") also wins over the CA, and still binds: a wrong ID fails.
  pin({{"certs", {{"registry.example:5000/*", {"0123456789abcdef"}}}},
       {"ca", {{"registry.example:5000/team/", "missing.pem"}}}});
  auto wrong = first_use(root);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, "pin_mismatch");
  EXPECT_NE(wrong.error().message.find("0123456789abcdef"), std::string::npos);
}

TEST_F(TrustPinningCa, LongestMatchingPrefixChoosesTheCa) {
  Ca other("Some Other CA");
  write("ca.pem", pem_of(ca.cert.get()));
  write("other.pem", pem_of(other.cert.get()));
  auto root = make_root({issued_by(ca.cert.get(), ca.key.get())}, ring);
  pin({{"ca",
        {{"registry.example:5000/", "other.pem"},
         {"registry.example:5000/team/", "ca.pem"},
         {"registry.example:5000/team/other", "other.pem"}}}});
  auto ok = first_use(root);
  EXPECT_TRUE(ok) << ok.error().message;
  pin({{"ca",
        {{"registry.example:5000/", "ca.pem"}, {"registry.example:5000/team/", "other.pem"}}}});
  auto s = first_use(root);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, "pin_mismatch");
  EXPECT_NE(s.error().message.find("other.pem"), std::string::npos) << s.error().message;
}

TEST_F(TrustPinningCa, NonMatchingPrefixLeavesTrustOnFirstUse) {
  write("ca.pem", pem_of(ca.cert.get()));
  auto cert = value_or_raise(tuf::make_root_certificate(root_key, kGun));
  auto root = make_root({cert}, ring);
  // "docker.io/" does not start the GUN; a "*" is not a wildcard in "ca" keys.
  pin({{"ca", {{"docker.io/", "ca.pem"}, {"registry.example:5000/*", "ca.pem"}}}});
  auto pins = value_or_raise(verifier::load_trust_pins(dir.path, kGun));
  EXPECT_FALSE(pins.ca_prefix);
  auto s = first_use(root);
  EXPECT_TRUE(s) << s.error().message;
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("without a pin"), std::string::npos) << warnings[0];
  // ...and with disable_tofu, refused as before.
  pin({{"ca", {{"docker.io/", "ca.pem"}}}, {"disable_tofu", true}});
  auto refused = first_use(root);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "not_pinned");
}

TEST_F(TrustPinningCa, MissingCaFileIsAConfigErrorNamingIt) {
  pin({{"ca", {{"registry.example:5000/", "nowhere/ca.pem"}}}});
  auto pins = verifier::load_trust_pins(dir.path, kGun);
  ASSERT_FALSE(pins);
  EXPECT_EQ(pins.error().fault, Fault::user);
  EXPECT_EQ(pins.error().code, "config");
  EXPECT_NE(pins.error().message.find((dir.path / "nowhere" / "ca.pem").string()),
            std::string::npos)
      << pins.error().message;
}

TEST_F(TrustPinningCa, CaFileWithoutCertificatesIsAConfigError) {
  write("garbage.pem", "not a certificate\n");
  pin({{"ca", {{"registry.example:5000/", "garbage.pem"}}}});
  auto pins = verifier::load_trust_pins(dir.path, kGun);
  ASSERT_FALSE(pins);
  EXPECT_EQ(pins.error().fault, Fault::user);
  EXPECT_EQ(pins.error().code, "config");
  EXPECT_NE(pins.error().message.find("garbage.pem"), std::string::npos) << pins.error().message;
  // A certificate block that is not DER.
  write("broken.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
  pin({{"ca", {{"registry.example:5000/", "broken.pem"}}}});
  auto broken = verifier::load_trust_pins(dir.path, kGun);
  ASSERT_FALSE(broken);
  EXPECT_EQ(broken.error().code, "config");
  // "ca" must be an object of paths.
  pin({{"ca", {{"registry.example:5000/", 7}}}});
  auto typed = verifier::load_trust_pins(dir.path, kGun);
  ASSERT_FALSE(typed);
  EXPECT_EQ(typed.error().code, "config");
}

}  // namespace
