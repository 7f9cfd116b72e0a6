// Missing aggregate fields default to empty here; the warning is noise for test requests.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
// Every OCI endpoint and error path over real HTTP against the real filesystem driver.
#include <gtest/gtest.h>

#include <set>

#include "common/digest.h"
#include "common/file.h"
#include "common/json.h"
#include "registry/tests/random_bytes.h"
#include "registry/tests/test_client.h"

using namespace docket;
using namespace docket::registry;
using namespace docket::registry::testing;

namespace {

std::string upload_path(const Resp& r) {
  return r.header("location");
}

class RegistryHttp : public ::testing::Test {
 protected:
  RegistryServer reg;
};

TEST_F(RegistryHttp, BaseEndpointAndApiVersionHeader) {
  auto r = reg.get("/v2/");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.header("docker-distribution-api-version"), "registry/2.0");
  auto nf = reg.get("/v2/x/unknown-endpoint");
  EXPECT_EQ(nf.status, 404u);
}

TEST_F(RegistryHttp, MonolithicPushThenGetHeadAndRange) {
  std::string blob = "0123456789";
  std::string d = Digest::of(blob).str();
  auto r = reg.send({"POST", "/v2/lib/app/blobs/uploads/?digest=" + d, blob});
  ASSERT_EQ(r.status, 201u) << r.body;
  EXPECT_EQ(r.header("location"), "/v2/lib/app/blobs/" + d);
  EXPECT_EQ(r.header("docker-content-digest"), d);
  auto g = reg.get("/v2/lib/app/blobs/" + d);
  EXPECT_EQ(g.status, 200u);
  EXPECT_EQ(g.body, blob);
  EXPECT_EQ(g.header("content-type"), "application/octet-stream");
  EXPECT_EQ(g.header("docker-content-digest"), d);
  auto h = reg.send({"HEAD", "/v2/lib/app/blobs/" + d});
  EXPECT_EQ(h.status, 200u);
  EXPECT_EQ(h.header("content-length"), "10");
  EXPECT_TRUE(h.body.empty());
  auto p = reg.send({"GET", "/v2/lib/app/blobs/" + d, "", {{"Range", "bytes=2-4"}}});
  EXPECT_EQ(p.status, 206u);
  EXPECT_EQ(p.body, "234");
  EXPECT_EQ(p.header("content-range"), "bytes 2-4/10");
  p = reg.send({"GET", "/v2/lib/app/blobs/" + d, "", {{"Range", "bytes=-3"}}});
  EXPECT_EQ(p.body, "789");
  p = reg.send({"GET", "/v2/lib/app/blobs/" + d, "", {{"Range", "bytes=7-"}}});
  EXPECT_EQ(p.body, "789");
  p = reg.send({"GET", "/v2/lib/app/blobs/" + d, "", {{"Range", "bytes=10-20"}}});
  EXPECT_EQ(p.status, 416u);
  EXPECT_EQ(p.header("content-range"), "bytes */10");
  // Not visible from another repository.
  EXPECT_EQ(reg.get("/v2/other/blobs/" + d).error_code(), "BLOB_UNKNOWN");
}

TEST_F(RegistryHttp, BadDigestsAreRefused) {
  auto r =
      reg.send({"POST", "/v2/a/blobs/uploads/?digest=" + Digest::of("other").str(), "content"});
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(r.error_code(), "DIGEST_INVALID");
  r = reg.send({"POST", "/v2/a/blobs/uploads/?digest=sha256:xyz", "content"});
  EXPECT_EQ(r.error_code(), "DIGEST_INVALID");
  EXPECT_EQ(reg.get("/v2/a/blobs/sha256:1234").error_code(), "DIGEST_INVALID");
  EXPECT_EQ(reg.get("/v2/a/blobs/md5:1234").status, 400u);
  EXPECT_EQ(reg.get("/v2/a/blobs/" + Digest::of("nothing").str()).status, 404u);
  // The failed upload left no visible blob.
  EXPECT_EQ(reg.get("/v2/a/blobs/" + Digest::of("content").str()).error_code(), "BLOB_UNKNOWN");
}

TEST_F(RegistryHttp, InvalidNamesAreRefused) {
  for (std::string name : {"UPPER", "a/../b", "..", "a__-b", "x/_trust"}) {
    auto r = reg.send({"POST", "/v2/" + name + "/blobs/uploads/"});
    EXPECT_EQ(r.status, 400u) << name;
    EXPECT_EQ(r.error_code(), "NAME_INVALID") << name;
    EXPECT_EQ(reg.get("/v2/" + name + "/tags/list").error_code(), "NAME_INVALID") << name;
  }
  EXPECT_EQ(reg.get("/v2/" + std::string(256, 'a') + "/tags/list").error_code(), "NAME_INVALID");
}

