#include "common/file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

namespace docket {
namespace {
namespace fs = std::filesystem;

mode_t current_umask() {
  mode_t m = ::umask(0);
  ::umask(m);
  return m;
}

class FileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("docket-file-test-" + random_hex_id());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(FileTest, AtomicWriteReplacesAndKeepsMode) {
  fs::path p = dir_ / "a.key";
  ASSERT_TRUE(atomic_write_file(p, "one", 0600).has_value());
  ASSERT_TRUE(atomic_write_file(p, "two", 0600).has_value());
  EXPECT_EQ(*read_file(p), "two");
  struct stat st {};
  ASSERT_EQ(::stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // No temp files are left behind.
  int n = 0;
  for (auto& e : fs::directory_iterator(dir_)) (void)e, ++n;
  EXPECT_EQ(n, 1);
}

TEST_F(FileTest, ErrorsNameThePath) {
  auto r = read_file(dir_ / "missing");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, "not_found");
  EXPECT_EQ(r.error().fault, Fault::local);
  EXPECT_NE(r.error().message.find("missing"), std::string::npos);

  ASSERT_TRUE(atomic_write_file(dir_ / "big", std::string(100, 'x')).has_value());
  auto big = read_file(dir_ / "big", 10);
  ASSERT_FALSE(big.has_value());
  EXPECT_EQ(big.error().code, "too_large");

  auto w = atomic_write_file(dir_ / "no-such-dir" / "f", "x");
  ASSERT_FALSE(w.has_value());
  EXPECT_EQ(w.error().fault, Fault::local);
}

TEST(Random, Uuid4Shape) {
  std::string u = uuid4();
  ASSERT_EQ(u.size(), 36u);
  EXPECT_EQ(u[14], '4');
  EXPECT_NE(uuid4(), u);
}

// Every sync mode replaces the file whole, with the asked mode, leaving no temp file; the
// modes differ only in what reaches the disk, which a test cannot observe without a crash.
TEST_F(FileTest, AtomicWriteInEverySyncMode) {
  for (auto sync : {WriteSync::file_and_directory, WriteSync::file, WriteSync::none}) {
    fs::path p = dir_ / ("f" + std::to_string(static_cast<int>(sync)));
    ASSERT_TRUE(atomic_write_file(p, "old", 0640, sync).has_value());
    ASSERT_TRUE(atomic_write_file(p, "new", 0640, sync).has_value());
    EXPECT_EQ(*read_file(p), "new");
    struct stat st {};
    ASSERT_EQ(::stat(p.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0640u);
  }
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator{}), 3);
}

TEST_F(FileTest, MakeDirectoriesCreatesMissingParentsWithTheMode) {
  fs::path deep = dir_ / "a" / "b" / "c";
  ASSERT_TRUE(make_directories(deep).has_value());
  for (const auto& d : {dir_ / "a", dir_ / "a" / "b", deep}) {
    struct stat st {};
    ASSERT_EQ(::stat(d.c_str(), &st), 0) << d;
    EXPECT_TRUE(S_ISDIR(st.st_mode)) << d;
    EXPECT_EQ(st.st_mode & 0777, 0700u & ~current_umask()) << d;
  }
  EXPECT_TRUE(make_directories(deep).has_value());  // existing: fine
  // A file in the way is an io error naming the path.
  ASSERT_TRUE(atomic_write_file(dir_ / "file", "x").has_value());
  auto r = make_directories(dir_ / "file" / "sub");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, "io");
  EXPECT_NE(r.error().message.find((dir_ / "file" / "sub").string()), std::string::npos)
      << r.error().message;
}

}  // namespace
}  // namespace docket
