#include "client/registry_client.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "client/reference.h"
#include "client/trust_auth.h"
#include "common/encoding.h"
#include "common/json.h"
#include "common/log.h"

namespace docket::client {
namespace fs = std::filesystem;

std::vector<fs::path> certs_d_search_path() {
  if (const char* d = std::getenv("DOCKET_CERTS_D"); d && *d) return {fs::path(d)};
  return {docker_config_dir() / "certs.d", "/etc/docker/certs.d", "/etc/containers/certs.d"};
}

Result<AuthChallenge> parse_www_authenticate(std::string_view h) {
  AuthChallenge c;
  std::size_t i = 0;
  auto skip_ws = [&] {
    while (i < h.size() && (h[i] == ' ' || h[i] == '\t')) ++i;
  };
  skip_ws();
  while (i < h.size() && h[i] != ' ')
    c.scheme += static_cast<char>(std::tolower(static_cast<unsigned char>(h[i++])));
  if (c.scheme.empty())
    return make_error(Fault::remote, "bad_header", "empty WWW-Authenticate header");
  while (i < h.size()) {
    skip_ws();
    if (i < h.size() && h[i] == ',') {
      ++i;
      continue;
    }
    std::string key;
    while (i < h.size() && h[i] != '=' && h[i] != ' ' && h[i] != ',')
      key += static_cast<char>(std::tolower(static_cast<unsigned char>(h[i++])));
    skip_ws();
    if (i >= h.size() || h[i] != '=') {
      if (key.empty()) break;
      return make_error(Fault::remote, "bad_header",
                        "malformed WWW-Authenticate parameter \"" + key + "\"");
    }
    ++i;
    skip_ws();
    std::string value;
    if (i < h.size() && h[i] == '"') {
      ++i;
      while (i < h.size() && h[i] != '"') {
        if (h[i] == '\\' && i + 1 < h.size()) ++i;
        value += h[i++];
      }
      if (i >= h.size())
        return make_error(Fault::remote, "bad_header",
                          "unterminated quoted string in WWW-Authenticate");
      ++i;
    } else {
      while (i < h.size() && h[i] != ',' && h[i] != ' ') value += h[i++];
    }
    c.params[key] = value;
  }
  return c;
}

std::string describe_registry_error(const net::HttpResponse& r) {
  std::string out = "HTTP " + std::to_string(r.status);
  auto j = parse_json(r.body, "registry error", Fault::remote, JsonLimits{1 << 20, 16});
  if (j && j->is_object() && j->contains("errors") && (*j)["errors"].is_array() &&
      !(*j)["errors"].empty()) {
    const auto& e = (*j)["errors"][0];
    if (e.is_object()) {
      if (e.contains("code") && e["code"].is_string()) out += " " + e["code"].get<std::string>();
      if (e.contains("message") && e["message"].is_string())
        out += ": " + e["message"].get<std::string>();
    }
  }
  return out;
}

Result<std::shared_ptr<RegistryClient>> RegistryClient::create(std::string domain,
                                                               std::optional<Credentials> creds,
                                                               RegistryOptions opts) {
  std::shared_ptr<RegistryClient> c(new RegistryClient());
  c->domain_ = domain;
  c->host_ = registry_api_host(domain);
  c->scheme_ = opts.insecure_http ? "http" : "https";
  c->creds_ = std::move(creds);
  if (opts.chunk_size != 0 && opts.chunk_size < 1024)
    return make_error(Fault::user, "usage", "upload chunk size must be at least 1024 bytes");
  if (opts.certs_dirs.empty()) opts.certs_dirs = certs_d_search_path();
  net::HttpClientOptions ho = opts.http;
  ho.follow_redirects = true;
  if (!opts.insecure_http) {
    for (const auto& dir : opts.certs_dirs) {
      std::error_code ec;
      fs::path host_dir = dir / c->host_;
      if (!fs::is_directory(host_dir, ec)) continue;
      auto tls = net::tls_options_from_certs_d(host_dir);
      if (!tls) return std::unexpected(tls.error());
      tls->insecure_skip_tls_verify = ho.tls.insecure_skip_tls_verify;
      if (ho.tls.ca_file) tls->ca_file = ho.tls.ca_file;
      ho.tls = *tls;
      break;
    }
  }
  auto h = net::HttpClient::create(ho);
  if (!h) return std::unexpected(h.error());
  c->http_ = std::make_shared<net::HttpClient>(std::move(*h));
  c->opts_ = std::move(opts);
  return c;
}

std::string RegistryClient::base_url() const {
  return scheme_ + "://" + host_;
}

void RegistryClient::count(const std::string& k) {
  std::lock_guard l(mu_);
  ++counters_[k];
}

std::map<std::string, int> RegistryClient::counters() const {
  std::lock_guard l(mu_);
  return counters_;
}

std::string RegistryClient::absolute(const std::string& location) const {
  if (location.starts_with("http://") || location.starts_with("https://")) return location;
  if (location.starts_with("/")) return base_url() + location;
  return base_url() + "/" + location;
}

Result<std::string> RegistryClient::fetch_token(const std::map<std::string, std::string>& ch,
                                                const std::string& scope) {
  // `scope` may hold several space-separated scopes (a mount needs push here, pull there).
  std::vector<std::string> scopes = split_scopes(scope);
  count("token");
  bool offline;
  {
    std::lock_guard l(mu_);
    offline = want_identity_token_;
  }
  auto t = request_bearer_token(*http_, ch, scopes, creds_, domain_, offline);
  if (!t) return std::unexpected(t.error());
  if (offline && !t->refresh_token.empty()) {
    std::lock_guard l(mu_);
    identity_token_ = t->refresh_token;
  }
  return std::move(t->token);
}

Result<net::HttpResponse> RegistryClient::send(net::HttpRequest req, const std::string& scope) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    // Whether this very request carried the Basic credentials: another thread may have
    // switched to Basic meanwhile, and our 401 then says nothing about the credentials.
    bool sent_basic = false;
    {
      std::lock_guard l(mu_);
      if (auto t = tokens_.find(scope); t != tokens_.end()) {
        req.headers.set("Authorization", "Bearer " + t->second);
      } else if (basic_ && creds_) {
        req.headers.set("Authorization",
                        "Basic " + base64_encode(creds_->username + ":" + creds_->password));
        sent_basic = true;
      }
    }
    auto r = http_->send(req);
    if (!r) return r;
    if (r->status != 401 || attempt == 1) {
      if (r->status == 401)
        return make_error(Fault::user, "unauthorized",
                          domain_ + " refused access (" + describe_registry_error(*r) +
                              "); run: docket login " + domain_);
      return r;
    }
    auto hdr = r->headers.get("WWW-Authenticate");
    if (!hdr)
      return make_error(Fault::user, "unauthorized",
                        domain_ + " requires authentication but sent no challenge");
    auto ch = parse_www_authenticate(*hdr);
    if (!ch) return std::unexpected(ch.error());
    if (ch->scheme == "bearer") {
      auto tok = fetch_token(ch->params, scope);
      if (!tok) return std::unexpected(tok.error());
      std::lock_guard l(mu_);
      tokens_[scope] = *tok;
    } else if (ch->scheme == "basic") {
      if (!creds_ || creds_->username.empty())
        return make_error(Fault::user, "unauthorized",
                          domain_ + " requires a login; run: docket login " + domain_);
      std::lock_guard l(mu_);
      if (sent_basic)
        return make_error(
            Fault::user, "unauthorized",
            domain_ + " refused the stored credentials; run: docket login " + domain_);
      basic_ = true;
    } else {
      return make_error(Fault::remote, "unauthorized",
                        domain_ + " asks for unsupported auth scheme \"" + ch->scheme + "\"");
    }
    if (req.reader) {
      if (!req.rewind)
        return make_error(Fault::bug, "usage",
                          "streamed request needs a rewind to be retried after auth");
      if (auto s = req.rewind(); !s) return std::unexpected(s.error());
    }
  }
  return make_error(Fault::bug, "unauthorized", "unreachable");
}

