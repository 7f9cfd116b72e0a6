// One conformance suite every StorageDriver must pass (registry/storage.h contract).
// Add a backend by adding a factory to the INSTANTIATE_TEST_SUITE_P list below.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <span>
#include <thread>
#include <vector>

#include "common/file.h"
#include "registry/storage.h"
#include "registry/tests/random_bytes.h"

using namespace docket;
using namespace docket::registry;

namespace {

struct Backend {
  std::string name;
  std::function<std::unique_ptr<StorageDriver>(const std::filesystem::path& scratch)> make;
};

class DriverConformance : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    scratch = std::filesystem::temp_directory_path() / ("docket-driver-" + random_hex_id());
    d = GetParam().make(scratch);
    ASSERT_TRUE(d);
  }
  void TearDown() override { std::filesystem::remove_all(scratch); }
  std::filesystem::path scratch;
  std::unique_ptr<StorageDriver> d;
};

TEST_P(DriverConformance, PutGetRoundTripAndReplace) {
  ASSERT_TRUE(d->put("/a/b/c", "one"));
  EXPECT_EQ(*d->get("/a/b/c", 100), "one");
  ASSERT_TRUE(d->put("/a/b/c", "two!"));
  EXPECT_EQ(*d->get("/a/b/c", 100), "two!");
  auto st = d->stat("/a/b/c");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->size, 4u);
  EXPECT_FALSE(st->is_dir);
  EXPECT_TRUE(d->stat("/a/b")->is_dir);
  auto big = d->get("/a/b/c", 3);
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().code, "too_large");
}

// Weaker durability changes what survives an OS crash, never what readers see: every mode
// is atomic (old or new content), creates parents, replaces, and leaves no visible temp file.
TEST_P(DriverConformance, PutIsAtomicInEveryDurabilityMode) {
  for (auto mode : {Durability::full, Durability::name_only, Durability::none}) {
    std::string p = "/dur/" + std::to_string(static_cast<int>(mode)) + "/f";
    ASSERT_TRUE(d->put(p, "first", mode));
    EXPECT_EQ(*d->get(p, 100), "first");
    ASSERT_TRUE(d->put(p, "second", mode));
    EXPECT_EQ(*d->get(p, 100), "second");
    auto names = d->list(p.substr(0, p.rfind('/')));
    ASSERT_TRUE(names);
    EXPECT_EQ(*names, std::vector<std::string>{"f"});
    EXPECT_EQ(d->put("/dur/../x", "y", mode).error().code, "bad_path");
  }
}

TEST_P(DriverConformance, MissingPathsAreNotFound) {
  for (auto r : {d->get("/nope", 10).error().code, d->stat("/nope/x").error().code,
                 d->list("/nope").error().code, d->open("/nope").error().code})
    EXPECT_EQ(r, "not_found");
  EXPECT_TRUE(d->remove("/nope/at/all"));  // removing nothing is fine
}

TEST_P(DriverConformance, ListIsSortedAndHidesTempFiles) {
  ASSERT_TRUE(d->put("/l/b", "x"));
  ASSERT_TRUE(d->put("/l/a", "x"));
  ASSERT_TRUE(d->put("/l/c/d", "x"));
  auto l = d->list("/l");
  ASSERT_TRUE(l);
  EXPECT_EQ(*l, (std::vector<std::string>{"a", "b", "c"}));
}

TEST_P(DriverConformance, MoveIsAtomicCreatesParentsAndReplaces) {
  ASSERT_TRUE(d->put("/m/src", "content"));
  ASSERT_TRUE(d->put("/m2/deep/dst", "old"));
  ASSERT_TRUE(d->move("/m/src", "/m2/deep/dst"));
  EXPECT_EQ(*d->get("/m2/deep/dst", 100), "content");
  EXPECT_EQ(d->stat("/m/src").error().code, "not_found");
  ASSERT_TRUE(d->put("/m/src2", "x"));
  ASSERT_TRUE(d->move("/m/src2", "/new/parent/dir/f"));
  EXPECT_EQ(*d->get("/new/parent/dir/f", 10), "x");
  EXPECT_FALSE(d->move("/m/missing", "/m/other"));
}

