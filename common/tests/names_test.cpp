#include "common/names.h"

#include <gtest/gtest.h>

#include <string>

namespace docket {
namespace {

TEST(RepositoryNames, ComponentGrammar) {
  for (const char* ok : {"a", "0", "x9", "a.b", "a_b", "a__b", "a-b", "a---b", "a.b_c__d-e"})
    EXPECT_TRUE(valid_repository_component(ok)) << ok;
  for (const char* bad :
       {"",     ".",    "-a",   "a-", "_a", "a_",  ".a",  "a.",  "a..b", "a___b",
        "a._b", "a-.b", "a_-b", "A",  "aB", "a b", "a/b", "a:b", "a%2f", "\xc3\xa9"})
    EXPECT_FALSE(valid_repository_component(bad)) << bad;
}

TEST(RepositoryNames, FirstInvalidComponentIsNamed) {
  EXPECT_EQ(invalid_repository_component("library/ubuntu"), std::nullopt);
  EXPECT_EQ(invalid_repository_component("a/B/c-"), std::optional<std::string_view>("B"));
  EXPECT_EQ(invalid_repository_component("a/b/c-"), std::optional<std::string_view>("c-"));
  EXPECT_EQ(invalid_repository_component("a//b"), std::optional<std::string_view>(""));
  EXPECT_EQ(invalid_repository_component("a/"), std::optional<std::string_view>(""));
  EXPECT_EQ(invalid_repository_component("/a"), std::optional<std::string_view>(""));
  EXPECT_EQ(invalid_repository_component(""), std::optional<std::string_view>(""));
  EXPECT_EQ(invalid_repository_component("x/.."), std::optional<std::string_view>(".."));
}

TEST(RepositoryNames, WholeNameAndLengthLimit) {
  for (const char* ok : {"a", "library/ubuntu", "a.b/c_d/e__f/g-h/i--j", "0/1/2"})
    EXPECT_TRUE(valid_repository_name(ok)) << ok;
  for (const char* bad : {"", "../x", "a//b", "a/_trust", "Upper/x", "a/b:c"})
    EXPECT_FALSE(valid_repository_name(bad)) << bad;
  std::string at_limit = "a/" + std::string(kMaxRepositoryNameLength - 2, 'b');
  EXPECT_EQ(at_limit.size(), kMaxRepositoryNameLength);
  EXPECT_TRUE(valid_repository_name(at_limit));
  EXPECT_FALSE(valid_repository_name(at_limit + "b"));
}

}  // namespace
}  // namespace docket
