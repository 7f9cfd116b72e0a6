#include <algorithm>
#include <cctype>

#include "common/digest.h"
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

namespace {

// "<dir>/<role>.<64 lower hex>.json" -> ("<dir>/<role>.json", hex); nullopt otherwise.
std::optional<std::pair<std::string, std::string>> split_checksum_name(const std::string& url) {
  constexpr std::size_t kHex = 64;
  static constexpr std::string_view kSuffix = ".json";
  if (!url.ends_with(kSuffix) || url.size() < kSuffix.size() + kHex + 1) return std::nullopt;
  std::size_t hex_at = url.size() - kSuffix.size() - kHex;
  if (url[hex_at - 1] != '.') return std::nullopt;
  std::string hex = url.substr(hex_at, kHex);
  if (!std::all_of(hex.begin(), hex.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c)) || (c >= 'a' && c <= 'f');
      }))
    return std::nullopt;
  std::size_t slash = url.rfind('/');
  if (slash == std::string::npos || slash + 1 >= hex_at - 1) return std::nullopt;  // no role
  return std::pair{url.substr(0, hex_at - 1) + std::string(kSuffix), std::move(hex)};
}

}  // namespace

void SendFetcher::prefetch(const std::vector<PrefetchRequest>& urls) {
  if (!pipelined_ || urls.empty()) return;
  std::vector<net::HttpRequest> reqs;
  for (const auto& u : urls) {
    if (reqs.size() == net::kMaxPipelinedRequests) break;
    net::HttpRequest req;
    req.method = "GET";
    req.url = u.url;
    req.max_body_bytes = u.max_bytes;
    reqs.push_back(std::move(req));
  }
  auto answers = pipelined_(reqs);
  for (std::size_t i = 0; i < reqs.size() && i < answers.size(); ++i) {
    auto& a = answers[i];
    const std::string& url = reqs[i].url;
    if (a && a->status == 200) {
      if (on_request) on_request(url, "200 (prefetched, kept)");
      kept_[url] = std::move(a->body);
    } else if (on_request) {
      on_request(url,
                 (a ? std::to_string(a->status) : a.error().describe()) + " (prefetched, dropped)");
    }
  }
}

std::optional<std::string> SendFetcher::take_prefetched(const std::string& url,
                                                        std::size_t max_bytes) {
  if (kept_.empty()) return std::nullopt;
  if (auto it = kept_.find(url); it != kept_.end()) {
    std::string body = std::move(it->second);
    kept_.erase(it);
    // Over this fetch's cap: the ordinary request gives the ordinary too_large error.
    if (body.size() > max_bytes) return std::nullopt;
    last_origin_ = "prefetched";
    return body;
  }
  auto split = split_checksum_name(url);
  if (!split) return std::nullopt;
  auto it = kept_.find(split->first);
  if (it == kept_.end() || it->second.size() > max_bytes) return std::nullopt;
  // Content addressing: these are the bytes the checksum URL must serve. A body that hashes
  // otherwise was published meanwhile: it stays kept, and the checksum URL is fetched.
  if (sha256_hex(it->second) != split->second) return std::nullopt;
  std::string body = std::move(it->second);
  last_origin_ =
      "prefetched " + split->first.substr(split->first.rfind('/') + 1) + " (same sha256)";
  kept_.erase(it);
  return body;
}

Result<std::string> SendFetcher::fetch(const std::string& url, std::size_t max_bytes) {
  last_origin_.clear();
  if (auto kept = take_prefetched(url, max_bytes)) {
    ++served_from_prefetch_;
    if (on_request) on_request(url, "200 (" + last_origin_ + ")");
    return std::move(*kept);
  }
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
