// trust_publish_bench URL CA_FILE GUN_PREFIX N [REPEATS]
//
// Times publishes of N targets to a Notary-protocol server (ours or notary-server), the
// way the notary client publishes: a fresh repository per run (GET timestamp.key, POST
// root + targets + snapshot), then REPEATS publishes of a targets role with N entries plus
// a snapshot, each timed from request start to response. Prints the median and the best
// in milliseconds, and "prepared" counts. Used by bench/trust.sh side by side.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "common/file.h"
#include "net/http_client.h"
#include "trustserver/multipart.h"
#include "trustserver/tests/test_repo.h"

using namespace docket;
using trustserver::testing::Repo;

namespace {

net::HttpResponse must(Result<net::HttpResponse> r, const char* what) {
  if (!r) {
    std::fprintf(stderr, "%s: %s\n", what, r.error().describe().c_str());
    std::exit(1);
  }
  return std::move(*r);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: %s URL CA_FILE GUN_PREFIX N [REPEATS]\n", argv[0]);
    return 2;
  }
  std::string url = argv[1];
  net::HttpClientOptions co;
  co.tls.ca_file = argv[2];
  co.max_body_bytes = 256u * 1024 * 1024;
  co.idle_timeout = std::chrono::milliseconds(120'000);
  auto client = value_or_raise(net::HttpClient::create(co));
  const std::string gun = std::string(argv[3]) + "/" + random_hex_id().substr(0, 8);
  const int n = std::atoi(argv[4]);
  const int repeats = argc > 5 ? std::atoi(argv[5]) : 5;
  const std::string base = url + "/v2/" + gun + "/_trust/tuf/";

  // The request is built before the clock starts: the timed part is sending it and the
  // server's answer, the same for both servers.
  auto request = [&](const std::vector<std::pair<std::string, std::string>>& files) {
    net::HttpRequest req;
    req.method = "POST";
    req.url = base;
    req.body = trustserver::build_multipart(files, "benchboundary0123456789");
    req.headers.set("Content-Type", "multipart/form-data; boundary=benchboundary0123456789");
    return req;
  };
  auto post = [&](const std::vector<std::pair<std::string, std::string>>& files) {
    return must(client.send(request(files)), "publish");
  };

  Repo repo(gun);
  auto tk = must(client.get(base + "timestamp.key"), "timestamp.key");
  if (tk.status != 200) {
    std::fprintf(stderr, "timestamp.key: HTTP %ld %s\n", tk.status, tk.body.c_str());
    return 1;
  }
  repo.timestamp_pub = trustserver::testing::public_json(tk.body);
  repo.next_root();
  repo.next_targets();
  auto init =
      post({{"root", repo.root}, {"targets", repo.targets}, {"snapshot", repo.next_snapshot()}});
  if (init.status != 200) {
    std::fprintf(stderr, "init publish: HTTP %ld %s\n", init.status, init.body.c_str());
    return 1;
  }
  std::vector<double> ms;
  for (int r = 0; r < repeats; ++r) {
    for (int i = 0; i < n; ++i)
      repo.add_target("tag-" + std::to_string(r) + "-" + std::to_string(i),
                      std::to_string(i * 7919 + r));
    repo.next_targets();
    auto files = std::vector<std::pair<std::string, std::string>>{
        {"targets", repo.targets}, {"snapshot", repo.next_snapshot()}};
    auto req = request(files);
    auto t0 = std::chrono::steady_clock::now();
    auto resp = must(client.send(req), "publish");
    auto t1 = std::chrono::steady_clock::now();
    if (resp.status != 200) {
      std::fprintf(stderr, "publish %d: HTTP %ld %s\n", r, resp.status,
                   resp.body.substr(0, 300).c_str());
      return 1;
    }
    ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    repo.target_entries.clear();  // the next publish replaces the targets with N new ones
  }
  std::sort(ms.begin(), ms.end());
  std::printf(
      "publish_targets=%d median_ms=%.1f best_ms=%.1f repeats=%d targets_bytes=%zu gun=%s\n", n,
      ms[ms.size() / 2], ms.front(), repeats, repo.targets.size(), gun.c_str());
  return 0;
}