namespace {
std::string pull_scope(const std::string& repo) {
  return "repository:" + repo + ":pull";
}
std::string push_scope(const std::string& repo) {
  return "repository:" + repo + ":pull,push";
}

Error status_error(const std::string& what, const net::HttpResponse& r) {
  if (r.status == 403)
    return Error{Fault::user, "denied",
                 what + ": access denied (" + describe_registry_error(r) + ")"};
  if (r.status == 404)
    return Error{Fault::user, "not_found",
                 what + ": not found (" + describe_registry_error(r) + ")"};
  return Error{Fault::remote, "registry_error",
               what + ": registry answered " + describe_registry_error(r)};
}

std::string with_query(const std::string& url, const std::string& kv) {
  return url + (url.find('?') == std::string::npos ? "?" : "&") + kv;
}

// "<url>; rel=\"next\"" → url, from a Link header.
std::optional<std::string> next_link(const net::HttpResponse& r) {
  auto l = r.headers.get("Link");
  if (!l) return std::nullopt;
  auto a = l->find('<'), b = l->find('>');
  if (a == std::string::npos || b == std::string::npos || b < a) return std::nullopt;
  if (l->find("next", b) == std::string::npos) return std::nullopt;
  return l->substr(a + 1, b - a - 1);
}
}  // namespace

