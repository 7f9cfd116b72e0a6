// Missing aggregate fields default to empty here; the warning is noise for test requests.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
// The requests of the OCI distribution-spec conformance suite (opencontainers/distribution-spec,
// conformance/: pull, push, content discovery, content management), each with the assertion
// the suite makes on its answer, against the real server. The suite's Go client (reggie over
// resty) sends every body as an unsized reader, i.e. with chunked transfer coding and no
// Content-Length, and bodiless POST/PUT/PATCH with "Content-Length: 0"; the requests here
// do the same. Where the suite accepts several answers, the test pins the one we give.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "common/digest.h"
#include "common/encoding.h"
#include "common/json.h"
#include "registry/tests/test_client.h"

using namespace docket;
using namespace docket::registry;
using namespace docket::registry::testing;

namespace {

const std::string kManifestType = "application/vnd.oci.image.manifest.v1+json";
const std::string kIndexType = "application/vnd.oci.image.index.v1+json";
const std::string kAnnotation = "org.opencontainers.conformance.test";

Json descriptor(const std::string& media_type, const std::string& content) {
  // The suite's descriptors carry a field no spec defines, null when unset: it must be
  // stored and served untouched.
  return {{"mediaType", media_type},
          {"digest", Digest::of(content).str()},
          {"size", content.size()},
          {"newUnspecifiedField", nullptr}};
}

// The suite's image config descriptor: `data` holds the config itself (base64) and the
// unspecified field has content.
Json config_descriptor(const std::string& config) {
  Json d = descriptor("application/vnd.oci.image.config.v1+json", config);
  d["data"] = base64_encode(config);
  d["newUnspecifiedField"] = base64_encode("hello world");
  return d;
}

class RegistryOciConformance : public ::testing::Test {
 protected:
  RegistryServer reg;
  const std::string ns = "conformance/app";

