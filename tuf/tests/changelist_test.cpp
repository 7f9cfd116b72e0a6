#include "tuf/changelist.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "common/digest.h"
#include "common/encoding.h"
#include "common/file.h"

namespace docket::tuf {
namespace {
namespace fs = std::filesystem;

const fs::path kShared = DOCKET_SHARED_DIR;

class ChangelistTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("docket-changelist-test-" + random_hex_id());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(ChangelistTest, ParsesNotarySampleEntry) {
  for (const char* flavour : {"local-ed25519", "remote-signer-ecdsa"}) {
    auto bytes = read_file(kShared / "notary/samples" / flavour / "changelist-entry.change");
    ASSERT_TRUE(bytes.has_value()) << flavour;
    auto c = Change::parse(*bytes, "sample");
    ASSERT_TRUE(c.has_value()) << c.error().describe();
    EXPECT_EQ(c->action, "create");
    EXPECT_EQ(c->role, "targets");
    EXPECT_EQ(c->type, "target");
    EXPECT_FALSE(c->data_null);
    auto t = TargetChange::parse(c->data, "sample data");
    ASSERT_TRUE(t.has_value()) << t.error().describe();
    EXPECT_GT(t->length, 0);
    ASSERT_EQ(t->hashes.count("sha256"), 1u);
    EXPECT_EQ(t->hashes.at("sha256").size(), 32u);
    ASSERT_EQ(t->hashes.count("sha512"), 1u);
    EXPECT_EQ(t->hashes.at("sha512").size(), 64u);
    // Our writer reproduces Notary's bytes exactly (field order, base64 data).
    EXPECT_EQ(c->to_file_bytes(), *bytes);
    EXPECT_EQ(t->to_bytes(), c->data);
  }
}

TEST_F(ChangelistTest, SampleTargetHashesMatchLength) {
  // local-ed25519's entry stages "staged" with length 7: its hashes must be of 7 bytes we
  // cannot know, but sha256 and sha512 must be the sizes of those algorithms and base64
  // round-trips exactly.
  auto bytes = read_file(kShared / "notary/samples/local-ed25519/changelist-entry.change");
  ASSERT_TRUE(bytes.has_value());
  auto c = Change::parse(*bytes, "sample");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->path, "staged");
  auto t = TargetChange::parse(c->data, "sample");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->length, 7);
}

TEST_F(ChangelistTest, AddListInOrderAndClear) {
  auto cl = Changelist::open(dir_, "localhost:4443/library/demo");
  ASSERT_TRUE(cl.has_value()) << cl.error().describe();
  EXPECT_EQ(cl->dir(), dir_ / "tuf/localhost:4443/library/demo/changelist");
  struct stat st {};
  ASSERT_EQ(::stat(cl->dir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);

  std::vector<std::string> names;
  for (int i = 0; i < 50; ++i) {
    TargetChange t{i, {{"sha256", sha256(std::to_string(i))}}, std::nullopt};
    auto n = cl->add(make_target_change("create", "targets", "t" + std::to_string(i), t));
    ASSERT_TRUE(n.has_value()) << n.error().describe();
    // <%020d>_<uuid4>.change
    ASSERT_EQ(n->size(), 20 + 1 + 36 + 7) << *n;
    EXPECT_EQ((*n)[20], '_');
    names.push_back(*n);
  }
  auto list = cl->list();
  ASSERT_TRUE(list.has_value()) << list.error().describe();
  ASSERT_EQ(list->size(), 50u);
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ((*list)[i].path, "t" + std::to_string(i));
    EXPECT_EQ((*list)[i].file_name, names[i]);
    auto t = TargetChange::parse((*list)[i].data, "entry");
    ASSERT_TRUE(t.has_value());
    EXPECT_EQ(t->length, i);
  }
  // Temp files and foreign files are not entries.
  std::ofstream(cl->dir() / ".00000000000000000001_x.change.tmp-abc") << "{";
  std::ofstream(cl->dir() / "README") << "hi";
  list = cl->list();
  ASSERT_TRUE(list.has_value());
  EXPECT_EQ(list->size(), 50u);

  // Removing only some entries keeps the rest in order.
  ASSERT_TRUE(cl->remove({names[0], names[1]}).has_value());
  list = cl->list();
  ASSERT_TRUE(list.has_value());
  ASSERT_EQ(list->size(), 48u);
  EXPECT_EQ(list->front().path, "t2");

  ASSERT_TRUE(cl->clear().has_value());
  list = cl->list();
  ASSERT_TRUE(list.has_value());
  EXPECT_TRUE(list->empty());
  EXPECT_TRUE(fs::exists(cl->dir() / "README"));
}