TEST_F(RegistryHttp, ChunkedUploadWithContentRangeStatusAndResume) {
  std::string blob(300000, 'q');
  for (std::size_t i = 0; i < blob.size(); ++i) blob[i] = char('a' + i % 23);
  auto s = reg.send({"POST", "/v2/r/blobs/uploads/"});
  ASSERT_EQ(s.status, 202u);
  EXPECT_EQ(s.header("range"), "0-0");
  EXPECT_FALSE(s.header("docker-upload-uuid").empty());
  std::string loc = upload_path(s);
  auto p1 =
      reg.send({"PATCH",
                loc,
                blob.substr(0, 100000),
                {{"Content-Range", "0-99999"}, {"Content-Type", "application/octet-stream"}}});
  ASSERT_EQ(p1.status, 202u) << p1.body;
  EXPECT_EQ(p1.header("range"), "0-99999");
  // Out of order chunk: 416 and the upload is unchanged.
  auto bad = reg.send({"PATCH",
                       p1.header("location"),
                       blob.substr(200000, 10),
                       {{"Content-Range", "200000-200009"}}});
  EXPECT_EQ(bad.status, 416u);
  EXPECT_EQ(bad.header("range"), "0-99999");
  // Content-Range and body length disagree.
  bad = reg.send({"PATCH", loc, blob.substr(100000, 10), {{"Content-Range", "100000-100019"}}});
  EXPECT_EQ(bad.status, 416u);
  bad = reg.send({"PATCH", loc, "x", {{"Content-Range", "garbage"}}});
  EXPECT_EQ(bad.status, 400u);
  EXPECT_EQ(bad.error_code(), "BLOB_UPLOAD_INVALID");
  auto st = reg.get(loc);
  EXPECT_EQ(st.status, 204u);
  EXPECT_EQ(st.header("range"), "0-99999");
  // Streamed (chunked transfer coding, no Content-Range) PATCH as real clients send.
  auto p2 = reg.send({"PATCH", loc, blob.substr(100000, 150000), {}, true});
  ASSERT_EQ(p2.status, 202u) << p2.body;
  EXPECT_EQ(p2.header("range"), "0-249999");
  // Final chunk with the PUT.
  auto put = reg.send({"PUT", loc + "?digest=" + Digest::of(blob).str(), blob.substr(250000)});
  ASSERT_EQ(put.status, 201u) << put.body;
  EXPECT_EQ(reg.get("/v2/r/blobs/" + Digest::of(blob).str()).body, blob);
  // The session is gone once committed.
  EXPECT_EQ(reg.get(loc).error_code(), "BLOB_UPLOAD_UNKNOWN");
  EXPECT_EQ(reg.send({"PATCH", loc, "x"}).error_code(), "BLOB_UPLOAD_UNKNOWN");
}

// Bodies of several 1 MiB pieces: each piece is hashed in the background while the next is
// received into the other buffer, so a piece reused too early or hashed out of order shows
// up as a digest mismatch here.
TEST_F(RegistryHttp, MultiMegabyteUploadsInEveryMode) {
  std::string blob =
      docket::registry::testing::random_bytes(5 * 1024 * 1024 + 12345, 0x9e3779b97f4a7c15ull);
  std::string d = Digest::of(blob).str();
  auto mono = reg.send({"POST", "/v2/big/mono/blobs/uploads/?digest=" + d, blob});
  ASSERT_EQ(mono.status, 201u) << mono.body;
  EXPECT_EQ(reg.get("/v2/big/mono/blobs/" + d).body, blob);

  for (bool chunked : {false, true}) {
    SCOPED_TRACE(chunked ? "chunked transfer coding" : "Content-Length");
    std::string repo = chunked ? "big/te" : "big/cl";
    auto s = reg.send({"POST", "/v2/" + repo + "/blobs/uploads/"});
    ASSERT_EQ(s.status, 202u);
    std::string loc = upload_path(s);
    const std::size_t cut = 3 * 1024 * 1024 + 7;
    auto p = reg.send({"PATCH", loc, blob.substr(0, cut), {}, chunked});
    ASSERT_EQ(p.status, 202u) << p.body;
    EXPECT_EQ(p.header("range"), "0-" + std::to_string(cut - 1));
    // A wrong digest is refused and the upload stays resumable.
    auto wrong = reg.send(
        {"PUT", loc + "?digest=" + Digest::of("not it").str(), blob.substr(cut), {}, chunked});
    EXPECT_EQ(wrong.error_code(), "DIGEST_INVALID");
    auto st = reg.get(loc);
    ASSERT_EQ(st.status, 204u);
    EXPECT_EQ(st.header("range"), "0-" + std::to_string(blob.size() - 1));
    auto put = reg.send({"PUT", loc + "?digest=" + d});
    ASSERT_EQ(put.status, 201u) << put.body;
    EXPECT_EQ(reg.get("/v2/" + repo + "/blobs/" + d).body, blob);
  }
}

// A blob pushed again (two CI jobs pushing one base layer): the second upload's bytes are
// discarded, not synced, and its commit still answers 201 with the stored blob made
// durable; the upload is then unknown and leaves nothing under the repository or in the
// storage root but the blob and the links (the discarded data is deleted in the background).
TEST_F(RegistryHttp, PushOfAStoredBlobAnswers201AndLeavesNoUploadBehind) {
  std::string blob =
      docket::registry::testing::random_bytes(6 * 1024 * 1024 + 5, 0x5851f42d4c957f2dull);
  std::string d = Digest::of(blob).str();
  ASSERT_EQ(reg.push_blob("dup/one", blob), d);
  auto s = reg.send({"POST", "/v2/dup/two/blobs/uploads/"});
  ASSERT_EQ(s.status, 202u);
  std::string loc = upload_path(s);
  ASSERT_EQ(reg.send({"PATCH", loc, blob.substr(0, 5 * 1024 * 1024)}).status, 202u);
  auto put = reg.send({"PUT", loc + "?digest=" + d, blob.substr(5 * 1024 * 1024)});
  ASSERT_EQ(put.status, 201u) << put.body;
  EXPECT_EQ(put.header("docker-content-digest"), d);
  EXPECT_EQ(reg.get(loc).error_code(), "BLOB_UPLOAD_UNKNOWN");
  EXPECT_EQ(reg.get("/v2/dup/two/blobs/" + d).body, blob);
  EXPECT_EQ(reg.get("/v2/dup/one/blobs/" + d).body, blob);
  namespace fs = std::filesystem;
  EXPECT_FALSE(fs::exists(reg.root / "repositories/dup/two/_uploads") &&
               !fs::is_empty(reg.root / "repositories/dup/two/_uploads"));
  // A wrong digest for a stored blob's bytes is still refused, and the upload kept.
  auto s2 = reg.send({"POST", "/v2/dup/three/blobs/uploads/"});
  std::string loc2 = upload_path(s2);
  ASSERT_EQ(reg.send({"PATCH", loc2, blob}).status, 202u);
  EXPECT_EQ(reg.send({"PUT", loc2 + "?digest=" + Digest::of("other").str()}).error_code(),
            "DIGEST_INVALID");
  EXPECT_EQ(reg.get(loc2).status, 204u);
  ASSERT_EQ(reg.send({"PUT", loc2 + "?digest=" + d}).status, 201u);
  EXPECT_EQ(reg.get("/v2/dup/three/blobs/" + d).body, blob);
}

