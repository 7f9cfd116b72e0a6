// HTTP client shared by everything in docket that talks to a server (TUF fetcher, registry
// client, push/pull, interop tests). Two transports sit behind one contract:
//  - libcurl (the default), loaded with dlopen on first use (net/curl_dl.cpp), so a process
//    that never takes this path never maps libcurl and the ~30 libraries it pulls in;
//  - a built-in HTTP/1.1 client on OpenSSL and POSIX sockets (net/native_http.cpp), chosen
//    with HttpClientOptions::transport = HttpTransport::native. It serves every request it
//    can serve with the same semantics, and hands the others to libcurl: a proxy in use
//    (HttpClientOptions::proxy set, or nullopt with a proxy environment variable set),
//    userinfo in the URL, a streamed upload body (HttpRequest::reader), a host name that is
//    not plain ASCII letters, digits, '-', '.' and '_'.
//
// Contract:
//  - The URL is sent verbatim: no percent-decoding, no dot-segment removal, no re-encoding
//    (CURLOPT_PATH_AS_IS). Callers build URLs with percent_encode() where needed.
//  - No retries and no redirects by default. With follow_redirects on, redirects are followed
//    by this class (not by libcurl) so that Authorization (and Cookie) headers are dropped on
//    any hop to another scheme/host/port, and a streamed upload body is never replayed (the
//    3xx response is returned instead).
//  - A response body is either collected into HttpResponse::body under a hard cap
//    (max_body_bytes; exceeding it is error `too_large` naming the cap, whatever
//    Content-Length says: the "endless data" defence) or, when HttpRequest::sink is set,
//    streamed to the sink as it arrives (2xx responses only; the body of any other status is
//    collected under max_error_body_bytes so callers can read the server's error document).
//  - Transport failures (DNS, refused, TLS, timeouts, resets) are Error{remote, "network"}
//    naming the method, the URL with userinfo and credential-like query values removed, and
//    curl's reason. An HTTP error status is NOT an Error: it is a response; callers decide.
//  - One HttpClient may be used from many threads at once. Connections, TLS sessions and DNS
//    answers are reused across requests (a pool of curl easy handles plus a curl share).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"