TEST_P(DriverConformance, AppendSyncTruncateAndOpen) {
  auto w = d->append("/u/data");
  ASSERT_TRUE(w);
  ASSERT_TRUE((*w)->write("hello "));
  ASSERT_TRUE((*w)->write("world"));
  EXPECT_EQ((*w)->size(), 11u);
  ASSERT_TRUE((*w)->sync());
  w->reset();
  auto w2 = d->append("/u/data");  // reopening continues at the end
  ASSERT_TRUE(w2);
  EXPECT_EQ((*w2)->size(), 11u);
  ASSERT_TRUE((*w2)->write("!"));
  w2->reset();
  EXPECT_EQ(*d->get("/u/data", 100), "hello world!");
  ASSERT_TRUE(d->truncate("/u/data", 5));
  auto f = d->open("/u/data");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->length, 5u);
  char buf[16];
  ASSERT_EQ(::pread(f->file->fd(), buf, sizeof buf, 0), 5);
  EXPECT_EQ(std::string(buf, 5), "hello");
  EXPECT_FALSE(d->open("/u"));  // a directory is not a file
}

// Large appends in pieces of every alignment: a driver may buffer (the filesystem driver
// switches large writes to O_DIRECT from its own aligned buffers), but after flush() a
// reader and a reopened writer see exactly the bytes written, in order, and sync() keeps
// the writer usable.
TEST_P(DriverConformance, LargeAppendsInOddPiecesReadBackExactly) {
  std::string blob =
      docket::registry::testing::random_bytes(13 * 1024 * 1024 + 4321, 0x2545f4914f6cdd1dull);
  const std::size_t pieces[] = {1, 4095, 300'000, 1 << 20, 4096, 3'333'333, 17, 65'536};
  std::size_t off = 0, i = 0;
  auto w = d->append("/big/data");
  ASSERT_TRUE(w);
  auto write_until = [&](std::size_t end) {
    while (off < end) {
      std::size_t n = std::min(pieces[i++ % std::size(pieces)], end - off);
      ASSERT_TRUE((*w)->write(std::string_view(blob).substr(off, n)));
      off += n;
      ASSERT_EQ((*w)->size(), off);
    }
  };
  write_until(6 * 1024 * 1024 + 5);
  ASSERT_TRUE((*w)->flush());
  EXPECT_EQ(*d->get("/big/data", blob.size()), blob.substr(0, off));
  write_until(9 * 1024 * 1024 + 1);
  ASSERT_TRUE((*w)->sync());
  EXPECT_EQ(*d->get("/big/data", blob.size()), blob.substr(0, off));
  write_until(11 * 1024 * 1024);
  w->reset();  // destruction writes out what is buffered too
  EXPECT_EQ(*d->get("/big/data", blob.size()), blob.substr(0, off));
  w = d->append("/big/data");
  ASSERT_TRUE(w);
  ASSERT_EQ((*w)->size(), off);  // a reopened writer continues at the end
  write_until(blob.size());
  ASSERT_TRUE((*w)->sync());
  w->reset();
  EXPECT_EQ(*d->get("/big/data", blob.size()), blob);
}

