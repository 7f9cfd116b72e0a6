#include "client/archive.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "client/tar.h"
#include "client/tests/test_util.h"
#include "common/file.h"

using namespace docket;
using namespace docket::client;
namespace fs = std::filesystem;

namespace {
fs::path make_rootfs(const fs::path& dir) {
  fs::create_directories(dir / "etc");
  fs::create_directories(dir / "bin");
  EXPECT_TRUE(atomic_write_file(dir / "etc" / "hostname", "docket\n"));
  EXPECT_TRUE(atomic_write_file(dir / "bin" / "tool", std::string(100000, 'x'), 0755));
  fs::create_symlink("../etc/hostname", dir / "bin" / "link");
  return dir;
}

Result<std::string> save_to_string(const ImageStore& s, std::vector<Reference> refs) {
  std::string out;
  auto st = save_images(s, refs, Platform::host(), [&](std::string_view b) -> Status {
    out.append(b);
    return {};
  });
  if (!st) return std::unexpected(st.error());
  return out;
}
}  // namespace

TEST(Archive, ImportSaveLoadRoundTripKeepsDigests) {
  test::TempDir d;
  auto s1 = ImageStore::open(d.path / "s1");
  ASSERT_TRUE(s1);
  auto ref = *Reference::parse("localhost:5000/imported:v1");
  auto img = import_image(*s1, make_rootfs(d.path / "rootfs"), ref, ImportOptions{});
  ASSERT_TRUE(img) << img.error().describe();
  // The layer is a real gzip'd tar whose diff_id the config records.
  auto m = parse_manifest(*s1->read_blob(img->digest, kMaxManifestBytes), Fault::local);
  ASSERT_TRUE(m);
  ASSERT_EQ(m->layers.size(), 1u);
  auto cfg = parse_json(*s1->read_blob(m->config.digest, kMaxConfigBytes), "config", Fault::local);
  auto layer = s1->open_blob(m->layers[0].digest);
  auto plain = gunzip_source(*layer);
  auto bytes = read_all(plain, 1 << 24, Fault::local, "layer");
  ASSERT_TRUE(bytes);
  EXPECT_EQ((*cfg)["rootfs"]["diff_ids"][0], Digest::of(*bytes).str());

  auto tar = save_to_string(*s1, {ref});
  ASSERT_TRUE(tar) << tar.error().describe();
  auto s2 = ImageStore::open(d.path / "s2");
  auto loaded = load_archive(*s2, string_source(*tar));
  ASSERT_TRUE(loaded) << loaded.error().describe();
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_EQ((*loaded)[0].reference->str(), ref.str());
  EXPECT_EQ((*loaded)[0].target.digest, img->digest);
  EXPECT_EQ((*s2->resolve(ref))->digest, img->digest);
  EXPECT_TRUE(s2->has_blob(m->layers[0].digest));
  EXPECT_TRUE(fs::is_empty(d.path / "s2" / "ingest"));
}

TEST(Archive, ImportsRootfsTarballsPlainAndGzip) {
  test::TempDir d;
  auto s = ImageStore::open(d.path / "s");
  make_rootfs(d.path / "rootfs");
  ASSERT_EQ(
      std::system(("tar -C " + (d.path / "rootfs").string() + " -cf " +
                   (d.path / "r.tar").string() + " . && gzip -k " + (d.path / "r.tar").string())
                      .c_str()),
      0);
  auto a = import_image(*s, d.path / "r.tar", *Reference::parse("plain"), ImportOptions{});
  ASSERT_TRUE(a) << a.error().describe();
  auto b = import_image(*s, d.path / "r.tar.gz", *Reference::parse("gz"), ImportOptions{});
  ASSERT_TRUE(b) << b.error().describe();
  // Same content, so the same diff_id in both configs.
  auto diff = [&](const Descriptor& t) {
    auto m = parse_manifest(*s->read_blob(t.digest, kMaxManifestBytes), Fault::local);
    return (*parse_json(*s->read_blob(m->config.digest, kMaxConfigBytes), "c",
                        Fault::local))["rootfs"]["diff_ids"][0];
  };
  EXPECT_EQ(diff(*a), diff(*b));
  ASSERT_TRUE(atomic_write_file(d.path / "junk.tar", std::string(2048, 'j')));
  auto bad = import_image(*s, d.path / "junk.tar", *Reference::parse("junk"), ImportOptions{});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().fault, Fault::user);
  EXPECT_FALSE(*s->resolve(*Reference::parse("junk")));
}

