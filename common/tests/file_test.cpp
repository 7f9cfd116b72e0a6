#include "common/file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

namespace docket {
namespace {
namespace fs = std::filesystem;

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

}  // namespace
}  // namespace docket