// The pattern of a chunked upload of PATCHes that are multiples of 4 MiB (the filesystem
// driver's O_DIRECT buffer): each request ends exactly at a buffer boundary and is flushed,
// the next continues, and the file holds every byte at each flush, after a reopen and after
// sync().
TEST_P(DriverConformance, FlushesAtBufferBoundariesKeepEveryByte) {
  const std::size_t mib = 1024 * 1024;
  std::string blob = docket::registry::testing::random_bytes(26 * mib + 3, 0x9e3779b97f4a7c15ull);
  auto w = d->append("/chunked/data");
  ASSERT_TRUE(w);
  std::size_t off = 0;
  // request: one body of `len` bytes arriving in `piece`-byte reads, then flush().
  auto request = [&](std::size_t len, std::size_t piece) {
    for (std::size_t end = off + len; off < end;) {
      std::size_t n = std::min(piece, end - off);
      ASSERT_TRUE((*w)->write(std::string_view(blob).substr(off, n)));
      off += n;
    }
    ASSERT_TRUE((*w)->flush());
    ASSERT_EQ((*w)->size(), off);
    EXPECT_EQ(*d->get("/chunked/data", blob.size()), blob.substr(0, off));
  };
  request(8 * mib, mib);      // ends with a full buffer
  request(4 * mib, 4 * mib);  // one read of exactly one buffer
  request(9 * mib, 9 * mib);  // one read larger than both buffers
  w->reset();
  w = d->append("/chunked/data");  // as after a restart
  ASSERT_TRUE(w);
  ASSERT_EQ((*w)->size(), off);
  request(4 * mib, 65'536);
  for (std::size_t end = blob.size(); off < end; off += std::min<std::size_t>(mib, end - off))
    ASSERT_TRUE((*w)->write(std::string_view(blob).substr(off, std::min(mib, end - off))));
  ASSERT_TRUE((*w)->sync());  // straight after the writes, no flush() first
  EXPECT_EQ(*d->get("/chunked/data", blob.size()), blob);
  w->reset();
  EXPECT_EQ(*d->get("/chunked/data", blob.size()), blob);
}

// A writer may hand the first part of a buffer to the disk while it keeps filling the rest
// (the filesystem driver writes a staged megabyte as soon as the disk is idle): bytes
// appended behind such a write, in pieces that leave the buffer unaligned, reach the file
// intact at flush() and at sync().
TEST_P(DriverConformance, BytesAppendedBehindAnEarlyWriteReadBackExactly) {
  const std::size_t mib = 1024 * 1024;
  std::string blob =
      docket::registry::testing::random_bytes(10 * mib + 12'345, 0xd1b54a32d192ed03ull);
  auto w = d->append("/early/data");
  ASSERT_TRUE(w);
  std::size_t off = 0;
  auto put = [&](std::size_t n) {
    ASSERT_TRUE((*w)->write(std::string_view(blob).substr(off, n)));
    off += n;
  };
  put(4 * mib - 1);  // up to where large uploads switch to O_DIRECT (page cache so far)
  put(1);
  put(mib + 3 * 4096);  // nothing in flight: what is staged goes to the disk now
  put(17);              // behind it, unaligned
  put(3 * mib + 99);    // fills that buffer and spills into the other
  ASSERT_TRUE((*w)->flush());
  EXPECT_EQ(*d->get("/early/data", blob.size()), blob.substr(0, off));
  put(mib + 1);
  put(blob.size() - off);
  ASSERT_TRUE((*w)->sync());
  EXPECT_EQ(*d->get("/early/data", blob.size()), blob);
}

// Bytes placed straight into FileWriter::append_buffer() (as the server receives an upload
// body into the O_DIRECT staging buffer) and then written in place, mixed with ordinary
// writes that are copied, with request boundaries (flush) between: the file holds exactly
// the stream, whatever the driver offers (a driver may offer no buffer at all).
TEST_P(DriverConformance, PiecesReceivedIntoTheAppendBufferReadBackExactly) {
  const std::size_t mib = 1024 * 1024;
  std::string blob =
      docket::registry::testing::random_bytes(19 * mib + 4'321, 0x94d049bb133111ebull);
  auto w = d->append("/inplace/data");
  ASSERT_TRUE(w);
  std::size_t off = 0, in_place = 0;
  auto put = [&](std::size_t n) {
    n = std::min(n, blob.size() - off);
    std::span<char> region = (*w)->append_buffer(n);
    ASSERT_LE(region.size(), n);
    if (!region.empty()) {
      std::size_t k = region.size() > 4096 && off % 3 == 0 ? region.size() - 4095 : region.size();
      std::memcpy(region.data(), blob.data() + off, k);
      ASSERT_TRUE((*w)->write({region.data(), k}));
      off += k;
      ++in_place;
      return;
    }
    ASSERT_TRUE((*w)->write(std::string_view(blob).substr(off, n)));
    off += n;
  };
  for (std::size_t n : {700 * 1024ul, 3 * mib + 5, mib, mib, 333 * 1024ul, 2 * mib, mib + 1})
    put(n);
  ASSERT_TRUE((*w)->flush());  // the end of one request
  EXPECT_EQ(*d->get("/inplace/data", blob.size()), blob.substr(0, off));
  while (off < blob.size()) put(mib + 12'345);
  ASSERT_TRUE((*w)->sync());
  EXPECT_EQ(*d->get("/inplace/data", blob.size()), blob);
  RecordProperty("pieces_in_place", static_cast<int>(in_place));
}

TEST_P(DriverConformance, RemoveTreeAndWalk) {
  ASSERT_TRUE(d->put("/w/a/1", "x"));
  ASSERT_TRUE(d->put("/w/a/2", "yy"));
  ASSERT_TRUE(d->put("/w/b", "zzz"));
  std::map<std::string, std::uint64_t> seen;
  ASSERT_TRUE(d->walk("/w", [&](const std::string& p, const FileInfo& i) { seen[p] = i.size; }));
  EXPECT_EQ(seen,
            (std::map<std::string, std::uint64_t>{{"/w/a/1", 1}, {"/w/a/2", 2}, {"/w/b", 3}}));
  ASSERT_TRUE(d->remove("/w/a"));
  EXPECT_EQ(d->stat("/w/a/1").error().code, "not_found");
  EXPECT_TRUE(d->stat("/w/b"));
  EXPECT_TRUE(d->walk("/absent", [&](const std::string&, const FileInfo&) { FAIL(); }));
}

// discard(): the name goes at once, whatever the size (the filesystem driver renames trees
// and large files away and deletes them later), and never shows up in list() or walk().
TEST_P(DriverConformance, DiscardedTreesAndFilesAreGoneAtOnce) {
  const std::string big = docket::registry::testing::random_bytes(2 << 20, 7);
  auto append = [&](const std::string& path) {
    auto w = d->append(path);
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->write(big));
    ASSERT_TRUE((*w)->sync());
  };
  ASSERT_TRUE(d->put("/u/x/startedat", "t"));
  append("/u/x/data");
  append("/u/big");
  ASSERT_TRUE(d->put("/u/small", "s"));
  ASSERT_TRUE(d->put("/u/keep", "k"));
  ASSERT_TRUE(d->discard("/u/x"));
  EXPECT_EQ(d->stat("/u/x/data").error().code, "not_found");
  EXPECT_EQ(d->stat("/u/x").error().code, "not_found");
  ASSERT_TRUE(d->discard("/u/big"));
  ASSERT_TRUE(d->discard("/u/small"));
  ASSERT_TRUE(d->discard("/u/absent"));
  EXPECT_EQ(*d->list("/u"), std::vector<std::string>{"keep"});
  std::vector<std::string> all;
  ASSERT_TRUE(d->walk("/", [&](const std::string& p, const FileInfo&) { all.push_back(p); }));
  EXPECT_EQ(all, std::vector<std::string>{"/u/keep"});
  // The same names can be used again at once.
  append("/u/x/data");
  EXPECT_EQ(d->stat("/u/x/data")->size, big.size());
  EXPECT_EQ(*d->get("/u/x/data", big.size()), big);
}

// Commits racing into the same fresh directories (as parallel layer pushes do: shared
// shard and repository directories, created by whichever request comes first) all land, in
// every durability mode, and a removed tree can be created again.
TEST_P(DriverConformance, ConcurrentWritesIntoNewDirectories) {
  constexpr int kThreads = 8, kEach = 12;
  std::vector<std::thread> ts;
  std::vector<std::string> failures(kThreads);
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        std::string id = std::to_string(t) + "-" + std::to_string(i);
        std::string shard = std::to_string(i % 3);
        auto w = d->append("/up/" + id + "/data");
        if (!w || !(*w)->write("blob " + id) || !(*w)->sync()) {
          failures[t] += "append " + id + "; ";
          continue;
        }
        w->reset();
        if (!d->move("/up/" + id + "/data", "/blobs/" + shard + "/" + id + "/data"))
          failures[t] += "move " + id + "; ";
        Durability mode = i % 3 == 0   ? Durability::full
                          : i % 3 == 1 ? Durability::name_only
                                       : Durability::none;
        if (!d->put("/links/" + shard + "/" + id + "/link", id, mode))
          failures[t] += "put " + id + "; ";
        if (!d->remove("/up/" + id)) failures[t] += "remove " + id + "; ";
      }
    });
  for (auto& t : ts) t.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], "") << "thread " << t;
  for (int t = 0; t < kThreads; ++t)
    for (int i = 0; i < kEach; ++i) {
      std::string id = std::to_string(t) + "-" + std::to_string(i);
      std::string shard = std::to_string(i % 3);
      EXPECT_EQ(d->get("/blobs/" + shard + "/" + id + "/data", 100).value_or("?"), "blob " + id);
      EXPECT_EQ(d->get("/links/" + shard + "/" + id + "/link", 100).value_or("?"), id);
    }
  EXPECT_EQ(d->list("/up").value_or(std::vector<std::string>{"?"}), std::vector<std::string>{});
  ASSERT_TRUE(d->remove("/links/1"));
  ASSERT_TRUE(d->put("/links/1/again/link", "back"));
  EXPECT_EQ(d->get("/links/1/again/link", 10).value_or("?"), "back");
}

