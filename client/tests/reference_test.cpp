#include "client/reference.h"

#include <gtest/gtest.h>

using docket::client::Reference;

namespace {
std::string norm(std::string_view s) {
  auto r = Reference::parse(s);
  EXPECT_TRUE(r) << s << ": " << (r ? "" : r.error().describe());
  return r ? r->str() : "";
}
std::string err(std::string_view s) {
  auto r = Reference::parse(s);
  EXPECT_FALSE(r) << s << " parsed as " << (r ? r->str() : "");
  if (r) return "";
  EXPECT_EQ(r.error().fault, docket::Fault::user);
  EXPECT_EQ(r.error().code, "bad_reference");
  return r.error().message;
}
}  // namespace

TEST(Reference, NormalisesLikeDocker) {
  EXPECT_EQ(norm("nginx"), "docker.io/library/nginx");
  EXPECT_EQ(Reference::parse("nginx")->with_default_tag().str(), "docker.io/library/nginx:latest");
  EXPECT_EQ(norm("nginx:1.25"), "docker.io/library/nginx:1.25");
  EXPECT_EQ(norm("user/app"), "docker.io/user/app");
  EXPECT_EQ(norm("index.docker.io/nginx"), "docker.io/library/nginx");
  EXPECT_EQ(norm("docker.io/nginx"), "docker.io/library/nginx");
  EXPECT_EQ(norm("localhost/app"), "localhost/app");
  EXPECT_EQ(norm("localhost:5000/a/b/c:v1"), "localhost:5000/a/b/c:v1");
  EXPECT_EQ(norm("127.0.0.1:5000/app@sha256:" + std::string(64, 'a')),
            "127.0.0.1:5000/app@sha256:" + std::string(64, 'a'));
  EXPECT_EQ(norm("h.example/a:t@sha256:" + std::string(64, 'b')),
            "h.example/a:t@sha256:" + std::string(64, 'b'));
  EXPECT_EQ(norm("[::1]:5000/app:t"), "[::1]:5000/app:t");
  // No '/' after host:port: Docker reads "localhost:5000" as repository localhost, tag 5000.
  EXPECT_EQ(norm("localhost:5000"), "docker.io/library/localhost:5000");
  EXPECT_EQ(norm("a__b-c---e/f_g.h"), "docker.io/a__b-c---e/f_g.h");
  // A '.' in the first component makes it a host, which then must be a valid one.
  EXPECT_FALSE(Reference::parse("a__b.c/f"));
  // An upper-case first component is a host (it cannot be a repository component).
  EXPECT_EQ(norm("Example/app"), "Example/app");
}

TEST(Reference, FamiliarForm) {
  EXPECT_EQ(Reference::parse("docker.io/library/nginx:latest")->familiar(), "nginx:latest");
  EXPECT_EQ(Reference::parse("docker.io/user/app")->familiar(), "user/app");
  EXPECT_EQ(Reference::parse("docker.io/library/a/b")->familiar(), "library/a/b");
  EXPECT_EQ(Reference::parse("h:1/x:y")->familiar(), "h:1/x:y");
}

TEST(Reference, Parts) {
  auto r = *Reference::parse("localhost:5000/team/app:v2");
  EXPECT_EQ(r.domain(), "localhost:5000");
  EXPECT_EQ(r.path(), "team/app");
  EXPECT_EQ(r.repository(), "localhost:5000/team/app");
  EXPECT_EQ(*r.tag(), "v2");
  EXPECT_FALSE(r.digest());
  EXPECT_EQ(r.manifest_reference(), "v2");
  auto d = r.with_digest(docket::Digest::of("x"));
  EXPECT_EQ(d.manifest_reference(), docket::Digest::of("x").str());
  EXPECT_EQ(d.without_tag_or_digest().str(), "localhost:5000/team/app");
  EXPECT_EQ(docket::client::registry_api_host("docker.io"), "registry-1.docker.io");
}

TEST(Reference, RejectsWithClearErrors) {
  EXPECT_NE(err("").find("empty"), std::string::npos);
  EXPECT_NE(err("NGINX").find("must be lowercase"), std::string::npos);
  EXPECT_NE(err("localhost/App").find("must be lowercase"), std::string::npos);
  EXPECT_NE(err(std::string(64, 'a')).find("64-byte hexadecimal"), std::string::npos);
  EXPECT_NE(err("nginx:-bad").find("tag \"-bad\""), std::string::npos);
  EXPECT_NE(err("nginx:" + std::string(129, 'a')).find("1-128"), std::string::npos);
  EXPECT_NE(err("nginx@sha256:abc").find("digest"), std::string::npos);
  EXPECT_NE(err("nginx@md5:" + std::string(32, 'a')).find("digest"), std::string::npos);
  EXPECT_NE(err("a//b").find("component \"\""), std::string::npos);
  EXPECT_NE(err("a/b-").find("component \"b-\""), std::string::npos);
  EXPECT_NE(err("a/.b").find("component"), std::string::npos);
  EXPECT_NE(err("-h.com/a").find("registry host"), std::string::npos);
  EXPECT_NE(err("h.com:99999x/a").find("registry host"), std::string::npos);
  EXPECT_NE(err("h.com:/a").find("registry host"), std::string::npos);
  EXPECT_NE(err("a/" + std::string(260, 'b')).find("longer than 255"), std::string::npos);
  EXPECT_NE(err("a b").find("component"), std::string::npos);
  EXPECT_FALSE(Reference::parse_repository("nginx:latest"));
  EXPECT_TRUE(Reference::parse_repository("nginx"));
}
