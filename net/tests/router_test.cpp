#include "net/router.h"

#include <gtest/gtest.h>

using namespace docket::net;

TEST(Router, MultiSegmentParamsAndSpecificity) {
  Router r;
  r.add(http::verb::get, "/v2/", "base", [](Request&, Response&) {});
  r.add(http::verb::get, "/v2/{name...}/blobs/{digest}", "blob", [](Request&, Response&) {});
  r.add(http::verb::get, "/v2/{name...}/blobs/uploads/{uuid}", "upload",
        [](Request&, Response&) {});
  r.add(http::verb::get, "/v2/{gun...}/_trust/tuf/{file}", "trust", [](Request&, Response&) {});
  r.add(http::verb::put, "/v2/{name...}/manifests/{ref}", "mput", [](Request&, Response&) {});

  auto m = r.match(http::verb::get, "/v2/");
  ASSERT_TRUE(m.route);
  EXPECT_EQ(m.route->name, "base");
  EXPECT_FALSE(r.match(http::verb::get, "/v2").route);

  m = r.match(http::verb::get, "/v2/library/ubuntu/blobs/sha256:abc");
  ASSERT_TRUE(m.route);
  EXPECT_EQ(m.route->name, "blob");
  EXPECT_EQ(m.params["name"], "library/ubuntu");
  EXPECT_EQ(m.params["digest"], "sha256:abc");

  m = r.match(http::verb::get, "/v2/a/b/c/blobs/uploads/u-1");
  ASSERT_TRUE(m.route);
  EXPECT_EQ(m.route->name, "upload");
  EXPECT_EQ(m.params["name"], "a/b/c");

  m = r.match(http::verb::get, "/v2/docker.io/x/_trust/tuf/root.json");
  ASSERT_TRUE(m.route);
  EXPECT_EQ(m.route->name, "trust");
  EXPECT_EQ(m.params["gun"], "docker.io/x");
  EXPECT_EQ(m.params["file"], "root.json");

  // Empty segments never match a parameter.
  EXPECT_FALSE(r.match(http::verb::get, "/v2//blobs/sha256:abc").route);
  EXPECT_FALSE(r.match(http::verb::get, "/v2/x/blobs/").route);
}

TEST(Router, MethodNotAllowedListsAllowedAndHeadFallsBackToGet) {
  Router r;
  r.add(http::verb::put, "/v2/{name...}/manifests/{ref}", "mput", [](Request&, Response&) {});
  r.add(http::verb::get, "/v2/{name...}/manifests/{ref}", "mget", [](Request&, Response&) {});
  auto m = r.match(http::verb::post, "/v2/x/manifests/latest");
  EXPECT_FALSE(m.route);
  ASSERT_EQ(m.allowed.size(), 2u);
  m = r.match(http::verb::head, "/v2/x/manifests/latest");
  ASSERT_TRUE(m.route);
  EXPECT_EQ(m.route->name, "mget");
}

TEST(Router, RejectsMalformedPatterns) {
  Router r;
  EXPECT_THROW(r.add(http::verb::get, "v2/x", "n", [](Request&, Response&) {}), docket::Exception);
  EXPECT_THROW(r.add(http::verb::get, "/v2/{}", "n", [](Request&, Response&) {}),
               docket::Exception);
  EXPECT_THROW(r.add(http::verb::get, "/v2/a{b}", "n", [](Request&, Response&) {}),
               docket::Exception);
}

TEST(Query, DecodesPercentAndPlusAndKeepsOrder) {
  auto q = parse_query("n=10&last=a%2Fb&tag=x&tag=y&flag&e=a+b&bad=%zz");
  ASSERT_EQ(q.size(), 7u);
  EXPECT_EQ(q[1].second, "a/b");
  EXPECT_EQ(q[2].second, "x");
  EXPECT_EQ(q[3].second, "y");
  EXPECT_EQ(q[4].first, "flag");
  EXPECT_EQ(q[5].second, "a b");
  EXPECT_EQ(q[6].second, "%zz");
  Request req;
  req.query = q;
  EXPECT_EQ(req.query_params("tag").size(), 2u);
  EXPECT_EQ(*req.query_param("n"), "10");
  EXPECT_FALSE(req.query_param("nope"));
}