  // A request as the suite's client sends it.
  Resp go(const std::string& method, const std::string& target, const std::string& body = "",
          std::vector<std::pair<std::string, std::string>> headers = {}) const {
    Req r{method, target, body, std::move(headers)};
    r.chunked = !body.empty();
    return reg.send(r);
  }
  // POST, then PUT the whole blob to the session (the suite's set-up pushes).
  void push(const std::string& blob) const {
    auto s = go("POST", "/v2/" + ns + "/blobs/uploads/");
    ASSERT_EQ(s.status, 202u);
    auto p = go("PUT", s.header("location") + "?digest=" + Digest::of(blob).str(), blob,
                {{"Content-Type", "application/octet-stream"}});
    ASSERT_EQ(p.status, 201u) << p.body;
  }
  Resp put_manifest(const std::string& ref, const std::string& body,
                    const std::string& type = kManifestType) const {
    return go("PUT", "/v2/" + ns + "/manifests/" + ref, body, {{"Content-Type", type}});
  }
  std::vector<std::string> tags() const {
    auto r = go("GET", "/v2/" + ns + "/tags/list");
    EXPECT_EQ(r.status, 200u) << r.body;
    auto j = Json::parse(r.body);
    return j["tags"].is_null() ? std::vector<std::string>{}
                               : j["tags"].get<std::vector<std::string>>();
  }
  static std::string image(const std::string& config, const Json& layers, bool media_type = true) {
    Json m = {{"schemaVersion", 2}};
    if (media_type) m["mediaType"] = kManifestType;
    m["config"] = config_descriptor(config);
    m["layers"] = layers;
    return m.dump(1, '\t');
  }
};

TEST_F(RegistryOciConformance, PullWorkflow) {
  const std::string config = R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers"}})";
  const std::string layer = "a gzipped tarball, as far as the registry can tell";
  push(config);
  push(layer);
  const std::string manifest = image(
      config, Json::array({descriptor("application/vnd.oci.image.layer.v1.tar+gzip", layer)}));
  const std::string md = Digest::of(manifest).str();
  ASSERT_EQ(put_manifest("tagtest0", manifest).status, 201u);
  // Also by digest, as the suite pushes its second manifest.
  ASSERT_EQ(put_manifest(md, manifest).status, 201u);

  const std::string missing = Digest::of("hello world").str();
  EXPECT_EQ(go("HEAD", "/v2/" + ns + "/blobs/" + missing).status, 404u);
  EXPECT_EQ(go("GET", "/v2/" + ns + "/blobs/" + missing).status, 404u);
  auto h = go("HEAD", "/v2/" + ns + "/blobs/" + Digest::of(config).str());
  EXPECT_EQ(h.status, 200u);
  EXPECT_EQ(h.header("docker-content-digest"), Digest::of(config).str());
  EXPECT_EQ(go("GET", "/v2/" + ns + "/blobs/" + Digest::of(config).str()).body, config);

  // A reference that is neither a digest nor a valid tag names nothing: 404 for reads and
  // deletes (the suite probes ".INVALID_MANIFEST_NAME"), TAG_INVALID only for a push.
  for (const auto* method : {"HEAD", "GET", "DELETE"}) {
    auto r = go(method, "/v2/" + ns + "/manifests/.INVALID_MANIFEST_NAME");
    EXPECT_EQ(r.status, 404u) << method;
    if (std::string(method) != "HEAD") {
      EXPECT_EQ(r.error_code(), "MANIFEST_UNKNOWN") << method;
    }
  }
  EXPECT_EQ(put_manifest(".INVALID_MANIFEST_NAME", manifest).error_code(), "TAG_INVALID");

  const std::vector<std::pair<std::string, std::string>> accept = {{"Accept", kManifestType}};
  for (const auto& ref : {md, std::string("tagtest0")}) {
    auto head = go("HEAD", "/v2/" + ns + "/manifests/" + ref, "", accept);
    EXPECT_EQ(head.status, 200u) << ref;
    EXPECT_EQ(head.header("docker-content-digest"), md) << ref;
    auto get = go("GET", "/v2/" + ns + "/manifests/" + ref, "", accept);
    EXPECT_EQ(get.status, 200u) << ref;
    EXPECT_EQ(get.body, manifest) << ref;  // unknown fields and `data` kept byte for byte
  }
  // The suite's error-body check: a malformed digest gets 400 with a spec error code.
  auto bad = go("GET", "/v2/" + ns + "/manifests/sha256:totallywrong", "blablabla",
                {{"Content-Type", kManifestType}});
  EXPECT_EQ(bad.status, 400u);
  EXPECT_EQ(bad.error_code(), "DIGEST_INVALID");

  // Teardown with OCI_DELETE_MANIFEST_BEFORE_BLOBS=0: the blobs go first, and the manifest
  // delete that follows must still succeed (2xx; the suite does not accept 404 here).
  EXPECT_EQ(go("DELETE", "/v2/" + ns + "/blobs/" + Digest::of(config).str()).status, 202u);
  EXPECT_EQ(go("DELETE", "/v2/" + ns + "/blobs/" + Digest::of(layer).str()).status, 202u);
  EXPECT_EQ(go("DELETE", "/v2/" + ns + "/manifests/" + md).status, 202u);
  // And the same content can be pushed again into the emptied repository.
  push(config);
  push(layer);
  EXPECT_EQ(put_manifest("tagtest0", manifest).status, 201u);
}

TEST_F(RegistryOciConformance, PushWorkflow) {
  const std::string base = "/v2/" + ns + "/blobs/uploads/";
  // Streamed: PATCH without Content-Range, then PUT ?digest= with no body.
  const std::string blob_a(42, 'A');
  auto s = go("POST", base);
  ASSERT_EQ(s.status, 202u);
  ASSERT_FALSE(s.header("location").empty());
  auto p =
      go("PATCH", s.header("location"), blob_a, {{"Content-Type", "application/octet-stream"}});
  ASSERT_EQ(p.status, 202u) << p.body;
  auto done = go("PUT", p.header("location") + "?digest=" + Digest::of(blob_a).str());
  EXPECT_EQ(done.status, 201u) << done.body;
  EXPECT_EQ(done.header("location"), "/v2/" + ns + "/blobs/" + Digest::of(blob_a).str());

  // Monolithic: POST ?digest= with the body (201 + Location, then readable) and POST + PUT.
  const std::string config = R"({"architecture":"amd64","os":"linux","author":"x"})";
  auto mono = go("POST", base + "?digest=" + Digest::of(config).str(), config,
                 {{"Content-Type", "application/octet-stream"}});
  EXPECT_EQ(mono.status, 201u) << mono.body;
  EXPECT_FALSE(mono.header("location").empty());
  EXPECT_EQ(go("GET", "/v2/" + ns + "/blobs/" + Digest::of(config).str()).status, 200u);
  const std::string layer = "layer bytes";
  s = go("POST", base);
  ASSERT_EQ(s.status, 202u);
  auto put = go("PUT", s.header("location") + "?digest=" + Digest::of(layer).str(), layer);
  EXPECT_EQ(put.status, 201u) << put.body;
  EXPECT_FALSE(put.header("location").empty());

  // Chunked, 42 bytes in a 22-byte and a 20-byte chunk.
  std::string blob_b;
  for (int i = 0; i < 42; ++i) blob_b += static_cast<char>('a' + i % 26);
  const std::string c1 = blob_b.substr(0, 22), c2 = blob_b.substr(22);
  s = go("POST", base);
  ASSERT_EQ(s.status, 202u);
  // The second chunk first: 416.
  auto ooo = go("PATCH", s.header("location"), c2, {{"Content-Range", "22-41"}});
  EXPECT_EQ(ooo.status, 416u) << ooo.body;
  auto prev = go("POST", base);
  ASSERT_EQ(prev.status, 202u);
  auto first = go("PATCH", prev.header("location"), c1,
                  {{"Content-Range", "0-21"}, {"Content-Type", "application/octet-stream"}});
  ASSERT_EQ(first.status, 202u) << first.body;
  EXPECT_EQ(first.header("range"), "0-21");
  // The same chunk again: 416, and the session survives it.
  EXPECT_EQ(go("PATCH", prev.header("location"), c1, {{"Content-Range", "0-21"}}).status, 416u);
  auto status = go("GET", prev.header("location"));
  EXPECT_EQ(status.status, 204u);
  EXPECT_EQ(status.header("range"), "0-21");
  ASSERT_FALSE(status.header("location").empty());
  auto second = go("PATCH", status.header("location"), c2, {{"Content-Range", "22-41"}});
  ASSERT_EQ(second.status, 202u) << second.body;
  ASSERT_FALSE(second.header("location").empty());
  auto fin = go("PUT", second.header("location") + "?digest=" + Digest::of(blob_b).str());
  EXPECT_EQ(fin.status, 201u) << fin.body;
  EXPECT_FALSE(fin.header("location").empty());
  EXPECT_EQ(go("GET", "/v2/" + ns + "/blobs/" + Digest::of(blob_b).str()).body, blob_b);

  // Cross-repository mount into a new repository: without `from`, an upload session (we do
  // not mount automatically: run the suite without OCI_AUTOMATIC_CROSSMOUNT, or with 0);
  // with `from`, 201 and the blob's exact path as Location.
  const std::string other = "conformance-0b7c6a1e-3f0e-4d7c-9a51-2f8f3c1d9e20";
  auto nofrom = go("POST", "/v2/" + other + "/blobs/uploads/?mount=" + Digest::of("hello").str());
  EXPECT_EQ(nofrom.status, 202u);
  EXPECT_FALSE(nofrom.header("location").empty());
  auto mount = go(
      "POST", "/v2/" + other + "/blobs/uploads/?mount=" + Digest::of(blob_a).str() + "&from=" + ns);
  ASSERT_EQ(mount.status, 201u) << mount.body;
  EXPECT_EQ(mount.header("location"), "/v2/" + other + "/blobs/" + Digest::of(blob_a).str());
  EXPECT_EQ(go("GET", mount.header("location")).body, blob_a);
  EXPECT_EQ(go("POST", "/v2/" + other + "/blobs/uploads/?mount=" + Digest::of(blob_a).str()).status,
            202u);

  // Manifests: one under four tags, and one with no layers and no mediaType field (its
  // type comes from Content-Type).
  EXPECT_EQ(go("GET", "/v2/" + ns + "/manifests/.INVALID_MANIFEST_NAME").status, 404u);
  const std::string manifest = image(
      config, Json::array({descriptor("application/vnd.oci.image.layer.v1.tar+gzip", layer)}));
  for (int i = 0; i < 4; ++i) {
    auto r = put_manifest("test" + std::to_string(i), manifest);
    EXPECT_EQ(r.status, 201u) << r.body;
    EXPECT_EQ(r.header("location"), "/v2/" + ns + "/manifests/" + Digest::of(manifest).str());
  }
  const std::string no_layers = image(config, Json::array(), false);
  auto empty = put_manifest("emptylayer", no_layers);
  EXPECT_EQ(empty.status, 201u) << empty.body;
  EXPECT_FALSE(empty.header("location").empty());
  auto got = go("GET", "/v2/" + ns + "/manifests/emptylayer", "", {{"Accept", kManifestType}});
  EXPECT_EQ(got.header("content-type"), kManifestType);
  EXPECT_EQ(got.body, no_layers);
  EXPECT_EQ(go("DELETE", "/v2/" + ns + "/manifests/" + Digest::of(manifest).str()).status, 202u);
  EXPECT_EQ(go("DELETE", "/v2/" + ns + "/manifests/" + Digest::of(no_layers).str()).status, 202u);
  EXPECT_TRUE(tags().empty());
}

TEST_F(RegistryOciConformance, ContentDiscoveryWorkflow) {
  const std::string config = R"({"architecture":"amd64","os":"linux","author":"subject"})";
  const std::string layer = "layer";
  push(config);
  push(layer);
  const std::string subject = image(
      config, Json::array({descriptor("application/vnd.oci.image.layer.v1.tar+gzip", layer)}));
  const std::string subject_d = Digest::of(subject).str();
  const std::string other_config = R"({"architecture":"amd64","os":"linux","author":"tags"})";
  push(other_config);
  const std::string tagged =
      image(other_config,
            Json::array({descriptor("application/vnd.oci.image.layer.v1.tar+gzip", layer)}));
  for (int i = 0; i < 4; ++i)
    ASSERT_EQ(put_manifest("test" + std::to_string(i), tagged).status, 201u);

  const std::string empty_json = "{}";
  ASSERT_EQ(Digest::of(empty_json).str(),
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
  const Json empty_desc = descriptor("application/vnd.oci.empty.v1+json", empty_json);
  const std::string type_a = "application/vnd.nhl.peanut.butter.bagel";
  const std::string type_b = "application/vnd.nba.strawberry.jam.croissant";
  const std::string blob_a = "NHL Peanut Butter on my NHL bagel";
  const std::string blob_b = "NBA Strawberry Jam on my NBA croissant";
  auto subject_of = [](const std::string& m) { return descriptor(kManifestType, m); };
  auto artifact = [&](const Json& config_desc, const Json& layer_desc, const std::string& subj,
                      const std::string& artifact_type, const std::string& note) {
    Json m = {{"schemaVersion", 2}, {"mediaType", kManifestType}};
    if (!artifact_type.empty()) m["artifactType"] = artifact_type;
    m["config"] = config_desc;
    m["layers"] = Json::array({layer_desc});
    m["subject"] = subject_of(subj);
    if (!note.empty()) m["annotations"] = {{kAnnotation, note}};
    return m.dump(1, '\t');
  };
  std::map<std::string, std::string> notes;  // referrer digest -> its annotation
  auto put_referrer = [&](const std::string& body, const std::string& type,
                          const std::string& want_subject, const std::string& note) {
    auto r = put_manifest(Digest::of(body).str(), body, type);
    EXPECT_EQ(r.status, 201u) << r.body;
    EXPECT_EQ(r.header("oci-subject"), want_subject);
    if (!note.empty()) notes[Digest::of(body).str()] = note;
  };

  // Referrers pushed before their subject exists.
  push(empty_json);
  push(blob_a);
  const std::string a_config =
      artifact(descriptor(type_a, blob_a), empty_desc, subject, "", "test config a");
  const std::string a_layer =
      artifact(empty_desc, descriptor(type_a, blob_a), subject, type_a, "test layer a");
  put_referrer(a_config, kManifestType, subject_d, "test config a");
  put_referrer(a_layer, kManifestType, subject_d, "test layer a");
  Json index = {{"schemaVersion", 2},
                {"mediaType", kIndexType},
                {"artifactType", "application/vnd.food.stand"},
                {"manifests", Json::array({descriptor(kManifestType, a_config),
                                           descriptor(kManifestType, a_layer)})},
                {"subject", subject_of(subject)},
                {"annotations", {{kAnnotation, "test index"}}}};
  put_referrer(index.dump(1, '\t'), kIndexType, subject_d, "test index");
  // The subject, then more referrers, and one to a subject never pushed.
  ASSERT_EQ(put_manifest("tagtest0", subject).status, 201u);
  push(blob_b);
  put_referrer(artifact(descriptor(type_b, blob_b), empty_desc, subject, "", "test config b"),
               kManifestType, subject_d, "test config b");
  put_referrer(artifact(empty_desc, descriptor(type_b, blob_b), subject, type_b, "test layer b"),
               kManifestType, subject_d, "test layer b");
  const std::string absent = image(R"({"never":"pushed"})", Json::array());
  const std::string dangling = artifact(empty_desc, descriptor(type_b, blob_b), absent, type_b, "");
  put_referrer(dangling, kManifestType, Digest::of(absent).str(), "");

  // Tag listing: `n` limits exactly, `last` continues after the given tag.
  auto all = tags();
  ASSERT_EQ(all.size(), 5u);
  const std::size_t n = all.size() / 2;
  auto page = go("GET", "/v2/" + ns + "/tags/list?n=" + std::to_string(n));
  EXPECT_EQ(page.status, 200u);
  auto first = Json::parse(page.body)["tags"].get<std::vector<std::string>>();
  ASSERT_EQ(first.size(), n);
  page = go("GET", "/v2/" + ns + "/tags/list?n=" + std::to_string(n) + "&last=" + first.back());
  EXPECT_EQ(page.status, 200u);
  EXPECT_EQ(Json::parse(page.body)["tags"].get<std::vector<std::string>>(),
            std::vector<std::string>(all.begin() + n, all.begin() + 2 * n));

  auto referrers = [&](const std::string& d, const std::string& query = "") {
    auto r = go("GET", "/v2/" + ns + "/referrers/" + d + query);
    EXPECT_EQ(r.status, 200u) << r.body;
    EXPECT_EQ(r.header("content-type"), kIndexType);  // exactly, no parameters
    return std::make_pair(r, Json::parse(r.body)["manifests"]);
  };
  EXPECT_TRUE(referrers(Digest::of("hello world").str()).second.empty());
  auto [r_all, listed] = referrers(subject_d);
  ASSERT_EQ(listed.size(), 5u);
  for (const auto& m : listed) {
    ASSERT_EQ(m["annotations"].size(), 1u) << m.dump();
    EXPECT_EQ(m["annotations"][kAnnotation], notes[m["digest"].get<std::string>()]) << m.dump();
  }
  auto [r_filtered, filtered] = referrers(subject_d, "?artifactType=" + type_a);
  EXPECT_EQ(r_filtered.header("oci-filters-applied"), "artifactType");
  ASSERT_EQ(filtered.size(), 2u);
  for (const auto& m : filtered) {
    EXPECT_EQ(m["artifactType"], type_a);
    EXPECT_EQ(m["annotations"][kAnnotation], notes[m["digest"].get<std::string>()]);
  }
  auto [r_absent, of_absent] = referrers(Digest::of(absent).str());
  ASSERT_EQ(of_absent.size(), 1u);
  EXPECT_EQ(of_absent[0]["digest"], Digest::of(dangling).str());

  // Teardown (OCI_DELETE_MANIFEST_BEFORE_BLOBS=1): manifests and the tag by the digest
  // route, then the blobs, which must answer 2xx (no 404 accepted for these two).
  for (const auto& [d, note] : notes)
    EXPECT_EQ(go("DELETE", "/v2/" + ns + "/manifests/" + d).status, 202u);
  EXPECT_EQ(go("DELETE", "/v2/" + ns + "/manifests/" + Digest::of(tagged).str()).status, 202u);
  EXPECT_EQ(go("DELETE", "/v2/" + ns + "/manifests/" + subject_d).status, 202u);
  EXPECT_EQ(go("DELETE", "/v2/" + ns + "/manifests/tagtest0").status, 404u);
  EXPECT_EQ(go("DELETE", "/v2/" + ns + "/blobs/" + Digest::of(other_config).str()).status, 202u);
  EXPECT_EQ(go("DELETE", "/v2/" + ns + "/blobs/" + Digest::of(layer).str()).status, 202u);
  EXPECT_TRUE(referrers(subject_d).second.empty());
}

TEST_F(RegistryOciConformance, ContentManagementWorkflow) {
  const std::string config = R"({"architecture":"amd64","os":"linux","author":"mgmt"})";
  const std::string layer = "layer";
  push(config);
  push(layer);
  const std::string manifest = image(
      config, Json::array({descriptor("application/vnd.oci.image.layer.v1.tar+gzip", layer)}));
  ASSERT_EQ(put_manifest("tagtest0", manifest).status, 201u);
  const auto before = tags().size();
  EXPECT_EQ(go("DELETE", "/v2/" + ns + "/manifests/tagtest0").status, 202u);
  EXPECT_EQ(go("DELETE", "/v2/" + ns + "/manifests/" + Digest::of(manifest).str()).status, 202u);
  EXPECT_EQ(go("GET", "/v2/" + ns + "/manifests/" + Digest::of(manifest).str()).status, 404u);
  // The repository still exists (its blobs do): an empty list, not NAME_UNKNOWN.
  EXPECT_LT(tags().size(), before);
  EXPECT_EQ(go("DELETE", "/v2/" + ns + "/blobs/" + Digest::of(config).str()).status, 202u);
  EXPECT_EQ(go("DELETE", "/v2/" + ns + "/blobs/" + Digest::of(layer).str()).status, 202u);
  EXPECT_EQ(go("GET", "/v2/" + ns + "/blobs/" + Digest::of(config).str()).status, 404u);
}

// Sends `raw` (several pipelined requests) on one connection and returns the status of every
// response read before the server closes it or `expected` responses have arrived.
std::vector<unsigned> pipelined(unsigned short port, const std::string& raw, std::size_t expected) {
  namespace asio = boost::asio;
  namespace bhttp = boost::beast::http;
  asio::io_context ioc;
  asio::ip::tcp::socket s(ioc);
  s.connect({asio::ip::make_address("127.0.0.1"), port});
  timeval tv{5, 0};  // a server that neither answers nor closes fails the test, not hangs it
  ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  asio::write(s, asio::buffer(raw));
  boost::beast::flat_buffer buf;
  std::vector<unsigned> out;
  while (out.size() < expected) {
    bhttp::response_parser<bhttp::string_body> p;
    boost::system::error_code ec;
    bhttp::read(s, buf, p, ec);
    if (ec) break;
    out.push_back(p.get().result_int());
    if (!p.get().keep_alive()) break;
  }
  return out;
}

// A request refused before its body was read (here the suite's out-of-order chunk) has its
// body drained, so the refusal cannot be lost to a connection reset and the connection
// serves the next request; a body too long to drain closes the connection instead.
TEST_F(RegistryOciConformance, RefusedBodyIsDrainedAndTheConnectionKept) {
  auto s = go("POST", "/v2/" + ns + "/blobs/uploads/");
  ASSERT_EQ(s.status, 202u);
  const std::string loc = s.header("location");
  const std::string next = "GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string chunked = "PATCH " + loc +
                              " HTTP/1.1\r\nHost: x\r\nContent-Range: 22-41\r\n"
                              "Transfer-Encoding: chunked\r\n\r\n14\r\n" +
                              std::string(20, 'b') + "\r\n0\r\n\r\n";
  EXPECT_EQ(pipelined(reg.port(), chunked + next, 2), (std::vector<unsigned>{416, 200}));
  const std::string sized = "PATCH " + loc +
                            " HTTP/1.1\r\nHost: x\r\nContent-Range: 22-41\r\n"
                            "Content-Length: 20\r\n\r\n" +
                            std::string(20, 'b');
  EXPECT_EQ(pipelined(reg.port(), sized + next, 2), (std::vector<unsigned>{416, 200}));
  // A manifest push refused before its body is read (a name outside the grammar) likewise.
  const std::string body = image("{}", Json::array());
  const std::string manifest =
      "PUT /v2/Upper/manifests/t HTTP/1.1\r\nHost: x\r\nContent-Type: " + kManifestType +
      "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  EXPECT_EQ(pipelined(reg.port(), manifest + next, 2), (std::vector<unsigned>{400, 200}));
  // Over the drain limit: answered, then closed.
  const std::string big(300 * 1024, 'z');
  const std::string huge = "PATCH " + loc +
                           " HTTP/1.1\r\nHost: x\r\nContent-Range: 900-1000\r\n"
                           "Content-Length: " +
                           std::to_string(big.size()) + "\r\n\r\n";
  EXPECT_EQ(pipelined(reg.port(), huge, 2), (std::vector<unsigned>{416}));
  // The session is untouched by all of this.
  auto st = go("GET", loc);
  EXPECT_EQ(st.status, 204u);
  EXPECT_EQ(st.header("range"), "0-0");
}

}  // namespace