// A batch changes nothing readers see: every put()/move() in it is visible (and atomic) when
// it returns; commit() then succeeds, and so does dropping a batch uncommitted. Batches of
// blob commits race into shared fresh directories (as parallel layer pushes do).
TEST_P(DriverConformance, BatchedPutsAndMovesAreVisibleAtOnceAndCommit) {
  {
    auto b = d->batch();
    ASSERT_TRUE(b);
    ASSERT_TRUE(d->put("/bt/x/link", "one", Durability::name_only, b.get()));
    EXPECT_EQ(*d->get("/bt/x/link", 100), "one");
    ASSERT_TRUE(d->put("/bt/x/link", "two", Durability::full, b.get()));
    EXPECT_EQ(*d->get("/bt/x/link", 100), "two");
    ASSERT_TRUE(d->put("/bt/y", "src"));
    ASSERT_TRUE(d->move("/bt/y", "/bt/deep/new/z", b.get()));
    EXPECT_EQ(*d->get("/bt/deep/new/z", 100), "src");
    EXPECT_EQ(d->stat("/bt/y").error().code, "not_found");
    EXPECT_FALSE(d->move("/bt/missing", "/bt/other", b.get()));
    EXPECT_EQ(d->put("/bt/../x", "y", Durability::full, b.get()).error().code, "bad_path");
    ASSERT_TRUE(b->commit());
    ASSERT_TRUE(b->commit());  // nothing left: still fine
    ASSERT_TRUE(d->put("/bt/after", "late", Durability::full, b.get()));
  }  // dropped with /bt/after uncommitted
  EXPECT_EQ(*d->get("/bt/after", 100), "late");
  EXPECT_EQ(d->list("/bt/x").value_or(std::vector<std::string>{"?"}),
            std::vector<std::string>{"link"});

  constexpr int kThreads = 8, kEach = 10;
  std::vector<std::thread> ts;
  std::vector<std::string> failures(kThreads);
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        std::string id = std::to_string(t) + "-" + std::to_string(i);
        std::string shard = std::to_string(i % 4);
        auto w = d->append("/bu/" + id + "/data");
        if (!w || !(*w)->write("blob " + id) || !(*w)->sync()) {
          failures[t] += "append " + id + "; ";
          continue;
        }
        w->reset();
        auto b = d->batch();
        if (!d->move("/bu/" + id + "/data", "/bb/" + shard + "/" + id + "/data", b.get()) ||
            !d->put("/bl/" + shard + "/" + id + "/link", id, Durability::name_only, b.get()) ||
            !b->commit())
          failures[t] += "commit " + id + "; ";
      }
    });
  for (auto& t : ts) t.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], "") << "thread " << t;
  for (int t = 0; t < kThreads; ++t)
    for (int i = 0; i < kEach; ++i) {
      std::string id = std::to_string(t) + "-" + std::to_string(i);
      std::string shard = std::to_string(i % 4);
      EXPECT_EQ(d->get("/bb/" + shard + "/" + id + "/data", 100).value_or("?"), "blob " + id);
      EXPECT_EQ(d->get("/bl/" + shard + "/" + id + "/link", 100).value_or("?"), id);
    }
}

