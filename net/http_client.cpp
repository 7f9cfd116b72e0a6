#include "net/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <fstream>
#include <mutex>
#include <thread>

#include "common/file.h"
#include "common/once.h"
#include "net/curl_dl.h"
#include "net/native_http.h"

namespace docket::net {

namespace {

char lower(char c) {
  return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = lower(c);
  return out;
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

bool has_ctl_or_newline(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u == '\r' || u == '\n' || u == 0;
  });
}

bool is_token_char(char c) {
  auto u = static_cast<unsigned char>(c);
  if (std::isalnum(u)) return true;
  return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != 0;
}

// Loads libcurl (net/curl_dl.cpp initialises it once).
Status global_init() {
  return detail::curl_library_status();
}

// Query parameters whose values are credentials in pre-signed URLs (S3, GCS, Azure) or
// token-bearing redirects.
bool is_secret_query_param(std::string_view name) {
  static constexpr std::array<std::string_view, 10> kSecret = {"x-amz-signature",
                                                               "x-amz-credential",
                                                               "x-amz-security-token",
                                                               "x-goog-signature",
                                                               "x-goog-credential",
                                                               "signature",
                                                               "sig",
                                                               "token",
                                                               "access_token",
                                                               "refresh_token"};
  auto n = to_lower(name);
  return std::find(kSecret.begin(), kSecret.end(), n) != kSecret.end();
}

}  // namespace

bool header_name_equals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

// ---- HttpHeaders ----

HttpHeaders::HttpHeaders(std::initializer_list<Entry> init) : entries_(init) {}

void HttpHeaders::add(std::string name, std::string value) {
  entries_.emplace_back(std::move(name), std::move(value));
}

void HttpHeaders::set(std::string name, std::string value) {
  remove(name);
  add(std::move(name), std::move(value));
}

void HttpHeaders::remove(std::string_view name) {
  std::erase_if(entries_, [&](const Entry& e) { return header_name_equals(e.first, name); });
}

bool HttpHeaders::contains(std::string_view name) const {
  return std::any_of(entries_.begin(), entries_.end(),
                     [&](const Entry& e) { return header_name_equals(e.first, name); });
}

std::optional<std::string> HttpHeaders::get(std::string_view name) const {
  for (const auto& e : entries_)
    if (header_name_equals(e.first, name)) return e.second;
  return std::nullopt;
}

std::vector<std::string> HttpHeaders::get_all(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& e : entries_)
    if (header_name_equals(e.first, name)) out.push_back(e.second);
  return out;
}

// ---- URL helpers ----

