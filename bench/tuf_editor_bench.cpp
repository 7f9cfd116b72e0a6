// Publishing staged targets: docket's editor beside Debian's `notary publish`, in one run,
// against the same real notary-server on loopback (memory store, TLS).
//
//   ninja -C build tuf_editor_bench && build/bench/tuf_editor_bench [N...]   (default 100 1000)
//
// For each N, both sides start from a freshly initialised repository with a local snapshot
// key, get N target changes staged as Notary changelist entries in their trust directory
// (written by tuf::Changelist, untimed), then publish. Timed for docket: fetch and verify
// the current metadata (updater, Notary mode), apply the changelist, sign targets and
// snapshot, POST, clear the changelist. Timed for Notary: the `notary publish` process.
// Median of REPEATS (default 3) runs each.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "common/digest.h"
#include "common/encoding.h"
#include "common/file.h"
#include "tuf/changelist.h"
#include "tuf/editor.h"
#include "tuf/fetcher.h"
#include "tuf/repo_publish.h"
#include "tuf/repo_store.h"
#include "tuf/store.h"
#include "tuf/tests/notary_harness.h"
#include "tuf/updater.h"

using namespace docket;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

class ClientFetcher : public tuf::Fetcher {
 public:
  explicit ClientFetcher(const net::HttpClient& c) : c_(c) {}
  Result<std::string> fetch(const std::string& url, std::size_t max_bytes) override {
    net::HttpRequest req;
    req.url = url;
    req.max_body_bytes = max_bytes;
    auto r = c_.send(req);
    if (!r) return std::unexpected(r.error());
    if (r->status == 200) return std::move(r->body);
    if (r->status == 404) return make_error(Fault::remote, "not_found", url + ": 404");
    return make_error(Fault::remote, "http_status", url + ": " + std::to_string(r->status));
  }

 private:
  const net::HttpClient& c_;
};

void stage(const fs::path& trust, const std::string& gun, int n, int run) {
  auto cl = value_or_raise(tuf::Changelist::open(trust, gun));
  for (int i = 0; i < n; ++i) {
    std::string content = "target " + std::to_string(run) + "/" + std::to_string(i);
    tuf::TargetChange t{static_cast<std::int64_t>(content.size()),
                        {{"sha256", sha256(content)}, {"sha512", sha512(content)}},
                        std::nullopt};
    value_or_raise(cl.add(tuf::make_target_change("create", "targets",
                                                  "t" + std::to_string(i), t)));
  }
}

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double notary_publish(testing::NotaryServer& server, int n, int run) {
  fs::path trust = server.dir() / ("notary-" + std::to_string(n) + "-" + std::to_string(run));
  std::string gun = "bench.test/notary/n" + std::to_string(n) + "r" + std::to_string(run);
  auto init = server.cli(trust, {"init", gun});
  if (init.exit_code != 0) raise(Fault::remote, "bench", "notary init: " + init.output);
  auto first = server.cli(trust, {"publish", gun});
  if (first.exit_code != 0) raise(Fault::remote, "bench", "notary publish: " + first.output);
  stage(trust, gun, n, run);
  auto t0 = Clock::now();
  auto pub = server.cli(trust, {"publish", gun});
  double ms = ms_since(t0);
  if (pub.exit_code != 0) raise(Fault::remote, "bench", "notary publish: " + pub.output);
  return ms;
}

double docket_publish(testing::NotaryServer& server, const net::HttpClient& http, int n,
                      int run) {
  fs::path trust = server.dir() / ("docket-" + std::to_string(n) + "-" + std::to_string(run));
  std::string gun = "bench.test/docket/n" + std::to_string(n) + "r" + std::to_string(run);
  tuf::MemoryKeyRing ring;
  auto root = value_or_raise(keys::PrivateKey::generate(keys::Algorithm::ecdsa_p256));
  auto targets = value_or_raise(keys::PrivateKey::generate(keys::Algorithm::ecdsa_p256));
  auto snapshot = value_or_raise(keys::PrivateKey::generate(keys::Algorithm::ecdsa_p256));
  for (auto* k : {&root, &targets, &snapshot}) ring.add(*k);
  tuf::CreateOptions o;
  o.gun = gun;
  o.root.keys = {value_or_raise(tuf::make_root_certificate(root, gun))};
  o.targets.keys = {targets.public_key()};
  o.snapshot.keys = {snapshot.public_key()};
  o.timestamp.keys = {value_or_raise(tuf::fetch_server_key(http, server.url(), gun, "timestamp"))};
  auto editor = value_or_raise(tuf::Editor::create(o, ring));
  value_or_raise(tuf::publish_to_notary(http, server.url(), gun, value_or_raise(editor.sign())));
  auto first_root = editor.files().at("root");
  stage(trust, gun, n, run);

  auto t0 = Clock::now();
  // Fetch and verify what the server has, as `notary publish` does first.
  tuf::MemoryStore store;
  value_or_raise(store.store(tuf::RoleName::root(), first_root));
  ClientFetcher fetcher(http);
  tuf::UpdaterOptions uo;
  uo.metadata_url = tuf::notary_tuf_url(server.url(), gun);
  tuf::Updater updater(uo, store, fetcher);
  value_or_raise(updater.refresh());
  tuf::RepoFiles files;
  for (const auto& [name, bytes] : store.files) {
    std::string role = value_or_raise(percent_decode(name.substr(0, name.size() - 5)));
    if (role == "root") files.root = bytes;
    else if (role == "snapshot") files.snapshot = bytes;
    else if (role == "timestamp") files.timestamp = bytes;
    else files.targets[role] = bytes;
  }
  auto e = value_or_raise(tuf::Editor::load(files, gun, ring));
  auto cl = value_or_raise(tuf::Changelist::open(trust, gun));
  auto changes = value_or_raise(cl.list());
  value_or_raise(e.apply(changes));
  value_or_raise(tuf::publish_to_notary(http, server.url(), gun, value_or_raise(e.sign())));
  std::vector<std::string> applied;
  for (const auto& c : changes) applied.push_back(c.file_name);
  value_or_raise(cl.remove(applied));
  return ms_since(t0);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes;
  for (int i = 1; i < argc; ++i) sizes.push_back(std::atoi(argv[i]));
  if (sizes.empty()) sizes = {100, 1000};
  int repeats = std::getenv("REPEATS") ? std::max(1, std::atoi(std::getenv("REPEATS"))) : 3;
  try {
    auto server = testing::NotaryServer::start();
    if (!server) {
      std::cerr << "tuf_editor_bench: " << testing::NotaryServer::skip_reason() << "\n";
      return 1;
    }
    auto http = server->http();
    std::printf("publish of N staged targets to notary-server (median of %d, ms)\n", repeats);
    std::printf("%8s %12s %14s %8s\n", "N", "docket", "notary CLI", "ratio");
    for (int n : sizes) {
      std::vector<double> ours, theirs;
      for (int r = 0; r < repeats; ++r) {
        ours.push_back(docket_publish(*server, http, n, r));
        theirs.push_back(notary_publish(*server, n, r));
      }
      double a = median(ours), b = median(theirs);
      std::printf("%8d %12.1f %14.1f %7.1fx\n", n, a, b, b / a);
    }
  } catch (const std::exception& e) {
    std::cerr << "tuf_editor_bench: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
