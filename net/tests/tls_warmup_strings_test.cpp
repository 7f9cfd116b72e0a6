// net/tls_warmup.h with deferred error strings: the warm-up initialises OpenSSL without them,
// and the first error text made through common/openssl_errors.h loads them, once, so it
// reads exactly as it would have. Its own process: nothing may initialise OpenSSL first.
#include <gtest/gtest.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <atomic>

#include "common/openssl_errors.h"
#include "net/tls_warmup.h"

namespace docket::net {
namespace {

std::atomic<int> g_loads{0};

// What a dynamically linked process can call: the public per-library loaders (the static
// `docket` uses OpenSSL's internal all-in-one loaders instead, cli/docket/tls_warmup.cpp).
void load_some_strings() {
  g_loads.fetch_add(1);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  ERR_load_ERR_strings();
  ERR_load_SSL_strings();
#pragma GCC diagnostic pop
}

TEST(TlsWarmUpErrorStrings, LoadedByTheFirstErrorTextOnlyAndReadTheSame) {
  start_tls_warm_up(nullptr, nullptr, load_some_strings);
  SSL_CTX* ctx = take_tls_warm_up_client_context();
  ASSERT_NE(ctx, nullptr);
  SSL_CTX_free(ctx);
  const unsigned long code = ERR_PACK(ERR_LIB_SSL, 0, SSL_R_WRONG_VERSION_NUMBER);
  // Initialised, a context made, and still no strings: their cost was not paid up front.
  EXPECT_EQ(ERR_reason_error_string(code), nullptr);
  EXPECT_EQ(g_loads.load(), 0);

  ERR_raise(ERR_LIB_SSL, SSL_R_WRONG_VERSION_NUMBER);
  std::string text = take_openssl_errors();
  EXPECT_EQ(g_loads.load(), 1);
  EXPECT_NE(text.find("SSL routines::wrong version number"), std::string::npos) << text;
  EXPECT_EQ(ERR_get_error(), 0u);  // taken

  // Later texts find them loaded; the loader does not run again.
  EXPECT_NE(openssl_error_string(code).find("wrong version number"), std::string::npos);
  ERR_raise(ERR_LIB_SSL, SSL_R_NO_CIPHER_MATCH);
  EXPECT_NE(take_openssl_errors().find("no cipher match"), std::string::npos);
  EXPECT_EQ(g_loads.load(), 1);
}

}  // namespace
}  // namespace docket::net
