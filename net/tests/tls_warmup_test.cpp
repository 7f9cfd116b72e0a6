// net/tls_warmup.h: OpenSSL's first-use set-up on a thread of its own changes nothing about
// the connections made after it (same verification, same answers), and awaiting it never
// blocks when none was started.
#include <gtest/gtest.h>

#include <atomic>
#include <latch>

#include "net/http_client.h"
#include "net/testing/loopback_server.h"
#include "net/testing/process.h"
#include "net/testing/tls_testing.h"
#include "net/tls_warmup.h"

namespace docket::net {
namespace {

using testing::LoopbackServer;
using testing::ServerTls;
using testing::TempDir;

Result<HttpResponse> native_get(const std::string& url, TlsOptions tls) {
  HttpClientOptions o;
  o.proxy = "";
  o.tls = std::move(tls);
  o.transport = HttpTransport::native;
  auto c = HttpClient::create(o);
  if (!c) return std::unexpected(c.error());
  return c->get(url);
}

TEST(TlsWarmUp, TlsAfterTheWarmUpVerifiesAsBefore) {
  await_tls_warm_up();  // none started: returns at once
  EXPECT_EQ(take_tls_warm_up_client_context(), nullptr);
  TempDir dir = TempDir::create("docket-warmup");
  auto pki = testing::make_test_pki(dir.path());
  ASSERT_TRUE(pki) << pki.error().describe();
  LoopbackServer srv(
      [](LoopbackServer::Connection& c) {
        while (auto r = c.read_request()) c.respond(200, {}, "warm");
      },
      ServerTls{pki->server_cert, pki->server_key, std::nullopt});

  // The follow-up work runs on the warm-up's thread after awaiters were let go: it is
  // still held here when the request below (which awaits the warm-up) has completed.
  struct FollowUp {
    std::latch release{1};
    std::atomic<int> runs{0};
    std::atomic<bool> done{false};
  } follow_up;
  auto then = [](void* arg) {
    auto* f = static_cast<FollowUp*>(arg);
    f->release.wait();
    f->runs.fetch_add(1);
    f->done.store(true);
    f->done.notify_all();
  };
  auto never = [](void* arg) { static_cast<FollowUp*>(arg)->runs.fetch_add(100); };
  start_tls_warm_up(then, &follow_up);
  start_tls_warm_up(never, &follow_up);  // once per process: the second call does nothing
  // Requests made while the warm-up may still be running wait for it, then proceed.
  TlsOptions trusted;
  trusted.ca_file = pki->ca_cert;
  auto r = native_get(srv.url("/"), trusted);
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "warm");
  await_tls_warm_up();
  // The transport's first context was the warm-up's: there is none left to take.
  EXPECT_EQ(take_tls_warm_up_client_context(), nullptr);
  EXPECT_EQ(follow_up.runs.load(), 0);
  follow_up.release.count_down();
  follow_up.done.wait(false);
  EXPECT_EQ(follow_up.runs.load(), 1);

  // Verification is untouched: an unknown CA is still refused.
  TempDir other_dir = TempDir::create("docket-warmup-other");
  auto other = testing::make_test_pki(other_dir.path());
  ASSERT_TRUE(other);
  TlsOptions wrong;
  wrong.ca_file = other->ca_cert;
  auto bad = native_get(srv.url("/"), wrong);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, "network");
  EXPECT_NE(bad.error().message.find("certificate"), std::string::npos) << bad.error().message;
}

}  // namespace
}  // namespace docket::net
