// kill -9 of the real server binary during concurrent uploads and manifest pushes, then a
// restart: every upload and manifest the server acknowledged (201) must be intact, and no
// blob file visible under its digest may hold other bytes.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <random>
#include <thread>

#include "common/digest.h"
#include "common/file.h"
#include "common/json.h"
#include "net/testing/process.h"
#include "registry/tests/test_client.h"

using namespace docket;
using namespace docket::registry::testing;
namespace fs = std::filesystem;
namespace nt = docket::net::testing;

namespace {

struct Partial {
  std::string repo, blob;
  std::size_t acked = 0;  // bytes the server acknowledged with a 202
};

struct Committed {
  std::mutex mu;
  std::map<std::string, std::string> blobs;                         // "repo@digest" -> bytes
  std::map<std::string, std::pair<std::string, std::string>> tags;  // "repo:tag" -> (digest, bytes)
  std::map<std::string, Partial> partial;  // upload location -> upload not finished with a 201
};

// A large upload (past the size where the filesystem driver writes O_DIRECT from its own
// buffers) in three PATCHes of unaligned sizes, then PUT ?digest. Each 202 is recorded:
// after the kill, the upload must resume from at least that many bytes.
bool large_chunked_upload(unsigned short port, const std::string& repo, std::mt19937_64& rng,
                          Committed& out, std::string& blob) {
  blob = random_bytes(5 * 1024 * 1024 + rng() % (4 * 1024 * 1024));
  std::string d = Digest::of(blob).str();
  auto s = send(port, {"POST", "/v2/" + repo + "/blobs/uploads/"});
  if (s.status != 202) return false;
  std::string loc = s.header("location");
  std::size_t cuts[] = {0, 1 + rng() % (3 * 1024 * 1024), 0, blob.size()};
  cuts[2] = cuts[1] + 1 + rng() % (blob.size() - cuts[1] - 1);
  for (int k = 0; k < 3; ++k) {
    std::string piece = blob.substr(cuts[k], cuts[k + 1] - cuts[k]);
    auto p = send(
        port,
        {"PATCH",
         loc,
         piece,
         {{"Content-Range", std::to_string(cuts[k]) + "-" + std::to_string(cuts[k + 1] - 1)}}});
    if (p.status != 202) return false;
    std::lock_guard lk(out.mu);
    out.partial[loc] = Partial{repo, blob, cuts[k + 1]};
  }
  if (send(port, {"PUT", loc + "?digest=" + d}).status != 201) return false;
  std::lock_guard lk(out.mu);
  out.partial.erase(loc);
  return true;
}

std::optional<nt::Process> start_server(const fs::path& data, int port, const fs::path& log) {
  nt::ProcessOptions o;
  o.argv = {std::string(DOCKET_BINARY_DIR) + "/cli/docket-server",
            "registry",
            "--addr",
            "127.0.0.1:" + std::to_string(port),
            "--data",
            data.string()};
  o.env = {{"DOCKET_LOG_LEVEL", "warn"}};
  o.log_file = log;
  auto p = nt::Process::start(o);
  if (!p) return std::nullopt;
  if (!p->wait_for_port(port, std::chrono::seconds(20))) return std::nullopt;
  return std::move(*p);
}

void client_loop(int id, unsigned short port, std::atomic<bool>& stop, Committed& out) {
  std::mt19937_64 rng(id * 7919 + 1);
  std::string repo = "crash/r" + std::to_string(id % 2);
  for (int i = 0; !stop; ++i) {
    try {
      std::string blob = random_bytes(1024 + rng() % (1536 * 1024));
      bool ok = false;
      if (i % 4 == 3) {
        ok = large_chunked_upload(port, repo, rng, out, blob);
      } else if (i % 2 == 0) {
        ok = send(port, {"POST", "/v2/" + repo + "/blobs/uploads/?digest=" + Digest::of(blob).str(),
                         blob})
                 .status == 201;
      } else {
        std::string d = Digest::of(blob).str();
        auto s = send(port, {"POST", "/v2/" + repo + "/blobs/uploads/"});
        if (s.status != 202) continue;
        std::string loc = s.header("location");
        std::size_t half = blob.size() / 2;
        if (send(port, {"PATCH", loc, blob.substr(0, half), {}, true}).status != 202) continue;
        ok = send(port, {"PUT", loc + "?digest=" + d, blob.substr(half)}).status == 201;
      }
      if (!ok) continue;
      std::string d = Digest::of(blob).str();
      {
        std::lock_guard lk(out.mu);
        out.blobs[repo + "@" + d] = blob;
      }
      std::string cfg = "{\"i\":" + std::to_string(i) + ",\"c\":" + std::to_string(id) + "}";
      std::string cd = Digest::of(cfg).str();
      if (send(port, {"POST", "/v2/" + repo + "/blobs/uploads/?digest=" + cd, cfg}).status != 201)
        continue;
      Json m = {{"schemaVersion", 2},
                {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                {"config",
                 {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                  {"digest", cd},
                  {"size", cfg.size()}}},
                {"layers", Json::array({{{"mediaType", "application/vnd.oci.image.layer.v1.tar"},
                                         {"digest", d},
                                         {"size", blob.size()}}})}};
      std::string body = m.dump();
      std::string tag = "t" + std::to_string(id) + "-" + std::to_string(i);
      auto r = send(port, {"PUT",
                           "/v2/" + repo + "/manifests/" + tag,
                           body,
                           {{"Content-Type", "application/vnd.oci.image.manifest.v1+json"}}});
      if (r.status == 201) {
        std::lock_guard lk(out.mu);
        out.tags[repo + ":" + tag] = {r.header("docker-content-digest"), body};
      }
    } catch (const std::exception&) {
      // The server died mid-request: expected.
    }
  }
}

TEST(CrashSafety, KillDuringConcurrentUploadsLosesNothingCommitted) {
  auto dir = nt::TempDir::create("docket-crash");
  fs::path data = dir.path() / "data";
  Committed done;
  for (int round = 0; round < 2; ++round) {
    int port = nt::free_loopback_port();
    auto server =
        start_server(data, port, dir.path() / ("server" + std::to_string(round) + ".log"));
    ASSERT_TRUE(server);
    std::atomic<bool> stop{false};
    std::vector<std::thread> clients;
    for (int c = 0; c < 4; ++c)
      clients.emplace_back(client_loop, c + round * 4, port, std::ref(stop), std::ref(done));
    // Let work pile up, then kill -9 while requests are in flight.
    std::this_thread::sleep_for(std::chrono::milliseconds(round == 0 ? 700 : 1500));
    ASSERT_EQ(::kill(server->pid(), SIGKILL), 0);
    server->wait(std::chrono::seconds(10));
    stop = true;
    for (auto& t : clients) t.join();
  }
  ASSERT_GT(done.blobs.size(), 0u)
      << "no upload completed before the kill: the test proved nothing";

  int port = nt::free_loopback_port();
  auto server = start_server(data, port, dir.path() / "server-final.log");
  ASSERT_TRUE(server);
  for (auto& [key, bytes] : done.blobs) {
    auto at = key.find('@');
    auto r = send(port, {"GET", "/v2/" + key.substr(0, at) + "/blobs/" + key.substr(at + 1)});
    ASSERT_EQ(r.status, 200u) << key;
    EXPECT_TRUE(r.body == bytes) << key;
  }
  for (auto& [key, v] : done.tags) {
    auto colon = key.find(':');
    auto r =
        send(port, {"GET", "/v2/" + key.substr(0, colon) + "/manifests/" + key.substr(colon + 1)});
    ASSERT_EQ(r.status, 200u) << key;
    EXPECT_EQ(r.body, v.second);
    EXPECT_EQ(r.header("docker-content-digest"), v.first);
  }
  // Uploads cut short by a kill resume from at least every byte a 202 acknowledged (the
  // upload file holds them before the answer), and finish with the right content.
  std::size_t resumed = 0;
  for (auto& [loc, p] : done.partial) {
    std::string d = Digest::of(p.blob).str();
    auto st = send(port, {"GET", loc});
    std::string uuid = loc.substr(loc.rfind('/') + 1);
    bool has_file = fs::exists(data / "repositories" / p.repo / "_uploads" / uuid / "data");
    if (st.status == 204 && has_file) {
      std::string range = st.header("range");
      ASSERT_EQ(range.rfind("0-", 0), 0u) << loc << " range " << range;
      std::size_t n = std::stoull(range.substr(2)) + 1;
      ASSERT_GE(n, p.acked) << loc << ": acknowledged bytes lost";
      ASSERT_LE(n, p.blob.size()) << loc;
      auto put = send(port, {"PUT", loc + "?digest=" + d, p.blob.substr(n)});
      ASSERT_EQ(put.status, 201u) << loc << " " << put.body;
      ++resumed;
    } else {
      // Killed while committing: the upload file was already renamed to its digest; a
      // push of the whole blob finishes (or repeats) the commit.
      auto put = send(port, {"POST", "/v2/" + p.repo + "/blobs/uploads/?digest=" + d, p.blob});
      ASSERT_EQ(put.status, 201u) << loc << " " << put.body;
    }
    auto r = send(port, {"GET", "/v2/" + p.repo + "/blobs/" + d});
    ASSERT_EQ(r.status, 200u) << loc;
    EXPECT_TRUE(r.body == p.blob) << loc;
  }
  // No visible blob holds bytes other than its name says (torn or unverified content).
  std::size_t checked = 0;
  for (auto& e : fs::recursive_directory_iterator(data / "blobs" / "sha256")) {
    if (e.path().filename() != "data") continue;
    auto bytes = read_file(e.path(), 1ull << 32);
    ASSERT_TRUE(bytes);
    EXPECT_EQ(Digest::of(*bytes).hex(), e.path().parent_path().filename().string());
    ++checked;
  }
  EXPECT_GE(checked, done.blobs.size());
  std::printf(
      "committed blobs %zu, manifests %zu, blob files checked %zu, uploads resumed after the "
      "kill %zu of %zu\n",
      done.blobs.size(), done.tags.size(), checked, resumed, done.partial.size());
}

// A blob's rename and its layer link are synced in one round, so an OS crash in that round
// (before the 201) can keep the link and lose the blob. Built here by deleting the blob file
// under a stopped server: the link must count as absent everywhere, and pushing the blob
// again must restore it.
TEST(CrashSafety, LayerLinkWithoutItsBlobCountsAsAbsent) {
  auto dir = nt::TempDir::create("docket-crash-link");
  fs::path root = dir.path() / "data";
  std::string blob = "layer bytes that did not survive";
  std::string d;
  std::string cfg = "{\"os\":\"linux\"}";
  {
    RegistryServer s({}, root);
    d = s.push_blob("c/app", blob);
    s.push_blob("c/app", cfg);
  }
  auto hex = d.substr(d.find(':') + 1);
  fs::path blob_dir = root / "blobs" / "sha256" / hex.substr(0, 2) / hex;
  ASSERT_TRUE(
      fs::exists(root / "repositories" / "c" / "app" / "_layers" / "sha256" / hex / "link"));
  ASSERT_TRUE(fs::remove_all(blob_dir));

  RegistryServer s({}, root);
  EXPECT_EQ(s.send({"HEAD", "/v2/c/app/blobs/" + d}).status, 404u);
  auto get = s.get("/v2/c/app/blobs/" + d);
  EXPECT_EQ(get.status, 404u);
  EXPECT_EQ(get.error_code(), "BLOB_UNKNOWN");
  Json m = {{"schemaVersion", 2},
            {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
            {"config",
             {{"mediaType", "application/vnd.oci.image.config.v1+json"},
              {"digest", Digest::of(cfg).str()},
              {"size", cfg.size()}}},
            {"layers", Json::array({{{"mediaType", "application/vnd.oci.image.layer.v1.tar"},
                                     {"digest", d},
                                     {"size", blob.size()}}})}};
  Req put{"PUT",
          "/v2/c/app/manifests/v1",
          m.dump(),
          {{"Content-Type", "application/vnd.oci.image.manifest.v1+json"}}};
  auto refused = s.send(put);
  EXPECT_EQ(refused.status, 400u);
  EXPECT_EQ(refused.error_code(), "MANIFEST_BLOB_UNKNOWN");
  // Mounting it from the repository whose link survived finds nothing to mount (202: upload).
  EXPECT_EQ(s.send({"POST", "/v2/c/other/blobs/uploads/?mount=" + d + "&from=c/app"}).status, 202u);

  EXPECT_EQ(s.push_blob("c/app", blob), d);
  EXPECT_EQ(s.get("/v2/c/app/blobs/" + d).body, blob);
  EXPECT_EQ(s.send(put).status, 201u);
}

}  // namespace
