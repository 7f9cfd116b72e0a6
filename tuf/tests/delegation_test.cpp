#include <gtest/gtest.h>

#include "common/digest.h"
#include "tuf/delegation.h"

namespace docket::tuf {
namespace {

TEST(PathPattern, GlobTable) {
  struct C {
    const char* pattern;
    const char* path;
    bool match;
  } cases[] = {
      {"*", "a.txt", true},
      {"*", "dir/a.txt", false},  // * never crosses '/'
      {"*.md", "README.md", true},
      {"*.md", "releases/README.md", false},
      {"releases/*.md", "releases/README.md", true},
      {"*/*", "a/b", true},
      {"*/*", "a/b/c", false},
      {"a?c", "abc", true},
      {"a?c", "ac", false},
      {"a?c", "a/c", false},
      {"[ab]x", "bx", true},
      {"[!ab]x", "bx", false},
      {"[!ab]x", "cx", true},
      {"[a-c]x", "bx", true},
      {"[a-c]x", "dx", false},
      {"A.txt", "a.txt", false},  // case-sensitive
      {"targets/*/file", "targets/x/file", true},
      {"*", "", true},
      {"", "", true},
      {"", "a", false},
      {"a*b*c", "aXXbYYc", true},
      {"a*b*c", "aXXbYY", false},
      {"[", "[", true},
      {"**", "ab", true},
  };
  for (const auto& c : cases)
    EXPECT_EQ(match_path_pattern(c.pattern, c.path), c.match) << c.pattern << " vs " << c.path;
}

TEST(PathPattern, PathologicalPatternIsFast) {
  std::string p(200, '*');
  p += "b";
  std::string s(5000, 'a');
  EXPECT_FALSE(match_path_pattern(p, s));
}

TEST(RoleMatches, TufPatternsAndHashPrefixes) {
  DelegatedRole r;
  r.paths = std::vector<std::string>{"files/*", "*.txt"};
  EXPECT_TRUE(role_matches(r, *TargetPath::make("files/a"), Dialect::tuf));
  EXPECT_TRUE(role_matches(r, *TargetPath::make("a.txt"), Dialect::tuf));
  EXPECT_FALSE(role_matches(r, *TargetPath::make("other/a.txt"), Dialect::tuf));
  DelegatedRole h;
  std::string hex = sha256_hex("x/y");
  h.path_hash_prefixes = std::vector<std::string>{hex.substr(0, 3)};
  EXPECT_TRUE(role_matches(h, *TargetPath::make("x/y"), Dialect::tuf));
  h.path_hash_prefixes = std::vector<std::string>{hex[0] == '0' ? "1" : "0"};
  EXPECT_FALSE(role_matches(h, *TargetPath::make("x/y"), Dialect::tuf));
  DelegatedRole none;
  EXPECT_FALSE(role_matches(none, *TargetPath::make("a"), Dialect::tuf));
}

TEST(RoleMatches, NotaryPathsArePrefixes) {
  DelegatedRole r;
  r.paths = std::vector<std::string>{""};
  EXPECT_TRUE(role_matches(r, *TargetPath::make("anything"), Dialect::notary));
  r.paths = std::vector<std::string>{"v1"};
  EXPECT_TRUE(role_matches(r, *TargetPath::make("v1.2"), Dialect::notary));
  EXPECT_FALSE(role_matches(r, *TargetPath::make("v2"), Dialect::notary));
}

}  // namespace
}  // namespace docket::tuf