Result<std::string> RegistryClient::check_login() {
  net::HttpRequest req;
  req.url = base_url() + "/v2/";
  {
    std::lock_guard l(mu_);
    want_identity_token_ = true;
    identity_token_.clear();
  }
  // The token service needs no particular scope to prove the credentials.
  auto r = send(req, "");
  std::lock_guard l(mu_);
  want_identity_token_ = false;
  if (!r) return std::unexpected(r.error());
  if (r->status != 200)
    return make_error(Fault::remote, "registry_error",
                      domain_ + " /v2/ answered " + describe_registry_error(*r));
  return identity_token_;
}

Result<FetchedManifest> RegistryClient::get_manifest(const std::string& repo,
                                                     const std::string& reference) {
  net::HttpRequest req;
  req.url = base_url() + "/v2/" + repo + "/manifests/" + reference;
  req.headers.set("Accept", manifest_accept_header());
  req.max_body_bytes = kMaxManifestBytes;
  count("manifest_get");
  auto r = send(req, pull_scope(repo));
  if (!r) return std::unexpected(r.error());
  std::string what = "manifest " + domain_ + "/" + repo + ":" + reference;
  if (r->status != 200) return std::unexpected(status_error(what, *r));
  FetchedManifest m;
  m.bytes = std::move(r->body);
  auto mt = detect_manifest_media_type(m.bytes, r->headers.get("Content-Type").value_or(""),
                                       Fault::remote);
  if (!mt) return std::unexpected(with_context(mt.error(), what));
  m.media_type = *mt;
  auto asked = Digest::parse(reference);
  HashAlgorithm alg = asked ? asked->algorithm() : HashAlgorithm::sha256;
  m.digest = Digest::of(m.bytes, alg);
  if (asked && m.digest != *asked)
    return make_error(Fault::remote, "hash_mismatch",
                      what + ": the registry served bytes hashing to " + m.digest.str());
  if (auto h = r->headers.get("Docker-Content-Digest"); h && !asked) {
    auto hd = Digest::parse(*h);
    if (hd && hd->algorithm() == HashAlgorithm::sha256 && *hd != m.digest)
      return make_error(Fault::remote, "hash_mismatch",
                        what + ": Docker-Content-Digest says " + hd->str() +
                            " but the bytes hash to " + m.digest.str());
  }
  return m;
}

Result<std::optional<Descriptor>> RegistryClient::head_manifest(const std::string& repo,
                                                                const std::string& reference) {
  net::HttpRequest req;
  req.method = "HEAD";
  req.url = base_url() + "/v2/" + repo + "/manifests/" + reference;
  req.headers.set("Accept", manifest_accept_header());
  auto r = send(req, pull_scope(repo));
  if (!r) return std::unexpected(r.error());
  if (r->status == 404) return std::optional<Descriptor>{};
  if (r->status != 200)
    return std::unexpected(status_error("manifest " + repo + ":" + reference, *r));
  auto h = r->headers.get("Docker-Content-Digest");
  if (!h)
    return make_error(Fault::remote, "registry_error",
                      "HEAD manifest gave no Docker-Content-Digest");
  auto d = Digest::parse(*h);
  if (!d)
    return make_error(Fault::remote, "digest_invalid", "registry sent Docker-Content-Digest " + *h);
  Descriptor desc;
  desc.digest = *d;
  desc.size = std::strtoull(r->headers.get("Content-Length").value_or("0").c_str(), nullptr, 10);
  desc.media_type = r->headers.get("Content-Type").value_or("");
  return std::optional(desc);
}

