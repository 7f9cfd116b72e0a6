// A minimal blocking HTTP/1.1 client and a registry fixture for the registry's tests:
// the real server on a free loopback port, the real filesystem driver in a temp dir.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "net/http_server.h"
#include "registry/http.h"
#include "registry/store.h"

namespace docket::registry::testing {

struct Resp {
  unsigned status = 0;
  std::multimap<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string header(const std::string& lower_name) const;
  std::string error_code() const;  // errors[0].code, "" if none
};

struct Req {
  std::string method = "GET";
  std::string target;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  bool chunked = false;  // send body with Transfer-Encoding: chunked
};

Resp send(unsigned short port, const Req& r);

class RegistryServer {
 public:
  explicit RegistryServer(HttpOptions opts = {}, std::filesystem::path root = {});
  ~RegistryServer();
  unsigned short port() const { return server->port(); }
  Resp send(const Req& r) const { return testing::send(port(), r); }
  Resp get(const std::string& t) const { return send({"GET", t}); }
  // Pushes a blob monolithically; returns its digest string.
  std::string push_blob(const std::string& repo, const std::string& content) const;
  // Pushes an image manifest over `layers` (pushed first) with a config blob.
  std::string push_image(const std::string& repo, const std::string& ref,
                         const std::vector<std::string>& layers,
                         const std::string& extra_json = "") const;

  std::filesystem::path root;
  bool own_root = false;
  std::unique_ptr<Store> store;
  net::Router router;
  std::unique_ptr<net::HttpServer> server;
};

}  // namespace docket::registry::testing
