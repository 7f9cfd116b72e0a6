// Shared harness for the docket-tuf end-to-end tests: the real binary, a loopback HTTP/1.0
// server serving a Simulator repository under percent-encoded prefixes (used verbatim by the
// client), the exact request list, and the metadata/target directory contents.
#pragma once

#include <gtest/gtest.h>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>

#include "common/digest.h"
#include "common/file.h"
#include "common/time.h"
#include "net/testing/loopback_server.h"
#include "tuf/simulator.h"

extern char** environ;

namespace docket::tuf::cli_testing {

namespace fs = std::filesystem;
using net::testing::LoopbackServer;
using V = std::vector<std::string>;

inline const std::string kBinary = std::string(DOCKET_BINARY_DIR) + "/cli/docket-tuf";
// Percent-encoded test-name-like prefixes: must be used verbatim.
inline const std::string kMetaPrefix = "/test%5Bx%5D%2Fmeta/";
inline const std::string kTargetPrefix = "/test%20t/targets/";

struct RunResult {
  int status = -1;
  std::string output;
};

inline RunResult run(std::vector<std::string> args, const std::vector<std::string>& prefix = {}) {
  std::vector<std::string> full = prefix;
  full.push_back(kBinary);
  for (auto& a : args) full.push_back(std::move(a));
  std::vector<char*> argv;
  for (auto& a : full) argv.push_back(a.data());
  argv.push_back(nullptr);
  fs::path out = fs::temp_directory_path() / ("docket-tuf-out-" + random_hex_id());
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid;
  RunResult r;
  if (posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ) != 0) {
    posix_spawn_file_actions_destroy(&fa);
    return r;
  }
  posix_spawn_file_actions_destroy(&fa);
  int st = 0;
  waitpid(pid, &st, 0);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  r.output = read_file(out).value_or("");
  fs::remove(out);
  return r;
}

class CliTest : public ::testing::Test {
 protected:
  CliTest() = default;
  explicit CliTest(Simulator::Options o) : sim(o) {}
  Simulator sim;
  std::mutex mu;
  std::vector<std::string> seen;  // request targets relative to the prefixes
  std::unique_ptr<LoopbackServer> server;
  fs::path dir, mdir, tdir;

  void SetUp() override {
    dir = fs::temp_directory_path() / ("docket-tuf-cli-" + random_hex_id());
    mdir = dir / "metadata";
    tdir = dir / "targets";
    fs::create_directories(mdir);
    fs::create_directories(tdir);
    server = std::make_unique<LoopbackServer>([this](LoopbackServer::Connection& c) {
      auto req = c.read_request();
      if (!req) return;
      std::optional<std::string> body;
      {
        std::lock_guard lock(mu);
        const std::string& t = req->target;
        if (t.rfind(kMetaPrefix, 0) == 0) {
          seen.push_back(t.substr(kMetaPrefix.size()));
          body = sim.serve_metadata(t.substr(kMetaPrefix.size()));
        } else if (t.rfind(kTargetPrefix, 0) == 0) {
          seen.push_back("T:" + t.substr(kTargetPrefix.size()));
          body = sim.serve_target(t.substr(kTargetPrefix.size()));
        } else {
          seen.push_back("?" + t);
        }
      }
      // HTTP/1.0: Content-Length, then close.
      std::string status = body ? "200 OK" : "404 Not Found";
      std::string b = body.value_or("not found");
      c.write("HTTP/1.0 " + status + "\r\nContent-Length: " + std::to_string(b.size()) +
              "\r\n\r\n" + b);
    });
    std::string root_file = (dir / "trusted-root.json").string();
    ASSERT_TRUE(atomic_write_file(root_file, sim.signed_roots.front()));
    auto r = run({"--metadata-dir", mdir.string(), "init", root_file});
    ASSERT_EQ(r.status, 0) << r.output;
  }
  void TearDown() override {
    server.reset();
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  std::string meta_url() const { return server->url(kMetaPrefix); }
  std::string target_url() const { return server->url(kTargetPrefix); }
  // `prefix` runs the binary under another command, e.g. faketime_at(...).
  RunResult refresh(const std::vector<std::string>& prefix = {}) {
    clear();
    return run({"--metadata-url", meta_url(), "--metadata-dir", mdir.string(), "refresh"}, prefix);
  }
  RunResult download(const std::vector<std::string>& names,
                     const std::vector<std::string>& prefix = {}) {
    clear();
    std::vector<std::string> a{"--metadata-url", meta_url(), "--metadata-dir", mdir.string()};
    for (const auto& n : names) {
      a.push_back("--target-name");
      a.push_back(n);
    }
    for (std::string s : std::vector<std::string>{"--target-dir", tdir.string(),
                                                  "--target-base-url", target_url(), "download"})
      a.push_back(s);
    return run(a, prefix);
  }
  void clear() {
    std::lock_guard lock(mu);
    seen.clear();
  }
  V requests() {
    std::lock_guard lock(mu);
    return seen;
  }
  // (file, version) of every *.json in the metadata dir.
  std::map<std::string, std::int64_t> md_files() {
    std::map<std::string, std::int64_t> out;
    for (const auto& e : fs::directory_iterator(mdir)) {
      if (e.path().extension() != ".json") continue;
      auto h = parse_header(*read_file(e.path()));
      out[e.path().filename().string()] = h ? h->version : -1;
    }
    return out;
  }
  // The harness's view of the metadata dir: (name without .json, version) of every *.json,
  // sorted by file name.
  std::vector<std::pair<std::string, std::int64_t>> trusted_roles() {
    std::vector<std::pair<std::string, std::int64_t>> out;
    for (const auto& [file, v] : md_files()) out.emplace_back(file.substr(0, file.size() - 5), v);
    return out;
  }
  // Metadata requests only (target downloads are recorded with a "T:" prefix).
  V metadata_requests() {
    V out;
    for (auto& r : requests())
      if (!r.starts_with("T:")) out.push_back(r);
    return out;
  }
  std::set<std::string> target_files() {
    std::set<std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(tdir))
      if (e.is_regular_file()) out.insert(fs::relative(e.path(), tdir).string());
    return out;
  }
};

// `faketime "YYYY-MM-DD HH:MM:SS+00:00"` (absolute UTC, the harness's format) as a run() prefix.
inline std::vector<std::string> faketime_at(TimePoint t) {
  std::string s = format_rfc3339(t);  // YYYY-MM-DDTHH:MM:SSZ
  s[10] = ' ';
  return {"faketime", s.substr(0, 19) + "+00:00"};
}

inline bool have_faketime() {
  return std::filesystem::exists("/usr/bin/faketime");
}

}  // namespace docket::tuf::cli_testing
