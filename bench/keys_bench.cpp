// Sign/verify rates per key type and SHA-256/SHA-512 throughput through docket's APIs.
// Prints "name value unit" lines; bench/keys.sh runs it beside `openssl speed` and prints
// one table. Usage: keys_bench [seconds-per-measurement]
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>

#include "common/digest.h"
#include "keys/key.h"
#include "keys/keyfile.h"

namespace {

// CPU time of this thread, not wall time: `openssl speed` divides by CPU user time too, so
// both figures mean the same thing even on a busy machine.
double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}
using namespace docket;
using namespace docket::keys;

// Runs fn repeatedly for about `seconds` of CPU time; returns calls per CPU second.
double rate(double seconds, const std::function<void()>& fn) {
  fn();  // warm up
  long n = 0;
  const double start = cpu_seconds();
  double now = start;
  do {
    for (int i = 0; i < 8; ++i) fn();
    n += 8;
    now = cpu_seconds();
  } while (now - start < seconds);
  return static_cast<double>(n) / (now - start);
}

volatile bool sink;

void bench_key(const char* name, Algorithm a, int bits, Dialect d, double secs) {
  PrivateKey k = value_or_raise(PrivateKey::generate(a, bits));
  PublicKey pub = k.public_key(d);
  const std::string msg(512, 'm');  // a typical canonical timestamp.json is ~500 bytes
  const std::string method = k.method(d);
  std::string sig = value_or_raise(k.sign(msg, d));
  double s = rate(secs, [&] { sink = k.sign(msg, d).has_value(); });
  double v = rate(secs, [&] { sink = pub.verify(method, msg, sig); });
  if (!pub.verify(method, msg, sig)) {
    std::fprintf(stderr, "%s: signature does not verify\n", name);
    std::exit(1);
  }
  std::printf("%s_sign %.1f ops/s\n%s_verify %.1f ops/s\n", name, s, name, v);
}

void bench_hash(const char* name, HashAlgorithm a, std::size_t block, double secs) {
  std::string data(block, 'x');
  Hasher h(a);
  double r = rate(secs, [&] {
    h.update(data);
    sink = h.finish().empty();
  });
  std::printf("%s_%zu %.0f bytes/s\n", name, block, r * static_cast<double>(block));
}

}  // namespace

int main(int argc, char** argv) {
  double secs = argc > 1 ? std::atof(argv[1]) : 2.0;
  if (secs <= 0) secs = 2.0;
  bench_key("ed25519", Algorithm::ed25519, 0, Dialect::notary, secs);
  bench_key("ecdsap256", Algorithm::ecdsa_p256, 0, Dialect::notary, secs);
  bench_key("ecdsap256_der", Algorithm::ecdsa_p256, 0, Dialect::tuf, secs);
  bench_key("rsa3072_pss", Algorithm::rsa, 3072, Dialect::notary, secs);
  bench_key("rsa4096_pss", Algorithm::rsa, 4096, Dialect::notary, secs);
  for (std::size_t block : {std::size_t{64}, std::size_t{1024}, std::size_t{16384}}) {
    bench_hash("sha256", HashAlgorithm::sha256, block, secs / 2);
    bench_hash("sha512", HashAlgorithm::sha512, block, secs / 2);
  }
  // Opening an encrypted key file: PBKDF2 at docket's and Notary's iteration counts.
  PrivateKey k = value_or_raise(PrivateKey::generate(Algorithm::ecdsa_p256));
  for (int iter : {kDefaultPbkdf2Iterations, kNotaryPbkdf2Iterations}) {
    std::string der = value_or_raise(encrypt_pkcs8(k, "bench-pass", iter));
    double r = rate(secs / 2, [&] { sink = decrypt_pkcs8(der, "bench-pass").has_value(); });
    std::printf("keyfile_decrypt_%d %.1f ops/s\n", iter, r);
  }
  return 0;
}
