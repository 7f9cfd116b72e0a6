// The pure parts of the trust client: docker's inspect rules, key files, target entries.
#include <gtest/gtest.h>

#include "common/digest.h"
#include "common/encoding.h"
#include "keys/pem.h"
#include "trustclient/inspect.h"
#include "tuf/editor.h"

namespace docket::trustclient {
namespace {

tuf::TargetFile target_for(const std::string& content) {
  return tuf::make_target_file(keys::Dialect::notary, content);
}

RepositoryView sample_view() {
  RepositoryView v;
  v.root_key_ids = {"r2", "r1"};
  RoleView t{"targets", {"t1"}, {"t1"}, 1, {}, {}};
  t.targets["admin-only"] = target_for("a");
  RoleView rel{"targets/releases", {"k-alice", "k-bob"}, {"k-alice", "k-bob"}, 1, {""}, {}};
  rel.targets["v1"] = target_for("one");
  rel.targets["v2"] = target_for("two");
  RoleView alice{"targets/alice", {"k-alice"}, {"k-alice"}, 1, {""}, {}};
  alice.targets["v1"] = target_for("one");
  alice.targets["v2"] = target_for("not two");  // another digest: not a signer of v2
  alice.targets["unreleased"] = target_for("u");
  RoleView bob{"targets/bob", {"k-bob"}, {"k-bob"}, 1, {""}, {}};
  bob.targets["v1"] = target_for("one");
  v.roles = {t, rel, alice, bob};
  return v;
}

TEST(Inspect, DockerReleasedSignatureRules) {
  Json j = inspect_json("example.com/app", sample_view());
  EXPECT_EQ(j["Name"], "example.com/app");
  ASSERT_EQ(j["SignedTags"].size(), 3u) << j.dump(2);  // admin-only, v1, v2; not "unreleased"
  EXPECT_EQ(j["SignedTags"][0]["SignedTag"], "admin-only");
  EXPECT_TRUE(j["SignedTags"][0]["Signers"].empty());
  EXPECT_EQ(j["SignedTags"][1]["SignedTag"], "v1");
  EXPECT_EQ(j["SignedTags"][1]["Digest"], sha256_hex("one"));
  EXPECT_EQ(j["SignedTags"][1]["Signers"], Json::array({"alice", "bob"}));
  EXPECT_EQ(j["SignedTags"][2]["SignedTag"], "v2");
  EXPECT_TRUE(j["SignedTags"][2]["Signers"].empty()) << j.dump(2);
  ASSERT_EQ(j["Signers"].size(), 2u);  // releases is not a signer
  EXPECT_EQ(j["Signers"][0]["Name"], "alice");
  EXPECT_EQ(j["Signers"][0]["Keys"][0]["ID"], "k-alice");
  EXPECT_EQ(j["AdministrativeKeys"][0]["Name"], "Root");
  EXPECT_EQ(j["AdministrativeKeys"][0]["Keys"], Json::array({{{"ID", "r1"}}, {{"ID", "r2"}}}));
  EXPECT_EQ(j["AdministrativeKeys"][1]["Name"], "Repository");
  EXPECT_EQ(j["AdministrativeKeys"][1]["Keys"][0]["ID"], "t1");

  Json one = inspect_json("example.com/app", sample_view(), std::string("v1"));
  ASSERT_EQ(one["SignedTags"].size(), 1u);
  EXPECT_EQ(one["SignedTags"][0]["SignedTag"], "v1");
  Json none = inspect_json("example.com/app", sample_view(), std::string("nope"));
  EXPECT_TRUE(none["SignedTags"].empty());
}

TEST(Inspect, PrettyTables) {
  std::string p = inspect_pretty(inspect_json("example.com/app", sample_view()));
  EXPECT_NE(p.find("Signatures for example.com/app"), std::string::npos) << p;
  EXPECT_NE(p.find("(Repo Admin)"), std::string::npos) << p;
  EXPECT_NE(p.find("alice, bob"), std::string::npos) << p;
  EXPECT_NE(p.find("Root Key:\tr1, r2"), std::string::npos) << p;
  RepositoryView empty;
  empty.roles.push_back(RoleView{"targets", {"t1"}, {"t1"}, 1, {}, {}});
  p = inspect_pretty(inspect_json("example.com/e", empty));
  EXPECT_NE(p.find("No signatures for example.com/e"), std::string::npos) << p;
  EXPECT_EQ(p.find("List of signers"), std::string::npos) << p;
}

TEST(KeyFiles, PublicKeyPemRoundTripsAndCertificatesAreX509Keys) {
  auto k = *keys::PrivateKey::generate(keys::Algorithm::ecdsa_p256);
  std::string pem = public_key_pem(k, "alice");
  EXPECT_NE(pem.find("role: alice"), std::string::npos);
  auto pub = public_key_from_pem(pem, "alice.pub");
  ASSERT_TRUE(pub) << pub.error().describe();
  EXPECT_EQ(pub->keytype(), "ecdsa");
  EXPECT_EQ(pub->key_id(), k.public_key().key_id());

  auto cert = k.self_signed_certificate("alice", std::chrono::hours(24));
  ASSERT_TRUE(cert);
  auto cert_pem = base64_decode(cert->json()["keyval"]["public"].get<std::string>());
  ASSERT_TRUE(cert_pem);
  auto from_cert = public_key_from_pem(*cert_pem, "alice.crt");
  ASSERT_TRUE(from_cert) << from_cert.error().describe();
  EXPECT_EQ(from_cert->keytype(), "ecdsa-x509");
  EXPECT_EQ(from_cert->canonical_key_id(), k.public_key().key_id());

  auto bad = public_key_from_pem("-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n", "foo.pem");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, "bad_key");
  EXPECT_NE(bad.error().message.find("foo.pem"), std::string::npos);
  EXPECT_FALSE(public_key_from_pem("not pem", "x.pem"));
}

TEST(Targets, DockerTargetHasLengthAndSha256Only) {
  auto t = docker_target(1234, sha256("manifest"));
  EXPECT_EQ(t.length, 1234);
  ASSERT_EQ(t.hashes.size(), 1u);
  EXPECT_EQ(t.hashes.at("sha256"), sha256("manifest"));
  auto back = tuf::TargetChange::parse(t.to_bytes(), "test");
  ASSERT_TRUE(back);
  EXPECT_EQ(back->hashes, t.hashes);
}

}  // namespace
}  // namespace docket::trustclient