Result<Digest> RegistryClient::put_manifest(const std::string& repo, const std::string& reference,
                                            std::string_view bytes, std::string_view media_type) {
  net::HttpRequest req;
  req.method = "PUT";
  req.url = base_url() + "/v2/" + repo + "/manifests/" + reference;
  req.headers.set("Content-Type", std::string(media_type));
  req.body = std::string(bytes);
  count("manifest_put");
  auto r = send(req, push_scope(repo));
  if (!r) return std::unexpected(r.error());
  std::string what = "pushing manifest " + domain_ + "/" + repo + ":" + reference;
  if (r->status != 201 && r->status != 200) return std::unexpected(status_error(what, *r));
  Digest ours = Digest::of(bytes);
  if (auto h = r->headers.get("Docker-Content-Digest")) {
    auto d = Digest::parse(*h);
    if (d && *d != ours)
      return make_error(
          Fault::remote, "hash_mismatch",
          what + ": registry reports digest " + d->str() + ", expected " + ours.str());
  }
  return ours;
}

Status RegistryClient::delete_manifest(const std::string& repo, const Digest& digest) {
  net::HttpRequest req;
  req.method = "DELETE";
  req.url = base_url() + "/v2/" + repo + "/manifests/" + digest.str();
  auto r = send(req, "repository:" + repo + ":delete");
  if (!r) return std::unexpected(r.error());
  if (r->status != 202 && r->status != 200)
    return std::unexpected(status_error("deleting " + repo + "@" + digest.str(), *r));
  return {};
}

Result<bool> RegistryClient::blob_exists(const std::string& repo, const Digest& d) {
  net::HttpRequest req;
  req.method = "HEAD";
  req.url = base_url() + "/v2/" + repo + "/blobs/" + d.str();
  count("blob_head");
  auto r = send(req, pull_scope(repo));
  if (!r) return std::unexpected(r.error());
  if (r->status == 200) return true;
  if (r->status == 404) return false;
  return std::unexpected(status_error("blob " + d.str(), *r));
}

Status RegistryClient::get_blob(const std::string& repo, const Descriptor& d, const Sink& sink,
                                const std::function<Status()>& restart,
                                const TransferProgress& progress) {
  std::string url = base_url() + "/v2/" + repo + "/blobs/" + d.digest.str();
  std::string what = "blob " + d.digest.str() + " of " + domain_ + "/" + repo;
  std::uint64_t have = 0;
  Error last{Fault::remote, "network", ""};
  for (int attempt = 0; attempt < kMaxTransferAttempts; ++attempt) {
    if (have > 0) {
      // Resume only if the server honours Range: probe one byte first, since a 200 reply
      // would otherwise append the whole blob after the part we already have.
      net::HttpRequest probe;
      probe.url = url;
      probe.headers.set("Range", "bytes=" + std::to_string(have) + "-" + std::to_string(have));
      probe.max_body_bytes = 1 << 20;
      auto pr = send(probe, pull_scope(repo));
      if (!pr || pr->status != 206) {
        if (auto s = restart(); !s) return s;
        have = 0;
      }
    }
    net::HttpRequest req;
    req.url = url;
    if (have > 0) req.headers.set("Range", "bytes=" + std::to_string(have) + "-");
    req.sink = [&](std::string_view chunk) -> Status {
      have += chunk.size();
      if (progress) progress(have);
      return sink(chunk);
    };
    count(have > 0 ? "blob_get_resume" : "blob_get");
    auto r = send(req, pull_scope(repo));
    if (!r) {
      if (r.error().code != "network") return std::unexpected(r.error());
      last = r.error();
      log::warn("blob download interrupted; resuming", {{"blob", d.digest.str()}, {"have", have}});
      continue;
    }
    if (r->status == 200 || r->status == 206) return {};
    if (r->status == 404)
      return make_error(
          Fault::remote, "not_found",
          what + ": the registry does not have it (manifest references a missing blob)");
    return std::unexpected(status_error(what, *r));
  }
  return std::unexpected(with_context(
      last, what + ": gave up after " + std::to_string(kMaxTransferAttempts) + " attempts"));
}

