// Download throughput of net::HttpClient: a large blob streamed to a sink, once discarding
// the bytes and once hashing them with SHA-256 (what a verifying pull does). Prints
// "name value unit" lines; bench/http_client.sh runs it beside curl against the same
// server in the same run.
// Usage: http_client_bench URL [repetitions]
#include <openssl/evp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "net/http_client.h"

using namespace docket;

namespace {

double best_mib_per_s(const net::HttpClient& client, const std::string& url, int reps, bool hash,
                      std::size_t* bytes_out) {
  double best = 0;
  for (int i = 0; i < reps; ++i) {
    std::size_t bytes = 0;
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
    net::HttpRequest req;
    req.url = url;
    req.sink = [&](std::string_view chunk) -> Status {
      bytes += chunk.size();
      if (hash) EVP_DigestUpdate(ctx, chunk.data(), chunk.size());
      return {};
    };
    auto t0 = std::chrono::steady_clock::now();
    auto r = client.send(req);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx, md, &len);
    auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EVP_MD_CTX_free(ctx);
    if (!r || r->status != 200) {
      std::fprintf(
          stderr, "GET %s failed: %s\n", url.c_str(),
          r ? ("status " + std::to_string(r->status)).c_str() : r.error().describe().c_str());
      std::exit(1);
    }
    *bytes_out = bytes;
    best = std::max(best, static_cast<double>(bytes) / (1024.0 * 1024.0) / secs);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s URL [repetitions]\n", argv[0]);
    return 2;
  }
  std::string url = argv[1];
  int reps = argc > 2 ? std::atoi(argv[2]) : 3;
  net::HttpClientOptions o;
  o.proxy = "";
  auto client = net::HttpClient::create(o);
  if (!client) {
    std::fprintf(stderr, "%s\n", client.error().describe().c_str());
    return 1;
  }
  std::size_t bytes = 0;
  double plain = best_mib_per_s(*client, url, reps, false, &bytes);
  double hashed = best_mib_per_s(*client, url, reps, true, &bytes);
  std::printf("download %.1f MiB/s\n", plain);
  std::printf("download_sha256 %.1f MiB/s\n", hashed);
  std::printf("bytes %zu B\n", bytes);
  return 0;
}
