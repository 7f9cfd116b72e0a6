#include <gtest/gtest.h>

#include "common/digest.h"
#include "registry/gc.h"
#include "registry/tests/test_client.h"

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

using namespace docket;
using namespace docket::registry;
using namespace docket::registry::testing;

namespace {

GcOptions now_opts(bool dry = false, bool untagged = false) {
  GcOptions o;
  o.dry_run = dry;
  o.delete_untagged = untagged;
  o.grace = std::chrono::seconds(-10);  // everything counts as old in this test
  return o;
}

TEST(Gc, KeepsReferencedDeletesUnreferencedDryRunDeletesNothing) {
  RegistryServer reg;
  reg.push_image("a", "v1", {"shared", "only-a"});
  std::string db = reg.push_image("b", "v1", {"shared", "only-b"});
  // Delete b's manifest and unlink its blobs: "only-b" becomes garbage, "shared" is still used by
  // a.
  ASSERT_EQ(reg.send({"DELETE", "/v2/b/manifests/" + db}).status, 202u);
  for (auto l : {"shared", "only-b"}) reg.send({"DELETE", "/v2/b/blobs/" + Digest::of(l).str()});
  auto dry = collect_garbage(*reg.store, now_opts(true));
  ASSERT_TRUE(dry) << dry.error().describe();
  ASSERT_FALSE(dry->blobs_deleted.empty());
  EXPECT_EQ(reg.get("/v2/b/manifests/" + db).status, 404u);
  auto rep = collect_garbage(*reg.store, now_opts());
  ASSERT_TRUE(rep);
  EXPECT_EQ(rep->blobs_deleted, dry->blobs_deleted);
  auto has = [&](const std::string& d) {
    return std::find(rep->blobs_deleted.begin(), rep->blobs_deleted.end(), d) !=
           rep->blobs_deleted.end();
  };
  EXPECT_TRUE(has(Digest::of("only-b").str()));
  EXPECT_TRUE(has(db));
  EXPECT_FALSE(has(Digest::of("shared").str()));
  EXPECT_EQ(reg.get("/v2/a/blobs/" + Digest::of("shared").str()).status, 200u);
  EXPECT_EQ(reg.get("/v2/a/blobs/" + Digest::of("only-a").str()).status, 200u);
  EXPECT_EQ(reg.get("/v2/a/manifests/v1").status, 200u);
  // A second pass finds nothing more.
  EXPECT_TRUE(collect_garbage(*reg.store, now_opts())->blobs_deleted.empty());
}

TEST(Gc, GraceProtectsFreshContent) {
  RegistryServer reg;
  std::string d = reg.push_blob("g", "fresh");
  reg.send({"DELETE", "/v2/g/blobs/" + d});
  GcOptions o;  // default grace: 1h
  auto rep = collect_garbage(*reg.store, o);
  ASSERT_TRUE(rep);
  EXPECT_TRUE(rep->blobs_deleted.empty());
}

TEST(Gc, DeleteUntaggedKeepsIndexChildrenAndReferrers) {
  RegistryServer reg;
  std::string child =
      reg.push_image("u", Digest::of("c").str().substr(0, 0) + "tmp-child", {"c-layer"});
  std::string orphan = reg.push_image("u", "tmp-orphan", {"orphan-layer"});
  auto cm = reg.get("/v2/u/manifests/" + child);
  Json idx = {
      {"schemaVersion", 2},
      {"mediaType", "application/vnd.oci.image.index.v1+json"},
      {"manifests", Json::array({{{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                                  {"digest", child},
                                  {"size", cm.body.size()}}})}};
  ASSERT_EQ(reg.send({"PUT",
                      "/v2/u/manifests/latest",
                      idx.dump(),
                      {{"Content-Type", "application/vnd.oci.image.index.v1+json"}}})
                .status,
            201u);
  std::string subj =
      R"({"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" + child +
      R"(","size":)" + std::to_string(cm.body.size()) + R"(},"artifactType":"x/sig"})";
  std::string sig = reg.push_image("u", "tmp-sig", {}, subj);
  for (auto t : {"tmp-child", "tmp-orphan", "tmp-sig"})
    ASSERT_EQ(reg.send({"DELETE", std::string("/v2/u/manifests/") + t}).status, 202u);
  auto rep = collect_garbage(*reg.store, now_opts(false, true));
  ASSERT_TRUE(rep) << rep.error().describe();
  ASSERT_EQ(rep->manifests_deleted.size(), 1u);
  EXPECT_EQ(rep->manifests_deleted[0], "u@" + orphan);
  EXPECT_EQ(reg.get("/v2/u/manifests/" + child).status, 200u);
  EXPECT_EQ(reg.get("/v2/u/manifests/" + sig).status, 200u);
  EXPECT_EQ(reg.get("/v2/u/manifests/" + orphan).status, 404u);
  EXPECT_EQ(reg.get("/v2/u/blobs/" + Digest::of("c-layer").str()).status, 200u);
}

}  // namespace