Result<bool> RegistryClient::mount_blob(const std::string& repo, const Digest& d,
                                        const std::string& from_repo) {
  net::HttpRequest req;
  req.method = "POST";
  req.url = base_url() + "/v2/" + repo + "/blobs/uploads/?mount=" + percent_encode(d.str()) +
            "&from=" + percent_encode(from_repo);
  count("mount");
  auto r = send(req, push_scope(repo) + " repository:" + from_repo + ":pull");
  if (!r) return std::unexpected(r.error());
  if (r->status == 201) return true;
  if (r->status == 202) {
    // The registry opened an ordinary upload instead; cancel it (best effort).
    if (auto loc = r->headers.get("Location")) {
      net::HttpRequest del;
      del.method = "DELETE";
      del.url = absolute(*loc);
      (void)send(del, push_scope(repo));
    }
    return false;
  }
  return std::unexpected(status_error("mounting " + d.str() + " from " + from_repo, *r));
}

Status RegistryClient::upload_blob(const std::string& repo, const Descriptor& d,
                                   const std::function<Result<Source>(std::uint64_t)>& open,
                                   const TransferProgress& progress) {
  std::string what = "uploading blob " + d.digest.str() + " to " + domain_ + "/" + repo;
  Error last{Fault::remote, "network", ""};
  for (int attempt = 0; attempt < kMaxTransferAttempts; ++attempt) {
    net::HttpRequest start;
    start.method = "POST";
    start.url = base_url() + "/v2/" + repo + "/blobs/uploads/";
    count("upload_start");
    auto r = send(start, push_scope(repo));
    if (!r) return std::unexpected(r.error());
    if (r->status != 202) return std::unexpected(status_error(what, *r));
    auto loc = r->headers.get("Location");
    if (!loc)
      return make_error(Fault::remote, "registry_error",
                        what + ": no Location for the upload session");
    if (opts_.chunk_size > 0) return upload_chunked(repo, d, absolute(*loc), open, progress);

    auto src = open(0);
    if (!src) return std::unexpected(src.error());
    auto cur = std::make_shared<Source>(*src);
    auto sent = std::make_shared<std::uint64_t>(0);
    net::HttpRequest put;
    put.method = "PUT";
    put.url = with_query(absolute(*loc), "digest=" + percent_encode(d.digest.str()));
    put.headers.set("Content-Type", "application/octet-stream");
    put.body_length = d.size;
    put.reader = [cur, sent, progress](std::span<char> buf) -> Result<std::size_t> {
      auto n = (*cur)(buf.data(), buf.size());
      if (n && *n > 0) {
        *sent += *n;
        if (progress) progress(*sent);
      }
      return n;
    };
    put.rewind = [cur, sent, &open]() -> Status {
      auto s = open(0);
      if (!s) return std::unexpected(s.error());
      *cur = *s;
      *sent = 0;
      return {};
    };
    count("upload_put");
    auto pr = send(put, push_scope(repo));
    if (!pr) {
      if (pr.error().code != "network") return std::unexpected(pr.error());
      last = pr.error();
      continue;  // a fresh session: a monolithic PUT cannot be continued
    }
    if (pr->status == 201 || pr->status == 204) return {};
    if (pr->status == 400 &&
        describe_registry_error(*pr).find("DIGEST_INVALID") != std::string::npos)
      return make_error(Fault::local, "hash_mismatch",
                        what + ": the registry says the bytes do not match the digest");
    return std::unexpected(status_error(what, *pr));
  }
  return std::unexpected(with_context(
      last, what + ": gave up after " + std::to_string(kMaxTransferAttempts) + " attempts"));
}