std::string redact_url(std::string_view url) {
  std::string out;
  std::string_view rest = url;
  if (auto p = rest.find("://"); p != std::string_view::npos) {
    out.append(rest.substr(0, p + 3));
    rest.remove_prefix(p + 3);
    auto auth_end = rest.find_first_of("/?#");
    auto authority = rest.substr(0, auth_end);
    if (auto at = authority.rfind('@'); at != std::string_view::npos) {
      rest.remove_prefix(at + 1);
    }
  }
  auto q = rest.find('?');
  if (q == std::string_view::npos) {
    out.append(rest);
    return out;
  }
  out.append(rest.substr(0, q + 1));
  rest.remove_prefix(q + 1);
  std::string_view fragment;
  if (auto h = rest.find('#'); h != std::string_view::npos) {
    fragment = rest.substr(h);
    rest = rest.substr(0, h);
  }
  bool first = true;
  while (true) {
    auto amp = rest.find('&');
    auto param = rest.substr(0, amp);
    if (!first) out.push_back('&');
    first = false;
    auto eq = param.find('=');
    if (eq != std::string_view::npos && is_secret_query_param(param.substr(0, eq))) {
      out.append(param.substr(0, eq + 1));
      out.append("<redacted>");
    } else {
      out.append(param);
    }
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  out.append(fragment);
  return out;
}

namespace {

struct CurlUrl {
  CURLU* h = curl_url();
  ~CurlUrl() { curl_url_cleanup(h); }
  std::optional<std::string> get(CURLUPart part, unsigned flags = 0) const {
    char* p = nullptr;
    if (curl_url_get(h, part, &p, flags) != CURLUE_OK) return std::nullopt;
    std::string s(p);
    curl_free(p);
    return s;
  }
};

}  // namespace

Result<UrlOrigin> url_origin(std::string_view url) {
  if (auto st = global_init(); !st) return std::unexpected(st.error());
  CurlUrl u;
  std::string s(url);
  if (curl_url_set(u.h, CURLUPART_URL, s.c_str(), CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK)
    return make_error(Fault::user, "bad_url", "not an absolute URL: " + redact_url(url));
  auto scheme = u.get(CURLUPART_SCHEME);
  auto host = u.get(CURLUPART_HOST);
  auto port = u.get(CURLUPART_PORT, CURLU_DEFAULT_PORT);
  if (!scheme || !host || !port)
    return make_error(Fault::user, "bad_url", "URL lacks scheme or host: " + redact_url(url));
  UrlOrigin o;
  o.scheme = to_lower(*scheme);
  o.host = to_lower(*host);
  o.port = std::atoi(port->c_str());
  return o;
}

namespace {

// Location resolved against the URL that answered (RFC 9110 §10.2.2, RFC 3986 §5).
Result<std::string> resolve_location(const std::string& base, const std::string& location) {
  if (auto st = global_init(); !st) return std::unexpected(st.error());
  CurlUrl u;
  if (curl_url_set(u.h, CURLUPART_URL, base.c_str(), CURLU_PATH_AS_IS) != CURLUE_OK)
    return make_error(Fault::user, "bad_url", "bad URL: " + redact_url(base));
  if (curl_url_set(u.h, CURLUPART_URL, location.c_str(), 0) != CURLUE_OK)
    return make_error(
        Fault::remote, "network",
        "redirect from " + redact_url(base) + " has an unusable Location: " + redact_url(location));
  auto out = u.get(CURLUPART_URL);
  if (!out)
    return make_error(Fault::remote, "network",
                      "redirect from " + redact_url(base) + " cannot be resolved");
  return *out;
}

}  // namespace

// ---- certs.d ----

Result<TlsOptions> tls_options_from_certs_d(const std::filesystem::path& dir) {
  TlsOptions o;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return o;
  o.ca_dir = dir;
  std::vector<std::filesystem::path> certs;
  for (const auto& ent : std::filesystem::directory_iterator(dir, ec)) {
    if (ent.path().extension() == ".cert") certs.push_back(ent.path());
  }
  if (ec) return make_error(Fault::local, "io", "reading " + dir.string() + ": " + ec.message());
  if (certs.size() > 1)
    return make_error(Fault::user, "config",
                      dir.string() + " holds more than one client certificate (*.cert)");
  if (certs.size() == 1) {
    auto key = certs[0];
    key.replace_extension(".key");
    if (!std::filesystem::exists(key, ec))
      return make_error(
          Fault::user, "config",
          "client certificate " + certs[0].string() + " has no matching " + key.string());
    o.client_cert_file = certs[0];
    o.client_key_file = key;
  }
  return o;
}

// ---- the client ----

namespace {

// libcurl's built-in CA directory (Debian: /etc/ssl/certs) if it exists and holds OpenSSL
// subject-hash links ("<8 hex digits>.<n>"), else "". Looked up once per process.
const std::string& system_hashed_ca_dir() {
  static const std::string dir = [] {
    auto* info = curl_version_info(CURLVERSION_NOW);
    if (!info || !info->capath || !*info->capath) return std::string();
    return detail::is_hashed_ca_dir(info->capath) ? std::string(info->capath) : std::string();
  }();
  return dir;
}

}  // namespace

struct HttpClient::Impl {
  HttpClientOptions options;
  // The ca_file and ca_dir certificates (PEM), read by create().
  std::string ca_pem;
  // The built-in transport, when options.transport is native.
  std::unique_ptr<detail::NativeTransport> native;

  // libcurl's state, set up by curl_ready() on the first request that goes to libcurl.
  OnceStatus curl_once;
  // What libcurl is given as CAs, as one PEM blob (CURLOPT_CAINFO_BLOB).
  std::string ca_blob;
  bool use_ca_blob = false;
  // The system trust store as OpenSSL's hashed certificate directory (CURLOPT_CAPATH), with
  // libcurl's default bundle file switched off; empty = leave libcurl's defaults. The
  // directory and the bundle hold the same certificates (update-ca-certificates writes
  // both), but a bundle is parsed whole -- ~150 PEM certificates, about 20 ms of CPU with
  // OpenSSL 3 -- for every new connection, while the directory is searched by subject hash,
  // so a handshake loads only the one or two CAs its chain needs.
  std::string system_ca_dir;

  CURLSH* share = nullptr;
  std::array<std::mutex, CURL_LOCK_DATA_LAST> share_locks;

  std::mutex pool_mu;
  std::vector<CURL*> pool;

  ~Impl() {
    for (CURL* h : pool) curl_easy_cleanup(h);
    if (share) curl_share_cleanup(share);
  }

  static void lock_cb(CURL*, curl_lock_data data, curl_lock_access, void* userp) {
    static_cast<Impl*>(userp)->share_locks[data].lock();
  }
  static void unlock_cb(CURL*, curl_lock_data data, void* userp) {
    static_cast<Impl*>(userp)->share_locks[data].unlock();
  }

  void init_share() {
    share = curl_share_init();
    curl_share_setopt(share, CURLSHOPT_LOCKFUNC, &Impl::lock_cb);
    curl_share_setopt(share, CURLSHOPT_UNLOCKFUNC, &Impl::unlock_cb);
    curl_share_setopt(share, CURLSHOPT_USERDATA, this);
    curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
  }

  CURL* acquire() {
    {
      std::lock_guard lk(pool_mu);
      if (!pool.empty()) {
        CURL* h = pool.back();
        pool.pop_back();
        curl_easy_reset(h);
        return h;
      }
    }
    return curl_easy_init();
  }
  void release(CURL* h) {
    std::lock_guard lk(pool_mu);
    if (pool.size() < kMaxPooledHandles) {
      pool.push_back(h);
      return;
    }
    curl_easy_cleanup(h);
  }

  Status init_curl();
  Status curl_ready() {
    return curl_once.run([this] { return init_curl(); });
  }

  Result<HttpResponse> perform_once(const HttpRequest& req, const std::string& url) const;
  // send()'s checks of the method, URL and header values (before anything is sent).
  static Status validate(const HttpRequest& req, const std::string& url);
  Result<HttpResponse> perform_curl(const HttpRequest& req, const std::string& url,
                                    const std::string& what) const;
  // Whether libcurl would send a request to `url` through a proxy.
  bool proxy_in_use(const detail::NativeUrl& u) const;
};

namespace {

bool body_bearing_method(std::string_view m) {
  return m == "POST" || m == "PUT" || m == "PATCH";
}

struct Transfer {
  const HttpRequest* req = nullptr;
  const HttpClientOptions* opts = nullptr;
  // upload
  std::string_view body_src;
  std::size_t body_off = 0;
  // response
  HttpResponse resp;
  std::size_t header_bytes = 0;
  bool header_overflow = false;
  bool body_started = false;
  bool streaming = false;
  std::size_t cap = 0;
  bool cap_exceeded = false;
  std::optional<Error> callback_error;
  // idle timeout bookkeeping (xferinfo_cb)
  std::chrono::steady_clock::time_point last_progress = std::chrono::steady_clock::now();
  curl_off_t last_dl = 0, last_ul = 0;
  bool idle_timed_out = false;
};

// Idle timeout: abort when no byte has moved in either direction for idle_timeout. (curl's
// LOW_SPEED options average over a multi-second window, so a stall after some data is
// noticed several seconds late; this is called at least about once a second.)
int xferinfo_cb(void* userp, curl_off_t, curl_off_t dlnow, curl_off_t, curl_off_t ulnow) {
  auto* t = static_cast<Transfer*>(userp);
  auto now = std::chrono::steady_clock::now();
  if (dlnow != t->last_dl || ulnow != t->last_ul) {
    t->last_dl = dlnow;
    t->last_ul = ulnow;
    t->last_progress = now;
    return 0;
  }
  if (now - t->last_progress > t->opts->idle_timeout) {
    t->idle_timed_out = true;
    return 1;
  }
  return 0;
}

std::size_t header_cb(char* data, std::size_t size, std::size_t n, void* userp) {
  auto* t = static_cast<Transfer*>(userp);
  std::size_t len = size * n;
  t->header_bytes += len;
  if (t->header_bytes > kMaxResponseHeaderBytes) {
    t->header_overflow = true;
    return 0;
  }
  std::string_view line(data, len);
  if (line.starts_with("HTTP/")) {
    // A new status line: an interim 1xx or a proxy's CONNECT answer came before; only the
    // last header block counts.
    t->resp.headers = HttpHeaders{};
    t->resp.reason.clear();
    auto sp = line.find(' ');
    t->resp.http_version = std::string(line.substr(5, sp == std::string_view::npos ? 0 : sp - 5));
    if (sp != std::string_view::npos) {
      auto rest = line.substr(sp + 1);
      auto sp2 = rest.find(' ');
      t->resp.status = std::atol(std::string(rest.substr(0, sp2)).c_str());
      if (sp2 != std::string_view::npos)
        t->resp.reason = std::string(trim_ows(rest.substr(sp2 + 1)));
    }
    return len;
  }
  auto trimmed = trim_ows(line);
  if (trimmed.empty()) return len;  // end of a header block
  if ((line.front() == ' ' || line.front() == '\t') && !t->resp.headers.empty()) {
    // obs-fold continuation (RFC 9112 §5.2): joined with a single space.
    auto& entries = const_cast<std::vector<HttpHeaders::Entry>&>(t->resp.headers.entries());
    entries.back().second.append(" ").append(trimmed);
    return len;
  }
  auto colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return len;  // not a header: ignore
  auto name = line.substr(0, colon);
  if (!std::all_of(name.begin(), name.end(), is_token_char)) return len;
  t->resp.headers.add(std::string(name), std::string(trim_ows(line.substr(colon + 1))));
  return len;
}

std::size_t write_cb(char* data, std::size_t size, std::size_t n, void* userp) {
  auto* t = static_cast<Transfer*>(userp);
  std::size_t len = size * n;
  if (!t->body_started) {
    t->body_started = true;
    bool ok_status = t->resp.status >= 200 && t->resp.status < 300;
    t->streaming = t->req->sink && ok_status;
    if (t->req->sink && !ok_status) {
      t->cap = t->opts->max_error_body_bytes;
    } else {
      t->cap = t->req->max_body_bytes.value_or(t->opts->max_body_bytes);
    }
  }
  if (t->streaming) {
    auto st = t->req->sink(std::string_view(data, len));
    if (!st) {
      t->callback_error = std::move(st.error());
      return 0;
    }
    return len;
  }
  if (t->resp.body.size() + len > t->cap) {
    t->cap_exceeded = true;
    return 0;
  }
  t->resp.body.append(data, len);
  return len;
}

std::size_t read_cb(char* buf, std::size_t size, std::size_t n, void* userp) {
  auto* t = static_cast<Transfer*>(userp);
  std::size_t len = size * n;
  if (t->req->reader) {
    auto r = t->req->reader(std::span<char>(buf, len));
    if (!r) {
      t->callback_error = std::move(r.error());
      return CURL_READFUNC_ABORT;
    }
    if (*r > len) {
      t->callback_error =
          Error{Fault::bug, "bug", "upload reader returned more bytes than the buffer holds"};
      return CURL_READFUNC_ABORT;
    }
    return *r;
  }
  std::size_t k = std::min(len, t->body_src.size() - t->body_off);
  std::memcpy(buf, t->body_src.data() + t->body_off, k);
  t->body_off += k;
  return k;
}

int seek_cb(void* userp, curl_off_t offset, int origin) {
  auto* t = static_cast<Transfer*>(userp);
  if (origin != SEEK_SET) return CURL_SEEKFUNC_CANTSEEK;
  if (t->req->reader) {
    if (offset != 0 || !t->req->rewind) return CURL_SEEKFUNC_CANTSEEK;
    auto st = t->req->rewind();
    if (!st) {
      t->callback_error = std::move(st.error());
      return CURL_SEEKFUNC_FAIL;
    }
    return CURL_SEEKFUNC_OK;
  }
  if (offset < 0 || static_cast<std::size_t>(offset) > t->body_src.size())
    return CURL_SEEKFUNC_FAIL;
  t->body_off = static_cast<std::size_t>(offset);
  return CURL_SEEKFUNC_OK;
}

struct SlistGuard {
  curl_slist* list = nullptr;
  ~SlistGuard() { curl_slist_free_all(list); }
  bool append(const std::string& s) {
    auto* n = curl_slist_append(list, s.c_str());
    if (!n) return false;
    list = n;
    return true;
  }
};

}  // namespace

Result<HttpResponse> HttpClient::Impl::perform_once(const HttpRequest& req,
                                                    const std::string& url) const {
  if (auto v = validate(req, url); !v) return std::unexpected(v.error());
  std::string what = req.method + " " + redact_url(url);
  if (native && !req.reader) {
    if (auto u = detail::parse_native_url(url); u && !proxy_in_use(*u))
      return native->perform(req, *u, url);
  }
  if (auto st = const_cast<Impl*>(this)->curl_ready(); !st)
    return make_error(st.error().fault, st.error().code, what + ": " + st.error().message);
  return perform_curl(req, url, what);
}

Status HttpClient::Impl::validate(const HttpRequest& req, const std::string& url) {
  std::string what = req.method + " " + redact_url(url);
  if (url.empty() || std::any_of(url.begin(), url.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return u <= 0x20 || u == 0x7f;
      }))
    return make_error(Fault::user, "bad_url",
                      "URL is empty or contains spaces or control characters: " + redact_url(url));
  if (req.method.empty() || !std::all_of(req.method.begin(), req.method.end(), is_token_char))
    return make_error(Fault::user, "bad_header", "invalid HTTP method \"" + req.method + "\"");

  for (const auto& [name, value] : req.headers.entries()) {
    if (name.empty() || !std::all_of(name.begin(), name.end(), is_token_char))
      return make_error(Fault::user, "bad_header", what + ": invalid header name \"" + name + "\"");
    if (has_ctl_or_newline(value))
      return make_error(Fault::user, "bad_header",
                        what + ": header " + name + " contains CR, LF or NUL");
  }
  return {};
}

bool HttpClient::Impl::proxy_in_use(const detail::NativeUrl& u) const {
  if (options.proxy) return !options.proxy->empty();
  // libcurl's environment variables (no_proxy is not evaluated here: with any proxy
  // variable set, libcurl decides).
  auto set = [](const char* name) {
    const char* v = std::getenv(name);
    return v && *v;
  };
  if (u.tls ? (set("https_proxy") || set("HTTPS_PROXY")) : set("http_proxy")) return true;
  return set("all_proxy") || set("ALL_PROXY");
}

Result<HttpResponse> HttpClient::Impl::perform_curl(const HttpRequest& req, const std::string& url,
                                                    const std::string& what) const {
  const auto& o = options;
  SlistGuard headers;
  bool has_expect = false;
  for (const auto& [name, value] : req.headers.entries()) {
    if (header_name_equals(name, "Expect")) has_expect = true;
    // "Name;" is libcurl's way to send a header with an empty value.
    if (!headers.append(value.empty() ? name + ";" : name + ": " + value))
      return make_error(Fault::bug, "bug", "out of memory building headers");
  }
  // libcurl would add "Expect: 100-continue" to large uploads and then wait a second for
  // servers that never answer it.
  if (!has_expect) headers.append("Expect:");

  Transfer t;
  t.req = &req;
  t.opts = &o;
  t.body_src = req.body;
  t.resp.url = url;

  CURL* h = const_cast<Impl*>(this)->acquire();
  if (!h) return make_error(Fault::bug, "bug", "curl_easy_init failed");
  struct Release {
    const Impl* impl;
    CURL* h;
    ~Release() { const_cast<Impl*>(impl)->release(h); }
  } release{this, h};

  std::array<char, CURL_ERROR_SIZE> errbuf{};
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf.data());
  curl_easy_setopt(h, CURLOPT_SHARE, share);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.list);
  curl_easy_setopt(h, CURLOPT_USERAGENT, o.user_agent.c_str());
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  // Larger than libcurl's 16 KiB / 64 KiB defaults: fewer callbacks per blob
  // (bench/http_client.sh).
  curl_easy_setopt(h, CURLOPT_BUFFERSIZE, kDownloadBufferBytes);
  curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, kUploadBufferBytes);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(o.connect_timeout.count()));
  if (o.idle_timeout.count() > 0) {
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, &xferinfo_cb);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &t);
  }
  if (o.total_timeout.count() > 0)
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(o.total_timeout.count()));
  if (o.proxy) curl_easy_setopt(h, CURLOPT_PROXY, o.proxy->c_str());

  // TLS
  curl_easy_setopt(h, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
  if (o.tls.insecure_skip_tls_verify) {
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
  } else {
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  }
  if (o.tls.ca_file) {
    // ca_file replaces the system store: libcurl would otherwise still search its built-in
    // CA directory for issuers the blob lacks.
    curl_easy_setopt(h, CURLOPT_CAINFO, nullptr);
    curl_easy_setopt(h, CURLOPT_CAPATH, nullptr);
  } else if (!system_ca_dir.empty()) {
    curl_easy_setopt(h, CURLOPT_CAINFO, nullptr);
    curl_easy_setopt(h, CURLOPT_CAPATH, system_ca_dir.c_str());
  }
  curl_blob blob{};
  if (use_ca_blob) {
    blob.data = const_cast<char*>(ca_blob.data());
    blob.len = ca_blob.size();
    blob.flags = CURL_BLOB_NOCOPY;
    curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
  }
  std::string cert_path, key_path;
  if (o.tls.client_cert_file) {
    cert_path = o.tls.client_cert_file->string();
    curl_easy_setopt(h, CURLOPT_SSLCERT, cert_path.c_str());
    curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
  }
  if (o.tls.client_key_file) {
    key_path = o.tls.client_key_file->string();
    curl_easy_setopt(h, CURLOPT_SSLKEY, key_path.c_str());
    curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
  }

  // Method and body
  bool send_body =
      body_bearing_method(req.method) || static_cast<bool>(req.reader) || !req.body.empty();
  if (req.method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (send_body) {
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_off_t size = -1;
    if (!req.reader)
      size = static_cast<curl_off_t>(req.body.size());
    else if (req.body_length)
      size = static_cast<curl_off_t>(*req.body_length);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, size);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, &read_cb);
    curl_easy_setopt(h, CURLOPT_READDATA, &t);
    curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, &seek_cb);
    curl_easy_setopt(h, CURLOPT_SEEKDATA, &t);
    if (req.method != "PUT") curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  } else if (req.method != "GET") {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  } else {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  }
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &header_cb);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &write_cb);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);

  CURLcode rc = curl_easy_perform(h);
  // Unset the pointers into this frame before the handle goes back to the pool.
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, nullptr);

  if (t.callback_error) return std::unexpected(std::move(*t.callback_error));
  if (t.cap_exceeded)
    return make_error(
        Fault::remote, "too_large",
        what + ": response body exceeds the limit of " + std::to_string(t.cap) + " bytes");
  if (t.header_overflow)
    return make_error(Fault::remote, "too_large",
                      what + ": response headers exceed the limit of " +
                          std::to_string(kMaxResponseHeaderBytes) + " bytes");
  if (t.idle_timed_out)
    return make_error(Fault::remote, "network",
                      what + ": no data received or sent for " +
                          std::to_string(o.idle_timeout.count()) + " ms (idle timeout)");
  if (rc != CURLE_OK) {
    std::string reason = curl_easy_strerror(rc);
    if (errbuf[0] != '\0') reason += " (" + std::string(errbuf.data()) + ")";
    if (rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL)
      return make_error(Fault::user, "bad_url", what + ": " + reason);
    return make_error(Fault::remote, "network", what + ": " + reason);
  }
  long code = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
  t.resp.status = code;
  return std::move(t.resp);
}

