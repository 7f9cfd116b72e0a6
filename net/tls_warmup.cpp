#include "net/tls_warmup.h"

#include <openssl/ssl.h>
#include <pthread.h>

#include <atomic>
#include <cstdint>

#include "common/openssl_errors.h"

namespace docket::net {
namespace {

enum : int { kIdle = 0, kRunning = 1, kDone = 2 };
// Constant-initialised: usable from constructors that run before main().
std::atomic<int> g_state{kIdle};

struct Then {
  void (*fn)(void*) = nullptr;
  void* arg = nullptr;
  void (*load_error_strings)() = nullptr;
};
Then g_then;  // written before the thread starts, read by it only

// The warm-up's client context, fresh from SSL_CTX_new, for the first taker.
std::atomic<SSL_CTX*> g_ctx{nullptr};

void* warm_up(void*) {
  std::uint64_t opts = OPENSSL_INIT_NO_ATEXIT;
  if (g_then.load_error_strings)
    opts |= OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS | OPENSSL_INIT_NO_LOAD_SSL_STRINGS;
  if (OPENSSL_init_ssl(opts, nullptr) == 1)
    g_ctx.store(SSL_CTX_new(TLS_client_method()), std::memory_order_relaxed);
  g_state.store(kDone, std::memory_order_release);
  g_state.notify_all();
  if (g_then.fn) g_then.fn(g_then.arg);
  return nullptr;
}

}  // namespace

void start_tls_warm_up(void (*then)(void*), void* arg, void (*load_error_strings)()) noexcept {
  int idle = kIdle;
  if (!g_state.compare_exchange_strong(idle, kRunning)) return;
  g_then = Then{then, arg, load_error_strings};
  // Registered before any thread could initialise OpenSSL without the strings, so no error
  // text can be made in between without them. Loading them is idempotent: should OpenSSL
  // have been initialised with them after all (no thread, or another caller first), the
  // loader finds them there.
  if (load_error_strings) defer_openssl_error_strings(load_error_strings);
  pthread_attr_t attr;
  pthread_t t;
  bool started = pthread_attr_init(&attr) == 0;
  if (started) {
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    started = pthread_create(&t, &attr, warm_up, nullptr) == 0;
    pthread_attr_destroy(&attr);
  }
  if (!started) {
    // Without the thread, the first context creation does the same work itself.
    g_state.store(kDone, std::memory_order_release);
    g_state.notify_all();
  }
}

void await_tls_warm_up() noexcept {
  for (int s = g_state.load(std::memory_order_acquire); s == kRunning;
       s = g_state.load(std::memory_order_acquire))
    g_state.wait(kRunning, std::memory_order_acquire);
}

SSL_CTX* take_tls_warm_up_client_context() noexcept {
  await_tls_warm_up();
  return g_ctx.exchange(nullptr, std::memory_order_acq_rel);
}

}  // namespace docket::net
