// HttpClient against a real peer HTTP server (Python's http.server, an HTTP/1.0 server),
// started with the shared Process launcher.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <thread>

#include "common/file.h"
#include "net/http_client.h"
#include "net/testing/process.h"

namespace docket::net {
namespace {

using namespace std::chrono_literals;
using testing::Process;
using testing::TempDir;

TEST(HttpPeer, PythonHttpServer) {
  if (!testing::find_executable("python3")) GTEST_SKIP() << "python3 is not installed";
  TempDir dir = TempDir::create("docket-pyhttp");
  std::string blob = random_bytes(300 * 1024);
  ASSERT_TRUE(atomic_write_file(dir.path() / "blob.bin", blob));
  int port = testing::free_loopback_port();
  testing::ProcessOptions po;
  po.argv = {"python3", "-m",        "http.server", std::to_string(port),
             "--bind",  "127.0.0.1", "--directory", dir.path().string()};
  po.log_file = dir.path() / "server.log";
  auto peer = Process::start(po);
  ASSERT_TRUE(peer) << peer.error().describe();
  auto up = peer->wait_for_port(port, 20s);
  ASSERT_TRUE(up) << up.error().describe();

  HttpClientOptions o;
  o.proxy = "";
  auto client = HttpClient::create(o);
  ASSERT_TRUE(client);
  auto base = "http://127.0.0.1:" + std::to_string(port);
  auto r = client->get(base + "/blob.bin");
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->http_version, "1.0");
  EXPECT_EQ(r->headers.get("content-length"), std::to_string(blob.size()));
  EXPECT_EQ(r->body, blob);

  r = client->get(base + "/missing");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);

  HttpRequest req;
  req.url = base + "/blob.bin";
  std::string streamed;
  req.sink = [&](std::string_view c) -> Status {
    streamed.append(c);
    return {};
  };
  r = client->send(req);
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(streamed, blob);

  HttpClientOptions small = o;
  small.max_body_bytes = 1000;
  auto capped = HttpClient::create(small);
  r = capped->get(base + "/blob.bin");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "too_large");

  auto st = peer->stop();
  EXPECT_TRUE(st.has_value());
  EXPECT_FALSE(peer->running());
}

TEST(ProcessLauncher, ReportsEarlyExitWithLog) {
  TempDir dir = TempDir::create("docket-proc");
  testing::ProcessOptions po;
  po.argv = {"sh", "-c", "echo boom-$MARK >&2; exit 3"};
  po.env = {{"MARK", "xyz"}};
  po.log_file = dir.path() / "p.log";
  auto p = Process::start(po);
  ASSERT_TRUE(p) << p.error().describe();
  auto st = p->wait_for_port(testing::free_loopback_port(), 20s);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("boom-xyz"), std::string::npos) << st.error().message;
}

TEST(ProcessLauncher, StopsAProcessThatIgnoresSigterm) {
  testing::ProcessOptions po;
  TempDir dir = TempDir::create("docket-proc");
  po.argv = {"sh", "-c", "trap '' TERM; echo trapped; while :; do sleep 1; done"};
  po.stop_grace = 200ms;
  po.log_file = dir.path() / "p.log";
  auto p = Process::start(po);
  ASSERT_TRUE(p) << p.error().describe();
  // Only once the trap is set does SIGTERM get ignored.
  for (int i = 0; i < 1000 && p->log_tail().find("trapped") == std::string::npos; ++i)
    std::this_thread::sleep_for(10ms);
  ASSERT_NE(p->log_tail().find("trapped"), std::string::npos);
  EXPECT_TRUE(p->running());
  auto st = p->stop();
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(WIFSIGNALED(*st));
  EXPECT_EQ(WTERMSIG(*st), SIGKILL);
}

TEST(ProcessLauncher, MissingExecutable) {
  testing::ProcessOptions po;
  po.argv = {"docket-no-such-binary"};
  auto p = Process::start(po);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code, "not_found");
}

}  // namespace
}  // namespace docket::net
