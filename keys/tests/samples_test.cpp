// Every signature and key ID in the captured Notary metadata must check out with our code,
// and any one-byte change to what was signed must break the signature.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>

#include "common/encoding.h"
#include "common/json.h"
#include "keys/key.h"
#include "keys/tests/test_util.h"

namespace docket::keys {
namespace {

namespace fs = std::filesystem;
using testing::slurp;

const fs::path kSamples = fs::path(DOCKET_SHARED_DIR) / "notary" / "samples";

struct SampleDir {
  std::map<std::string, PublicKey> keys;  // by the ID written in the metadata
  std::vector<fs::path> signed_files;
};

Json load(const fs::path& p) {
  auto j = parse_json(slurp(p), p.string(), Fault::local);
  EXPECT_TRUE(j.has_value()) << (j ? "" : j.error().describe());
  return j ? *j : Json();
}

void collect_keys(const Json& keys, const fs::path& file, SampleDir& out) {
  for (auto it = keys.begin(); it != keys.end(); ++it) {
    auto k = PublicKey::from_json(it.value());
    ASSERT_TRUE(k.has_value()) << file << " key " << it.key() << ": " << k.error().describe();
    EXPECT_EQ(k->key_id(), it.key()) << file << ": our key ID differs from Notary's";
    EXPECT_EQ(k->dialect(), Dialect::notary);
    out.keys.insert_or_assign(it.key(), *k);
  }
}

SampleDir scan(const fs::path& dir) {
  SampleDir out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".json") continue;
    Json j = load(e.path());
    if (!j.is_object() || !j.contains("signed")) continue;
    out.signed_files.push_back(e.path());
    const Json& s = j["signed"];
    if (s.contains("keys")) collect_keys(s["keys"], e.path(), out);
    if (s.contains("delegations")) collect_keys(s["delegations"]["keys"], e.path(), out);
  }
  return out;
}

std::vector<fs::path> sample_dirs() {
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(kSamples))
    if (e.is_directory() && fs::exists(e.path() / "root.json")) dirs.push_back(e.path());
  return dirs;
}

TEST(NotarySamples, EveryKeyIdAndSignatureVerifies) {
  auto dirs = sample_dirs();
  ASSERT_GE(dirs.size(), 2u) << "samples missing under " << kSamples;
  int verified = 0, x509 = 0;
  std::set<std::string> methods;
  for (const auto& dir : dirs) {
    SampleDir sd = scan(dir);
    ASSERT_GE(sd.signed_files.size(), 10u) << dir;
    for (const auto& [id, k] : sd.keys) x509 += k.is_x509();
    for (const auto& file : sd.signed_files) {
      Json j = load(file);
      auto canon = canonical_json(j["signed"]);
      ASSERT_TRUE(canon.has_value()) << file;
      ASSERT_FALSE(j["signatures"].empty()) << file;
      for (const auto& sig : j["signatures"]) {
        const std::string keyid = sig["keyid"];
        const std::string method = sig["method"];
        auto raw = base64_decode(sig["sig"].get<std::string>());
        ASSERT_TRUE(raw.has_value()) << file;
        auto it = sd.keys.find(keyid);
        ASSERT_NE(it, sd.keys.end()) << file << ": no key " << keyid;
        EXPECT_TRUE(it->second.verify(method, *canon, *raw))
            << file << " signature by " << keyid << " (" << method << ")";
        // Methods are case-insensitive.
        EXPECT_TRUE(it->second.verify(
            method == "ecdsa" ? "ECDSA" : (method == "eddsa" ? "EdDSA" : method), *canon, *raw));
        methods.insert(method);
        ++verified;
        // One changed byte anywhere in the signed bytes breaks it.
        for (std::size_t pos :
             {std::size_t{0}, canon->size() / 3, canon->size() / 2, canon->size() - 1}) {
          std::string tampered = *canon;
          tampered[pos] = static_cast<char>(tampered[pos] ^ 0x01);
          EXPECT_FALSE(it->second.verify(method, tampered, *raw))
              << file << " tampered at " << pos << " still verifies";
        }
        // So does a changed signature byte.
        std::string bad_sig = *raw;
        bad_sig[bad_sig.size() / 2] = static_cast<char>(bad_sig[bad_sig.size() / 2] ^ 0x80);
        EXPECT_FALSE(it->second.verify(method, *canon, bad_sig)) << file;
      }
    }
  }
  EXPECT_GE(verified, 30);
  EXPECT_GT(x509, 0);
  EXPECT_TRUE(methods.count("ecdsa"));
  EXPECT_TRUE(methods.count("eddsa"));
}

TEST(NotarySamples, ServerKeysParse) {
  for (const auto& dir : sample_dirs()) {
    for (const char* name : {"timestamp.key.json", "snapshot.key.json"}) {
      Json j = load(dir / name);
      auto k = PublicKey::from_json(j);
      ASSERT_TRUE(k.has_value()) << dir / name << ": " << k.error().describe();
      EXPECT_EQ(k->key_id().size(), 64u);
      EXPECT_FALSE(k->is_x509());
      EXPECT_EQ(k->canonical_key_id(), k->key_id());
    }
  }
}

TEST(NotarySamples, RootCertificatesAreNotaryRootCerts) {
  for (const auto& dir : sample_dirs()) {
    Json root = load(dir / "root.json");
    const std::string gun = "localhost:4443/library/demo";
    int certs = 0;
    for (const auto& [id, kj] : root["signed"]["keys"].items()) {
      auto k = PublicKey::from_json(kj);
      ASSERT_TRUE(k.has_value());
      if (!k->is_x509()) continue;
      ++certs;
      EXPECT_EQ(*k->certificate_common_name(), gun);
      EXPECT_FALSE(*k->certificate_is_ca());
      auto nb = *k->certificate_not_before();
      auto na = *k->certificate_not_after();
      auto span = std::chrono::duration_cast<std::chrono::hours>(na - nb).count();
      EXPECT_EQ(span, 3650 * 24) << "Notary root certificates are valid for 3650 days";
      EXPECT_NE(k->canonical_key_id(), k->key_id());
      // The canonical ID is the ID of the bare ecdsa key with the certificate's SPKI.
      Json bare{{"keytype", "ecdsa"},
                {"keyval", Json{{"private", nullptr}, {"public", base64_encode(k->public_der())}}}};
      EXPECT_EQ(PublicKey::from_json(bare)->key_id(), k->canonical_key_id());
    }
    EXPECT_GE(certs, 1);
  }
}

// The targets key files in the samples are named by the canonical ID of the targets key.
TEST(NotarySamples, PrivateKeyFileNamesAreKeyIds) {
  for (const auto& dir : sample_dirs()) {
    Json root = load(dir / "root.json");
    std::set<std::string> targets_ids;
    for (const auto& id : root["signed"]["roles"]["targets"]["keyids"])
      targets_ids.insert(id.get<std::string>());
    bool found = false;
    for (const auto& e : fs::directory_iterator(dir)) {
      std::string name = e.path().filename().string();
      if (!name.starts_with("private-targets-key.")) continue;
      std::string id = name.substr(20, 64);
      EXPECT_TRUE(targets_ids.count(id)) << name;
      found = true;
    }
    EXPECT_TRUE(found) << dir;
  }
}

}  // namespace
}  // namespace docket::keys
