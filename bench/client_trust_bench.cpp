// Verify-on-pull cost and cold trust lookups: docket beside the unverified transfer, skopeo
// and the notary CLI, in one run, on loopback: Debian's docker-registry (plain HTTP) holds
// the images, `docket-server trust` (HTTPS, SQLite) the trust data, which Debian's real
// `notary` CLI writes. The trust server is given as DOCKER_CONTENT_TRUST_SERVER would give it.
//
//   bench/client_trust.sh [runs] [tags]
//   build/bench/client_trust_bench BUILD_DIR [runs] [tags]
//
// Part A: images "big" (256 MiB in 4 layers) and "many" (200 layers of 64 KiB), each tag
// signed with `notary addhash`. Every run starts from an empty store and trust directory.
//   verified  docket pull with content trust: cold TUF resolve of the tag (root, timestamp,
//             snapshot, targets from the trust server), then the pull by the signed digest,
//             every byte hashed and checked, stored atomically (verifier + client/transfer)
//   docket    the same pull with content trust off (still hashes and checks every byte)
//   raw       the same parallel blob GETs written to files, no hashing, no checks (floor)
//   skopeo    skopeo copy docker://… oci:DIR
// Part B: one repository with `tags` (default 1000) tags, added by `notary addhash` and one
// `notary publish`; a cold lookup of one tag (fresh trust directory each run, so root,
// timestamp, snapshot and the 1000-entry targets are fetched and verified):
//   docket    a fresh process (`client_trust_bench lookup …`) resolving the tag, and the
//             same through the CLI, `docket trust lookup IMAGE:TAG` (if build/cli/docket exists)
//   notary    `notary lookup GUN TAG` with a fresh trust_dir
//   each with wall time and CPU time (user + system of the process), started alike, no shell
// Figures are medians of `runs` (default 3).
#define DOCKET_BINARY_DIR ""  // interop_util.h's default server path is not used here
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>

#include "bench/raw_pull.h"
#include "client/tests/image_builder.h"
#include "client/tests/registry_fixture.h"
#include "client/tests/test_util.h"
#include "client/transfer.h"
#include "common/encoding.h"
#include "common/json.h"
#include "trustserver/tests/interop_util.h"
#include "verifier/trust.h"

using namespace docket;
using namespace docket::client;
namespace fs = std::filesystem;
namespace ts = docket::trustserver::testing;
using Clock = std::chrono::steady_clock;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? -1 : v[v.size() / 2];
}
double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

struct Env {
  fs::path work, certs;  // certs/<host:port>/ca.crt
  std::string host;      // trust server 127.0.0.1:port
  std::string registry;  // registry 127.0.0.1:port
  fs::path ca;
  std::map<std::string, std::string> notary_env{{"NOTARY_ROOT_PASSPHRASE", "bench-root"},
                                                {"NOTARY_TARGETS_PASSPHRASE", "bench-targets"},
                                                {"NOTARY_SNAPSHOT_PASSPHRASE", "bench-snap"}};
  fs::path notary_config(const fs::path& trust_dir) const {
    Json cfg = {{"trust_dir", trust_dir.string()},
                {"remote_server", {{"url", "https://" + host}, {"root_ca", ca.string()}}}};
    fs::path p = trust_dir.string() + ".json";
    value_or_raise(atomic_write_file(p, cfg.dump()));
    return p;
  }
  ts::RunResult notary(const fs::path& cfg, const std::string& args, int timeout = 120) const {
    return ts::run("notary -c " + ts::sh_quote(cfg.string()) + " " + args, notary_env, "", timeout);
  }
};

std::shared_ptr<RegistryClient> make_client(const Env& e) {
  RegistryOptions o;
  o.insecure_http = true;
  return value_or_raise(RegistryClient::create(e.registry, std::nullopt, o));
}

verifier::TrustConfig trust_config(const Env& e, const fs::path& trust_dir) {
  return verifier::TrustConfig{"https://" + e.host, trust_dir, {e.certs}, {}};
}

double time_verified(const Env& e, const Reference& ref, const fs::path& dir) {
  fs::remove_all(dir);
  auto store = value_or_raise(ImageStore::open(dir / "store"));
  auto c = make_client(e);
  auto t0 = Clock::now();
  auto t = value_or_raise(verifier::resolve_trusted(ref, trust_config(e, dir / "trust"), {}));
  PullOptions o;
  o.trusted = t.descriptor;
  value_or_raise(pull_image(*c, store, ref, o));
  return since(t0);
}

