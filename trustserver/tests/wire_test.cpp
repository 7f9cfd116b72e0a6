// Multipart parsing, the Notary error table and the route table, checked against the
// captured exchanges in shared/notary/samples/http.
#include <gtest/gtest.h>

#include <filesystem>

#include "common/file.h"
#include "common/json.h"
#include "trustserver/multipart.h"
#include "trustserver/notary_errors.h"
#include "trustserver/routes.h"

namespace docket::trustserver {
namespace {

const std::filesystem::path kHttp =
    std::filesystem::path(DOCKET_SHARED_DIR) / "notary/samples/http";

struct Captured {
  std::string content_type;
  std::string body;
};

// The request half of a captured .http file: headers, blank line, body up to "=== RESPONSE".
Captured load_request(const std::string& name) {
  auto text = read_file(kHttp / name);
  if (!text) throw Exception(text.error());
  std::string_view t = *text;
  auto resp = t.find("\n\n=== RESPONSE");
  auto req = t.substr(0, resp);
  // The capture writes header lines with LF and bodies verbatim (CRLF inside multipart).
  auto hend = req.find("\n\n");
  std::size_t skip = 2;
  Captured c;
  auto headers = req.substr(0, hend);
  auto ct = headers.find("Content-Type: ");
  if (ct != std::string_view::npos) {
    auto eol = headers.find_first_of("\r\n", ct);
    c.content_type = std::string(headers.substr(ct + 14, eol - ct - 14));
  }
  c.body = std::string(req.substr(hend + skip));
  return c;
}

TEST(Multipart, ParsesTheCapturedInitialPublish) {
  auto c = load_request("post-initial-publish-root-targets-snapshot.http");
  auto b = multipart_boundary(c.content_type);
  ASSERT_TRUE(b) << b.error().describe();
  EXPECT_EQ(*b, "c23241e6d610824202ab27c5dd8f732c85dfecb3be86ca7cc5ea35c09e38");
  auto parts = parse_multipart(c.body, *b);
  ASSERT_TRUE(parts) << parts.error().describe();
  ASSERT_EQ(parts->size(), 3u);
  std::vector<std::string> names;
  for (const auto& p : *parts) {
    EXPECT_EQ(p.name, "files");
    EXPECT_TRUE(p.has_filename);
    names.push_back(p.filename);
    auto j = parse_json(p.body, p.filename, Fault::user);
    ASSERT_TRUE(j) << p.filename << ": " << j.error().describe();
    EXPECT_TRUE(j->contains("signed"));
  }
  EXPECT_EQ(names, (std::vector<std::string>{"snapshot", "root", "targets"}));
}

TEST(Multipart, ParsesTheDelegationAndEmptyUploads) {
  auto d = load_request("post-delegation-targets-releases.http");
  auto parts = parse_multipart(d.body, *multipart_boundary(d.content_type));
  ASSERT_TRUE(parts) << parts.error().describe();
  ASSERT_EQ(parts->size(), 1u);
  EXPECT_EQ((*parts)[0].filename, "targets/releases");

  auto e = load_request("post-empty-multipart-docker-sign.http");
  auto none = parse_multipart(e.body, *multipart_boundary(e.content_type));
  ASSERT_TRUE(none) << none.error().describe();
  EXPECT_TRUE(none->empty());
}

TEST(Multipart, RejectsWhatIsNotMultipart) {
  auto b = multipart_boundary("text/plain");
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().code, "malformed_upload");
  EXPECT_FALSE(multipart_boundary("multipart/form-data"));
  EXPECT_FALSE(multipart_boundary("multipart/form-data; boundary="));
  EXPECT_FALSE(multipart_boundary("multipart/form-data; boundary=\"unterminated"));
  EXPECT_FALSE(multipart_boundary("multipart/form-data; boundary=" + std::string(71, 'a')));
  EXPECT_FALSE(multipart_boundary("multipart/form-data; boundary=a; boundary=b"));
  auto quoted = multipart_boundary("Multipart/Form-Data; boundary=\"a b\\\"c\"");
  ASSERT_TRUE(quoted);
  EXPECT_EQ(*quoted, "a b\"c");
}

TEST(Multipart, RejectsStructuralErrors) {
  EXPECT_EQ(parse_multipart("x", "B").error().code, "malformed_upload");
  // No close delimiter.
  EXPECT_EQ(parse_multipart("--B\r\nContent-Disposition: form-data; name=\"files\"; "
                            "filename=\"root\"\r\n\r\n{}",
                            "B")
                .error()
                .code,
            "malformed_upload");
  // Header block never ends.
  EXPECT_EQ(parse_multipart("--B\r\nContent-Disposition: form-data", "B").error().code,
            "malformed_upload");
  // Garbage after the delimiter.
  EXPECT_EQ(parse_multipart("--Bxx\r\n\r\n\r\n--B--", "B").error().code, "malformed_upload");
  // Not form-data.
  EXPECT_EQ(
      parse_multipart("--B\r\nContent-Disposition: attachment\r\n\r\nx\r\n--B--", "B").error().code,
      "malformed_upload");
}

TEST(Multipart, EnforcesLimits) {
  MultipartLimits lim;
  lim.max_part_bytes = 10;
  auto big = build_multipart({{"root", std::string(11, 'x')}}, "B");
  auto r = parse_multipart(big, "B", lim);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "too_large");
  EXPECT_NE(r.error().message.find("max_part_bytes"), std::string::npos);
  EXPECT_TRUE(parse_multipart(build_multipart({{"root", std::string(10, 'x')}}, "B"), "B", lim));

