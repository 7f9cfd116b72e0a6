// The built-in HTTP/1.1 transport behind HttpClient (HttpTransport::native): POSIX sockets,
// OpenSSL for TLS, Boost.Beast's response parser. Internal to net/: HttpClient decides which
// requests come here (see http_client.h) and keeps redirects, retries and request
// validation to itself; this file moves one request over one connection.
//
// Semantics it shares with the libcurl path (and the same tests check, see
// net/tests/http_client_test.cpp built twice):
//  - TLS 1.2 or later; unless insecure_skip_tls_verify, the chain is verified against ca_file
//    alone, or against the system store (OpenSSL's hashed certificate directory, its bundle
//    file when the directory is not hashed) plus the ca_dir *.crt files; the certificate must
//    name the host (DNS name, no partial wildcards) or the IP address of the URL; SNI is sent
//    for host names; ALPN offers http/1.1. A client certificate and key (PEM) when given.
//  - connect_timeout bounds TCP connect plus the TLS handshake (name resolution is the
//    system resolver's, bounded by its own timeouts); idle_timeout fails a request during
//    which no byte moves; total_timeout bounds the whole request.
//  - Bodies: collected under the cap or streamed to the sink exactly as http_client.h says;
//    response headers are capped at kMaxResponseHeaderBytes.
//  - Connections are kept alive and reused (per scheme, host and port); a request whose
//    reused connection turns out to be closed before any byte of the answer arrived is sent
//    once more on a new connection, as libcurl does.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/http_client.h"

namespace docket::net::detail {

// An absolute http(s) URL in the forms the native transport serves.
struct NativeUrl {
  bool tls = false;
  std::string host;         // lower case; IPv6 without brackets
  bool ip_literal = false;  // IPv4 or IPv6 address
  int port = 0;
  std::string host_header;  // Host: value (brackets for IPv6, port unless the default)
  std::string target;       // path and query as written ("/" if empty), fragment dropped
};

// Whether `dir` is OpenSSL's hashed certificate directory (holds "<8 hex digits>.<n>"
// subject-hash links); false when it is missing or not hashed. Both transports use it to
// pick the system store's form.
bool is_hashed_ca_dir(const std::string& dir);

// nullopt when the URL is not one the native transport serves (other scheme, userinfo,
// IPv6 zone, host names beyond [A-Za-z0-9._-], bad port): the caller uses libcurl.
std::optional<NativeUrl> parse_native_url(std::string_view url);

// One request of a pipeline: the request, its URL as given (for messages) and as parsed.
struct PipelinedRequest {
  const HttpRequest* req = nullptr;
  const std::string* url = nullptr;
  const NativeUrl* u = nullptr;
};

class NativeTransport {
 public:
  // `ca_pem`: the ca_file and ca_dir certificates (PEM, concatenated); they replace the
  // system store when options.tls.ca_file is set and add to it otherwise. Nothing is read or
  // parsed until the first https request.
  NativeTransport(const HttpClientOptions& options, std::string ca_pem);
  ~NativeTransport();
  NativeTransport(const NativeTransport&) = delete;
  NativeTransport& operator=(const NativeTransport&) = delete;

  // One request, no redirects, no retries beyond the stale-connection resend. `url` is the
  // request's URL as given (for messages); `req.reader` must be empty.
  Result<HttpResponse> perform(const HttpRequest& req, const NativeUrl& u,
                               const std::string& url) const;

  // Requests to one origin (scheme, host, port), without body, reader or sink, written back
  // to back on one connection and answered in order (see HttpClient::send_pipelined). One
  // result per request, in order; the stale-connection resend applies to the whole pipeline
  // when the first answer never began.
  std::vector<Result<HttpResponse>> perform_pipelined(
      const std::vector<PipelinedRequest>& reqs) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace docket::net::detail