double time_docket(const Env& e, const Reference& ref, const fs::path& dir) {
  fs::remove_all(dir);
  auto store = value_or_raise(ImageStore::open(dir / "store"));
  auto c = make_client(e);
  auto t0 = Clock::now();
  value_or_raise(pull_image(*c, store, ref, PullOptions{}));
  return since(t0);
}

double time_raw(const Env& e, const Reference& ref, const fs::path& dir) {
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto c = make_client(e);
  auto t0 = Clock::now();
  bench::raw_pull(*c, ref, dir);
  return since(t0);
}

double time_skopeo(const Env& e, const Reference& ref, const fs::path& dir) {
  fs::remove_all(dir);
  std::string cmd = "skopeo --insecure-policy copy -q --src-tls-verify=false docker://" +
                    ref.str() + " oci:" + dir.string() + ":x";
  auto t0 = Clock::now();
  int rc = std::system(cmd.c_str());
  double t = since(t0);
  return rc == 0 ? t : -1;
}

// The child side of part B: one cold resolve, digest on stdout.
int lookup_main(int argc, char** argv) {
  if (argc != 7) return 2;
  Env e;
  e.host = argv[2];
  e.certs = argv[6];
  auto ref = value_or_raise(Reference::parse(std::string(argv[3]) + ":" + argv[4]));
  auto t = verifier::resolve_trusted(ref, trust_config(e, argv[5]), {});
  if (!t) {
    std::fprintf(stderr, "%s\n", t.error().describe().c_str());
    return 1;
  }
  std::printf("%s %llu %s\n", t->descriptor.digest.str().c_str(),
              static_cast<unsigned long long>(t->descriptor.size), t->role.c_str());
  return 0;
}

// One client process, started the same way for every client: posix_spawnp() of the program
// itself (no shell, whose own start-up would be charged to both), stdin from /dev/null, stdout
// and stderr into one pipe, `env` added to this process's environment. Its output, whether it
// exited 0, wall time from spawn to reaped exit, and its CPU time (user + system).
struct Capture {
  std::string out;
  bool ok = false;
  double wall_ms = 0;
  double cpu_ms = 0;
};
double children_cpu_ms() {
  rusage u{};
  ::getrusage(RUSAGE_CHILDREN, &u);
  auto ms = [](const timeval& t) { return t.tv_sec * 1e3 + t.tv_usec / 1e3; };
  return ms(u.ru_utime) + ms(u.ru_stime);
}
Capture capture(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
  Capture c;
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& v : env) envp.push_back(const_cast<char*>(v.c_str()));
  for (char** v = environ; *v; ++v) envp.push_back(*v);
  envp.push_back(nullptr);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return c;
  posix_spawn_file_actions_t fa;
  ::posix_spawn_file_actions_init(&fa);
  ::posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  ::posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  ::posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
  double cpu0 = children_cpu_ms();
  auto t0 = Clock::now();
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), envp.data());
  ::posix_spawn_file_actions_destroy(&fa);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    c.out = std::string("cannot start ") + args[0] + ": " + std::strerror(rc);
    return c;
  }
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0) c.out.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  c.wall_ms = since(t0) * 1000;
  c.cpu_ms = children_cpu_ms() - cpu0;
  c.ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
  return c;
}

void sign_with_notary(const Env& e, const fs::path& cfg, const std::string& gun,
                      const std::vector<std::pair<std::string, Descriptor>>& tags) {
  auto r = e.notary(cfg, "init " + gun);
  if (r.exit_code != 0) throw std::runtime_error("notary init: " + r.output);
  for (const auto& [tag, d] : tags) {
    r = e.notary(cfg, "addhash " + gun + " " + tag + " " + std::to_string(d.size) + " --sha256 " +
                          d.digest.hex());
    if (r.exit_code != 0) throw std::runtime_error("notary addhash: " + r.output);
  }
  r = e.notary(cfg, "publish " + gun, 600);
  if (r.exit_code != 0) throw std::runtime_error("notary publish: " + r.output);
}

}  // namespace