HttpClient::HttpClient() : HttpClient(value_or_raise(create(HttpClientOptions{}))) {}

HttpClient::HttpClient(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpClient::HttpClient(HttpClient&&) noexcept = default;
HttpClient& HttpClient::operator=(HttpClient&&) noexcept = default;
HttpClient::~HttpClient() = default;

const HttpClientOptions& HttpClient::options() const {
  return impl_->options;
}

Status HttpClient::Impl::init_curl() {
  if (auto st = global_init(); !st) return st;
  const auto& tls = options.tls;
  if (!tls.ca_file) {
    // The system store is in play (alone, or with ca_dir added to it): use it as the hashed
    // directory libcurl was built with, if that directory is there and hashed.
    system_ca_dir = system_hashed_ca_dir();
  }
  if (tls.ca_file || tls.ca_dir) {
    use_ca_blob = true;
    if (!tls.ca_file && system_ca_dir.empty()) {
      // ca_dir adds to the system store, which here is only a bundle file: the blob starts
      // with it (CURLOPT_CAINFO_BLOB replaces libcurl's default bundle).
      auto* info = curl_version_info(CURLVERSION_NOW);
      std::string bundle =
          info && info->cainfo ? info->cainfo : "/etc/ssl/certs/ca-certificates.crt";
      if (auto pem = read_file(bundle, 16 * 1024 * 1024)) {
        ca_blob += *pem;
        ca_blob += "\n";
      }
    }
    ca_blob += ca_pem;
  }
  // A certs.d directory without *.crt adds nothing to the system directory (libcurl refuses
  // a blob without certificates).
  if (!tls.ca_file && !system_ca_dir.empty() && ca_blob.empty()) use_ca_blob = false;
  init_share();
  if (!share) return make_error(Fault::local, "missing_library", "libcurl: curl_share_init failed");
  return {};
}

Result<HttpClient> HttpClient::create(HttpClientOptions options) {
  auto impl = std::make_shared<Impl>();
  const auto& tls = options.tls;
  auto readable = [](const std::filesystem::path& p, std::string_view what) -> Status {
    std::ifstream f(p);
    if (!f)
      return make_error(Fault::user, "config",
                        std::string(what) + " " + p.string() + " cannot be read");
    return {};
  };
  if (tls.client_cert_file.has_value() != tls.client_key_file.has_value())
    return make_error(Fault::user, "config",
                      "a TLS client certificate needs both a certificate and a key file");
  if (tls.client_cert_file)
    if (auto st = readable(*tls.client_cert_file, "TLS client certificate"); !st)
      return std::unexpected(st.error());
  if (tls.client_key_file)
    if (auto st = readable(*tls.client_key_file, "TLS client key"); !st)
      return std::unexpected(st.error());
  if (tls.ca_file) {
    auto pem = read_file(*tls.ca_file, 16 * 1024 * 1024);
    if (!pem)
      return make_error(Fault::user, "config",
                        "TLS CA file " + tls.ca_file->string() + ": " + pem.error().message);
    impl->ca_pem += *pem;
    impl->ca_pem += "\n";
  }
  if (tls.ca_dir) {
    std::error_code ec;
    std::vector<std::filesystem::path> crts;
    for (const auto& ent : std::filesystem::directory_iterator(*tls.ca_dir, ec))
      if (ent.path().extension() == ".crt") crts.push_back(ent.path());
    if (ec)
      return make_error(Fault::user, "config",
                        "TLS CA directory " + tls.ca_dir->string() + ": " + ec.message());
    std::sort(crts.begin(), crts.end());
    for (const auto& p : crts) {
      auto pem = read_file(p, 1024 * 1024);
      if (!pem)
        return make_error(Fault::user, "config",
                          "TLS CA file " + p.string() + ": " + pem.error().message);
      impl->ca_pem += *pem;
      impl->ca_pem += "\n";
    }
  }
  if (options.max_redirects < 0 || options.max_retries < 0)
    return make_error(Fault::user, "config", "max_redirects and max_retries must be >= 0");
  impl->options = std::move(options);
  if (impl->options.transport == HttpTransport::native)
    impl->native = std::make_unique<detail::NativeTransport>(impl->options, impl->ca_pem);
  return HttpClient(std::move(impl));
}

Result<HttpResponse> HttpClient::send(const HttpRequest& request) const {
  const auto& o = impl_->options;
  HttpRequest req = request;  // copied so redirects can rewrite method/headers/body
  std::string url = req.url;
  int redirects = 0;
  while (true) {
    Result<HttpResponse> r;
    for (int attempt = 0;; ++attempt) {
      r = impl_->perform_once(req, url);
      if (r || r.error().code != "network" || attempt >= o.max_retries || req.reader) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100) * (attempt + 1));
    }
    if (!r) return r;
    r->redirects = redirects;
    bool is_redirect = r->status == 301 || r->status == 302 || r->status == 303 ||
                       r->status == 307 || r->status == 308;
    if (!o.follow_redirects || !is_redirect) return r;
    auto location = r->headers.get("Location");
    if (!location || location->empty()) return r;
    bool keep_method = r->status == 307 || r->status == 308;
    // A streamed body cannot be replayed: the caller gets the 3xx and decides.
    if (keep_method && req.reader) return r;
    if (redirects >= o.max_redirects)
      return make_error(Fault::remote, "network",
                        req.method + " " + redact_url(request.url) + ": more than " +
                            std::to_string(o.max_redirects) + " redirects");
    auto next = resolve_location(url, *location);
    if (!next) return std::unexpected(next.error());
    auto from = url_origin(url);
    auto to = url_origin(*next);
    if (!from || !to)
      return make_error(Fault::remote, "network",
                        "redirect to an unusable URL: " + redact_url(*next));
    if (to->scheme != "http" && to->scheme != "https")
      return make_error(Fault::remote, "network",
                        "redirect to a non-HTTP URL refused: " + redact_url(*next));
    if (from->scheme == "https" && to->scheme == "http")
      return make_error(Fault::remote, "network",
                        "redirect from https to plain http refused: " + redact_url(url) + " -> " +
                            redact_url(*next));
    if (!(*from == *to)) {
      // Credentials are for the origin they were given to, never for where it points us.
      req.headers.remove("Authorization");
      req.headers.remove("Cookie");
    }
    if (!keep_method && req.method != "GET" && req.method != "HEAD") {
      req.method = "GET";
      req.body.clear();
      req.reader = nullptr;
      req.rewind = nullptr;
      req.body_length.reset();
      req.headers.remove("Content-Type");
      req.headers.remove("Content-Length");
      req.headers.remove("Transfer-Encoding");
    }
    url = *next;
    ++redirects;
  }
}

