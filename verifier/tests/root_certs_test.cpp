// Notary's root certificate checks (verifier/root_certs.h) on roots made by the simulator.
#include "verifier/root_certs.h"

#include <gtest/gtest.h>

#include "tuf/simulator.h"

using namespace docket;
using namespace std::chrono_literals;

namespace {

tuf::Metadata<tuf::Root> notary_root(const std::string& cn) {
  tuf::Simulator::Options o;
  o.dialect = tuf::Dialect::notary;
  o.algorithm = keys::Algorithm::ecdsa_p256;
  o.root_certificate_cn = cn;
  tuf::Simulator sim(o);
  return value_or_raise(tuf::parse_root(sim.sign_root()));
}

}  // namespace

TEST(RootCertificates, CertificateNamingTheGunCounts) {
  auto root = notary_root("registry.example:5000/team/app");
  EXPECT_TRUE(verifier::check_root_certificates(root, "registry.example:5000/team/app", now()));
}

TEST(RootCertificates, OtherCommonNameIsRefused) {
  auto root = notary_root("registry.example:5000/team/app");
  auto s = verifier::check_root_certificates(root, "registry.example:5000/team/other", now());
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, "bad_root_certificate");
  EXPECT_EQ(s.error().fault, Fault::remote);
  EXPECT_NE(s.error().message.find("CN \"registry.example:5000/team/app\""), std::string::npos)
      << s.error().message;
  // A prefix of the GUN is not the GUN.
  EXPECT_FALSE(verifier::check_root_certificates(root, "registry.example:5000/team", now()));
}

TEST(RootCertificates, ExpiredAndNotYetValidCertificatesAreRefused) {
  auto root = notary_root("example.com/app");  // the simulator's certificates last 10 years
  auto later = verifier::check_root_certificates(root, "example.com/app", now() + 24h * 365 * 11);
  ASSERT_FALSE(later);
  EXPECT_NE(later.error().message.find("expired on"), std::string::npos) << later.error().message;
  auto earlier = verifier::check_root_certificates(root, "example.com/app", now() - 24h);
  ASSERT_FALSE(earlier);
  EXPECT_NE(earlier.error().message.find("not valid before"), std::string::npos)
      << earlier.error().message;
  // A signer clock a little ahead of ours is tolerated.
  EXPECT_TRUE(verifier::check_root_certificates(root, "example.com/app",
                                                now() - verifier::kCertificateClockSkew / 2));
}

TEST(RootCertificates, BareRootKeyInANotaryRootIsRefused) {
  auto root = notary_root("");  // root key listed as a plain ecdsa key
  auto s = verifier::check_root_certificates(root, "example.com/app", now());
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("not an x509 certificate"), std::string::npos)
      << s.error().message;
}

TEST(RootCertificates, TufDialectRootsHaveNoCertificatesToCheck) {
  tuf::Simulator sim;  // TUF dialect, ed25519
  auto root = value_or_raise(tuf::parse_root(sim.sign_root()));
  EXPECT_TRUE(verifier::check_root_certificates(root, "anything", now()));
}