// A final PUT with a multi-megabyte body (partly staged in the driver's O_DIRECT buffers
// when its body ends), committed with another algorithm than the session hashes with: the
// server rereads the upload file, which must hold that body too.
TEST_F(RegistryHttp, LargeFinalChunkCommittedWithAnotherAlgorithm) {
  std::string blob =
      docket::registry::testing::random_bytes(9 * 1024 * 1024 + 77, 0x2545f4914f6cdd1dull);
  const std::string d512 = Digest::of(blob, HashAlgorithm::sha512).str();
  auto s = reg.send({"POST", "/v2/big/mixed/blobs/uploads/"});  // hashes sha256
  ASSERT_EQ(s.status, 202u);
  std::string loc = upload_path(s);
  const std::size_t cut = 4 * 1024 * 1024;
  ASSERT_EQ(reg.send({"PATCH", loc, blob.substr(0, cut)}).status, 202u);
  auto put = reg.send({"PUT", loc + "?digest=" + d512, blob.substr(cut)});
  ASSERT_EQ(put.status, 201u) << put.body;
  EXPECT_EQ(put.header("docker-content-digest"), d512);
  EXPECT_EQ(reg.get("/v2/big/mixed/blobs/" + d512).body, blob);
}

TEST_F(RegistryHttp, PutWithWrongDigestKeepsUploadAndUnknownUploads) {
  auto s = reg.send({"POST", "/v2/r/blobs/uploads/"});
  std::string loc = upload_path(s);
  ASSERT_EQ(reg.send({"PATCH", loc, "abc"}).status, 202u);
  auto put = reg.send({"PUT", loc + "?digest=" + Digest::of("xyz").str()});
  EXPECT_EQ(put.status, 400u);
  EXPECT_EQ(put.error_code(), "DIGEST_INVALID");
  put = reg.send({"PUT", loc});
  EXPECT_EQ(put.error_code(), "DIGEST_INVALID");
  // Still resumable with the right digest.
  put = reg.send({"PUT", loc + "?digest=" + Digest::of("abc").str()});
  EXPECT_EQ(put.status, 201u) << put.body;
  EXPECT_EQ(reg.get("/v2/r/blobs/uploads/00000000-0000-4000-8000-000000000000").error_code(),
            "BLOB_UPLOAD_UNKNOWN");
  EXPECT_EQ(reg.get("/v2/r/blobs/uploads/..%2f..%2fetc").error_code(), "BLOB_UPLOAD_UNKNOWN");
}

TEST_F(RegistryHttp, CancelUpload) {
  auto s = reg.send({"POST", "/v2/r/blobs/uploads/"});
  std::string loc = upload_path(s);
  EXPECT_EQ(reg.send({"DELETE", loc}).status, 204u);
  EXPECT_EQ(reg.get(loc).status, 404u);
  EXPECT_EQ(reg.send({"DELETE", loc}).error_code(), "BLOB_UPLOAD_UNKNOWN");
}

TEST_F(RegistryHttp, UploadResumesAfterServerRestart) {
  auto root = std::filesystem::temp_directory_path() / ("docket-restart-" + random_hex_id());
  std::string loc;
  {
    RegistryServer a({}, root);
    loc = upload_path(a.send({"POST", "/v2/r/blobs/uploads/"}));
    ASSERT_EQ(a.send({"PATCH", loc, "first-half|"}).status, 202u);
  }
  {
    RegistryServer b({}, root);
    auto st = b.get(loc);
    EXPECT_EQ(st.status, 204u);
    EXPECT_EQ(st.header("range"), "0-10");
    ASSERT_EQ(b.send({"PATCH", loc, "second-half", {{"Content-Range", "11-21"}}}).status, 202u);
    auto put = b.send({"PUT", loc + "?digest=" + Digest::of("first-half|second-half").str()});
    EXPECT_EQ(put.status, 201u) << put.body;
  }
  std::filesystem::remove_all(root);
}

TEST_F(RegistryHttp, CrossRepositoryMount) {
  std::string d = reg.push_blob("src", "shared layer");
  auto m = reg.send({"POST", "/v2/dst/blobs/uploads/?mount=" + d + "&from=src"});
  EXPECT_EQ(m.status, 201u);
  EXPECT_EQ(m.header("docker-content-digest"), d);
  EXPECT_EQ(reg.get("/v2/dst/blobs/" + d).body, "shared layer");
  // Not mountable: a normal upload session instead.
  auto n =
      reg.send({"POST", "/v2/dst2/blobs/uploads/?mount=" + Digest::of("nope").str() + "&from=src"});
  EXPECT_EQ(n.status, 202u);
  EXPECT_FALSE(n.header("location").empty());
}

TEST_F(RegistryHttp, ManifestPushPullVerbatimAndTags) {
  std::string d = reg.push_image("app", "v1", {"layer-one", "layer-two"});
  auto byTag = reg.get("/v2/app/manifests/v1");
  ASSERT_EQ(byTag.status, 200u);
  EXPECT_EQ(byTag.header("content-type"), "application/vnd.oci.image.manifest.v1+json");
  EXPECT_EQ(byTag.header("docker-content-digest"), d);
  EXPECT_EQ(Digest::of(byTag.body).str(), d);  // exact bytes, pretty-printed as pushed
  EXPECT_NE(byTag.body.find('\n'), std::string::npos);
  auto byDigest = reg.get("/v2/app/manifests/" + d);
  EXPECT_EQ(byDigest.body, byTag.body);
  auto head = reg.send({"HEAD", "/v2/app/manifests/v1"});
  EXPECT_EQ(head.header("content-length"), std::to_string(byTag.body.size()));
  // Multi-tag PUT by digest.
  auto put = reg.send({"PUT",
                       "/v2/app/manifests/" + d + "?tag=a&tag=b",
                       byTag.body,
                       {{"Content-Type", "application/vnd.oci.image.manifest.v1+json"}}});
  EXPECT_EQ(put.status, 201u);
  EXPECT_EQ(put.headers.count("oci-tag"), 2u);
  auto tags = Json::parse(reg.get("/v2/app/tags/list").body);
  EXPECT_EQ(tags["name"], "app");
  EXPECT_EQ(tags["tags"], Json::parse(R"(["a","b","v1"])"));
  EXPECT_EQ(reg.get("/v2/app/manifests/nope").error_code(), "MANIFEST_UNKNOWN");
  EXPECT_EQ(reg.get("/v2/app/manifests/" + Digest::of("x").str()).error_code(), "MANIFEST_UNKNOWN");
  EXPECT_EQ(reg.get("/v2/nothing/tags/list").error_code(), "NAME_UNKNOWN");
}

