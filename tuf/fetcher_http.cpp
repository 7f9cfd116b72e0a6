#include "net/http_client.h"
#include "tuf/fetcher.h"

namespace docket::tuf {

HttpFetcher::~HttpFetcher() = default;

Result<std::unique_ptr<HttpFetcher>> HttpFetcher::create(const HttpFetcherOptions& o) {
  net::HttpClientOptions ho;
  ho.connect_timeout = o.connect_timeout;
  ho.idle_timeout = o.idle_timeout;
  ho.total_timeout = o.total_timeout;
  ho.max_retries = 0;
  ho.follow_redirects = false;
  ho.proxy = "";  // behaviour must not depend on the environment
  ho.tls = o.tls;
  auto c = net::HttpClient::create(ho);
  if (!c) return std::unexpected(c.error());
  std::unique_ptr<HttpFetcher> f(new HttpFetcher());
  f->client_ = std::make_unique<net::HttpClient>(std::move(*c));
  return f;
}

Result<std::string> HttpFetcher::fetch(const std::string& url, std::size_t max_bytes) {
  net::HttpRequest req;
  req.method = "GET";
  req.url = url;
  req.max_body_bytes = max_bytes;
  auto r = client_->send(req);
  if (!r) {
    if (on_request) on_request(url, r.error().describe());
    return std::unexpected(r.error());
  }
  if (on_request) on_request(url, std::to_string(r->status));
  if (r->status == 200) return std::move(r->body);
  if (r->status == 403 || r->status == 404)
    return make_error(Fault::remote, "not_found",
                      "GET " + net::redact_url(url) + ": HTTP " + std::to_string(r->status));
  return make_error(
      Fault::remote, "http_status",
      "GET " + net::redact_url(url) + ": unexpected HTTP " + std::to_string(r->status));
}

Result<std::string> SendFetcher::fetch(const std::string& url, std::size_t max_bytes) {
  net::HttpRequest req;
  req.method = "GET";
  req.url = url;
  req.max_body_bytes = max_bytes;
  auto r = send_(req);
  if (!r) {
    if (on_request) on_request(url, r.error().describe());
    return std::unexpected(r.error());
  }
  if (on_request) on_request(url, std::to_string(r->status));
  if (r->status == 200) return std::move(r->body);
  std::string what = "GET " + net::redact_url(url) + ": HTTP " + std::to_string(r->status);
  if (r->status == 403 || r->status == 404) return make_error(Fault::remote, "not_found", what);
  if (r->status == 401) return make_error(Fault::user, "unauthorized", what);
  return make_error(Fault::remote, "http_status", "unexpected " + what);
}

}  // namespace docket::tuf