  lim = {};
  lim.max_parts = 2;
  auto many = build_multipart({{"a", "1"}, {"b", "2"}, {"c", "3"}}, "B");
  auto m = parse_multipart(many, "B", lim);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, "too_large");
}

TEST(Multipart, RoundTripsBuiltBodiesWithAndWithoutFilename) {
  auto body = build_multipart({{"root", "{\"a\":1}"}, {"targets/x", ""}}, "bnd");
  auto parts = parse_multipart(body, "bnd");
  ASSERT_TRUE(parts);
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[0].body, "{\"a\":1}");
  EXPECT_EQ((*parts)[1].filename, "targets/x");
  EXPECT_EQ((*parts)[1].body, "");
  auto nofile = parse_multipart(
      "--B\r\nContent-Disposition: form-data; name=\"files\"\r\n\r\nx\r\n--B--", "B");
  ASSERT_TRUE(nofile);
  ASSERT_EQ(nofile->size(), 1u);
  EXPECT_FALSE((*nofile)[0].has_filename);
}

std::string sample(const std::string& rel) {
  auto t = read_file(std::filesystem::path(DOCKET_SHARED_DIR) / "notary/samples" / rel);
  if (!t) throw Exception(t.error());
  auto s = *t;
  auto nl = s.find('\n');
  return s.substr(0, nl);
}

TEST(NotaryErrors, BodiesMatchTheCapturedOnesByteForByte) {
  auto nf = error_body(HttpError{NotaryCode::metadata_not_found, "{}", ""});
  EXPECT_EQ(nf, sample("remote-signer-ecdsa/error-404.json") + "\n");
  EXPECT_EQ(error_body(HttpError{NotaryCode::malformed_upload, std::nullopt, ""}),
            sample("remote-signer-ecdsa/error-400-malformed-upload.json") + "\n");
  EXPECT_EQ(error_body(HttpError{NotaryCode::version, "{}", ""}),
            sample("remote-signer-ecdsa/error-400-stale-targets.txt") + "\n");
  EXPECT_EQ(error_body(HttpError{NotaryCode::invalid_role, "\"bogus\"", ""}),
            sample("remote-signer-ecdsa/error-400-invalid-role.txt") + "\n");
  EXPECT_EQ(error_body(HttpError{NotaryCode::malformed_json, std::nullopt, ""}),
            sample("remote-signer-ecdsa/error-400-malformed-json.txt") + "\n");
  EXPECT_EQ(error_body(invalid_update(UpdateErrorKind::bad_targets,
                                      "valid signatures did not meet threshold for targets")),
            sample("remote-signer-ecdsa/error-400-invalid-update-badsig.txt") + "\n");
  EXPECT_EQ(error_body(invalid_update(UpdateErrorKind::validation,
                                      "no pre-existing root and no root provided in update.")),
            sample("remote-signer-ecdsa/error-400-no-root.txt") + "\n");
}

TEST(NotaryErrors, BadHierarchyCarriesMissingAndStatusesMatch) {
  auto e = invalid_update(UpdateErrorKind::bad_hierarchy, "no snapshot was included", "snapshot");
  auto j = parse_json(error_body(e), "body", Fault::bug);
  ASSERT_TRUE(j);
  const auto& d = (*j)["errors"][0]["detail"];
  EXPECT_EQ(d["Name"], "ErrBadHierarchy");
  EXPECT_EQ(d["Error"]["Missing"], "snapshot");
  EXPECT_EQ(d["Error"]["Msg"], "no snapshot was included");
  EXPECT_EQ(notary_code_info(NotaryCode::invalid_update).status, 400);
  EXPECT_EQ(notary_code_info(NotaryCode::metadata_not_found).status, 404);
  EXPECT_EQ(notary_code_info(NotaryCode::updating).status, 500);
  EXPECT_EQ(notary_code_info(NotaryCode::unauthorized).status, 401);
  EXPECT_EQ(notary_code_info(NotaryCode::invalid_gun).code, "INVALID_GUN");
  // A hostile, non-UTF-8 message never breaks the body.
  auto bad = error_body(invalid_update(UpdateErrorKind::bad_root, std::string("x\xff\xfe")));
  EXPECT_TRUE(parse_json(bad, "body", Fault::bug));
}

