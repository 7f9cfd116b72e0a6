// The registry client and push/pull engine against Debian's real docker-registry 2.8 and
// skopeo, all on loopback.
#include <gtest/gtest.h>

#include "client/tests/image_builder.h"
#include "client/tests/registry_fixture.h"
#include "client/transfer.h"
#include "net/testing/loopback_server.h"
#include "net/testing/tls_testing.h"

using namespace docket;
using namespace docket::client;
namespace fs = std::filesystem;

namespace {

#define REQUIRE_REGISTRY(reg)                                                                  \
  if (!test::have_program("docker-registry")) GTEST_SKIP() << "docker-registry not installed"; \
  ASSERT_TRUE((reg).ready()) << (reg).log()

std::shared_ptr<RegistryClient> client_for(const std::string& domain,
                                           std::optional<Credentials> c = std::nullopt,
                                           std::uint64_t chunk = 0) {
  RegistryOptions o;
  o.insecure_http = true;
  o.chunk_size = chunk;
  return value_or_raise(RegistryClient::create(domain, std::move(c), o));
}

Reference R(const std::string& s) {
  return value_or_raise(Reference::parse(s));
}

void expect_same_image(const ImageStore& a, const ImageStore& b, const Descriptor& top) {
  auto ca = image_closure(a, top);
  ASSERT_TRUE(ca) << ca.error().describe();
  for (const auto& d : *ca) {
    ASSERT_TRUE(b.has_blob(d.digest)) << d.digest.str();
    EXPECT_EQ(*b.blob_size(d.digest), d.size);
  }
}

}  // namespace

TEST(RegistryInterop, PushThenPullRoundTripsEveryBlob) {
  test::DockerRegistry reg;
  REQUIRE_REGISTRY(reg);
  test::TempDir d;
  auto src = *ImageStore::open(d.path / "a");
  auto img = test::build_image(src, 3, 300 * 1024);
  auto local = R("app:1");
  ASSERT_TRUE(src.tag(local, img.manifest));
  auto remote = R(reg.domain() + "/team/app:1");
  auto c = client_for(reg.domain());
  auto pushed = push_image(*c, src, local, remote, PushOptions{});
  ASSERT_TRUE(pushed) << pushed.error().describe();
  EXPECT_EQ(pushed->blobs_uploaded, 4u);
  EXPECT_EQ(pushed->target.digest, img.manifest.digest);
  // A second push uploads nothing.
  auto again = push_image(*c, src, local, remote, PushOptions{});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->blobs_uploaded, 0u);
  EXPECT_EQ(again->blobs_present, 4u);

  auto dst = *ImageStore::open(d.path / "b");
  auto pulled = pull_image(*client_for(reg.domain()), dst, remote, PullOptions{});
  ASSERT_TRUE(pulled) << pulled.error().describe();
  EXPECT_EQ(pulled->target.digest, img.manifest.digest);
  EXPECT_EQ(pulled->blobs_downloaded, 4u);
  expect_same_image(src, dst, img.manifest);
  EXPECT_EQ((*dst.resolve(remote))->digest, img.manifest.digest);
  EXPECT_TRUE(fs::is_empty(d.path / "b" / "ingest"));
  // Pull by digest works too and re-downloads nothing.
  auto by_digest =
      pull_image(*client_for(reg.domain()), dst,
                 remote.without_tag_or_digest().with_digest(img.manifest.digest), PullOptions{});
  ASSERT_TRUE(by_digest) << by_digest.error().describe();
  EXPECT_EQ(by_digest->blobs_downloaded, 0u);

  auto tags = c->list_tags("team/app");
  ASSERT_TRUE(tags);
  EXPECT_EQ(*tags, std::vector<std::string>{"1"});
  auto missing = pull_image(*c, dst, R(reg.domain() + "/team/app:nope"), PullOptions{});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, "not_found");
}