// ensure_durable() accepts any existing file, at once or in a batch, including one another
// thread is committing right now, and refuses a missing one.
TEST_P(DriverConformance, EnsureDurableOfExistingAndMissingFiles) {
  ASSERT_TRUE(d->put("/ed/a/f", "x"));
  EXPECT_TRUE(d->ensure_durable("/ed/a/f"));
  auto b = d->batch();
  EXPECT_TRUE(d->ensure_durable("/ed/a/f", b.get()));
  EXPECT_TRUE(b->commit());
  EXPECT_EQ(d->ensure_durable("/ed/a/missing").error().code, "not_found");
  EXPECT_EQ(d->ensure_durable("/ed/nodir/f").error().code, "not_found");
  EXPECT_EQ(d->ensure_durable("/ed/../f").error().code, "bad_path");
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; i < 40; ++i) {
      std::string dir = "/ed/race/" + std::to_string(i);
      auto wb = d->batch();
      (void)d->put(dir + "/data", "v", Durability::full, wb.get());
      (void)wb->commit();
    }
    done = true;
  });
  int seen = 0;
  while (!done)
    for (int i = 0; i < 40; ++i)
      if (d->ensure_durable("/ed/race/" + std::to_string(i) + "/data")) ++seen;
  writer.join();
  for (int i = 0; i < 40; ++i)
    EXPECT_TRUE(d->ensure_durable("/ed/race/" + std::to_string(i) + "/data")) << i;
  std::printf("ensure_durable found %d files while they were being committed\n", seen);
}

