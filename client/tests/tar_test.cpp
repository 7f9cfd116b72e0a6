#include "client/tar.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "client/tests/test_util.h"
#include "common/file.h"

using namespace docket;
using namespace docket::client;

namespace {
std::string write_archive(const std::vector<std::pair<TarEntry, std::string>>& entries) {
  std::string out;
  TarWriter w([&](std::string_view b) -> Status {
    out.append(b);
    return {};
  });
  for (const auto& [e, body] : entries) {
    EXPECT_TRUE(w.add(e));
    if (!body.empty()) {
      EXPECT_TRUE(w.write(body));
    }
  }
  EXPECT_TRUE(w.finish());
  EXPECT_EQ(out.size() % 512, 0u);
  return out;
}

std::vector<std::pair<TarEntry, std::string>> read_archive(std::string data) {
  TarReader r(string_source(std::move(data)));
  std::vector<std::pair<TarEntry, std::string>> out;
  while (true) {
    auto e = r.next();
    EXPECT_TRUE(e) << e.error().describe();
    if (!e || !*e) break;
    auto src = r.body_source();
    auto body = read_all(src, 1 << 24, Fault::user, "body");
    EXPECT_TRUE(body);
    out.emplace_back(**e, *body);
  }
  return out;
}
}  // namespace

TEST(Tar, RoundTripsLongNamesLinksAndTypes) {
  std::string long_name = "dir/" + std::string(150, 'n') + "/" + std::string(120, 'm') + ".txt";
  std::string mid_name = std::string(120, 'p') + "/file";  // fits ustar prefix+name
  TarEntry dir{.name = "dir/", .type = TarEntry::Type::directory, .mode = 0755};
  TarEntry f1{
      .name = long_name, .size = 5, .mode = 0600, .uid = 1000, .gid = 1000, .mtime = 1700000000};
  TarEntry f2{.name = mid_name, .size = 1000};
  TarEntry sl{.name = "link", .type = TarEntry::Type::symlink, .linkname = std::string(200, 't')};
  TarEntry hl{.name = "hard", .type = TarEntry::Type::hardlink, .linkname = "dir/x"};
  TarEntry utf{.name = "ünïcode", .size = 1};
  auto data = write_archive(
      {{dir, ""}, {f1, "hello"}, {f2, std::string(1000, 'z')}, {sl, ""}, {hl, ""}, {utf, "u"}});
  auto back = read_archive(data);
  ASSERT_EQ(back.size(), 6u);
  EXPECT_EQ(back[0].first.type, TarEntry::Type::directory);
  EXPECT_EQ(back[1].first.name, long_name);
  EXPECT_EQ(back[1].second, "hello");
  EXPECT_EQ(back[1].first.mode, 0600u);
  EXPECT_EQ(back[1].first.uid, 1000u);
  EXPECT_EQ(back[1].first.mtime, 1700000000);
  EXPECT_EQ(back[2].first.name, mid_name);
  EXPECT_EQ(back[2].second, std::string(1000, 'z'));
  EXPECT_EQ(back[3].first.linkname, std::string(200, 't'));
  EXPECT_EQ(back[4].first.type, TarEntry::Type::hardlink);
  EXPECT_EQ(back[5].first.name, "ünïcode");
}

TEST(Tar, SkipsUnreadBodies) {
  auto data = write_archive({{TarEntry{.name = "a", .size = 700}, std::string(700, 'a')},
                             {TarEntry{.name = "b", .size = 1}, "b"}});
  TarReader r(string_source(data));
  auto a = r.next();
  ASSERT_TRUE(a && *a);
  auto b = r.next();
  ASSERT_TRUE(b && *b);
  EXPECT_EQ((*b)->name, "b");
  char c;
  ASSERT_EQ(*r.read(&c, 1), 1u);
  EXPECT_EQ(c, 'b');
}

TEST(Tar, RejectsCorruptAndTruncatedArchives) {
  auto data = write_archive({{TarEntry{.name = "a", .size = 3}, "abc"}});
  std::string bad = data;
  bad[10] ^= 1;  // breaks the header checksum
  TarReader r1(string_source(bad));
  auto e = r1.next();
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code, "malformed_archive");
  EXPECT_EQ(e.error().fault, Fault::user);
  TarReader r2(string_source(data.substr(0, 514)), Fault::remote);
  auto e2 = r2.next();
  ASSERT_TRUE(e2 && *e2);
  char buf[8];
  Result<std::size_t> rd = r2.read(buf, 8);  // the 2 bytes that are there
  ASSERT_TRUE(rd);
  EXPECT_EQ(*rd, 2u);
  rd = r2.read(buf, 8);
  ASSERT_FALSE(rd);
  EXPECT_EQ(rd.error().fault, Fault::remote);
  TarReader r3(string_source("not a tar file at all" + std::string(600, 'x')));
  EXPECT_FALSE(r3.next());
}

// Interop with GNU tar in both directions (pax and GNU long-name formats).
TEST(Tar, InteroperatesWithGnuTar) {
  if (std::system("tar --version >/dev/null 2>&1") != 0) GTEST_SKIP() << "tar not installed";
  test::TempDir d;
  std::string long_name = std::string(130, 'q') + "/" + std::string(110, 'r');
  auto data = write_archive({{TarEntry{.name = long_name, .size = 3}, "xyz"},
                             {TarEntry{.name = "big", .size = 4096}, std::string(4096, 'b')}});
  ASSERT_TRUE(atomic_write_file(d.path / "ours.tar", data));
  std::filesystem::create_directories(d.path / "x");
  ASSERT_EQ(
      std::system(
          ("tar -xf " + (d.path / "ours.tar").string() + " -C " + (d.path / "x").string()).c_str()),
      0);
  EXPECT_EQ(*read_file(d.path / "x" / long_name), "xyz");
  EXPECT_EQ(read_file(d.path / "x" / "big")->size(), 4096u);
  for (std::string fmt : {"pax", "gnu"}) {
    std::string cmd = "cd " + (d.path / "x").string() + " && tar --format=" + fmt +
                      " -cf ../theirs-" + fmt + ".tar .";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    auto theirs = read_file(d.path / ("theirs-" + fmt + ".tar"));
    ASSERT_TRUE(theirs);
    bool found = false;
    for (auto& [e, body] : read_archive(*theirs))
      if (e.name == "./" + long_name) found = body == "xyz";
    EXPECT_TRUE(found) << fmt;
  }
}