Status RegistryClient::upload_chunked(const std::string& repo, const Descriptor& d,
                                      std::string location,
                                      const std::function<Result<Source>(std::uint64_t)>& open,
                                      const TransferProgress& progress) {
  std::string what = "uploading blob " + d.digest.str() + " to " + domain_ + "/" + repo;
  std::uint64_t offset = 0;
  auto src = open(0);
  if (!src) return std::unexpected(src.error());
  std::string buf;
  int failures = 0;
  while (offset < d.size) {
    std::size_t n =
        static_cast<std::size_t>(std::min<std::uint64_t>(opts_.chunk_size, d.size - offset));
    buf.resize(n);
    std::size_t got = 0;
    while (got < n) {
      auto r = (*src)(buf.data() + got, n - got);
      if (!r) return std::unexpected(r.error());
      if (*r == 0)
        return make_error(Fault::local, "io",
                          what + ": the local blob is shorter than its descriptor");
      got += *r;
    }
    net::HttpRequest patch;
    patch.method = "PATCH";
    patch.url = location;
    patch.headers.set("Content-Type", "application/octet-stream");
    patch.headers.set("Content-Range",
                      std::to_string(offset) + "-" + std::to_string(offset + n - 1));
    patch.body = buf;
    count("upload_patch");
    auto r = send(patch, push_scope(repo));
    if (r && r->status == 202) {
      offset += n;
      if (progress) progress(offset);
      if (auto l = r->headers.get("Location")) location = absolute(*l);
      continue;
    }
    if (r && r->status != 416) return std::unexpected(status_error(what, *r));
    if (!r && r.error().code != "network") return std::unexpected(r.error());
    // Dropped connection (or a range the server disagrees with): ask where the session is.
    if (++failures >= kMaxTransferAttempts)
      return make_error(
          Fault::remote, "network",
          what + ": gave up after " + std::to_string(failures) + " interrupted chunks");
    net::HttpRequest status;
    status.url = location;
    count("upload_status");
    auto st = send(status, push_scope(repo));
    if (!st) return std::unexpected(st.error());
    if (st->status != 204) return std::unexpected(status_error(what + " (upload status)", *st));
    if (auto l = st->headers.get("Location")) location = absolute(*l);
    std::uint64_t resume_at = 0;
    if (auto range = st->headers.get("Range")) {
      auto dash = range->find('-');
      if (dash != std::string::npos) {
        std::uint64_t end = std::strtoull(range->c_str() + dash + 1, nullptr, 10);
        // "0-0" means nothing yet: chunks are at least 1 KiB, so one stored byte cannot be.
        resume_at = end == 0 ? 0 : end + 1;
      }
    }
    if (resume_at > d.size)
      return make_error(Fault::remote, "registry_error",
                        what + ": server claims more bytes than the blob has");
    log::warn("blob upload interrupted; resuming",
              {{"blob", d.digest.str()}, {"offset", resume_at}});
    count("upload_resume");
    offset = resume_at;
    src = open(offset);
    if (!src) return std::unexpected(src.error());
  }
  net::HttpRequest put;
  put.method = "PUT";
  put.url = with_query(location, "digest=" + percent_encode(d.digest.str()));
  put.headers.set("Content-Type", "application/octet-stream");
  count("upload_put");
  auto r = send(put, push_scope(repo));
  if (!r) return std::unexpected(r.error());
  if (r->status != 201 && r->status != 204) return std::unexpected(status_error(what, *r));
  return {};
}

Result<std::vector<std::string>> RegistryClient::list_tags(const std::string& repo, int page_size) {
  std::vector<std::string> out;
  std::string url = base_url() + "/v2/" + repo + "/tags/list?n=" + std::to_string(page_size);
  for (int page = 0; page < kMaxListPages; ++page) {
    net::HttpRequest req;
    req.url = url;
    auto r = send(req, pull_scope(repo));
    if (!r) return std::unexpected(r.error());
    if (r->status != 200)
      return std::unexpected(status_error("tags of " + domain_ + "/" + repo, *r));
    auto j = parse_json(r->body, "tags list", Fault::remote);
    if (!j) return std::unexpected(j.error());
    if (j->is_object() && j->contains("tags") && (*j)["tags"].is_array())
      for (const auto& t : (*j)["tags"])
        if (t.is_string()) out.push_back(t);
    auto next = next_link(*r);
    if (!next) return out;
    url = absolute(*next);
  }
  return out;
}

Result<std::vector<std::string>> RegistryClient::catalog(std::size_t max_entries, int page_size) {
  std::vector<std::string> out;
  std::string url = base_url() + "/v2/_catalog?n=" + std::to_string(page_size);
  for (int page = 0; page < kMaxListPages && out.size() < max_entries; ++page) {
    net::HttpRequest req;
    req.url = url;
    auto r = send(req, "registry:catalog:*");
    if (!r) return std::unexpected(r.error());
    if (r->status != 200) return std::unexpected(status_error("catalog of " + domain_, *r));
    auto j = parse_json(r->body, "catalog", Fault::remote);
    if (!j) return std::unexpected(j.error());
    if (j->is_object() && j->contains("repositories") && (*j)["repositories"].is_array())
      for (const auto& t : (*j)["repositories"])
        if (t.is_string() && out.size() < max_entries) out.push_back(t);
    auto next = next_link(*r);
    if (!next) break;
    url = absolute(*next);
  }
  return out;
}

}  // namespace docket::client