TEST_P(DriverConformance, RefusesEscapingPaths) {
  for (const char* p :
       {"relative", "/a/../b", "/a//b", "/./a", "/a/b/", "/a b", "/a\\b", "/%2e%2e"}) {
    auto r = d->put(p, "x");
    ASSERT_FALSE(r) << p;
    EXPECT_EQ(r.error().code, "bad_path") << p;
  }
  EXPECT_FALSE(std::filesystem::exists(scratch.parent_path() / "b"));
}

INSTANTIATE_TEST_SUITE_P(Drivers, DriverConformance,
                         ::testing::Values(Backend{"filesystem",
                                                   [](const std::filesystem::path& s) {
                                                     auto d = make_filesystem_driver(s.string());
                                                     return d ? std::move(*d) : nullptr;
                                                   }}),
                         [](const auto& info) { return info.param.name; });

}  // namespace

namespace {
// The unsafe no-fsync mode must still honour the visible contract (atomic replace, etc.).
INSTANTIATE_TEST_SUITE_P(DriversNoFsync, DriverConformance,
                         ::testing::Values(Backend{"filesystem_unsafe_skip_fsync",
                                                   [](const std::filesystem::path& s) {
                                                     auto d = make_filesystem_driver(
                                                         s.string(), FilesystemOptions{true});
                                                     return d ? std::move(*d) : nullptr;
                                                   }}),
                         [](const auto& info) { return info.param.name; });
}  // namespace

namespace {
// What discard() hands to the background is really deleted: by the time the driver is
// destroyed, and, for what a killed process left in the trash, after the next start.
TEST(FilesystemDriver, DiscardedBytesAreDeletedAndLeftoversPurgedAtTheNextStart) {
  namespace fs = std::filesystem;
  fs::path root = fs::temp_directory_path() / ("docket-trash-" + random_hex_id());
  auto regular_files = [&] {
    std::vector<std::string> out;
    for (auto& e : fs::recursive_directory_iterator(root))
      if (e.is_regular_file()) out.push_back(fs::relative(e.path(), root).generic_string());
    std::sort(out.begin(), out.end());
    return out;
  };
  {
    auto d = make_filesystem_driver(root.string());
    ASSERT_TRUE(d);
    auto w = (*d)->append("/up/data");
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->write(docket::registry::testing::random_bytes(3 << 20, 9)));
    ASSERT_TRUE((*w)->sync());
    w->reset();
    ASSERT_TRUE((*d)->put("/keep", "k"));
    ASSERT_TRUE((*d)->discard("/up"));
  }
  EXPECT_EQ(regular_files(), std::vector<std::string>{"keep"});
  fs::create_directories(root / ".trash" / "left" / "deep");
  std::FILE* f = std::fopen((root / ".trash" / "left" / "deep" / "data").c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs("leftover", f);
  std::fclose(f);
  { ASSERT_TRUE(make_filesystem_driver(root.string())); }
  EXPECT_EQ(regular_files(), std::vector<std::string>{"keep"});
  EXPECT_TRUE(fs::is_empty(root / ".trash"));
  fs::remove_all(root);
}
}  // namespace
