#include <gtest/gtest.h>

#include "registry/store.h"

using namespace docket::registry;

TEST(Names, RepositoryNamesFollowTheSpecGrammar) {
  for (const char* ok : {"a", "library/ubuntu", "a.b/c_d/e__f/g-h/i--j", "0/1/2", "x9"})
    EXPECT_TRUE(valid_repo_name(ok)) << ok;
  for (const char* bad : {"", "../x", "x/..", "Upper", "a/", "/a", "a//b", "-a", "a-", "a___b",
                          "a..b", "_a", "a/_trust", "a b", "a%2fb", "a:b", "é"})
    EXPECT_FALSE(valid_repo_name(bad)) << bad;
  EXPECT_TRUE(valid_repo_name(std::string(255, 'a')));
  EXPECT_FALSE(valid_repo_name(std::string(256, 'a')));
}

TEST(Names, Tags) {
  for (const char* ok : {"latest", "v1.0.0", "_x", "A-b_c.d", "0"})
    EXPECT_TRUE(valid_tag(ok)) << ok;
  for (const char* bad : {"", ".x", "-x", "a/b", "a:b", "a b", "../x"})
    EXPECT_FALSE(valid_tag(bad)) << bad;
  EXPECT_TRUE(valid_tag(std::string(128, 'a')));
  EXPECT_FALSE(valid_tag(std::string(129, 'a')));
}

TEST(Errors, StatusTableAndBody) {
  EXPECT_EQ(oci_status("BLOB_UNKNOWN"), 404u);
  EXPECT_EQ(oci_status("MANIFEST_BLOB_UNKNOWN"), 400u);
  EXPECT_EQ(oci_status("TOOMANYREQUESTS"), 429u);
  EXPECT_EQ(oci_status("io"), 500u);
  auto body = oci_error_body(oci_error("NAME_INVALID", "bad"));
  EXPECT_EQ(body["errors"][0]["code"], "NAME_INVALID");
  EXPECT_EQ(oci_error_body(docket::Error{docket::Fault::local, "io", "disk"})["errors"][0]["code"],
            "UNKNOWN");
}
