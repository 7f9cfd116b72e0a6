#include "client/store.h"

#include <gtest/gtest.h>

#include "client/tests/test_util.h"
#include "common/file.h"

using namespace docket;
using namespace docket::client;

namespace {
// A tiny image: config + one layer + manifest, stored; returns the manifest descriptor.
Descriptor make_image(ImageStore& s, std::string layer_bytes) {
  auto layer = s.put_blob(layer_bytes);
  auto config = s.put_blob(
      R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}})");
  Json m = {{"schemaVersion", 2},
            {"mediaType", media::kOciManifest},
            {"config", {{"mediaType", media::kOciConfig}, {"digest", config->str()}, {"size", 79}}},
            {"layers", Json::array({{{"mediaType", media::kOciLayer},
                                     {"digest", layer->str()},
                                     {"size", layer_bytes.size()}}})}};
  std::string mb = m.dump();
  auto md = s.put_blob(mb);
  return Descriptor{std::string(media::kOciManifest), *md, mb.size(), {}, {}, {}};
}
}  // namespace

TEST(ImageStore, IngestVerifiesBeforeStoring) {
  test::TempDir d;
  auto s = ImageStore::open(d.path);
  ASSERT_TRUE(s) << s.error().describe();
  Digest good = Digest::of("hello");
  {
    auto in = s->begin_ingest(good, 5, "test blob");
    ASSERT_TRUE(in);
    ASSERT_TRUE((*in)->write("hel"));
    ASSERT_TRUE((*in)->write("lx"));
    auto c = (*in)->commit();
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().code, "hash_mismatch");
    EXPECT_EQ(c.error().fault, Fault::remote);
    EXPECT_NE(c.error().message.find("test blob"), std::string::npos);
  }
  EXPECT_FALSE(s->has_blob(good));
  EXPECT_TRUE(std::filesystem::is_empty(d.path / "ingest"));
  {
    auto in = s->begin_ingest(good, 5, "test blob");
    auto w = (*in)->write("hello!");  // longer than declared: refused as it streams
    EXPECT_FALSE(w);
  }
  EXPECT_TRUE(std::filesystem::is_empty(d.path / "ingest"));
  {
    auto in = s->begin_ingest(good, 5, "test blob");
    ASSERT_TRUE((*in)->write("hello"));
    auto c = (*in)->commit();
    ASSERT_TRUE(c);
    EXPECT_EQ(*c, good);
  }
  EXPECT_TRUE(s->has_blob(good));
  EXPECT_EQ(*s->read_blob(good, 100), "hello");
  // On-disk corruption is detected when a blob is read.
  ASSERT_TRUE(atomic_write_file(s->blob_path(good), "jello"));
  auto r = s->read_blob(good, 100);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().fault, Fault::local);
}

TEST(ImageStore, TagsResolveUntagAndGc) {
  test::TempDir d;
  auto s = ImageStore::open(d.path);
  ASSERT_TRUE(s);
  auto a = make_image(*s, "layer-a");
  auto b = make_image(*s, "layer-b");
  auto ra = *Reference::parse("localhost:5000/app:1");
  ASSERT_TRUE(s->tag(ra, a));
  ASSERT_TRUE(s->tag(*Reference::parse("localhost:5000/app"), b));
  ASSERT_TRUE(s->tag(*Reference::parse("other/x:y"), a));
  auto list = s->list();
  ASSERT_TRUE(list);
  EXPECT_EQ(list->size(), 3u);
  EXPECT_EQ((*s->resolve(ra))->digest, a.digest);
  EXPECT_EQ((*s->resolve(*Reference::parse("localhost:5000/app:latest")))->digest, b.digest);
  EXPECT_EQ((*s->resolve(Reference::parse("localhost:5000/app")->with_digest(a.digest)))->digest,
            a.digest);
  EXPECT_FALSE(*s->resolve(*Reference::parse("nope")));
  // Retagging replaces.
  ASSERT_TRUE(s->tag(ra, b));
  EXPECT_EQ((*s->resolve(ra))->digest, b.digest);
  EXPECT_EQ(s->list()->size(), 3u);
  // The layout is a valid OCI layout: index.json entries carry the ref name annotation.
  auto idx = parse_json(*read_file(d.path / "index.json"), "index", Fault::local);
  EXPECT_EQ((*idx)["manifests"][0]["annotations"][std::string(kAnnotationRefName)], "latest");

  ASSERT_TRUE(*s->untag(*Reference::parse("other/x:y")));
  EXPECT_FALSE(*s->untag(*Reference::parse("other/x:y")));
  auto g = s->gc();
  ASSERT_TRUE(g);
  EXPECT_EQ(g->blobs_removed, 2u);  // image a's manifest and layer; config is shared
  EXPECT_FALSE(s->has_blob(a.digest));
  EXPECT_TRUE(s->has_blob(b.digest));
  ASSERT_TRUE(*s->untag(ra));
  ASSERT_TRUE(*s->untag(*Reference::parse("localhost:5000/app")));
  g = s->gc();
  EXPECT_EQ(g->blobs_removed, 3u);
  EXPECT_TRUE(std::filesystem::is_empty(d.path / "blobs" / "sha256"));
}