TEST_F(RegistryHttp, ManifestErrors) {
  std::string ct = "application/vnd.oci.image.manifest.v1+json";
  auto put = [&](const std::string& ref, const std::string& body, std::string type = "") {
    return reg.send(
        {"PUT", "/v2/m/manifests/" + ref, body, {{"Content-Type", type.empty() ? ct : type}}});
  };
  std::string missing = Digest::of("not pushed").str();
  std::string cfg = reg.push_blob("m", "{}");
  Json m = {
      {"schemaVersion", 2},
      {"mediaType", ct},
      {"config",
       {{"mediaType", "application/vnd.oci.image.config.v1+json"}, {"digest", cfg}, {"size", 2}}},
      {"layers", Json::array({{{"mediaType", "application/vnd.oci.image.layer.v1.tar"},
                               {"digest", missing},
                               {"size", 10}}})}};
  auto r = put("t", m.dump());
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(r.error_code(), "MANIFEST_BLOB_UNKNOWN");
  EXPECT_EQ(put("t", "{not json").error_code(), "MANIFEST_INVALID");
  EXPECT_EQ(put("t", R"({"schemaVersion":1})").error_code(), "MANIFEST_INVALID");
  EXPECT_EQ(put("t", R"({"schemaVersion":2,"mediaType":"application/x-unknown"})",
                "application/x-unknown")
                .error_code(),
            "MANIFEST_INVALID");
  EXPECT_EQ(put("bad:tag!", m.dump()).error_code(), "DIGEST_INVALID");
  EXPECT_EQ(put("-bad", m.dump()).error_code(), "TAG_INVALID");
  m["layers"] = Json::array();
  EXPECT_EQ(put(Digest::of("other").str(), m.dump()).error_code(), "DIGEST_INVALID");
  // Content-Type disagreeing with mediaType.
  EXPECT_EQ(put("t", m.dump(), "application/vnd.oci.image.index.v1+json").error_code(),
            "MANIFEST_INVALID");
  // Index whose child manifest is missing.
  Json idx = {{"schemaVersion", 2},
              {"mediaType", "application/vnd.oci.image.index.v1+json"},
              {"manifests", Json::array({{{"mediaType", ct}, {"digest", missing}, {"size", 5}}})}};
  EXPECT_EQ(put("i", idx.dump(), "application/vnd.oci.image.index.v1+json").error_code(),
            "MANIFEST_BLOB_UNKNOWN");
  EXPECT_EQ(put("t", m.dump()).status, 201u);
  // A descriptor whose size disagrees with the stored content would fail every client's
  // length check at pull time: refused, for blobs and for child manifests alike.
  Json wrong = m;
  wrong["config"]["size"] = 3;
  r = put("w", wrong.dump());
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(r.error_code(), "MANIFEST_INVALID");
  EXPECT_NE(r.body.find("declared as 3 bytes"), std::string::npos) << r.body;
  const std::string child = Digest::of(m.dump()).str();
  idx["manifests"] = Json::array({{{"mediaType", ct}, {"digest", child}, {"size", 1}}});
  EXPECT_EQ(put("i", idx.dump(), "application/vnd.oci.image.index.v1+json").error_code(),
            "MANIFEST_INVALID");
  idx["manifests"][0]["size"] = m.dump().size();
  EXPECT_EQ(put("i", idx.dump(), "application/vnd.oci.image.index.v1+json").status, 201u);
  EXPECT_EQ(reg.get("/v2/m/manifests/w").error_code(), "MANIFEST_UNKNOWN");
}

TEST(RegistryHttpLimits, OversizeManifestGets413) {
  HttpOptions o;
  o.max_manifest_bytes = 1000;
  RegistryServer reg(o);
  auto r = reg.send({"PUT",
                     "/v2/m/manifests/t",
                     std::string(5000, ' '),
                     {{"Content-Type", "application/vnd.oci.image.manifest.v1+json"}}});
  EXPECT_EQ(r.status, 413u);
  EXPECT_EQ(r.error_code(), "MANIFEST_INVALID");
}

