#include "tuf/repo_store.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/file.h"
#include "tuf/repo_publish.h"

namespace docket::tuf {
namespace {
namespace fs = std::filesystem;

std::string first_line(const std::string& s) {
  return s.substr(0, s.find('\n'));
}

TEST(NotaryErrors, DescribesTheServersErrorDocuments) {
  fs::path samples = fs::path(DOCKET_SHARED_DIR) / "notary/samples/remote-signer-ecdsa";
  auto badsig = read_file(samples / "error-400-invalid-update-badsig.txt");
  ASSERT_TRUE(badsig.has_value());
  EXPECT_EQ(describe_notary_error(first_line(*badsig)),
            "INVALID_UPDATE: Update sent by the client is invalid. (ErrBadTargets: valid "
            "signatures did not meet threshold for targets)");
  auto upload = read_file(samples / "error-400-malformed-upload.json");
  ASSERT_TRUE(upload.has_value());
  EXPECT_EQ(describe_notary_error(first_line(*upload)),
            "MALFORMED_UPLOAD: The body of your request is malformed.");
  EXPECT_EQ(describe_notary_error("<html>\x01</html>"), "<html>?</html>");
  EXPECT_EQ(describe_notary_error(""), "");
}

TEST(NotaryUpload, MultipartAsNotarySendsIt) {
  std::vector<SignedRole> roles{{"root", 1, "{\"r\":1}", true},
                                {"targets/releases", 2, "{\"t\":2}", true}};
  auto b = notary_upload_body(roles);
  ASSERT_TRUE(b.has_value());
  ASSERT_TRUE(b->content_type.starts_with("multipart/form-data; boundary="));
  std::string boundary = b->content_type.substr(b->content_type.find('=') + 1);
  EXPECT_GE(boundary.size(), 32u);
  EXPECT_EQ(b->body, "--" + boundary +
                         "\r\nContent-Disposition: form-data; name=\"files\"; filename=\"root\"\r\n"
                         "Content-Type: application/octet-stream\r\n\r\n{\"r\":1}\r\n--" +
                         boundary +
                         "\r\nContent-Disposition: form-data; name=\"files\"; "
                         "filename=\"targets/releases\"\r\n"
                         "Content-Type: application/octet-stream\r\n\r\n{\"t\":2}\r\n--" +
                         boundary + "--\r\n");
  // A role name that could forge part headers is refused.
  EXPECT_FALSE(notary_upload_body({{"targets\"\r\nX: y", 1, "{}", true}}).has_value());
  // The timestamp never goes to a Notary server.
  auto only = Editor::for_notary_upload({{"targets", 2, "{}", true}, {"timestamp", 3, "{}", true}});
  ASSERT_EQ(only.size(), 1u);
  EXPECT_EQ(only[0].role, "targets");
}

TEST(RepoStore, NotaryLayoutAndNoEscapes) {
  fs::path dir = fs::temp_directory_path() / ("docket-repo-store-" + random_hex_id());
  auto store = RepoStore::open(dir, "example.com/app");
  ASSERT_TRUE(store.has_value());
  EXPECT_FALSE(store->exists());
  ASSERT_TRUE(store
                  ->save({{"root", "R"},
                          {"targets", "T"},
                          {"targets/releases", "D"},
                          {"targets/releases/beta", "B"},
                          {"snapshot", "S"}})
                  .has_value());
  EXPECT_TRUE(store->exists());
  fs::path meta = dir / "tuf/example.com/app/metadata";
  EXPECT_EQ(*read_file(meta / "targets/releases.json"), "D");
  EXPECT_EQ(*read_file(meta / "targets/releases/beta.json"), "B");
  auto files = store->load();
  ASSERT_TRUE(files.has_value()) << files.error().describe();
  EXPECT_EQ(files->root, "R");
  EXPECT_EQ(files->targets.size(), 3u);
  EXPECT_EQ(files->targets.at("targets/releases/beta"), "B");
  EXPECT_EQ(files->snapshot, "S");
  EXPECT_FALSE(files->timestamp.has_value());
  for (const char* bad : {"targets/../../x", "targets//a", "targets/./a", ""}) {
    auto p = store->path_of(bad);
    EXPECT_FALSE(p.has_value()) << bad;
  }
  // TUF-dialect names that are not below "targets" become one percent-encoded file.
  auto p = store->path_of("../evil");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->parent_path(), meta);
  EXPECT_EQ(p->filename().string(), "..%2Fevil.json");
  ASSERT_TRUE(store->remove("targets/releases/beta").has_value());
  EXPECT_FALSE(fs::exists(meta / "targets/releases/beta.json"));
  EXPECT_FALSE(RepoStore::open(dir, "../x").has_value());
  fs::remove_all(dir);
}

}  // namespace
}  // namespace docket::tuf