TEST_F(ChangelistTest, MalformedEntryIsANamedLocalError) {
  auto cl = Changelist::open(dir_, "example.com/app");
  ASSERT_TRUE(cl.has_value());
  ASSERT_TRUE(cl->add(make_witness_change("targets")).has_value());
  std::ofstream(cl->dir() / "99999999999999999999_bad.change") << "{\"action\":\"create\"";
  auto list = cl->list();
  ASSERT_FALSE(list.has_value());
  EXPECT_EQ(list.error().fault, Fault::local);
  EXPECT_NE(list.error().message.find("99999999999999999999_bad.change"), std::string::npos)
      << list.error().message;

  fs::remove(cl->dir() / "99999999999999999999_bad.change");
  std::ofstream(cl->dir() / "99999999999999999999_bad.change")
      << R"({"action":"rename","role":"targets","type":"target","path":"x","data":null})";
  list = cl->list();
  ASSERT_FALSE(list.has_value());
  EXPECT_EQ(list.error().code, "malformed_change");
  EXPECT_NE(list.error().message.find("rename"), std::string::npos);
}

TEST_F(ChangelistTest, RejectsGunsThatEscapeTheTrustDir) {
  for (const char* gun : {"", "../x", "a/../../b", "/abs", "a//b", "a/./b", "a b", "a\\b"}) {
    auto cl = Changelist::open(dir_, gun);
    ASSERT_FALSE(cl.has_value()) << gun;
    EXPECT_EQ(cl.error().fault, Fault::user);
  }
  EXPECT_TRUE(Changelist::open(dir_, "docker.io/library/alpine").has_value());
}

TEST_F(ChangelistTest, DelegationAndRootChangesRoundTrip) {
  Json key = {{"keytype", "ecdsa"}, {"keyval", {{"private", nullptr}, {"public", "AAAA"}}}};
  DelegationChange d;
  d.threshold = 2;
  d.add_keys = {key};
  d.add_paths = {"releases/", ""};
  d.remove_keys = {"abcd"};
  d.clear_paths = true;
  Change c = make_delegation_change("update", "targets/releases", d);
  auto back = Change::parse(c.to_file_bytes(), "x");
  ASSERT_TRUE(back.has_value());
  auto d2 = DelegationChange::parse(back->data, "x");
  ASSERT_TRUE(d2.has_value()) << d2.error().describe();
  EXPECT_EQ(d2->threshold, 2);
  ASSERT_EQ(d2->add_keys.size(), 1u);
  EXPECT_EQ(d2->add_keys[0], key);
  EXPECT_EQ(d2->add_paths, (std::vector<std::string>{"releases/", ""}));
  EXPECT_EQ(d2->remove_keys, (std::vector<std::string>{"abcd"}));
  EXPECT_TRUE(d2->clear_paths);

  // Notary's own encoding of a fresh delegation (Go struct order, threshold always present).
  DelegationChange fresh;
  fresh.threshold = 1;
  EXPECT_EQ(fresh.to_bytes(), R"({"threshold":1,"add_keys":null})");

  RootRoleChange r{"targets", {key}};
  Change rc = make_root_role_change(r);
  EXPECT_EQ(rc.role, "root");
  EXPECT_EQ(rc.type, "role");
  auto r2 = RootRoleChange::parse(rc.data, "x");
  ASSERT_TRUE(r2.has_value());
  EXPECT_EQ(r2->role, "targets");
  EXPECT_EQ(r2->keys.size(), 1u);
  EXPECT_FALSE(RootRoleChange::parse(R"({"role":"targets/x","keys":[]})", "x").has_value());

  Change w = make_witness_change("targets/releases");
  EXPECT_EQ(
      w.to_file_bytes(),
      R"({"action":"update","role":"targets/releases","type":"witness","path":"","data":null})");
}

TEST_F(ChangelistTest, RejectsBadTargetData) {
  EXPECT_FALSE(TargetChange::parse(R"({"hashes":{"sha256":"AA=="}})", "x").has_value());
  EXPECT_FALSE(TargetChange::parse(R"({"length":-1,"hashes":{"sha256":"AA=="}})", "x").has_value());
  EXPECT_FALSE(TargetChange::parse(R"({"length":1,"hashes":{}})", "x").has_value());
  EXPECT_FALSE(TargetChange::parse(R"({"length":1,"hashes":{"sha256":"!!"}})", "x").has_value());
  auto ok = TargetChange::parse(R"({"length":1,"hashes":{"sha256":"AA=="},"custom":{"a":1}})", "x");
  ASSERT_TRUE(ok.has_value());
  ASSERT_TRUE(ok->custom.has_value());
  EXPECT_EQ((*ok->custom)["a"], 1);
}

}  // namespace
}  // namespace docket::tuf
