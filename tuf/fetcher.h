// How the updater gets bytes: an interface, so verification never does I/O itself.
//
// Contract for every implementation: exactly one request per fetch() (no retries, no HEAD,
// no probing), the URL used verbatim, the body capped at max_bytes (a longer body is
// `too_large`, however the server announced it: the endless-data defence), and a clear
// error split: `not_found` (HTTP 403/404: "does not exist", which ends the root loop),
// `http_status` (any other non-200), `network` (transport failure or timeout).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "net/http_client.h"

namespace docket::tuf {

// One HTTP exchange, as a caller wants it done (e.g. with authentication added): lets the
// trust-server code take any transport without knowing about credentials.
using HttpSend = std::function<Result<net::HttpResponse>(const net::HttpRequest&)>;

class Fetcher {
 public:
  virtual ~Fetcher() = default;
  virtual Result<std::string> fetch(const std::string& url, std::size_t max_bytes) = 0;
};

// Serves a map of URL -> bytes from memory and records every request (tests, benchmarks,
// and serving captured Notary metadata). A missing URL is not_found.
class MemoryFetcher : public Fetcher {
 public:
  // Optional hook that may replace the answer for a URL (misbehaving-repository tests).
  using Hook = std::function<std::optional<Result<std::string>>(const std::string& url)>;

  void put(std::string url, std::string bytes);
  void erase(const std::string& url);
  void clear();
  void set_hook(Hook h) { hook_ = std::move(h); }

  Result<std::string> fetch(const std::string& url, std::size_t max_bytes) override;

  const std::vector<std::string>& requests() const { return requests_; }
  void clear_requests() { requests_.clear(); }

 private:
  std::map<std::string, std::string> files_;
  std::vector<std::string> requests_;
  Hook hook_;
};

struct HttpFetcherOptions {
  // A few seconds: the conformance harness never kills a hung client.
  std::chrono::milliseconds connect_timeout{5'000};
  std::chrono::milliseconds idle_timeout{10'000};
  std::chrono::milliseconds total_timeout{120'000};
  // CAs and client certificate for an https trust server (certs.d lookups are the caller's).
  net::TlsOptions tls;
};

// Plain GET over net::HttpClient: no retries, no redirects, no proxy from the environment.
class HttpFetcher : public Fetcher {
 public:
  static Result<std::unique_ptr<HttpFetcher>> create(const HttpFetcherOptions& o = {});
  ~HttpFetcher() override;
  Result<std::string> fetch(const std::string& url, std::size_t max_bytes) override;
  // Called with every URL and its outcome ("200", "404", error text), for verbose logs.
  std::function<void(std::string_view url, std::string_view outcome)> on_request;

 private:
  HttpFetcher() = default;
  std::unique_ptr<net::HttpClient> client_;
};

// The fetcher contract over an injected HttpSend (an authenticating session, say). A 401 that
// reaches it is user/unauthorized (the sender has already tried to authenticate).
class SendFetcher : public Fetcher {
 public:
  explicit SendFetcher(HttpSend send) : send_(std::move(send)) {}
  Result<std::string> fetch(const std::string& url, std::size_t max_bytes) override;
  std::function<void(std::string_view url, std::string_view outcome)> on_request;

 private:
  HttpSend send_;
};

}  // namespace docket::tuf
