// OpenSSL's one-time, process-wide set-up started early on a thread of its own, for a
// short-lived process that will soon make a TLS connection (`docket trust lookup`:
// cli/docket/tls_warmup.cpp starts it before main()).
//
// The first SSL_CTX_new of a process costs ~1.5 ms of CPU: OpenSSL 3 reads its config file,
// loads its error strings (unless deferred, below) and fetches every cipher, digest, group and
// signature algorithm from the provider into the library context's caches; every later SSL_CTX_new
// costs ~0.1 ms. The warm-up does exactly that (OPENSSL_init_ssl with its defaults, one client
// context, handed to the first taker) while the process does other work; nothing is
// configured differently and the context has one owner. The transport's own context
// creation (native_http.cpp) first awaits a warm-up in progress, since two threads filling
// the same caches contend on OpenSSL's locks and take longer than one.
//
// OpenSSL is initialised without its atexit cleanup (OPENSSL_INIT_NO_ATEXIT) when the
// warm-up runs: a process ending while the thread is at work (a usage error) must not have
// OPENSSL_cleanup free state the thread is using. The kernel reclaims the memory anyway.
#pragma once

#include <openssl/types.h>

namespace docket::net {

// Starts the warm-up once per process (later calls do nothing); best effort, never fails.
// `then`, if given, runs on the warm-up's thread after the set-up is done and awaiters have
// been released (more background work for the same short-lived process); it does not run
// when no thread could be started.
//
// `load_error_strings`, if given, loads all of OpenSSL's error strings: the warm-up then
// initialises OpenSSL without them and leaves their loading to the first error text
// (common/openssl_errors.h, defer_openssl_error_strings), which reads the same. Only a
// process that makes all its OpenSSL error texts through common/openssl_errors.h may pass it.
void start_tls_warm_up(void (*then)(void*) = nullptr, void* arg = nullptr,
                       void (*load_error_strings)() = nullptr) noexcept;

// Returns once a started warm-up has finished; at once when none was started.
void await_tls_warm_up() noexcept;

// After awaiting the warm-up: the client context it made (SSL_CTX_new(TLS_client_method()),
// nothing set on it), to the first caller, who owns it; nullptr for every other caller and
// when no warm-up ran. Saves the caller its own SSL_CTX_new (~0.13 ms even when warm).
SSL_CTX* take_tls_warm_up_client_context() noexcept;

}  // namespace docket::net
