// Request/response model, path-pattern router and middleware for docket's HTTP servers.
//
// Extension point (how another library mounts its API on the same server and port):
//
//   // trustserver/http.h
//   void install_trust_routes(docket::net::Router& r, TrustService& svc);
//
//   // cli/docket-server/serve.cpp builds one Router, lets every role install itself, then
//   // hands the Router to one HttpServer:
//   net::Router router;
//   registry::install_routes(router, reg);          // /v2/, /v2/{name...}/blobs/... etc.
//   trust::install_trust_routes(router, trust);      // /v2/{gun...}/_trust/tuf/{file}
//   net::HttpServer server(opts, router);
//
// Rules for installers:
//  * Patterns are '/'-separated. A segment is a literal, `{p}` (exactly one non-empty
//    segment) or `{p...}` (one or more segments, '/' kept, e.g. an OCI repository name).
//    A trailing '/' is significant ("/v2/" is not "/v2").
//  * When several patterns match, the one with more literal segments wins; ties go to the
//    earlier registration. So "/v2/{gun...}/_trust/tuf/{file}" (3 literals) and
//    "/v2/{name...}/blobs/{digest}" (2 literals) coexist without ordering constraints.
//  * Each route has a stable `name` ("registry.manifest.get", "trust.metadata.get"):
//    middleware (auth, rate limiting, metrics) keys on it, so choose it with care.
//  * Route-scoped middleware: a RouteOptions::tags set lets middleware opt in/out
//    ("no-auth" for health checks, "manifest-pull" for the pull rate limit).
//  * Routes must all be installed before HttpServer::start(); the router is immutable and
//    lock-free afterwards.
//
// Handlers run on the server's I/O threads and must not block on the network; file I/O
// and short CPU work are fine. A handler reads a buffered body (`Request::body`, capped at
// RouteOptions::max_body, 413 beyond) or, for streaming routes, returns a RequestBodySink that is
// fed the body in pieces as it arrives (chunked transfer coding decoded).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/verb.hpp>

#include "common/error.h"
#include "common/json.h"