TEST(RegistryInterop, ChunkedUploadsAndCrossRepositoryMounts) {
  test::DockerRegistry reg;
  REQUIRE_REGISTRY(reg);
  test::TempDir d;
  auto s = *ImageStore::open(d.path / "s");
  auto img = test::build_image(s, 2, 200 * 1024);
  ASSERT_TRUE(s.tag(R("x:1"), img.manifest));
  auto c = client_for(reg.domain(), std::nullopt, 64 * 1024);
  auto p1 = push_image(*c, s, R("x:1"), R(reg.domain() + "/one/x:1"), PushOptions{});
  ASSERT_TRUE(p1) << p1.error().describe();
  EXPECT_GE(c->counters()["upload_patch"], 6);  // 2 layers of 200 KiB in 64 KiB chunks
  auto p2 = push_image(*c, s, R("x:1"), R(reg.domain() + "/two/x:1"), PushOptions{});
  ASSERT_TRUE(p2) << p2.error().describe();
  EXPECT_EQ(p2->blobs_mounted, 3u);
  EXPECT_EQ(p2->blobs_uploaded, 0u);
  auto dst = *ImageStore::open(d.path / "d");
  auto pulled = pull_image(*c, dst, R(reg.domain() + "/two/x:1"), PullOptions{});
  ASSERT_TRUE(pulled) << pulled.error().describe();
  expect_same_image(s, dst, img.manifest);
  auto cat = c->catalog(100, 1);  // page size 1 exercises Link pagination
  ASSERT_TRUE(cat) << cat.error().describe();
  EXPECT_EQ(*cat, (std::vector<std::string>{"one/x", "two/x"}));
}

TEST(RegistryInterop, HtpasswdBasicAuth) {
  test::DockerRegistry reg("alice", "s3cret");
  REQUIRE_REGISTRY(reg);
  test::TempDir d;
  auto s = *ImageStore::open(d.path / "s");
  auto img = test::build_image(s, 1, 1000);
  ASSERT_TRUE(s.tag(R("x:1"), img.manifest));
  auto anon = client_for(reg.domain());
  auto no = anon->check_login();
  ASSERT_FALSE(no);
  EXPECT_EQ(no.error().code, "unauthorized");
  EXPECT_EQ(no.error().fault, Fault::user);
  auto wrong = client_for(reg.domain(), Credentials{"alice", "wrong", ""});
  auto w = wrong->check_login();
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code, "unauthorized");
  EXPECT_EQ(w.error().message.find("wrong"), std::string::npos);  // no secret in messages
  auto good = client_for(reg.domain(), Credentials{"alice", "s3cret", ""});
  ASSERT_TRUE(good->check_login());
  auto p = push_image(*good, s, R("x:1"), R(reg.domain() + "/x:1"), PushOptions{});
  ASSERT_TRUE(p) << p.error().describe();
  auto dst = *ImageStore::open(d.path / "d");
  ASSERT_TRUE(pull_image(*good, dst, R(reg.domain() + "/x:1"), PullOptions{}));
  EXPECT_FALSE(pull_image(*anon, dst, R(reg.domain() + "/x:1"), PullOptions{}));
}