namespace docket::net {

// Defaults (HttpClientOptions documents each).
inline constexpr std::chrono::milliseconds kDefaultConnectTimeout{5'000};
inline constexpr std::chrono::milliseconds kDefaultIdleTimeout{30'000};
inline constexpr std::size_t kDefaultMaxBodyBytes = 32u * 1024 * 1024;
inline constexpr std::size_t kDefaultMaxErrorBodyBytes = 1u * 1024 * 1024;
inline constexpr std::size_t kMaxResponseHeaderBytes = 256u * 1024;
inline constexpr int kDefaultMaxRedirects = 10;
inline constexpr std::size_t kMaxPooledHandles = 16;
// Most requests HttpClient::send_pipelined writes on one connection.
inline constexpr std::size_t kMaxPipelinedRequests = 16;
// libcurl receive/send buffer sizes per transfer.
inline constexpr long kDownloadBufferBytes = 256 * 1024;
inline constexpr long kUploadBufferBytes = 512 * 1024;

// Header list that keeps order and repeats; names compare case-insensitively (RFC 9110 §5.1).
class HttpHeaders {
 public:
  using Entry = std::pair<std::string, std::string>;

  HttpHeaders() = default;
  HttpHeaders(std::initializer_list<Entry> init);

  void add(std::string name, std::string value);
  // Replaces every header of that name with one.
  void set(std::string name, std::string value);
  void remove(std::string_view name);
  bool contains(std::string_view name) const;
  // First value, if any.
  std::optional<std::string> get(std::string_view name) const;
  // Every value in order (repeated headers; a comma-joined header is one value).
  std::vector<std::string> get_all(std::string_view name) const;

  const std::vector<Entry>& entries() const { return entries_; }
  bool empty() const { return entries_.empty(); }
  std::size_t size() const { return entries_.size(); }

 private:
  std::vector<Entry> entries_;
};

bool header_name_equals(std::string_view a, std::string_view b);

// Supplies an upload body: fills up to buf.size() bytes and returns how many; 0 means the end.
// An Error aborts the request and is returned from send() unchanged.
using BodyReader = std::function<Result<std::size_t>(std::span<char> buf)>;
// Receives a 2xx response body as it arrives. An Error aborts the transfer and is returned
// from send() unchanged (e.g. a hash mismatch detected while downloading).
using BodySink = std::function<Status(std::string_view chunk)>;

struct HttpRequest {
  std::string method = "GET";
  std::string url;  // sent verbatim
  HttpHeaders headers;
  // Body: `body` unless `reader` is set. POST/PUT/PATCH always send a body (maybe empty,
  // with Content-Length: 0); other methods send one only if it is non-empty or a reader.
  std::string body;
  BodyReader reader;
  // With a reader: the exact length (Content-Length), or nullopt for chunked encoding.
  std::optional<std::uint64_t> body_length;
  // With a reader: restarts it from the first byte. libcurl needs this when a reused
  // connection turns out to be closed and it resends the request; without it such a request
  // fails with a network error instead.
  std::function<Status()> rewind;
  // Streams a 2xx response body here instead of collecting it.
  BodySink sink;
  // Overrides HttpClientOptions::max_body_bytes for this request.
  std::optional<std::size_t> max_body_bytes;
};

struct HttpResponse {
  long status = 0;
  std::string reason;        // reason phrase from the status line, maybe empty
  std::string http_version;  // "1.0", "1.1", "2"
  HttpHeaders headers;
  std::string body;  // empty when streamed to a sink (2xx)
  std::string url;   // the URL that produced this response (differs after redirects)
  int redirects = 0;
};

struct TlsOptions {
  // PEM CA bundle; when set, it REPLACES the system trust store (like docker --tlscacert).
  std::optional<std::filesystem::path> ca_file;
  // certs.d-style directory: every *.crt is trusted IN ADDITION to ca_file or the system
  // store (Docker's /etc/docker/certs.d/<host>/ convention). Not an OpenSSL hashed dir.
  std::optional<std::filesystem::path> ca_dir;
  // Client certificate and key (PEM, unencrypted key) for mutual TLS.
  std::optional<std::filesystem::path> client_cert_file;
  std::optional<std::filesystem::path> client_key_file;
  // Disables certificate and host name verification. Only for test set-ups.
  bool insecure_skip_tls_verify = false;
};

// Fills ca_dir and, if the directory holds exactly one <name>.cert with a matching
// <name>.key, the client certificate pair (Docker's certs.d layout). A missing directory is
// not an error (nothing is set); more than one cert/key pair is Error{user, "config"}.
Result<TlsOptions> tls_options_from_certs_d(const std::filesystem::path& dir);

enum class HttpTransport {
  curl,    // libcurl for every request
  native,  // the built-in HTTP/1.1 client where it can serve the request, libcurl otherwise
};

struct HttpClientOptions {
  // TCP connect plus TLS handshake, per connection attempt.
  std::chrono::milliseconds connect_timeout = kDefaultConnectTimeout;
  // A request during which no byte moves in either direction for this long fails (checked
  // about once a second, so it fires up to ~1 s late). Counts from the start of the request,
  // so it also bounds the wait for a response. 0 disables.
  std::chrono::milliseconds idle_timeout = kDefaultIdleTimeout;
  // Whole-request deadline; 0 = none (large blob transfers rely on idle_timeout).
  std::chrono::milliseconds total_timeout{0};
  // Largest collected response body.
  std::size_t max_body_bytes = kDefaultMaxBodyBytes;
  // Largest collected body of a non-2xx response when the request streams to a sink.
  std::size_t max_error_body_bytes = kDefaultMaxErrorBodyBytes;
  // Retries on transport errors (never after an HTTP response, never with a reader body).
  int max_retries = 0;
  bool follow_redirects = false;
  int max_redirects = kDefaultMaxRedirects;
  TlsOptions tls;
  std::string user_agent = "docket/0.1";
  // nullopt: libcurl's environment handling (http_proxy, https_proxy, no_proxy);
  // "": no proxy at all; otherwise the proxy URL.
  std::optional<std::string> proxy;
  // Which transport serves requests (see the top of this file). Both verify TLS alike:
  // TLS 1.2 or later, the chain against ca_file (alone) or the system store plus ca_dir,
  // the host name (or IP address) against the certificate, client certificate if given.
  HttpTransport transport = HttpTransport::curl;
};

class HttpClient {
 public:
  // Default options; cannot fail.
  HttpClient();
  // Validates the options (readable CA/cert files) up front: Error{user, "config"}.
  static Result<HttpClient> create(HttpClientOptions options);

  HttpClient(HttpClient&&) noexcept;
  HttpClient& operator=(HttpClient&&) noexcept;
  ~HttpClient();

  const HttpClientOptions& options() const;

  Result<HttpResponse> send(const HttpRequest& request) const;
  Result<HttpResponse> get(std::string url, HttpHeaders headers = {}) const;

  // HTTP/1.1 pipelining (RFC 9112 §9.3.2): the GET requests are written back to back on one
  // kept-alive connection and the answers read in the order asked, so a server's work and
  // the transfers overlap instead of costing a round trip each. One result per request, in
  // order; each answer has a normal request's body cap and idle/total timeouts (counted from
  // when its reading starts). No redirects are followed (a 3xx is returned as it is) and
  // nothing is retried except the whole pipeline once on a new connection when a reused
  // one turns out to be closed before the first answer began.
  //
  // An answer is never assigned to another request: when the connection ends or fails, the
  // request being read gets that error and every later one Error{remote, "not_answered"}
  // (a server may answer `Connection: close` after the first: callers send those again the
  // ordinary way). Only the native transport pipelines: with the libcurl transport, a
  // proxy, or a request that is not a body-less GET without sink to the first request's
  // origin, nothing is sent and every result is Error{bug, "not_pipelined"}; a request
  // that fails send()'s validation (bad URL, header) is that error, nothing is sent.
  // At most kMaxPipelinedRequests requests.
  std::vector<Result<HttpResponse>> send_pipelined(const std::vector<HttpRequest>& requests) const;

 private:
  struct Impl;
  explicit HttpClient(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

// The URL with userinfo and credential-like query values (signatures, tokens) replaced by
// "<redacted>", for error messages and logs.
std::string redact_url(std::string_view url);

// Scheme, lower-cased host and effective port of an absolute http(s) URL ("https",
// "example.com", 443), used to decide whether a redirect stays on the same origin.
struct UrlOrigin {
  std::string scheme;
  std::string host;
  int port = 0;
  bool operator==(const UrlOrigin&) const = default;
};
Result<UrlOrigin> url_origin(std::string_view url);

}  // namespace docket::net