namespace docket::net {

namespace http = boost::beast::http;

// An open file shared between a Response and the connection that sends it.
class FileHandle {
 public:
  explicit FileHandle(int fd) : fd_(fd) {}
  ~FileHandle();
  FileHandle(const FileHandle&) = delete;
  FileHandle& operator=(const FileHandle&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

struct Request {
  http::verb method = http::verb::unknown;
  std::string method_string;
  std::string target;  // raw request-target, as received
  std::string path;    // target before '?', not percent-decoded
  std::string raw_query;
  std::vector<std::pair<std::string, std::string>> query;  // decoded ('+' is a space)
  http::fields headers;
  unsigned version = 11;
  std::string body;  // buffered routes only

  // Filled by the router and middleware.
  std::string route;                          // route name, "" when no route matched
  std::map<std::string, std::string> params;  // pattern captures
  const std::set<std::string>* route_tags = nullptr;
  std::string request_id;
  std::string remote_address;
  bool tls = false;
  // Subject (RFC 2253) of the client certificate verified by mutual TLS, "" otherwise.
  std::string tls_client_subject;
  std::string principal;  // authenticated user or subject, "" if anonymous
  // Scratch space for middleware to hand facts to handlers ("granted_actions" ...).
  std::map<std::string, std::string> attributes;
  std::chrono::steady_clock::time_point received_at{};

  // First value of a query parameter.
  std::optional<std::string> query_param(std::string_view name) const;
  std::vector<std::string> query_params(std::string_view name) const;
  std::string header(std::string_view name) const;  // "" if absent
  bool has_tag(std::string_view tag) const;
};

struct FileBody {
  std::shared_ptr<FileHandle> file;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
};

struct Response {
  unsigned status = 200;
  http::fields headers;
  std::string body;
  // When set (and `file` is not), the body is these shared, immutable bytes instead of
  // `body`: a handler serving cached content hands them out without copying them.
  std::shared_ptr<const std::string> shared_body;
  // When set, the body is this byte range of a file (sendfile(2) on plain TCP).
  std::optional<FileBody> file;
  // For HEAD responses: the Content-Length a GET would have had. When unset, the length
  // of body/file is used (and not sent).
  std::optional<std::uint64_t> head_content_length;
  // Close the connection after this response.
  bool close = false;

  void set(unsigned status_code, std::string content_type, std::string content);
  void set_json(unsigned status_code, const Json& j);
  // The in-memory body: shared_body's bytes when set, else `body`.
  std::string_view body_view() const { return shared_body ? *shared_body : body; }
  std::uint64_t body_length() const { return file ? file->length : body_view().size(); }
};

// Receives a streamed request body. write() is called with each piece, in order; it
// returns false to stop reading (the sink then answers in finish()). A piece stays intact
// until the following write() returns (or finish(), after the last one): the server reads
// the next piece into another buffer meanwhile, so a sink may keep working on a piece in the
// background as long as it is done with it by the end of the next write(). finish() is always
// called exactly once: `complete` says whether the whole body arrived. A sink must leave
// storage consistent whatever happens (the client may vanish mid-body).
class RequestBodySink {
 public:
  virtual ~RequestBodySink() = default;
  virtual bool write(std::string_view piece) = 0;
  // Where the server may read the next piece of a Content-Length body straight into, up
  // to `max` bytes: a sink that would copy every piece into a buffer of its own (the
  // registry's O_DIRECT staging buffers) offers that buffer's free space, and the next
  // write() is then given a piece that starts there, with no copy. The region must not
  // overlap any earlier piece the sink still works on. Empty (the default): the server
  // reads into its own buffers.
  virtual std::span<char> read_buffer(std::size_t max) {
    (void)max;
    return {};
  }
  enum class End { complete, stopped_by_sink, client_error, too_large };
  virtual void finish(End end, Request& req, Response& res) = 0;
};

using Handler = std::function<void(Request&, Response&)>;
// Returns nullptr after filling Response to refuse the body before it is read.
using StreamHandler = std::function<std::unique_ptr<RequestBodySink>(Request&, Response&)>;

struct RouteOptions {
  // Largest buffered body (413 beyond). Streaming routes: largest total body (0 = no limit).
  std::uint64_t max_body = 1 << 20;
  std::set<std::string> tags;
  // The handler (or a streaming route's RequestBodySink::finish()) may wait on the disk
  // (fsync): it runs on the server's blocking pool so the I/O thread keeps serving its
  // other connections meanwhile, and concurrent commits overlap (their fsyncs share journal
  // commits) instead of queueing behind one thread. Body pieces still go to write() on the
  // I/O thread.
  bool blocking = false;
};

// Hooks around every request. before() runs after routing and before the body is read
// (so auth refuses a 1 GiB upload without reading it); returning false sends the response
// it filled. after() sees every finished exchange (access log, metrics); it must not throw.
struct Middleware {
  std::string name;
  std::function<bool(Request&, Response&)> before;
  std::function<void(const Request&, const Response&, std::uint64_t bytes_sent,
                     std::chrono::steady_clock::duration elapsed)>
      after;
};

class Router {
 public:
  Router();
  ~Router();
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // Throws docket::Exception (Fault::bug) on a malformed pattern.
  void add(http::verb method, std::string_view pattern, std::string name, Handler h,
           RouteOptions opts = {});
  void add_stream(http::verb method, std::string_view pattern, std::string name, StreamHandler h,
                  RouteOptions opts = {});
  void use(Middleware m);  // runs in the order added
  // Replaces the default plain-text 404 / 405 answers.
  void set_not_found(Handler h);
  // The answer when the path matched but not the method; the server adds `Allow` after it.
  void set_method_not_allowed(Handler h);

  struct Match {
    const struct Route* route = nullptr;  // nullptr: no route
    std::map<std::string, std::string> params;
    std::vector<http::verb> allowed;  // when the path matched but not the method
  };
  // HEAD falls back to a GET route (the server then drops the body).
  Match match(http::verb method, std::string_view path) const;

  // Internal, for HttpServer.
  const std::vector<Middleware>& middleware() const { return middleware_; }
  const Handler& not_found() const { return not_found_; }
  const Handler& method_not_allowed() const { return method_not_allowed_; }

 private:
  std::vector<std::unique_ptr<struct Route>> routes_;
  std::vector<Middleware> middleware_;
  Handler not_found_;
  Handler method_not_allowed_;
  void add_route(std::unique_ptr<Route> r);
};

struct Route {
  http::verb method;
  std::string pattern;
  std::string name;
  Handler handler;
  StreamHandler stream_handler;
  RouteOptions options;
  struct Segment {
    enum Kind { literal, one, many } kind;
    std::string text;  // literal text or parameter name
  };
  std::vector<Segment> segments;
  int literals = 0;
  std::size_t order = 0;
};

// Splits "a=1&b=%2F" into decoded pairs; malformed escapes are kept verbatim.
std::vector<std::pair<std::string, std::string>> parse_query(std::string_view q);

}  // namespace docket::net
