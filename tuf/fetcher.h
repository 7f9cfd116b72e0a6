// How the updater gets bytes: an interface, so verification never does I/O itself.
//
// Contract for every implementation: at most one request per fetch() (no retries, no HEAD,
// no probing), the URL used verbatim, the body capped at max_bytes (a longer body is
// `too_large`, however the server announced it: the endless-data defence), and a clear
// error split: `not_found` (HTTP 403/404: "does not exist", which ends the root loop),
// `http_status` (any other non-200), `network` (transport failure or timeout).
//
// Prefetching (prefetch(), a hint; the default ignores it): an implementation may request
// the hinted URLs ahead of time (e.g. pipelined on one connection) and keep the 200 answers.
// A later fetch() of such a URL is then served from what was kept, once, without a request
// of its own; so is a fetch() of a content-addressed name "<dir>/<role>.<sha256 hex>.json"
// when a kept "<dir>/<role>.json" hashes to exactly that hex (the same bytes the checksum
// URL must serve; the caller still checks length and hashes). Anything else (a non-200 or
// failed prefetch, a kept body over fetch()'s max_bytes, a hash that differs because the
// repository changed meanwhile) is not used: fetch() makes its ordinary request, so
// every error a caller sees is the one it would see without prefetching. A prefetch never
// fails: its requests are extra work at most, never a different outcome.
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

// A URL a refresh will probably fetch, with the cap of its role (tuf/limits.h).
struct PrefetchRequest {
  std::string url;
  std::size_t max_bytes = 0;
};

class Fetcher {
 public:
  virtual ~Fetcher() = default;
  virtual Result<std::string> fetch(const std::string& url, std::size_t max_bytes) = 0;
  // A hint (see the top of this file); the default does nothing.
  virtual void prefetch(const std::vector<PrefetchRequest>& urls) { (void)urls; }
  // How the last fetch() was served when it made no request of its own ("prefetched", or
  // "prefetched <name> (same sha256)"), empty otherwise: for verbose logs.
  virtual std::string last_fetch_origin() const { return {}; }
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

// Several GET exchanges pipelined on one connection (net::HttpClient::send_pipelined, maybe
// through an authenticating session): one result per request, in order.
using HttpSendPipelined =
    std::function<std::vector<Result<net::HttpResponse>>(std::vector<net::HttpRequest>)>;

// The fetcher contract over an injected HttpSend (an authenticating session, say). A 401 that
// reaches it is user/unauthorized (the sender has already tried to authenticate). With an
// HttpSendPipelined, prefetch() sends the hinted GETs pipelined and keeps the 200 answers
// (see the top of this file); without one, prefetch() does nothing.
class SendFetcher : public Fetcher {
 public:
  explicit SendFetcher(HttpSend send, HttpSendPipelined pipelined = {})
      : send_(std::move(send)), pipelined_(std::move(pipelined)) {}
  Result<std::string> fetch(const std::string& url, std::size_t max_bytes) override;
  void prefetch(const std::vector<PrefetchRequest>& urls) override;
  std::string last_fetch_origin() const override { return last_origin_; }
  // Called with every URL and its outcome ("200", "404", error text; a prefetched answer as
  // "200 (prefetched, kept)" / "404 (prefetched, dropped)", a fetch served from one as
  // "200 (prefetched)"), for verbose logs.
  std::function<void(std::string_view url, std::string_view outcome)> on_request;
  // Fetches served from prefetched answers so far (tests, stats).
  int served_from_prefetch() const { return served_from_prefetch_; }

 private:
  std::optional<std::string> take_prefetched(const std::string& url, std::size_t max_bytes);

  HttpSend send_;
  HttpSendPipelined pipelined_;
  std::map<std::string, std::string> kept_;  // URL -> 200 body, until fetched once
  std::string last_origin_;
  int served_from_prefetch_ = 0;
};

}  // namespace docket::tuf