TEST_F(RegistryHttp, IndexAndDockerSchema2) {
  std::string a = reg.push_image("multi", "amd64", {"A"});
  std::string b = reg.push_image("multi", "arm64", {"B"});
  auto ma = reg.get("/v2/multi/manifests/amd64");
  Json idx = {
      {"schemaVersion", 2},
      {"mediaType", "application/vnd.docker.distribution.manifest.list.v2+json"},
      {"manifests", Json::array({{{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                                  {"digest", a},
                                  {"size", ma.body.size()}},
                                 {{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                                  {"digest", b},
                                  {"size", reg.get("/v2/multi/manifests/arm64").body.size()}}})}};
  auto r =
      reg.send({"PUT",
                "/v2/multi/manifests/latest",
                idx.dump(),
                {{"Content-Type", "application/vnd.docker.distribution.manifest.list.v2+json"}}});
  EXPECT_EQ(r.status, 201u) << r.body;
  EXPECT_EQ(reg.get("/v2/multi/manifests/latest").header("content-type"),
            "application/vnd.docker.distribution.manifest.list.v2+json");
  // Docker schema2 image manifest.
  std::string cfg = reg.push_blob("d2", "{\"os\":\"linux\"}");
  std::string layer = reg.push_blob("d2", "tar-gz-bytes");
  Json m = {
      {"schemaVersion", 2},
      {"mediaType", "application/vnd.docker.distribution.manifest.v2+json"},
      {"config",
       {{"mediaType", "application/vnd.docker.container.image.v1+json"},
        {"digest", cfg},
        {"size", 14}}},
      {"layers", Json::array({{{"mediaType", "application/vnd.docker.image.rootfs.diff.tar.gzip"},
                               {"digest", layer},
                               {"size", 12}}})}};
  r = reg.send({"PUT",
                "/v2/d2/manifests/v1",
                m.dump(),
                {{"Content-Type", "application/vnd.docker.distribution.manifest.v2+json"}}});
  EXPECT_EQ(r.status, 201u) << r.body;
}

TEST_F(RegistryHttp, TagsAndCatalogPagination) {
  for (auto t : {"c", "a", "e", "b", "d"}) reg.push_image("p", t, {});
  auto r = reg.get("/v2/p/tags/list?n=2");
  EXPECT_EQ(Json::parse(r.body)["tags"], Json::parse(R"(["a","b"])"));
  EXPECT_EQ(r.header("link"), "</v2/p/tags/list?n=2&last=b>; rel=\"next\"");
  r = reg.get("/v2/p/tags/list?n=2&last=b");
  EXPECT_EQ(Json::parse(r.body)["tags"], Json::parse(R"(["c","d"])"));
  r = reg.get("/v2/p/tags/list?n=2&last=d");
  EXPECT_EQ(Json::parse(r.body)["tags"], Json::parse(R"(["e"])"));
  EXPECT_EQ(r.header("link"), "");
  r = reg.get("/v2/p/tags/list?n=0");
  EXPECT_EQ(Json::parse(r.body)["tags"].size(), 0u);
  EXPECT_EQ(r.header("link"), "");
  EXPECT_EQ(reg.get("/v2/p/tags/list?n=-1").error_code(), "PAGINATION_NUMBER_INVALID");
  EXPECT_EQ(reg.get("/v2/p/tags/list?n=abc").status, 400u);
  for (auto repo : {"z/y", "b", "a/x"}) reg.push_image(repo, "t", {});
  r = reg.get("/v2/_catalog");
  EXPECT_EQ(Json::parse(r.body)["repositories"], Json::parse(R"(["a/x","b","p","z/y"])"));
  r = reg.get("/v2/_catalog?n=2");
  EXPECT_EQ(Json::parse(r.body)["repositories"], Json::parse(R"(["a/x","b"])"));
  EXPECT_EQ(r.header("link"), "</v2/_catalog?n=2&last=b>; rel=\"next\"");
  r = reg.get("/v2/_catalog?n=2&last=b");
  EXPECT_EQ(Json::parse(r.body)["repositories"], Json::parse(R"(["p","z/y"])"));
}

TEST_F(RegistryHttp, ReferrersWithArtifactTypeFilter) {
  std::string subject = reg.push_image("ref", "v1", {"L"});
  auto ms = reg.get("/v2/ref/manifests/v1");
  std::string subj =
      R"({"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
      subject + R"(","size":)" + std::to_string(ms.body.size()) + "}";
  std::string sig = reg.push_image(
      "ref", Digest::of("x").str().substr(0, 0) + "sig", {},
      subj + R"(,"artifactType":"application/vnd.example.sig","annotations":{"k":"v"}})");
  std::string sbom = reg.push_image("ref", "sbom", {},
                                    subj + R"(,"artifactType":"application/vnd.example.sbom"})");
  auto r = reg.get("/v2/ref/referrers/" + subject);
  ASSERT_EQ(r.status, 200u);
  EXPECT_EQ(r.header("content-type"), "application/vnd.oci.image.index.v1+json");
  auto j = Json::parse(r.body);
  ASSERT_EQ(j["manifests"].size(), 2u);
  r = reg.get("/v2/ref/referrers/" + subject + "?artifactType=application/vnd.example.sig");
  j = Json::parse(r.body);
  ASSERT_EQ(j["manifests"].size(), 1u);
  EXPECT_EQ(j["manifests"][0]["digest"], sig);
  EXPECT_EQ(j["manifests"][0]["annotations"]["k"], "v");
  EXPECT_EQ(r.header("oci-filters-applied"), "artifactType");
  // Unknown subject: 200 with an empty list. Bad digest: 400.
  r = reg.get("/v2/ref/referrers/" + Digest::of("none").str());
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(Json::parse(r.body)["manifests"].size(), 0u);
  EXPECT_EQ(reg.get("/v2/ref/referrers/sha256:zz").error_code(), "DIGEST_INVALID");
  // Deleting a referrer removes it from the list.
  EXPECT_EQ(reg.send({"DELETE", "/v2/ref/manifests/" + sbom}).status, 202u);
  EXPECT_EQ(Json::parse(reg.get("/v2/ref/referrers/" + subject).body)["manifests"].size(), 1u);
}

