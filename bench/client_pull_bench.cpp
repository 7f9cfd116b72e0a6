// Pull throughput of docket against Debian's docker-registry on loopback, beside the same
// transfer without verification and beside `skopeo copy` of the same image, in one run.
//
//   build/bench/client_pull_bench [runs]
//
// Images: "big" (256 MiB in 4 layers of 64 MiB) and "many" (200 layers of 64 KiB). Each
// row is the median of `runs` (default 3) cold pulls into an empty store/directory.
//  - docket pull:   hashes every byte while streaming, checks digest and length, stores
//                   atomically, tags last (the real `docket pull` code path).
//  - unverified:    the same parallel blob GETs through the same HTTP client, bytes written
//                   to files with no hashing, no checks, no renames (the floor).
//  - skopeo copy:   docker://… → oci:DIR with Debian's skopeo.
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "bench/raw_pull.h"
#include "client/tests/image_builder.h"
#include "client/tests/registry_fixture.h"
#include "client/transfer.h"

using namespace docket;
using namespace docket::client;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::shared_ptr<RegistryClient> make_client(const std::string& domain) {
  RegistryOptions o;
  o.insecure_http = true;
  return value_or_raise(RegistryClient::create(domain, std::nullopt, o));
}

double time_docket_pull(const std::string& domain, const Reference& ref, const fs::path& dir) {
  fs::remove_all(dir);
  auto store = value_or_raise(ImageStore::open(dir));
  auto c = make_client(domain);
  auto t0 = Clock::now();
  value_or_raise(pull_image(*c, store, ref, PullOptions{}));
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double time_unverified(const std::string& domain, const Reference& ref, const fs::path& dir) {
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto c = make_client(domain);
  auto t0 = Clock::now();
  bench::raw_pull(*c, ref, dir);
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double time_skopeo(const std::string& domain, const Reference& ref, const fs::path& dir) {
  fs::remove_all(dir);
  std::string cmd = "skopeo --insecure-policy copy -q --src-tls-verify=false docker://" +
                    ref.str() + " oci:" + dir.string() + ":x";
  auto t0 = Clock::now();
  int rc = std::system(cmd.c_str());
  double t = std::chrono::duration<double>(Clock::now() - t0).count();
  if (rc != 0) return -1;
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  int runs = argc > 1 ? std::max(1, std::atoi(argv[1])) : 3;
  if (!test::have_program("docker-registry")) {
    std::fprintf(stderr, "docker-registry not installed\n");
    return 1;
  }
  bool skopeo = test::have_program("skopeo");
  test::DockerRegistry reg;
  if (!reg.ready()) {
    std::fprintf(stderr, "registry did not start:\n%s\n", reg.log().c_str());
    return 1;
  }
  test::TempDir work;
  auto src = value_or_raise(ImageStore::open(work.path / "src"));
  struct Case {
    std::string name;
    int layers;
    std::size_t layer_size;
  };
  std::vector<Case> cases{{"big", 4, 64u << 20}, {"many", 200, 64u << 10}};
  auto c = make_client(reg.domain());
  std::printf("%-6s %-8s %12s %14s %14s %14s %10s\n", "image", "size", "layers", "docket pull s",
              "unverified s", "skopeo copy s", "overhead");
  for (const auto& cs : cases) {
    auto img = test::build_image(src, cs.layers, cs.layer_size);
    Reference local = value_or_raise(Reference::parse(cs.name + ":1"));
    value_or_raise(src.tag(local, img.manifest));
    Reference remote = value_or_raise(Reference::parse(reg.domain() + "/bench/" + cs.name + ":1"));
    value_or_raise(push_image(*c, src, local, remote, PushOptions{}));
    std::uint64_t total = img.config.size;
    for (const auto& l : img.layers) total += l.size;
    std::vector<double> d, u, s;
    for (int i = 0; i < runs; ++i) {
      // Alternate the order so page-cache and registry warm-up favour no side.
      u.push_back(time_unverified(reg.domain(), remote, work.path / "raw"));
      d.push_back(time_docket_pull(reg.domain(), remote, work.path / "dst"));
      if (skopeo) s.push_back(time_skopeo(reg.domain(), remote, work.path / "sk"));
    }
    double dm = median(d), um = median(u), sm = skopeo ? median(s) : -1;
    char size[32];
    std::snprintf(size, sizeof size, "%.0fMiB", total / 1048576.0);
    std::printf("%-6s %-8s %12d %14.3f %14.3f %14.3f %9.1f%%\n", cs.name.c_str(), size, cs.layers,
                dm, um, sm, (dm / um - 1) * 100);
    std::fflush(stdout);
  }
  return 0;
}