TEST(RegistryInterop, MultiArchIndexPullsTheRequestedPlatform) {
  test::DockerRegistry reg;
  REQUIRE_REGISTRY(reg);
  test::TempDir d;
  auto s = *ImageStore::open(d.path / "s");
  Platform amd{"linux", "amd64", "", ""}, arm{"linux", "arm64", "v8", ""};
  auto a = test::build_image(s, 2, 5000, amd);
  auto b = test::build_image(s, 2, 5000, arm);
  auto idx = test::build_index(s, {{amd, a.manifest}, {arm, b.manifest}});
  ASSERT_TRUE(s.tag(R("multi:1"), idx));
  auto c = client_for(reg.domain());
  auto p = push_image(*c, s, R("multi:1"), R(reg.domain() + "/multi:1"), PushOptions{});
  ASSERT_TRUE(p) << p.error().describe();
  EXPECT_EQ(p->target.digest, idx.digest);

  auto dst = *ImageStore::open(d.path / "d");
  PullOptions po;
  po.platform = *Platform::parse("linux/arm64");
  auto pulled = pull_image(*c, dst, R(reg.domain() + "/multi:1"), po);
  ASSERT_TRUE(pulled) << pulled.error().describe();
  EXPECT_EQ(pulled->target.digest, idx.digest);
  EXPECT_EQ(pulled->manifest.digest, b.manifest.digest);
  for (const auto& l : b.layers) EXPECT_TRUE(dst.has_blob(l.digest));
  for (const auto& l : a.layers) EXPECT_FALSE(dst.has_blob(l.digest));
  po.platform = *Platform::parse("linux/s390x");
  auto none = pull_image(*c, dst, R(reg.domain() + "/multi:1"), po);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, "platform_not_found");
  EXPECT_NE(none.error().message.find("linux/arm64/v8"), std::string::npos);
}

// A proxy in front of the real registry drops the connection on the second PATCH; the
// client asks the registry where the upload stands and continues from there.
TEST(RegistryInterop, InterruptedChunkedUploadResumes) {
  test::DockerRegistry reg;
  REQUIRE_REGISTRY(reg);
  net::HttpClient upstream;
  std::atomic<int> patches{0};
  net::testing::LoopbackServer proxy([&](net::testing::LoopbackServer::Connection& conn) {
    while (auto req = conn.read_request()) {
      // Drop the connection with no reply. Twice, because libcurl itself silently resends
      // once on a fresh connection when a reused one dies; the second drop reaches us.
      if (req->method == "PATCH") {
        int n = ++patches;
        if (n == 3 || n == 4) return;  // #1 is the config, #2 the first layer chunk
      }
      net::HttpRequest fwd;
      fwd.method = req->method;
      std::string target = req->target;
      // The registry hands out absolute Locations naming itself; keep them on the proxy.
      fwd.url = reg.url() + target;
      for (const auto& [k, v] : req->headers.entries())
        if (!net::header_name_equals(k, "Host") && !net::header_name_equals(k, "Content-Length"))
          fwd.headers.add(k, v);
      fwd.body = req->body;
      auto r = upstream.send(fwd);
      if (!r) return;
      net::HttpHeaders h;
      for (const auto& [k, v] : r->headers.entries()) {
        if (net::header_name_equals(k, "Content-Length") ||
            net::header_name_equals(k, "Transfer-Encoding"))
          continue;
        std::string val = v;
        if (net::header_name_equals(k, "Location") && val.starts_with(reg.url()))
          val = val.substr(reg.url().size());
        h.add(k, val);
      }
      conn.respond(static_cast<int>(r->status), h, req->method == "HEAD" ? "" : r->body,
                   req->method != "HEAD");
    }
  });
  std::string domain = "127.0.0.1:" + std::to_string(proxy.port());
  test::TempDir d;
  auto s = *ImageStore::open(d.path / "s");
  auto img = test::build_image(s, 1, 100 * 1024);
  ASSERT_TRUE(s.tag(R("x:1"), img.manifest));
  auto c = client_for(domain, std::nullopt, 16 * 1024);
  PushOptions po;
  po.parallel = 1;
  auto p = push_image(*c, s, R("x:1"), R(domain + "/resume/x:1"), po);
  ASSERT_TRUE(p) << p.error().describe();
  EXPECT_GE(c->counters()["upload_resume"], 1);
  auto dst = *ImageStore::open(d.path / "d");
  auto pulled =
      pull_image(*client_for(reg.domain()), dst, R(reg.domain() + "/resume/x:1"), PullOptions{});
  ASSERT_TRUE(pulled) << pulled.error().describe();
  expect_same_image(s, dst, img.manifest);
}