TEST_F(RegistryHttp, ReferrerPushReturnsOciSubjectEvenIfSubjectMissing) {
  std::string cfg = reg.push_blob("s", "{}");
  std::string dangling = Digest::of("never pushed").str();
  Json m = {{"schemaVersion", 2},
            {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
            {"artifactType", "x/y"},
            {"config",
             {{"mediaType", "application/vnd.oci.empty.v1+json"}, {"digest", cfg}, {"size", 2}}},
            {"layers", Json::array()},
            {"subject",
             {{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
              {"digest", dangling},
              {"size", 3}}}};
  auto r = reg.send({"PUT",
                     "/v2/s/manifests/" + Digest::of(m.dump()).str(),
                     m.dump(),
                     {{"Content-Type", "application/vnd.oci.image.manifest.v1+json"}}});
  EXPECT_EQ(r.status, 201u) << r.body;
  EXPECT_EQ(r.header("oci-subject"), dangling);
}

TEST_F(RegistryHttp, DeleteManifestsTagsAndBlobs) {
  std::string d = reg.push_image("del", "v1", {"layer"});
  reg.send({"PUT",
            "/v2/del/manifests/" + d + "?tag=v2",
            reg.get("/v2/del/manifests/v1").body,
            {{"Content-Type", "application/vnd.oci.image.manifest.v1+json"}}});
  // Tag delete removes only the tag.
  EXPECT_EQ(reg.send({"DELETE", "/v2/del/manifests/v2"}).status, 202u);
  EXPECT_EQ(reg.get("/v2/del/manifests/v2").status, 404u);
  EXPECT_EQ(reg.get("/v2/del/manifests/v1").status, 200u);
  EXPECT_EQ(reg.send({"DELETE", "/v2/del/manifests/v2"}).error_code(), "MANIFEST_UNKNOWN");
  // Digest delete removes the manifest and its tags.
  EXPECT_EQ(reg.send({"DELETE", "/v2/del/manifests/" + d}).status, 202u);
  EXPECT_EQ(reg.get("/v2/del/manifests/v1").status, 404u);
  EXPECT_EQ(reg.get("/v2/del/manifests/" + d).status, 404u);
  EXPECT_EQ(reg.send({"DELETE", "/v2/del/manifests/" + d}).error_code(), "MANIFEST_UNKNOWN");
  std::string ld = Digest::of("layer").str();
  EXPECT_EQ(reg.send({"DELETE", "/v2/del/blobs/" + ld}).status, 202u);
  EXPECT_EQ(reg.get("/v2/del/blobs/" + ld).error_code(), "BLOB_UNKNOWN");
  EXPECT_EQ(reg.send({"DELETE", "/v2/del/blobs/" + ld}).error_code(), "BLOB_UNKNOWN");
}

TEST(RegistryHttpModes, ReadOnlyAndDeleteDisabled) {
  HttpOptions o;
  o.delete_enabled = false;
  RegistryServer reg(o);
  std::string d = reg.push_image("x", "v1", {"l"});
  auto r = reg.send({"DELETE", "/v2/x/manifests/" + d});
  EXPECT_EQ(r.status, 405u);
  EXPECT_EQ(r.error_code(), "UNSUPPORTED");
  HttpOptions ro;
  ro.read_only = true;
  RegistryServer reg2(ro, reg.root);
  EXPECT_EQ(reg2.get("/v2/x/manifests/v1").status, 200u);
  r = reg2.send({"POST", "/v2/x/blobs/uploads/"});
  EXPECT_EQ(r.status, 405u);
  EXPECT_EQ(r.error_code(), "UNSUPPORTED");
}

}  // namespace

namespace {

std::string sha512_of(const std::string& s) {
  return Digest::of(s, HashAlgorithm::sha512).str();
}

TEST_F(RegistryHttp, Sha512MonolithicChunkedAndResumed) {
  // Monolithic: POST ?digest=sha512:... with the body.
  std::string blob = "sha512 monolithic blob";
  auto r = reg.send({"POST", "/v2/s5/blobs/uploads/?digest=" + sha512_of(blob), blob});
  ASSERT_EQ(r.status, 201u) << r.body;
  EXPECT_EQ(r.header("docker-content-digest"), sha512_of(blob));
  auto g = reg.get("/v2/s5/blobs/" + sha512_of(blob));
  EXPECT_EQ(g.status, 200u);
  EXPECT_EQ(g.body, blob);
  EXPECT_EQ(g.header("docker-content-digest"), sha512_of(blob));
  // A sha512 body that does not match is refused and nothing becomes visible.
  r = reg.send({"POST", "/v2/s5/blobs/uploads/?digest=" + sha512_of("other"), blob});
  EXPECT_EQ(r.error_code(), "DIGEST_INVALID");
  EXPECT_EQ(reg.get("/v2/s5/blobs/" + sha512_of("other")).error_code(), "BLOB_UNKNOWN");

  // Chunked: POST ?digest-algorithm=sha512, two OCI chunks, PUT with the digest.
  std::string big(200000, 'z');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = char('A' + i % 29);
  auto s = reg.send({"POST", "/v2/s5/blobs/uploads/?digest-algorithm=sha512"});
  ASSERT_EQ(s.status, 202u) << s.body;
  std::string loc = upload_path(s);
  ASSERT_EQ(reg.send({"PATCH", loc, big.substr(0, 120000), {{"Content-Range", "0-119999"}}}).status,
            202u);
  ASSERT_EQ(
      reg.send({"PATCH", loc, big.substr(120000), {{"Content-Range", "120000-199999"}}}).status,
      202u);
  // A wrong digest keeps the session.
  EXPECT_EQ(reg.send({"PUT", loc + "?digest=" + sha512_of("wrong")}).error_code(),
            "DIGEST_INVALID");
  auto put = reg.send({"PUT", loc + "?digest=" + sha512_of(big)});
  ASSERT_EQ(put.status, 201u) << put.body;
  EXPECT_EQ(reg.get("/v2/s5/blobs/" + sha512_of(big)).body, big);
  // A session started without an algorithm can still be committed with sha512 (the server
  // rehashes the stored bytes).
  s = reg.send({"POST", "/v2/s5/blobs/uploads/"});
  loc = upload_path(s);
  ASSERT_EQ(reg.send({"PATCH", loc, "mixed"}).status, 202u);
  EXPECT_EQ(reg.send({"PUT", loc + "?digest=" + sha512_of("mixed")}).status, 201u);

  // An algorithm the registry does not support.
  r = reg.send({"POST", "/v2/s5/blobs/uploads/?digest-algorithm=md5"});
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(r.error_code(), "DIGEST_INVALID");
}

TEST(RegistryHttpRestart, Sha512UploadResumesAfterRestart) {
  auto root = std::filesystem::temp_directory_path() / ("docket-s512-" + random_hex_id());
  std::string loc;
  {
    RegistryServer a({}, root);
    loc = upload_path(a.send({"POST", "/v2/r/blobs/uploads/?digest-algorithm=sha512"}));
    ASSERT_EQ(a.send({"PATCH", loc, "first-half|"}).status, 202u);
  }
  // The algorithm survived the restart: the resumed session hashes with sha512.
  EXPECT_EQ(read_file(root / ("repositories/r/_uploads/" + loc.substr(loc.rfind('/') + 1)) /
                      "hashalgorithm")
                .value_or(""),
            "sha512");
  {
    RegistryServer b({}, root);
    EXPECT_EQ(b.get(loc).header("range"), "0-10");
    ASSERT_EQ(b.send({"PATCH", loc, "second-half", {{"Content-Range", "11-21"}}}).status, 202u);
    auto put = b.send({"PUT", loc + "?digest=" + sha512_of("first-half|second-half")});
    EXPECT_EQ(put.status, 201u) << put.body;
    EXPECT_EQ(b.get("/v2/r/blobs/" + sha512_of("first-half|second-half")).body,
              "first-half|second-half");
  }
  std::filesystem::remove_all(root);
}

// A commit renames the upload's data file to its blob, then removes the upload's directory;
// a kill -9 between the two leaves the directory without a data file (the crash test hit
// it). After the restart that upload is unknown, as after a completed commit: not an empty
// session (Range 0-0) that the client would resume at the wrong offset, and no data file is
// made for it. The blob the commit produced is served.
TEST(RegistryHttpRestart, UploadWhoseCommitWasCutShortIsUnknownNotEmpty) {
  auto root = std::filesystem::temp_directory_path() / ("docket-cut-" + random_hex_id());
  std::string loc, uuid;
  {
    RegistryServer a({}, root);
    loc = upload_path(a.send({"POST", "/v2/r/blobs/uploads/"}));
    ASSERT_EQ(a.send({"PATCH", loc, "committed bytes"}).status, 202u);
    uuid = loc.substr(loc.rfind('/') + 1);
  }
  auto dir = root / "repositories/r/_uploads" / uuid;
  ASSERT_TRUE(std::filesystem::exists(dir / "startedat"));
  // The state a commit cut short between its rename and the directory's removal leaves.
  std::filesystem::remove(dir / "data");
  {
    RegistryServer b({}, root);
    auto st = b.get(loc);
    EXPECT_EQ(st.status, 404u) << st.header("range");
    EXPECT_EQ(st.error_code(), "BLOB_UPLOAD_UNKNOWN");
    EXPECT_FALSE(std::filesystem::exists(dir / "data"));
    EXPECT_EQ(b.send({"PATCH", loc, "more", {{"Content-Range", "0-3"}}}).error_code(),
              "BLOB_UPLOAD_UNKNOWN");
    EXPECT_FALSE(std::filesystem::exists(dir / "data"));
    // A whole push of the blob still works.
    std::string d = Digest::of("committed bytes").str();
    EXPECT_EQ(b.send({"POST", "/v2/r/blobs/uploads/?digest=" + d, "committed bytes"}).status, 201u);
    EXPECT_EQ(b.get("/v2/r/blobs/" + d).body, "committed bytes");
  }
  std::filesystem::remove_all(root);
}

TEST_F(RegistryHttp, ManifestAcceptNegotiation) {
  std::string oci = reg.push_image("acc", "oci", {"l1"});
  auto get = [&](const std::string& ref, std::vector<std::pair<std::string, std::string>> h) {
    return reg.send({"GET", "/v2/acc/manifests/" + ref, "", std::move(h)});
  };
  // No Accept: served as is. OCI listed (among others, with parameters, in several lines).
  EXPECT_EQ(get("oci", {}).status, 200u);
  EXPECT_EQ(get("oci", {{"Accept", "application/vnd.docker.distribution.manifest.v2+json"},
                        {"Accept", "application/vnd.oci.image.manifest.v1+json; q=0.9"}})
                .status,
            200u);
  EXPECT_EQ(get("oci", {{"Accept", "*/*"}}).status, 200u);
  EXPECT_EQ(get("oci", {{"Accept", "application/*"}}).status, 200u);
  // A client that only reads Docker schema2 gets MANIFEST_UNKNOWN, by tag and by digest.
  for (const std::string& ref : {std::string("oci"), oci}) {
    auto r = get(ref, {{"Accept",
                        "application/vnd.docker.distribution.manifest.v2+json, "
                        "application/vnd.docker.distribution.manifest.list.v2+json"}});
    EXPECT_EQ(r.status, 404u) << ref;
    EXPECT_EQ(r.error_code(), "MANIFEST_UNKNOWN");
    EXPECT_NE(r.body.find("application/vnd.oci.image.manifest.v1+json"), std::string::npos);
  }
  EXPECT_EQ(get("oci", {{"Accept", "application/vnd.oci.image.manifest.v1+json;q=0"}}).status,
            404u);
  EXPECT_EQ(
      reg.send({"HEAD", "/v2/acc/manifests/oci", "", {{"Accept", "application/json"}}}).status,
      404u);
  // And the reverse: a Docker schema2 manifest to an OCI-only client.
  std::string cfg = reg.push_blob("acc", "{\"os\":\"linux\"}");
  Json m = {{"schemaVersion", 2},
            {"mediaType", "application/vnd.docker.distribution.manifest.v2+json"},
            {"config",
             {{"mediaType", "application/vnd.docker.container.image.v1+json"},
              {"digest", cfg},
              {"size", 14}}},
            {"layers", Json::array()}};
  ASSERT_EQ(reg.send({"PUT",
                      "/v2/acc/manifests/d2",
                      m.dump(),
                      {{"Content-Type", "application/vnd.docker.distribution.manifest.v2+json"}}})
                .status,
            201u);
  EXPECT_EQ(get("d2", {{"Accept",
                        "application/vnd.oci.image.manifest.v1+json, "
                        "application/vnd.oci.image.index.v1+json"}})
                .error_code(),
            "MANIFEST_UNKNOWN");
  auto ok = get("d2", {{"Accept", "application/vnd.docker.distribution.manifest.v2+json"}});
  EXPECT_EQ(ok.status, 200u);
  EXPECT_EQ(ok.header("content-type"), "application/vnd.docker.distribution.manifest.v2+json");
}

TEST(RegistryHttpPaging, ReferrersPagesWithLinkHeader) {
  HttpOptions o;
  o.referrers_max_entries = 2;
  RegistryServer reg(o);
  std::string subject = reg.push_image("rp", "v1", {"L"});
  auto ms = reg.get("/v2/rp/manifests/v1");
  std::string subj =
      R"({"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
      subject + R"(","size":)" + std::to_string(ms.body.size()) + "}";
  std::set<std::string> sigs, all;
  for (int i = 0; i < 5; ++i) {
    std::string type = i % 2 ? "application/vnd.example.sbom" : "application/vnd.example+sig";
    std::string d = reg.push_image("rp", "r" + std::to_string(i), {},
                                   subj + R"(,"artifactType":")" + type + "\"}");
    all.insert(d);
    if (i % 2 == 0) sigs.insert(d);
  }
  // Walk the pages following Link, collecting digests: every referrer exactly once, in order.
  auto walk = [&](std::string url, std::size_t& pages) {
    std::vector<std::string> got;
    pages = 0;
    while (!url.empty()) {
      auto r = reg.get(url);
      EXPECT_EQ(r.status, 200u) << r.body;
      if (r.status != 200 || ++pages > 10) break;
      auto j = Json::parse(r.body);
      EXPECT_LE(j["manifests"].size(), 2u);
      for (auto& m : j["manifests"]) got.push_back(m["digest"].get<std::string>());
      std::string link = r.header("link");
      if (link.empty()) break;
      EXPECT_TRUE(link.starts_with("</v2/rp/referrers/" + subject + "?")) << link;
      EXPECT_TRUE(link.ends_with(">; rel=\"next\"")) << link;
      url = link.substr(1, link.find('>') - 1);
    }
    return got;
  };
  std::size_t pages = 0;
  auto got = walk("/v2/rp/referrers/" + subject, pages);
  EXPECT_EQ(pages, 3u);
  EXPECT_EQ(got, std::vector<std::string>(all.begin(), all.end()));
  // The filter is carried in the Link (percent-encoded) and every page says it was applied.
  got = walk("/v2/rp/referrers/" + subject + "?artifactType=application/vnd.example%2Bsig", pages);
  EXPECT_EQ(pages, 2u);
  EXPECT_EQ(got, std::vector<std::string>(sigs.begin(), sigs.end()));
  auto r = reg.get("/v2/rp/referrers/" + subject + "?artifactType=application/vnd.example%2Bsig");
  EXPECT_EQ(r.header("oci-filters-applied"), "artifactType");
  EXPECT_NE(r.header("link").find("artifactType=application%2Fvnd.example%2Bsig"),
            std::string::npos)
      << r.header("link");
  // n larger than the limit is clamped; n=1 pages by one; bad n and bad last are 400.
  EXPECT_EQ(Json::parse(reg.get("/v2/rp/referrers/" + subject + "?n=100").body)["manifests"].size(),
            2u);
  EXPECT_EQ(Json::parse(reg.get("/v2/rp/referrers/" + subject + "?n=1").body)["manifests"].size(),
            1u);
  EXPECT_EQ(reg.get("/v2/rp/referrers/" + subject + "?n=x").error_code(),
            "PAGINATION_NUMBER_INVALID");
  EXPECT_EQ(reg.get("/v2/rp/referrers/" + subject + "?last=nope").error_code(), "DIGEST_INVALID");
}