TEST(Archive, LoadsLegacyDockerArchiveWithSymlinkedLayers) {
  test::TempDir d;
  std::string layer;
  {
    TarWriter lw([&](std::string_view b) -> Status {
      layer.append(b);
      return {};
    });
    ASSERT_TRUE(lw.add_file("hello.txt", "hi"));
    ASSERT_TRUE(lw.finish());
  }
  std::string cfg =
      R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[")" +
      Digest::of(layer).str() + "\",\"" + Digest::of(layer).str() + "\"]}}";
  std::string archive;
  TarWriter tw([&](std::string_view b) -> Status {
    archive.append(b);
    return {};
  });
  ASSERT_TRUE(tw.add_file("aaa/layer.tar", layer));
  TarEntry link;
  link.name = "bbb/layer.tar";
  link.type = TarEntry::Type::symlink;
  link.linkname = "../aaa/layer.tar";
  ASSERT_TRUE(tw.add(link));
  ASSERT_TRUE(tw.add_file("cfg.json", cfg));
  ASSERT_TRUE(tw.add_file(
      "manifest.json",
      R"([{"Config":"cfg.json","RepoTags":["legacy:1","example.com/x/y:2"],"Layers":["aaa/layer.tar","bbb/layer.tar"]}])"));
  ASSERT_TRUE(tw.finish());
  auto s = ImageStore::open(d.path / "s");
  auto loaded = load_archive(*s, string_source(archive));
  ASSERT_TRUE(loaded) << loaded.error().describe();
  ASSERT_EQ(loaded->size(), 2u);
  auto t = s->resolve(*Reference::parse("legacy:1"));
  ASSERT_TRUE(t && *t);
  auto m = parse_manifest(*s->read_blob((*t)->digest, kMaxManifestBytes), Fault::local);
  ASSERT_EQ(m->layers.size(), 2u);
  EXPECT_EQ(m->layers[1].digest, Digest::of(layer));
  EXPECT_EQ(m->layers[0].media_type, media::kDockerLayer);
  EXPECT_TRUE(*s->resolve(*Reference::parse("example.com/x/y:2")));
}

TEST(Archive, RefusesTamperedAndEscapingArchives) {
  test::TempDir d;
  auto s1 = ImageStore::open(d.path / "s1");
  auto ref = *Reference::parse("app:1");
  auto img = import_image(*s1, make_rootfs(d.path / "rootfs"), ref, ImportOptions{});
  ASSERT_TRUE(img);
  auto tar = save_to_string(*s1, {ref});
  ASSERT_TRUE(tar);
  // Flip one byte inside the tool binary's compressed layer: find the layer blob entry.
  auto m = parse_manifest(*s1->read_blob(img->digest, kMaxManifestBytes), Fault::local);
  std::string name = "blobs/sha256/" + m->layers[0].digest.hex();
  auto pos = tar->find(name);
  ASSERT_NE(pos, std::string::npos);
  std::string bad = *tar;
  bad[pos + 512 + 100] ^= 0x55;  // inside the body (header is 512 bytes from the name)
  auto s2 = ImageStore::open(d.path / "s2");
  auto r = load_archive(*s2, string_source(bad));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "hash_mismatch");
  EXPECT_FALSE(*s2->resolve(ref));
  EXPECT_FALSE(s2->has_blob(m->layers[0].digest));

  std::string evil;
  TarWriter tw([&](std::string_view b) -> Status {
    evil.append(b);
    return {};
  });
  ASSERT_TRUE(tw.add_file("../../etc/evil", "x"));
  ASSERT_TRUE(tw.finish());
  auto e = load_archive(*s2, string_source(evil));
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message.find("escapes"), std::string::npos);
  auto none = load_archive(*s2, string_source(std::string(1024, '\0')));
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("not an image archive"), std::string::npos);
}

// skopeo reads our archives as docker-archive and oci-archive, and we load what it writes.
TEST(Archive, InteroperatesWithSkopeo) {
  if (std::system("skopeo --version >/dev/null 2>&1") != 0) GTEST_SKIP() << "skopeo not installed";
  test::TempDir d;
  auto s1 = ImageStore::open(d.path / "s1");
  auto ref = *Reference::parse("localhost/interop:v1");
  auto img = import_image(*s1, make_rootfs(d.path / "rootfs"), ref, ImportOptions{});
  ASSERT_TRUE(img);
  auto tar = save_to_string(*s1, {ref});
  ASSERT_TRUE(atomic_write_file(d.path / "ours.tar", *tar));
  std::string sk = "skopeo --insecure-policy --tmpdir " + d.path.string() + " ";
  ASSERT_EQ(std::system((sk + "copy -q docker-archive:" + (d.path / "ours.tar").string() +
                         " oci:" + (d.path / "via-docker").string() + ":x")
                            .c_str()),
            0);
  ASSERT_EQ(
      std::system((sk + "copy -q oci-archive:" + (d.path / "ours.tar").string() +
                   " docker-archive:" + (d.path / "theirs.tar").string() + ":localhost/back:v2")
                      .c_str()),
      0);
  ASSERT_EQ(
      std::system((sk + "copy -q oci-archive:" + (d.path / "ours.tar").string() +
                   " oci-archive:" + (d.path / "theirs-oci.tar").string() + ":localhost/oci:v3")
                      .c_str()),
      0);
  auto s2 = ImageStore::open(d.path / "s2");
  auto l1 = load_archive(*s2, *file_source(d.path / "theirs.tar"));
  ASSERT_TRUE(l1) << l1.error().describe();
  EXPECT_TRUE(*s2->resolve(*Reference::parse("localhost/back:v2")));
  auto l2 = load_archive(*s2, *file_source(d.path / "theirs-oci.tar"));
  ASSERT_TRUE(l2) << l2.error().describe();
  auto t = s2->resolve(*Reference::parse("localhost/oci:v3"));
  ASSERT_TRUE(t && *t);
  // skopeo copied the manifest byte for byte, so the digest is ours.
  EXPECT_EQ((*t)->digest, img->digest);
}