// Images pushed by skopeo pull through docket, and docket's pushes copy out with skopeo.
TEST(RegistryInterop, Skopeo) {
  test::DockerRegistry reg;
  REQUIRE_REGISTRY(reg);
  if (!test::have_program("skopeo")) GTEST_SKIP() << "skopeo not installed";
  test::TempDir d;
  auto s = *ImageStore::open(d.path / "s");
  auto img = test::build_image(s, 2, 10000);
  ASSERT_TRUE(s.tag(R("x:1"), img.manifest));
  auto c = client_for(reg.domain());
  ASSERT_TRUE(push_image(*c, s, R("x:1"), R(reg.domain() + "/ours:1"), PushOptions{}));
  std::string sk = "skopeo --insecure-policy --tmpdir " + d.path.string() + " ";
  std::string tls = " --src-tls-verify=false --dest-tls-verify=false ";
  ASSERT_EQ(std::system((sk + "copy -q" + tls + "docker://" + reg.domain() +
                         "/ours:1 oci:" + (d.path / "out").string() + ":x")
                            .c_str()),
            0);
  // skopeo kept the manifest bytes, so the OCI layout's index names our digest.
  auto idx = parse_json(*read_file(d.path / "out" / "index.json"), "index", Fault::local);
  EXPECT_EQ((*idx)["manifests"][0]["digest"], img.manifest.digest.str());
  ASSERT_EQ(std::system((sk + "copy -q" + tls + "oci:" + (d.path / "out").string() +
                         ":x docker://" + reg.domain() + "/theirs:2")
                            .c_str()),
            0);
  auto dst = *ImageStore::open(d.path / "d");
  auto pulled = pull_image(*c, dst, R(reg.domain() + "/theirs:2"), PullOptions{});
  ASSERT_TRUE(pulled) << pulled.error().describe();
  EXPECT_EQ(pulled->target.digest, img.manifest.digest);
  expect_same_image(s, dst, img.manifest);
}

// Real TLS: the registry's CA is trusted only through certs.d/<host:port>/ca.crt.
TEST(RegistryInterop, TlsWithCertsD) {
  if (!test::have_program("docker-registry")) GTEST_SKIP() << "docker-registry not installed";
  test::TempDir d;
  auto pki = net::testing::make_test_pki(d.path / "pki");
  ASSERT_TRUE(pki) << pki.error().describe();
  test::DockerRegistry reg("", "", pki->server_cert.string(), pki->server_key.string());
  ASSERT_TRUE(reg.ready()) << reg.log();
  fs::create_directories(d.path / "certs.d" / reg.domain());
  fs::copy_file(pki->ca_cert, d.path / "certs.d" / reg.domain() / "ca.crt");
  auto s = *ImageStore::open(d.path / "s");
  auto img = test::build_image(s, 1, 2000);
  ASSERT_TRUE(s.tag(R("x:1"), img.manifest));

  RegistryOptions o;
  o.certs_dirs = {d.path / "certs.d"};
  auto c = *RegistryClient::create(reg.domain(), std::nullopt, o);
  EXPECT_EQ(c->base_url(), "https://" + reg.domain());
  auto p = push_image(*c, s, R("x:1"), R(reg.domain() + "/tls/x:1"), PushOptions{});
  ASSERT_TRUE(p) << p.error().describe();

  // Without the CA the server's certificate is refused; nothing falls back to HTTP.
  RegistryOptions no_ca;
  no_ca.certs_dirs = {d.path / "empty"};
  auto untrusted = *RegistryClient::create(reg.domain(), std::nullopt, no_ca);
  auto dst = *ImageStore::open(d.path / "d");
  auto r = pull_image(*untrusted, dst, R(reg.domain() + "/tls/x:1"), PullOptions{});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "network");
  EXPECT_TRUE(dst.list()->empty());
  auto ok = pull_image(*c, dst, R(reg.domain() + "/tls/x:1"), PullOptions{});
  ASSERT_TRUE(ok) << ok.error().describe();
}
