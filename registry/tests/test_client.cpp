#include "registry/tests/test_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "common/digest.h"
#include "common/file.h"
#include "common/json.h"

namespace docket::registry::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

std::string Resp::header(const std::string& n) const {
  auto it = headers.find(n);
  return it == headers.end() ? "" : it->second;
}

std::string Resp::error_code() const {
  auto j = Json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.contains("errors") || j["errors"].empty()) return "";
  return j["errors"][0].value("code", "");
}

Resp send(unsigned short port, const Req& r) {
  asio::io_context ioc;
  tcp::socket s(ioc);
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  std::string out =
      r.method + " " + r.target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  for (auto& [k, v] : r.headers) out += k + ": " + v + "\r\n";
  if (r.chunked) {
    out += "Transfer-Encoding: chunked\r\n\r\n";
    for (std::size_t off = 0; off < r.body.size(); off += 40000) {
      std::string part = r.body.substr(off, 40000);
      char hex[32];
      snprintf(hex, sizeof hex, "%zx\r\n", part.size());
      out += hex + part + "\r\n";
    }
    out += "0\r\n\r\n";
  } else {
    bool has_len = false;
    for (auto& [k, v] : r.headers) has_len |= beast::iequals(k, "Content-Length");
    if (!has_len &&
        (!r.body.empty() || r.method == "PUT" || r.method == "POST" || r.method == "PATCH"))
      out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
    out += "\r\n" + r.body;
  }
  asio::write(s, asio::buffer(out));
  beast::flat_buffer buf;
  bhttp::response_parser<bhttp::string_body> p;
  p.body_limit(1ull << 32);
  p.skip(r.method == "HEAD");
  bhttp::read(s, buf, p);
  Resp res;
  res.status = p.get().result_int();
  for (auto& f : p.get()) {
    std::string n(f.name_string());
    for (auto& ch : n) ch = std::tolower(static_cast<unsigned char>(ch));
    res.headers.emplace(n, std::string(f.value()));
  }
  res.body = p.get().body();
  return res;
}

RegistryServer::RegistryServer(HttpOptions opts, std::filesystem::path r) : root(std::move(r)) {
  if (root.empty()) {
    root = std::filesystem::temp_directory_path() / ("docket-reg-" + random_hex_id());
    own_root = true;
  }
  auto d = make_filesystem_driver(root.string());
  if (!d) throw Exception(d.error());
  StoreOptions so;
  so.max_manifest_bytes = opts.max_manifest_bytes;
  store = std::make_unique<Store>(std::move(*d), so);
  install_routes(router, *store, opts);
  net::ServerOptions o;
  o.port = 0;
  o.threads = 2;
  server = std::make_unique<net::HttpServer>(o, router);
  value_or_raise(server->start());
}

RegistryServer::~RegistryServer() {
  server->stop();
  server->wait();
  if (own_root) std::filesystem::remove_all(root);
}

std::string RegistryServer::push_blob(const std::string& repo, const std::string& content) const {
  std::string d = Digest::of(content).str();
  auto r = send({"POST", "/v2/" + repo + "/blobs/uploads/?digest=" + d, content});
  if (r.status != 201)
    throw std::runtime_error("push_blob: " + std::to_string(r.status) + " " + r.body);
  return d;
}

std::string RegistryServer::push_image(const std::string& repo, const std::string& ref,
                                       const std::vector<std::string>& layers,
                                       const std::string& extra) const {
  std::string config =
      "{\"architecture\":\"amd64\",\"os\":\"linux\",\"n\":\"" + random_hex_id() + "\"}";
  Json m = {{"schemaVersion", 2}, {"mediaType", "application/vnd.oci.image.manifest.v1+json"}};
  m["config"] = {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                 {"digest", push_blob(repo, config)},
                 {"size", config.size()}};
  m["layers"] = Json::array();
  for (auto& l : layers)
    m["layers"].push_back({{"mediaType", "application/vnd.oci.image.layer.v1.tar"},
                           {"digest", push_blob(repo, l)},
                           {"size", l.size()}});
  if (!extra.empty()) m.update(Json::parse(extra));
  std::string body = m.dump(2);
  auto r = send({"PUT",
                 "/v2/" + repo + "/manifests/" + ref,
                 body,
                 {{"Content-Type", "application/vnd.oci.image.manifest.v1+json"}}});
  if (r.status != 201)
    throw std::runtime_error("push_image: " + std::to_string(r.status) + " " + r.body);
  return r.header("docker-content-digest");
}

}  // namespace docket::registry::testing