TEST(Routes, ParsesEveryNotaryRoute) {
  EXPECT_EQ(parse_route("/v2/").kind, RouteKind::ping);
  EXPECT_EQ(parse_route("/_notary_server/health").kind, RouteKind::health);
  EXPECT_EQ(parse_route("/metrics").kind, RouteKind::metrics);
  EXPECT_EQ(parse_route("/v2/_trust/changefeed").kind, RouteKind::changefeed_all);

  auto feed = parse_route("/v2/localhost:4443/library/wire/_trust/changefeed");
  EXPECT_EQ(feed.kind, RouteKind::changefeed_gun);
  EXPECT_EQ(feed.gun, "localhost:4443/library/wire");

  auto pub = parse_route("/v2/localhost:4443/library/wire/_trust/tuf/");
  EXPECT_EQ(pub.kind, RouteKind::publish_or_delete);
  EXPECT_EQ(pub.gun, "localhost:4443/library/wire");
  EXPECT_TRUE(pub.invalid_gun.empty());

  auto cur = parse_route("/v2/a/b/_trust/tuf/targets/releases.json");
  EXPECT_EQ(cur.kind, RouteKind::metadata_current);
  EXPECT_EQ(cur.gun, "a/b");
  EXPECT_EQ(cur.role, "targets/releases");

  auto sum = parse_route(
      "/v2/g/_trust/tuf/"
      "snapshot.A0f8b99e38be002549d9a7209784f6d20876a78f00a2b939eb1ad5fd526ceffa.json");
  EXPECT_EQ(sum.kind, RouteKind::metadata_checksum);
  EXPECT_EQ(sum.role, "snapshot");
  EXPECT_EQ(sum.checksum, "a0f8b99e38be002549d9a7209784f6d20876a78f00a2b939eb1ad5fd526ceffa");

  auto ver = parse_route("/v2/g/_trust/tuf/5.root.json");
  EXPECT_EQ(ver.kind, RouteKind::metadata_version);
  EXPECT_EQ(ver.version, 5);
  EXPECT_EQ(ver.role, "root");
  auto dver = parse_route("/v2/g/_trust/tuf/12.targets/a/b.json");
  EXPECT_EQ(dver.kind, RouteKind::metadata_version);
  EXPECT_EQ(dver.role, "targets/a/b");

  auto key = parse_route("/v2/g/_trust/tuf/timestamp.key");
  EXPECT_EQ(key.kind, RouteKind::key);
  EXPECT_EQ(key.role, "timestamp");
  EXPECT_EQ(parse_route("/v2/g/_trust/tuf/root.key").kind, RouteKind::not_found);
  EXPECT_EQ(parse_route("/v2/g/_trust/tuf/bogus.json").kind, RouteKind::not_found);
  EXPECT_EQ(parse_route("/v2/g/_trust/tuf/root.abc.json").kind, RouteKind::not_found);
  EXPECT_EQ(parse_route("/v2/g*x/_trust/tuf/root.json").kind, RouteKind::not_found);
  EXPECT_EQ(parse_route("/v3/g/_trust/tuf/root.json").kind, RouteKind::not_found);
  EXPECT_EQ(parse_route("/v2/_trust/tuf/root.json").kind, RouteKind::not_found);
}

TEST(Routes, FlagsInvalidGunsAndRoles) {
  for (const char* p :
       {"/v2/a/../b/_trust/tuf/root.json", "/v2/../_trust/tuf/", "/v2/a//b/_trust/tuf/",
        "/v2/a/./b/_trust/changefeed", "/v2/a b/_trust/tuf/root.json"}) {
    auto r = parse_route(p);
    EXPECT_NE(r.kind, RouteKind::not_found) << p;
    EXPECT_FALSE(r.invalid_gun.empty()) << p;
  }
  auto up = parse_route("/v2/g/_trust/tuf/targets/UPPER.json");
  EXPECT_EQ(up.kind, RouteKind::metadata_current);
  EXPECT_EQ(up.invalid_role, "targets/UPPER");
}

TEST(Roles, ValidRoleAndParents) {
  for (const char* r :
       {"root", "targets", "snapshot", "timestamp", "targets/releases", "targets/a/b-c_1"})
    EXPECT_TRUE(valid_role(r)) << r;
  for (const char* r : {"", "bogus", "targets/", "targets//a", "targets/../x", "targets/A",
                        "targets/a.b", "Targets/x", "root/x"})
    EXPECT_FALSE(valid_role(r)) << r;
  EXPECT_FALSE(valid_role("targets/" + std::string(250, 'a')));
  EXPECT_EQ(parent_role("targets"), "root");
  EXPECT_EQ(parent_role("targets/a"), "targets");
  EXPECT_EQ(parent_role("targets/a/b"), "targets/a");
}

TEST(Guns, ValidGun) {
  EXPECT_TRUE(valid_gun("docker.io/library/app"));
  EXPECT_TRUE(valid_gun("localhost:4443/x"));
  for (std::string g : {std::string(), std::string("/a"), std::string("a/"), std::string("a//b"),
                        std::string(".."), std::string("a/../b"), std::string("a/./b"),
                        std::string("a*b"), std::string("a\nb"), std::string(256, 'a')})
    EXPECT_FALSE(valid_gun(g)) << g;
}

}  // namespace
}  // namespace docket::trustserver
