#include "common/digest.h"

#include <gtest/gtest.h>

#include "common/encoding.h"

namespace docket {
namespace {

TEST(Digest, KnownVectors) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hex_encode(sha512("")).substr(0, 16), "cf83e1357eefb8bd");
  Hasher h(HashAlgorithm::sha256);
  h.update("a");
  h.update("bc");
  EXPECT_EQ(hex_encode(h.finish()), sha256_hex("abc"));
  h.update("abc");  // reusable after finish()
  EXPECT_EQ(hex_encode(h.finish()), sha256_hex("abc"));
}

TEST(Digest, ParsesAndValidates) {
  auto d = Digest::parse("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->algorithm(), HashAlgorithm::sha256);
  EXPECT_EQ(*d, Digest::of("abc"));
  EXPECT_EQ(d->str(), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

  for (std::string bad : {
           "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",        // no algorithm
           "md5:ba7816bf8f01cfea414140de5dae2223",                                     // unsupported
           "sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD",  // upper case
           "sha256:ba7816bf",                                                          // short
           "sha256:../../etc/passwd",                                                  // path
           "sha512:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",  // wrong length
           "",
       }) {
    auto r = Digest::parse(bad);
    EXPECT_FALSE(r.has_value()) << bad;
    if (!r) {
      EXPECT_EQ(r.error().code, "digest_invalid") << bad;
    }
  }
}

}  // namespace
}  // namespace docket
