// TUF client refresh cost for repositories with many targets.
//
//   tuf_refresh_bench [--sizes 1000,10000,100000] [--repeat 3] [--algorithm ed25519|ecdsa]
//
// For each size and dialect (TUF spec, Notary), a simulator repository with that many
// targets in the top-level targets role is served from memory (so the figures are the
// client's own cost: parsing, canonicalisation, hashing, signature checks, persistence to a
// temp directory), and the updater runs
//   cold: empty metadata dir except root.json -> refresh + one target lookup
//   warm: the metadata dir of the cold run      -> refresh + one target lookup
// printing the median wall time, requests and signature checks per refresh. The peer
// comparison (Notary's `notary list` on the same repository) is in bench/tuf_refresh.sh,
// which uses two more modes:
//   tuf_refresh_bench --write-notary DIR --gun GUN --targets N
//       writes a Notary-dialect repository (x509 root keys with CN=GUN) as files under
//       DIR/v2/GUN/_trust/tuf/ (notary-server's URL layout) and DIR/root.json;
//   tuf_refresh_bench --http URL --root FILE --target NAME [--repeat N]
//       cold and warm refresh + lookup over HTTP with the real HttpFetcher.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "common/file.h"
#include "tuf/simulator.h"
#include "tuf/updater.h"

