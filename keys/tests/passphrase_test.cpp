#include "keys/passphrase.h"

#include <gtest/gtest.h>

#include <deque>
#include <fstream>

#include "keys/tests/test_util.h"

namespace docket::keys {
namespace {

using testing::TempDir;

// A scripted terminal: answers in order, records prompts.
class FakeTerminal final : public Terminal {
 public:
  explicit FakeTerminal(bool available, std::deque<std::optional<std::string>> answers = {})
      : available_(available), answers_(std::move(answers)) {}
  bool available() override { return available_; }
  Result<std::optional<Secret>> read_secret(std::string_view prompt) override {
    prompts.emplace_back(prompt);
    if (answers_.empty()) return std::optional<Secret>();  // end of input
    auto a = answers_.front();
    answers_.pop_front();
    if (!a) return std::optional<Secret>();
    return std::optional<Secret>(Secret(*a));
  }
  void say(std::string_view line) override { said.emplace_back(line); }
  std::vector<std::string> prompts, said;

 private:
  bool available_;
  std::deque<std::optional<std::string>> answers_;
};

PassphraseRequest req(std::string role, bool create = false, int attempt = 0) {
  return PassphraseRequest{std::string(64, 'a'), std::move(role), "example.com/app", create,
                           attempt};
}

TEST(Passphrase, EnvironmentVariablesPerRole) {
  struct Case {
    const char* role;
    std::vector<std::string> vars;
  } cases[] = {
      {"root", {"NOTARY_ROOT_PASSPHRASE", "DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE"}},
      {"targets", {"NOTARY_TARGETS_PASSPHRASE", "DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE"}},
      {"snapshot", {"NOTARY_SNAPSHOT_PASSPHRASE", "DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE"}},
      {"timestamp", {"NOTARY_TIMESTAMP_PASSPHRASE", "DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE"}},
      {"targets/releases",
       {"NOTARY_DELEGATION_PASSPHRASE", "DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE"}},
      {"user", {"NOTARY_DELEGATION_PASSPHRASE", "DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE"}},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(passphrase_env_vars(c.role), c.vars) << c.role;
    // Each variable alone answers for the role.
    for (const auto& var : c.vars) {
      MapEnvironment env({{var, "pw-" + var}});
      auto src = env_passphrase(env);
      auto p = src->get(req(c.role));
      ASSERT_TRUE(p.has_value()) << c.role << " " << var << ": " << p.error().describe();
      EXPECT_EQ(p->view(), "pw-" + var);
    }
  }
  // Notary's variable wins over Docker's; empty variables are ignored.
  MapEnvironment both(
      {{"NOTARY_ROOT_PASSPHRASE", "n"}, {"DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE", "d"}});
  EXPECT_EQ(env_passphrase(both)->get(req("root"))->view(), "n");
  MapEnvironment empty(
      {{"NOTARY_ROOT_PASSPHRASE", ""}, {"DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE", "d"}});
  EXPECT_EQ(env_passphrase(empty)->get(req("root"))->view(), "d");
  // A root variable does not answer for targets.
  MapEnvironment rootonly({{"NOTARY_ROOT_PASSPHRASE", "n"}});
  EXPECT_FALSE(env_passphrase(rootonly)->get(req("targets")).has_value());
}

TEST(Passphrase, NoSourceFailsAtOnceNamingVariables) {
  MapEnvironment env({});
  FakeTerminal tty(false);
  auto src = default_passphrase_source({&env, std::nullopt, &tty});
  ASSERT_TRUE(src.has_value());
  auto p = (*src)->get(req("targets/releases"));
  ASSERT_FALSE(p.has_value());
  EXPECT_EQ(p.error().fault, Fault::user);
  EXPECT_EQ(p.error().code, "passphrase");
  EXPECT_NE(p.error().message.find("NOTARY_DELEGATION_PASSPHRASE"), std::string::npos);
  EXPECT_NE(p.error().message.find("DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE"),
            std::string::npos);
  EXPECT_NE(p.error().message.find("--passphrase-file"), std::string::npos);
  EXPECT_TRUE(tty.prompts.empty()) << "an unavailable terminal is never prompted";
}

TEST(Passphrase, EnvCannotRetry) {
  MapEnvironment env({{"NOTARY_ROOT_PASSPHRASE", "x"}});
  FakeTerminal tty(true, {"from-tty"});
  auto src = *default_passphrase_source({&env, std::nullopt, &tty});
  EXPECT_EQ(src->get(req("root"))->view(), "x");
  auto again = src->get(req("root", false, 1));
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, "passphrase");
  EXPECT_NE(again.error().message.find("NOTARY_ROOT_PASSPHRASE"), std::string::npos);
  EXPECT_TRUE(tty.prompts.empty()) << "a wrong variable must not silently fall back to a prompt";
}

TEST(Passphrase, TerminalPromptsAndConfirms) {
  FakeTerminal tty(true, {"first", "typo", "second", "second"});
  auto src = tty_passphrase(tty);
  auto p = src->get(req("root", true));
  ASSERT_TRUE(p.has_value()) << p.error().describe();
  EXPECT_EQ(p->view(), "second");
  ASSERT_EQ(tty.prompts.size(), 4u);
  EXPECT_NE(tty.prompts[0].find("new root key"), std::string::npos) << tty.prompts[0];
  EXPECT_NE(tty.prompts[1].find("Repeat"), std::string::npos);
  ASSERT_EQ(tty.said.size(), 1u);
  EXPECT_NE(tty.said[0].find("do not match"), std::string::npos);

  // Existing keys are asked once; a retry says the last one was wrong.
  FakeTerminal t2(true, {"a", "b"});
  auto s2 = tty_passphrase(t2);
  EXPECT_EQ(s2->get(req("targets"))->view(), "a");
  EXPECT_EQ(s2->get(req("targets", false, 1))->view(), "b");
  EXPECT_EQ(t2.prompts.size(), 2u);
  ASSERT_EQ(t2.said.size(), 1u);
  EXPECT_NE(t2.said[0].find("incorrect"), std::string::npos);
  // No more than kMaxPassphraseAttempts.
  EXPECT_FALSE(s2->get(req("targets", false, kMaxPassphraseAttempts)).has_value());
}

TEST(Passphrase, TerminalEdgeCases) {
  // End of input fails instead of looping.
  FakeTerminal eof(true, {});
  auto p = tty_passphrase(eof)->get(req("root"));
  ASSERT_FALSE(p.has_value());
  EXPECT_EQ(p.error().code, "passphrase");
  EXPECT_EQ(eof.prompts.size(), 1u);
  // Empty passphrases are refused for new keys; three bad tries give up.
  FakeTerminal empties(true, {"", "", "", "never-read"});
  auto e = tty_passphrase(empties)->get(req("root", true));
  ASSERT_FALSE(e.has_value());
  EXPECT_EQ(empties.prompts.size(), 3u);
  // Never-matching confirmations give up too.
  FakeTerminal mismatch(true, {"a", "b", "c", "d", "e", "f", "g"});
  EXPECT_FALSE(tty_passphrase(mismatch)->get(req("root", true)).has_value());
  EXPECT_EQ(mismatch.prompts.size(), 6u);
}

TEST(Passphrase, File) {
  TempDir tmp;
  auto write = [&](const char* name, const std::string& text) {
    auto p = tmp.path() / name;
    std::ofstream(p, std::ios::binary) << text;
    return p;
  };
  EXPECT_EQ((*file_passphrase(write("a", "secret\n")))->get(req("root"))->view(), "secret");
  EXPECT_EQ((*file_passphrase(write("b", "secret\r\n\n")))->get(req("targets"))->view(), "secret");
  EXPECT_EQ((*file_passphrase(write("c", "no newline")))->get(req("x/y"))->view(), "no newline");
  EXPECT_EQ((*file_passphrase(write("s", " spaced  \n")))->get(req("root"))->view(), " spaced  ");
  for (const char* bad : {"", "\n", "two\nlines\n"}) {
    auto r = file_passphrase(write("bad", bad));
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code, "passphrase");
    EXPECT_EQ(r.error().fault, Fault::user);
  }
  auto missing = file_passphrase(tmp.path() / "missing");
  ASSERT_FALSE(missing.has_value());
  EXPECT_NE(missing.error().message.find("missing"), std::string::npos);
  auto big = file_passphrase(write("big", std::string(kMaxPassphraseFileBytes + 1, 'x')));
  EXPECT_FALSE(big.has_value());
  // The file cannot retry either.
  auto f = *file_passphrase(write("d", "pw\n"));
  EXPECT_FALSE(f->get(req("root", false, 1)).has_value());
  // Order: environment, then file, then terminal.
  MapEnvironment env({{"NOTARY_ROOT_PASSPHRASE", "env"}});
  FakeTerminal tty(true, {"tty"});
  auto chain = *default_passphrase_source({&env, write("e", "file\n"), &tty});
  EXPECT_EQ(chain->get(req("root"))->view(), "env");
  EXPECT_EQ(chain->get(req("targets"))->view(), "file");
  auto no_file = *default_passphrase_source({&env, std::nullopt, &tty});
  EXPECT_EQ(no_file->get(req("targets"))->view(), "tty");
}

TEST(Passphrase, BaseRoles) {
  EXPECT_TRUE(is_base_role("root"));
  EXPECT_TRUE(is_base_role("timestamp"));
  EXPECT_FALSE(is_base_role("targets/releases"));
  EXPECT_FALSE(is_base_role("Root"));
}

}  // namespace
}  // namespace docket::keys