std::vector<Result<HttpResponse>> HttpClient::send_pipelined(
    const std::vector<HttpRequest>& requests) const {
  std::vector<Result<HttpResponse>> out;
  auto all = [&](const Error& e) {
    out.assign(requests.size(), std::unexpected(e));
    return out;
  };
  if (requests.empty()) return out;
  if (requests.size() > kMaxPipelinedRequests)
    return all(Error{Fault::bug, "not_pipelined",
                     std::to_string(requests.size()) + " requests: more than " +
                         std::to_string(kMaxPipelinedRequests) + " cannot be pipelined"});
  std::vector<detail::NativeUrl> urls;
  urls.reserve(requests.size());
  for (const auto& r : requests) {
    if (auto v = Impl::validate(r, r.url); !v) {
      // Nothing goes out: the bad request gets its error, the others are not sent.
      for (const auto& q : requests) {
        Error e = &q == &r ? v.error()
                           : Error{Fault::bug, "not_pipelined",
                                   "GET " + redact_url(q.url) +
                                       ": not sent (another request of the pipeline is invalid)"};
        out.push_back(std::unexpected(std::move(e)));
      }
      return out;
    }
    std::optional<detail::NativeUrl> u;
    if (impl_->native) u = detail::parse_native_url(r.url);
    bool ok = u && !impl_->proxy_in_use(*u) && r.method == "GET" && r.body.empty() && !r.reader &&
              !r.sink &&
              (urls.empty() || (u->tls == urls.front().tls && u->host == urls.front().host &&
                                u->port == urls.front().port));
    if (!ok)
      return all(Error{Fault::bug, "not_pipelined",
                       "GET " + redact_url(r.url) +
                           ": cannot be pipelined (needs the native transport, no proxy, a "
                           "body-less GET to one origin)"});
    urls.push_back(std::move(*u));
  }
  std::vector<detail::PipelinedRequest> reqs;
  reqs.reserve(requests.size());
  for (std::size_t i = 0; i < requests.size(); ++i)
    reqs.push_back({&requests[i], &requests[i].url, &urls[i]});
  return impl_->native->perform_pipelined(reqs);
}

Result<HttpResponse> HttpClient::get(std::string url, HttpHeaders headers) const {
  HttpRequest req;
  req.url = std::move(url);
  req.headers = std::move(headers);
  return send(req);
}

}  // namespace docket::net