namespace {
using namespace docket;
using namespace docket::tuf;
using Clock = std::chrono::steady_clock;

struct Figure {
  double ms = 0;
  int requests = 0;
  std::uint64_t sig_checks = 0;
};

Figure run_once(Simulator& sim, MemoryFetcher& f, DirectoryStore& store,
                const std::string& target) {
  UpdaterOptions o;
  o.metadata_url = "mem://repo/";
  o.target_base_url = "mem://targets/";
  o.limits.max_targets_bytes = 64'000'000;
  Updater u(o, store, f);
  auto t0 = Clock::now();
  auto s = u.refresh();
  if (!s) {
    std::fprintf(stderr, "refresh failed: %s\n", s.error().describe().c_str());
    std::exit(1);
  }
  auto info = u.find_target(value_or_raise(TargetPath::make(target)));
  if (!info || !*info) {
    std::fprintf(stderr, "target %s not found\n", target.c_str());
    std::exit(1);
  }
  auto t1 = Clock::now();
  return Figure{std::chrono::duration<double, std::milli>(t1 - t0).count(), u.stats().requests,
                u.stats().signature_checks};
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int write_notary(const std::string& dir, const std::string& gun, int n) {
  Simulator::Options so;
  so.dialect = Dialect::notary;
  so.algorithm = keys::Algorithm::ecdsa_p256;
  so.root_certificate_cn = gun;
  so.validity = std::chrono::hours(24 * 30);
  Simulator sim(so);
  for (int i = 0; i < n; ++i)
    sim.add_target("targets", "v" + std::to_string(i), "content " + std::to_string(i));
  sim.publish();
  auto base = std::filesystem::path(dir) / "v2" / gun / "_trust" / "tuf";
  sim.write_to(base, std::filesystem::path(dir) / "artifacts");
  value_or_raise(
      atomic_write_file(std::filesystem::path(dir) / "root.json", sim.signed_roots.back()));
  return 0;
}

int http_mode(const std::string& url, const std::string& root_file, const std::string& target,
              int repeat) {
  std::string root = value_or_raise(read_file(root_file));
  auto fetcher = value_or_raise(HttpFetcher::create());
  std::vector<double> cold, warm;
  Figure fc, fw;
  for (int r = 0; r < repeat; ++r) {
    auto dir = std::filesystem::temp_directory_path() / ("tuf-bench-" + random_hex_id());
    std::filesystem::create_directories(dir);
    value_or_raise(atomic_write_file(dir / "root.json", root));
    DirectoryStore store(dir);
    UpdaterOptions o;
    o.metadata_url = url;
    o.limits.max_targets_bytes = 64'000'000;
    for (int pass = 0; pass < 2; ++pass) {
      Updater u(o, store, *fetcher);
      auto t0 = Clock::now();
      value_or_raise(u.refresh());
      auto info = value_or_raise(u.find_target(value_or_raise(TargetPath::make(target))));
      if (!info) raise(Fault::remote, "not_found", "target " + target + " not found");
      double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      Figure f{ms, u.stats().requests, u.stats().signature_checks};
      (pass == 0 ? cold : warm).push_back(ms);
      (pass == 0 ? fc : fw) = f;
    }
    std::filesystem::remove_all(dir);
  }
  std::printf("docket cold %.2f ms (%d requests, %llu signature checks)\n", median(cold),
              fc.requests, static_cast<unsigned long long>(fc.sig_checks));
  std::printf("docket warm %.2f ms (%d requests, %llu signature checks)\n", median(warm),
              fw.requests, static_cast<unsigned long long>(fw.sig_checks));
  return 0;
}

int main(int argc, char** argv) try {
  std::vector<int> sizes{1000, 10000, 100000};
  std::string write_dir, gun = "docket/bench", http_url, root_file, target;
  int count = 1000;
  int repeat = 3;
  keys::Algorithm alg = keys::Algorithm::ecdsa_p256;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--sizes" && i + 1 < argc) {
      sizes.clear();
      std::string s = argv[++i];
      std::size_t p = 0;
      while (p < s.size()) {
        auto c = s.find(',', p);
        sizes.push_back(std::stoi(s.substr(p, c - p)));
        p = c == std::string::npos ? s.size() : c + 1;
      }
    } else if (a == "--repeat" && i + 1 < argc) {
      repeat = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--write-notary" && i + 1 < argc) {
      write_dir = argv[++i];
    } else if (a == "--gun" && i + 1 < argc) {
      gun = argv[++i];
    } else if (a == "--targets" && i + 1 < argc) {
      count = std::atoi(argv[++i]);
    } else if (a == "--http" && i + 1 < argc) {
      http_url = argv[++i];
    } else if (a == "--root" && i + 1 < argc) {
      root_file = argv[++i];
    } else if (a == "--target" && i + 1 < argc) {
      target = argv[++i];
    } else if (a == "--algorithm" && i + 1 < argc) {
      alg = std::strcmp(argv[++i], "ed25519") == 0 ? keys::Algorithm::ed25519
                                                   : keys::Algorithm::ecdsa_p256;
    } else {
      std::fprintf(stderr,
                   "usage: %s [--sizes 1000,10000] [--repeat N] [--algorithm ed25519|ecdsa]\n",
                   argv[0]);
      return 1;
    }
  }
  if (!write_dir.empty()) return write_notary(write_dir, gun, count);
  if (!http_url.empty()) return http_mode(http_url, root_file, target, repeat);
  std::printf("%-7s %-8s %-5s %12s %9s %11s %14s\n", "dialect", "targets", "run", "median ms",
              "requests", "sig checks", "targets.json");
  for (auto dialect : {Dialect::tuf, Dialect::notary}) {
    for (int n : sizes) {
      Simulator::Options so;
      so.dialect = dialect;
      so.algorithm = alg;
      so.meta_hashes = true;
      Simulator sim(so);
      for (int i = 0; i < n; ++i)
        sim.add_target("targets", "app/v" + std::to_string(i), "content " + std::to_string(i));
      sim.publish();
      MemoryFetcher f;
      sim.install(f, "mem://repo/", "mem://targets/");
      std::string target = "app/v" + std::to_string(n / 2);
      std::vector<double> cold, warm;
      Figure fc, fw;
      for (int r = 0; r < repeat; ++r) {
        auto dir = std::filesystem::temp_directory_path() / ("tuf-bench-" + random_hex_id());
        std::filesystem::create_directories(dir);
        value_or_raise(atomic_write_file(dir / "root.json", sim.signed_roots.front()));
        DirectoryStore store(dir);
        fc = run_once(sim, f, store, target);
        cold.push_back(fc.ms);
        fw = run_once(sim, f, store, target);
        warm.push_back(fw.ms);
        std::filesystem::remove_all(dir);
      }
      const char* dn = dialect == Dialect::tuf ? "tuf" : "notary";
      std::size_t tsize = sim.published.at("targets").size();
      std::printf("%-7s %-8d %-5s %12.2f %9d %11llu %13zuB\n", dn, n, "cold", median(cold),
                  fc.requests, static_cast<unsigned long long>(fc.sig_checks), tsize);
      std::printf("%-7s %-8d %-5s %12.2f %9d %11llu %13zuB\n", dn, n, "warm", median(warm),
                  fw.requests, static_cast<unsigned long long>(fw.sig_checks), tsize);
      std::fflush(stdout);
    }
  }
  return 0;
} catch (const docket::Exception& e) {
  std::fprintf(stderr, "tuf_refresh_bench: %s\n", e.what());
  return 1;
}