TEST_F(RegistryHttp, TagsPagingEdgeCases) {
  for (auto t : {"v1", "v10", "v2", "V3", "latest"}) reg.push_image("te/x", t, {});
  // ASCII order (upper case first); `last` need not exist; the Link keeps the request's n.
  auto r = reg.get("/v2/te/x/tags/list");
  EXPECT_EQ(Json::parse(r.body)["tags"], Json::parse(R"(["V3","latest","v1","v10","v2"])"));
  EXPECT_EQ(r.header("link"), "");
  r = reg.get("/v2/te/x/tags/list?n=2&last=m");
  EXPECT_EQ(Json::parse(r.body)["tags"], Json::parse(R"(["v1","v10"])"));
  EXPECT_EQ(r.header("link"), "</v2/te/x/tags/list?n=2&last=v10>; rel=\"next\"");
  r = reg.get("/v2/te/x/tags/list?last=v10");
  EXPECT_EQ(Json::parse(r.body)["tags"], Json::parse(R"(["v2"])"));
  EXPECT_EQ(Json::parse(r.body)["name"], "te/x");
  // Exactly n left: no Link (no empty last page).
  r = reg.get("/v2/te/x/tags/list?n=3&last=latest");
  EXPECT_EQ(Json::parse(r.body)["tags"].size(), 3u);
  EXPECT_EQ(r.header("link"), "");
  EXPECT_EQ(reg.get("/v2/nope/tags/list").error_code(), "NAME_UNKNOWN");
}