int run_bench(int argc, char** argv, const fs::path& work_dir);

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "lookup") return lookup_main(argc, argv);
  client::test::TempDir work;
  try {
    return run_bench(argc, argv, work.path);
  } catch (const std::exception& ex) {
    std::string log = read_file(work.path / "server.log").value_or("");
    if (log.size() > 4000) log = log.substr(log.size() - 4000);
    std::fprintf(stderr, "bench failed: %s\nserver log (tail):\n%s\n", ex.what(), log.c_str());
    return 1;
  }
}

int run_bench(int argc, char** argv, const fs::path& work_dir) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s BUILD_DIR [runs] [tags]\n", argv[0]);
    return 2;
  }
  fs::path build = argv[1];
  int runs = argc > 2 ? std::max(1, std::atoi(argv[2])) : 3;
  int ntags = argc > 3 ? std::max(1, std::atoi(argv[3])) : 1000;
  for (const char* p : {"notary", "openssl", "docker-registry"})
    if (!client::test::have_program(p)) {
      std::fprintf(stderr, "%s not installed\n", p);
      return 1;
    }
  bool skopeo = client::test::have_program("skopeo");
  struct {
    fs::path path;
  } work{work_dir};
  Env e;
  e.work = work.path;
  ts::TestPki pki(work.path);
  e.ca = pki.ca_cert;
  int port = ts::free_port();
  e.host = "127.0.0.1:" + std::to_string(port);
  e.certs = work.path / "certs";
  fs::create_directories(e.certs / e.host);
  fs::copy_file(pki.ca_cert, e.certs / e.host / "ca.crt");
  client::test::DockerRegistry reg;
  if (!reg.ready()) {
    std::fprintf(stderr, "docker-registry did not start:\n%s\n", reg.log().c_str());
    return 1;
  }
  e.registry = reg.domain();
  ts::Child server({fs::absolute(build / "cli" / "docket-server").string(), "trust", "--addr",
                    e.host, "--data", (work.path / "data").string()},
                   {{"DOCKET_SIGNER_PASSPHRASE_DEFAULT", "bench-pass"},
                    {"DOCKET_HTTP_TLS_CERTIFICATE", pki.server_cert.string()},
                    {"DOCKET_HTTP_TLS_KEY", pki.server_key.string()},
                    {"DOCKET_TRUST_STORAGE_URL", "sqlite://" + (work.path / "trust.db").string()},
                    {"DOCKET_TRUST_SIGNER_DIRECTORY", (work.path / "server-keys").string()},
                    {"DOCKET_LOG_LEVEL", "warn"}},
                   work.path / "server.log");
  if (!ts::wait_for_port(port, server)) {
    std::fprintf(stderr, "docket-server did not start:\n%s\n",
                 read_file(work.path / "server.log").value_or("").c_str());
    return 1;
  }
  fs::path signer_cfg = e.notary_config(work.path / "signer");

  // ---- Part A ----
  auto src = value_or_raise(ImageStore::open(work.path / "src"));
  struct Case {
    std::string name;
    int layers;
    std::size_t layer_size;
  };
  std::vector<Case> cases{{"big", 4, 64u << 20}, {"many", 200, 64u << 10}};
  if (const char* only = std::getenv("BENCH_ONLY"))
    std::erase_if(cases, [&](const Case& c) { return c.name != only; });
  auto c = make_client(e);
  std::printf("A. pull, cold (empty store and trust dir), median of %d runs, seconds\n", runs);
  std::printf("%-6s %-7s %6s %10s %10s %10s %10s %12s %12s\n", "image", "size", "layers",
              "verified", "docket", "raw", "skopeo", "vs docket", "vs raw");
  for (const auto& cs : cases) {
    auto img = client::test::build_image(src, cs.layers, cs.layer_size);
    Reference local = value_or_raise(Reference::parse(cs.name + ":1"));
    value_or_raise(src.tag(local, img.manifest));
    std::string gun = e.registry + "/bench/" + cs.name;
    Reference remote = value_or_raise(Reference::parse(gun + ":1"));
    value_or_raise(push_image(*c, src, local, remote, PushOptions{}));
    sign_with_notary(e, signer_cfg, gun,
                     std::vector<std::pair<std::string, Descriptor>>{{"1", img.manifest}});
    std::uint64_t total = img.config.size;
    for (const auto& l : img.layers) total += l.size;
    std::vector<double> v, d, u, s;
    for (int i = 0; i < runs; ++i) {
      // Rotate the order so page-cache and server warm-up favour no column.
      u.push_back(time_raw(e, remote, work.path / "raw"));
      v.push_back(time_verified(e, remote, work.path / "ver"));
      d.push_back(time_docket(e, remote, work.path / "dkt"));
      if (skopeo) s.push_back(time_skopeo(e, remote, work.path / "sk"));
    }
    double vm = median(v), dm = median(d), um = median(u), sm = skopeo ? median(s) : -1;
    char size[32];
    std::snprintf(size, sizeof size, "%.0fMiB", total / 1048576.0);
    std::printf("%-6s %-7s %6d %10.3f %10.3f %10.3f %10.3f %11.1f%% %11.1f%%\n", cs.name.c_str(),
                size, cs.layers, vm, dm, um, sm, (vm / dm - 1) * 100, (vm / um - 1) * 100);
    std::fflush(stdout);
    fs::remove_all(work.path / "raw");
    fs::remove_all(work.path / "ver");
    fs::remove_all(work.path / "dkt");
    fs::remove_all(work.path / "sk");
  }

  // ---- Part B ----
  // Both clients look up against docket-server trust (the server under test, SQLite);
  // BENCH_B_SERVER=notary runs part B against Debian's notary-server instead (memory storage,
  // local signing), to compare the clients on the peer's server too.
  std::unique_ptr<ts::Child> notary_server;
  std::string b_server = "docket-server trust";
  if (std::string(std::getenv("BENCH_B_SERVER") ? std::getenv("BENCH_B_SERVER") : "") == "notary") {
    int nport = ts::free_port();
    e.host = "127.0.0.1:" + std::to_string(nport);
    Json ncfg = {{"server",
                  {{"http_addr", e.host},
                   {"tls_cert_file", pki.server_cert.string()},
                   {"tls_key_file", pki.server_key.string()}}},
                 {"trust_service", {{"type", "local"}, {"key_algorithm", "ecdsa"}}},
                 {"logging", {{"level", "error"}}},
                 {"storage", {{"backend", "memory"}}}};
    value_or_raise(atomic_write_file(work.path / "notary-server.json", ncfg.dump()));
    notary_server = std::make_unique<ts::Child>(
        std::vector<std::string>{"/usr/bin/notary-server", "-config",
                                 (work.path / "notary-server.json").string()},
        std::map<std::string, std::string>{}, work.path / "notary-server.log");
    if (!ts::wait_for_port(nport, *notary_server)) {
      std::fprintf(stderr, "notary-server did not start:\n%s\n",
                   read_file(work.path / "notary-server.log").value_or("").c_str());
      return 1;
    }
    fs::create_directories(e.certs / e.host);
    fs::copy_file(pki.ca_cert, e.certs / e.host / "ca.crt");
    b_server = "Debian notary-server";
    signer_cfg = e.notary_config(work.path / "signer-b");
  }
  std::string gun = e.registry + "/bench/tags";
  std::vector<std::pair<std::string, Descriptor>> tags;
  for (int i = 0; i < ntags; ++i) {
    Descriptor d;
    d.digest = Digest::of("manifest " + std::to_string(i));
    d.size = 1000 + i;
    tags.emplace_back("v" + std::to_string(i), d);
  }
  auto t0 = Clock::now();
  sign_with_notary(e, signer_cfg, gun, tags);
  std::printf(
      "\nB. cold lookup of one tag among %d on %s (notary addhash x%d + publish took "
      "%.0f s), median of %d runs, ms\n",
      ntags, b_server.c_str(), ntags, since(t0), runs);
  std::string tag = tags[ntags / 2].first;
  std::string want = tags[ntags / 2].second.digest.hex();
  if (std::getenv("BENCH_HOLD")) {
    // For profiling by hand: print a lookup command line and keep the servers up.
    std::printf("%s lookup %s %s %s TRUST_DIR %s\nnotary -c %s lookup %s %s\n",
                fs::canonical("/proc/self/exe").c_str(), e.host.c_str(), gun.c_str(), tag.c_str(),
                e.certs.c_str(), e.notary_config(work.path / "hold").c_str(), gun.c_str(),
                tag.c_str());
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::seconds(std::atoi(std::getenv("BENCH_HOLD"))));
    return 0;
  }
  // Wall and CPU (user + system) per client process; all are started the same way
  // (capture()). CPU time is the steadier figure on a loaded machine.
  std::vector<double> dp, dc, dn, np, nc, cp, cc;
  std::string self = fs::canonical("/proc/self/exe").string();
  // The user's command, if built: `docket trust lookup` with the trust server and its CA
  // given as docker takes them (DOCKER_CONTENT_TRUST_SERVER, $DOCKER_CONFIG/tls/<host>/).
  fs::path docket_cli = fs::absolute(build / "cli" / "docket");
  bool have_cli = fs::exists(docket_cli);
  // One step per column; each run takes them in a rotated order, so no column always
  // follows the same one (whose cache writes, fsyncs or freed memory the next one meets).
  std::vector<std::function<bool(int)>> steps;
  steps.push_back([&](int i) {
    fs::path td = work.path / ("lk-docket-" + std::to_string(i));
    auto d = capture({self, "lookup", e.host, gun, tag, td.string(), e.certs.string()});
    dp.push_back(d.wall_ms);
    dc.push_back(d.cpu_ms);
    if (!d.ok || d.out.find(want) == std::string::npos) {
      std::fprintf(stderr, "docket lookup gave the wrong answer: %s\n", d.out.c_str());
      return false;
    }
    return true;
  });
  if (have_cli)
    steps.push_back([&](int i) {
      fs::path cfg_dir = work.path / ("lk-cli-" + std::to_string(i));
      fs::create_directories(cfg_dir);
      fs::create_directory_symlink(e.certs, cfg_dir / "tls");
      auto c = capture(
          {docket_cli.string(), "trust", "lookup", gun + ":" + tag},
          {"DOCKER_CONFIG=" + cfg_dir.string(), "DOCKER_CONTENT_TRUST_SERVER=https://" + e.host});
      cp.push_back(c.wall_ms);
      cc.push_back(c.cpu_ms);
      if (!c.ok || c.out.find(want) == std::string::npos) {
        std::fprintf(stderr, "docket trust lookup failed: %s\n", c.out.c_str());
        return false;
      }
      return true;
    });
  steps.push_back([&](int i) {
    fs::path ti = work.path / ("lk-inproc-" + std::to_string(i));
    auto ref = value_or_raise(Reference::parse(gun + ":" + tag));
    auto t2 = Clock::now();
    auto r = value_or_raise(verifier::resolve_trusted(ref, trust_config(e, ti), {}));
    dn.push_back(since(t2) * 1000);
    return r.descriptor.digest.hex() == want;
  });
  steps.push_back([&](int i) {
    fs::path cfg = e.notary_config(work.path / ("lk-notary-" + std::to_string(i)));
    // notary lookup needs no passphrase: no added environment and no `timeout` wrapper
    // (e.notary() adds both, which would charge notary for more exec()s).
    auto n = capture({"notary", "-c", cfg.string(), "lookup", gun, tag});
    np.push_back(n.wall_ms);
    nc.push_back(n.cpu_ms);
    if (!n.ok || n.out.find(want) == std::string::npos) {
      std::fprintf(stderr, "notary lookup failed: %s\n", n.out.c_str());
      return false;
    }
    return true;
  });
  for (int i = 0; i < runs; ++i)
    for (std::size_t k = 0; k < steps.size(); ++k)
      if (!steps[(k + i) % steps.size()](i)) return 1;
  std::printf("%-34s %10s %10s\n", "client", "wall ms", "CPU ms");
  std::printf("%-34s %10.1f %10.1f\n", "docket (new process)", median(dp), median(dc));
  if (have_cli)
    std::printf("%-34s %10.1f %10.1f\n", "docket trust lookup (CLI)", median(cp), median(cc));
  std::printf("%-34s %10.1f %10s\n", "docket (in-process resolve)", median(dn), "");
  std::printf("%-34s %10.1f %10.1f\n", "notary lookup (new process)", median(np), median(nc));
  std::printf("%-34s %9.2fx %9.2fx\n", "notary / docket (processes)", median(np) / median(dp),
              median(nc) / median(dc));
  if (have_cli)
    std::printf("%-34s %9.2fx %9.2fx\n", "notary / docket trust lookup", median(np) / median(cp),
                median(nc) / median(cc));
  return 0;
}