TEST_F(RegistryHttp, EveryV2FailureHasAnOciErrorBody) {
  // Wrong method on a known path: 405 UNSUPPORTED with an Allow header.
  auto r = reg.send({"PATCH", "/v2/x/manifests/latest"});
  EXPECT_EQ(r.status, 405u);
  EXPECT_EQ(r.error_code(), "UNSUPPORTED");
  EXPECT_FALSE(r.header("allow").empty());
  EXPECT_EQ(r.header("docker-distribution-api-version"), "registry/2.0");
  r = reg.send({"POST", "/v2/x/tags/list"});
  EXPECT_EQ(r.error_code(), "UNSUPPORTED");
  // Unknown endpoint, unknown repository, bad tag, bad upload id.
  EXPECT_EQ(reg.get("/v2/x/nothing").error_code(), "NAME_UNKNOWN");
  EXPECT_EQ(reg.get("/v2/x/manifests/latest").error_code(), "MANIFEST_UNKNOWN");
  EXPECT_EQ(reg.get("/v2/x/manifests/bad:tag!").status, 400u);
  EXPECT_EQ(reg.send({"PUT", "/v2/x/blobs/uploads/zz?digest=" + Digest::of("").str()}).error_code(),
            "BLOB_UPLOAD_UNKNOWN");
  for (const auto* path : {"/v2/x/manifests/latest", "/v2/x/nothing", "/v2/x/tags/list"}) {
    auto e = reg.get(path);
    EXPECT_GE(e.status, 400u);
    EXPECT_EQ(e.header("content-type"), "application/json") << path;
    EXPECT_FALSE(Json::parse(e.body)["errors"][0]["message"].get<std::string>().empty()) << path;
  }
}

}  // namespace
