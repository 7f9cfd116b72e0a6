#include "registry/http.h"

#include <charconv>
#include <type_traits>

#include "common/encoding.h"
#include "common/log.h"

namespace docket::registry {

using net::Request;
using net::Response;
namespace http = net::http;

void send_error(const Request& req, Response& res, const Error& e, const Json& detail) {
  unsigned status = oci_status(e.code);
  if (status == 500) {
    log::error("registry storage failure",
               {{"request_id", req.request_id}, {"route", req.route}, {"error", e.describe()}});
    res.set_json(500,
                 oci_error_body(Error{e.fault, "UNKNOWN",
                                      "internal storage error (request " + req.request_id + ")"}));
  } else {
    res.set_json(status, oci_error_body(e, detail));
  }
  res.headers.set("Docker-Distribution-API-Version", "registry/2.0");
}

namespace {

struct Ctx {
  Store& store;
  HttpOptions opts;
};

const std::string* repo_name(Request& req, Response& res) {
  auto it = req.params.find("name");
  if (it == req.params.end() || !valid_repo_name(it->second)) {
    send_error(
        req, res,
        oci_error("NAME_INVALID", "invalid repository name '" +
                                      (it == req.params.end() ? std::string() : it->second) + "'"),
        Json{{"name", it == req.params.end() ? std::string() : it->second}});
    return nullptr;
  }
  return &it->second;
}

std::optional<Digest> digest_param(Request& req, Response& res, const std::string& value) {
  auto d = Digest::parse(value);
  if (!d) {
    send_error(req, res,
               oci_error("DIGEST_INVALID", "invalid digest '" + value + "': " + d.error().message));
    return std::nullopt;
  }
  return *d;
}

std::string upload_location(const std::string& repo, const std::string& uuid) {
  return "/v2/" + repo + "/blobs/uploads/" + uuid;
}

void upload_headers(Response& res, const UploadSession& s) {
  res.headers.set(http::field::location, upload_location(s.repo(), s.uuid()));
  res.headers.set("Range", "0-" + std::to_string(s.size() ? s.size() - 1 : 0));
  res.headers.set("Docker-Upload-UUID", s.uuid());
}

void blob_created(Response& res, const std::string& repo, const Digest& d) {
  res.status = 201;
  res.body.clear();
  res.headers.set(http::field::location, "/v2/" + repo + "/blobs/" + d.str());
  res.headers.set("Docker-Content-Digest", d.str());
}

// "<start>-<end>" (inclusive); also tolerates a "bytes " / "bytes=" prefix.
std::optional<std::pair<std::uint64_t, std::uint64_t>> parse_content_range(std::string_view v) {
  if (v.starts_with("bytes ") || v.starts_with("bytes=")) v.remove_prefix(6);
  auto slash = v.find('/');
  if (slash != std::string_view::npos) v = v.substr(0, slash);
  auto dash = v.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  std::uint64_t a = 0, b = 0;
  auto s1 = v.substr(0, dash), s2 = v.substr(dash + 1);
  if (s1.empty() || s2.empty()) return std::nullopt;
  auto r1 = std::from_chars(s1.data(), s1.data() + s1.size(), a);
  auto r2 = std::from_chars(s2.data(), s2.data() + s2.size(), b);
  if (r1.ec != std::errc() || r1.ptr != s1.data() + s1.size() || r2.ec != std::errc() ||
      r2.ptr != s2.data() + s2.size() || b < a)
    return std::nullopt;
  return std::make_pair(a, b);
}

std::optional<std::uint64_t> parse_u64(std::string_view s) {
  std::uint64_t v = 0;
  if (s.empty()) return std::nullopt;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

// Wraps the handler of a /v2/{name...}/ route: a name outside the grammar is answered with
// NAME_INVALID before the handler runs; otherwise the handler gets the validated name. Works
// for plain handlers (void) and streaming ones (which then return no body sink).
template <class F>
auto with_repo(F f) {
  return [f = std::move(f)](Request& req, Response& res) {
    using R = std::invoke_result_t<F&, Request&, Response&, const std::string&>;
    const std::string* name = repo_name(req, res);
    if (!name) return R();
    return f(req, res, *name);
  };
}

// DELETE routes answer UNSUPPORTED unless deletion is enabled in the configuration.
bool deletion_allowed(const HttpOptions& opts, Request& req, Response& res) {
  if (opts.delete_enabled) return true;
  send_error(req, res, oci_error("UNSUPPORTED", "deletion is disabled on this registry"));
  return false;
}

// The `n` query parameter of a paginated list, capped at `max_n`; `n` keeps its default when
// the parameter is absent. Answers PAGINATION_NUMBER_INVALID and returns false when it is not
// a non-negative integer.
bool page_size_param(Request& req, Response& res, std::size_t max_n, std::size_t& n,
                     bool* given = nullptr) {
  auto q = req.query_param("n");
  if (!q) return true;
  auto v = parse_u64(*q);
  if (!v) {
    send_error(req, res,
               oci_error("PAGINATION_NUMBER_INVALID",
                         "n must be a non-negative integer, not '" + *q + "'"));
    return false;
  }
  n = static_cast<std::size_t>(std::min<std::uint64_t>(*v, max_n));
  if (given) *given = true;
  return true;
}

// Appends the request body to an upload session. Used by PATCH, PUT (final chunk) and
// the monolithic POST. `on_complete` answers once the whole body is in.
class UploadSink : public net::RequestBodySink {
 public:
  UploadSink(std::shared_ptr<UploadSession> s, std::optional<std::uint64_t> expect_len,
             std::function<void(Request&, Response&, UploadSession&)> on_complete)
      : s_(std::move(s)), start_(s_->size()), expect_(expect_len), done_(std::move(on_complete)) {}
  ~UploadSink() override { s_->end(); }
  std::span<char> read_buffer(std::size_t max) override {
    return err_ ? std::span<char>{} : s_->append_buffer(max);
  }
  bool write(std::string_view p) override {
    auto st = s_->append(p);
    if (!st) {
      err_ = st.error();
      return false;
    }
    return true;
  }
  void finish(End end, Request& req, Response& res) override {
    // Every byte the session counts reaches the upload file before we answer (or before a
    // later request could find the session rebuilt from storage).
    if (auto st = s_->flush(); !st && !err_) err_ = st.error();
    std::uint64_t got = s_->size() - start_;
    if (err_) {
      // The storage failed: drop the piece, which may be partial.
      s_->invalidate(start_);
      return send_error(req, res, *err_);
    }
    if (end != End::complete) {
      // Keep what arrived (a streamed PATCH that broke can resume from Range).
      return send_error(req, res, oci_error("BLOB_UPLOAD_INVALID", "request body incomplete"));
    }
    if (expect_ && got != *expect_) {
      s_->invalidate(start_);
      send_error(
          req, res,
          oci_error("SIZE_INVALID", "chunk has " + std::to_string(got) +
                                        " bytes, Content-Range said " + std::to_string(*expect_)));
      res.status = 416;
      return;
    }
    done_(req, res, *s_);
  }

 private:
  std::shared_ptr<UploadSession> s_;
  std::uint64_t start_;
  std::optional<std::uint64_t> expect_;
  std::function<void(Request&, Response&, UploadSession&)> done_;
  std::optional<Error> err_;
};

// Discards a body the handler has no use for.
class DiscardSink : public net::RequestBodySink {
 public:
  explicit DiscardSink(std::function<void(Request&, Response&)> f) : f_(std::move(f)) {}
  bool write(std::string_view) override { return true; }
  void finish(End, Request& req, Response& res) override { f_(req, res); }

 private:
  std::function<void(Request&, Response&)> f_;
};

class BufferSink : public net::RequestBodySink {
 public:
  BufferSink(std::uint64_t limit, std::function<void(Request&, Response&, std::string)> f)
      : limit_(limit), f_(std::move(f)) {}
  bool write(std::string_view p) override {
    if (buf_.size() + p.size() > limit_) return false;
    buf_.append(p);
    return true;
  }
  void finish(End end, Request& req, Response& res) override {
    if (end == End::complete) return f_(req, res, std::move(buf_));
    if (end == End::too_large || end == End::stopped_by_sink) {
      send_error(req, res,
                 oci_error("MANIFEST_TOO_LARGE",
                           "manifest is larger than " + std::to_string(limit_) + " bytes"));
      res.close = true;
    }
  }

 private:
  std::uint64_t limit_;
  std::function<void(Request&, Response&, std::string)> f_;
  std::string buf_;
};

// Starts the session for PATCH/PUT: validates name, upload, exclusivity, Content-Range.
std::shared_ptr<UploadSession> claim_upload(Ctx& c, Request& req, Response& res,
                                            std::optional<std::uint64_t>& chunk_len) {
  const std::string* name = repo_name(req, res);
  if (!name) return nullptr;
  auto s = c.store.find_upload(*name, req.params["uuid"]);
  if (!s) {
    send_error(req, res, s.error());
    return nullptr;
  }
  if (!(*s)->begin()) {
    send_error(
        req, res,
        oci_error("BLOB_UPLOAD_INVALID", "another request is writing to upload " + (*s)->uuid()));
    return nullptr;
  }
  std::string cr = req.header("Content-Range");
  if (!cr.empty()) {
    auto r = parse_content_range(cr);
    if (!r) {
      (*s)->end();
      send_error(req, res,
                 oci_error("BLOB_UPLOAD_INVALID",
                           "malformed Content-Range '" + cr + "' (want <start>-<end>)"));
      return nullptr;
    }
    if (r->first != (*s)->size()) {
      upload_headers(res, **s);
      (*s)->end();
      send_error(req, res,
                 oci_error("RANGE_INVALID", "chunk starts at " + std::to_string(r->first) +
                                                " but the upload has " +
                                                std::to_string((*s)->size()) + " bytes"));
      upload_headers(res, **s);
      return nullptr;
    }
    chunk_len = r->second - r->first + 1;
    std::string cl = req.header("Content-Length");
    if (!cl.empty() && parse_u64(cl) != chunk_len) {
      (*s)->end();
      send_error(req, res,
                 oci_error("RANGE_INVALID", "Content-Range covers " + std::to_string(*chunk_len) +
                                                " bytes but Content-Length is " + cl));
      upload_headers(res, **s);
      return nullptr;
    }
  }
  return *s;
}

void commit_upload(Request& req, Response& res, UploadSession& s,
                   const std::optional<std::string>& digest_q) {
  if (!digest_q)
    return send_error(
        req, res,
        oci_error("DIGEST_INVALID", "the digest query parameter is required to finish an upload"));
  auto d = Digest::parse(*digest_q);
  if (!d)
    return send_error(
        req, res,
        oci_error("DIGEST_INVALID", "invalid digest '" + *digest_q + "': " + d.error().message));
  auto st = s.commit(*d);
  if (!st) return send_error(req, res, st.error());
  blob_created(res, s.repo(), *d);
}

// Whether the request's Accept headers (all of them: Go clients send one line per type)
// admit `type`. No Accept at all admits everything (curl, plain HTTP tools); a range with
// q=0 refuses. Matching is on the media type without parameters, case-insensitively.
bool accepts(const Request& req, std::string_view type) {
  bool any = false;
  auto lower = [](std::string_view v) {
    std::string o(v);
    for (auto& ch : o) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return o;
  };
  auto trim = [](std::string_view v) {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    return v;
  };
  std::string want = lower(type);
  std::string want_major = want.substr(0, want.find('/')) + "/*";
  auto range = req.headers.equal_range(http::field::accept);
  for (auto it = range.first; it != range.second; ++it) {
    std::string_view all(it->value().data(), it->value().size());
    while (!all.empty()) {
      auto comma = all.find(',');
      std::string_view item = all.substr(0, comma);
      all = comma == std::string_view::npos ? std::string_view() : all.substr(comma + 1);
      auto semi = item.find(';');
      std::string mt = lower(trim(item.substr(0, semi)));
      if (mt.empty()) continue;
      any = true;
      bool q_zero = false;
      for (auto params = semi == std::string_view::npos ? std::string_view() : item.substr(semi);
           !params.empty();) {
        params.remove_prefix(1);  // ';'
        auto next = params.find(';');
        std::string p = lower(trim(params.substr(0, next)));
        if (p.starts_with("q=")) {
          std::string_view q = std::string_view(p).substr(2);
          q_zero = q.find_first_not_of("0.") == std::string_view::npos;
        }
        params = next == std::string_view::npos ? std::string_view() : params.substr(next);
      }
      if (q_zero) continue;
      if (mt == "*/*" || mt == want || mt == want_major) return true;
    }
  }
  return !any;
}

template <class Vec>
void paginate(Request& req, Response& res, const Vec& all, std::size_t default_n, std::size_t max_n,
              const std::string& base, Json& out, const char* key) {
  std::size_t n = default_n;
  bool n_given = false;
  if (!page_size_param(req, res, max_n, n, &n_given)) return;
  std::string last = req.query_param("last").value_or("");
  auto it = last.empty() ? all.begin() : std::upper_bound(all.begin(), all.end(), last);
  Json arr = Json::array();
  for (; it != all.end() && arr.size() < n; ++it) arr.push_back(*it);
  out[key] = arr;
  if (it != all.end() && n > 0 && (n_given || n < all.size()) && !arr.empty()) {
    std::string lastv = arr.back().get<std::string>();
    res.headers.set(http::field::link, "<" + base + "?n=" + std::to_string(n) +
                                           "&last=" + percent_encode(lastv) + ">; rel=\"next\"");
  }
  res.set_json(200, out);
}

}  // namespace

void install_routes(net::Router& router, Store& store, HttpOptions opts) {
  auto c = std::make_shared<Ctx>(Ctx{store, std::move(opts)});
  using V = http::verb;
  auto tags = [](std::initializer_list<const char*> t) {
    net::RouteOptions o;
    o.tags.insert("registry");
    for (auto* x : t) o.tags.insert(x);
    // Deletes and pushes write durably (fsync): off the I/O threads (see RouteOptions).
    o.blocking = o.tags.count("delete") || o.tags.count("push");
    return o;
  };

  router.use(net::Middleware{
      "registry-headers",
      [c](Request& req, Response& res) {
        if (!req.has_tag("registry")) return true;
        res.headers.set("Docker-Distribution-API-Version", "registry/2.0");
        if (c->opts.read_only && (req.has_tag("push") || req.has_tag("delete"))) {
          send_error(req, res, oci_error("UNSUPPORTED", "the registry is in read-only mode"));
          return false;
        }
        return true;
      },
      nullptr});
  router.set_not_found([](Request& req, Response& res) {
    if (req.path.starts_with("/v2/")) {
      res.set_json(404, oci_error_body(oci_error("NAME_UNKNOWN", "no such endpoint " + req.path)));
      res.headers.set("Docker-Distribution-API-Version", "registry/2.0");
    } else {
      res.set(404, "text/plain", "404 page not found\n");
    }
  });

  router.set_method_not_allowed([](Request& req, Response& res) {
    if (req.path.starts_with("/v2/")) {
      res.set_json(
          405, oci_error_body(oci_error("UNSUPPORTED", std::string(http::to_string(req.method)) +
                                                           " is not supported on " + req.path)));
      res.headers.set("Docker-Distribution-API-Version", "registry/2.0");
    } else {
      res.set(405, "text/plain", "method not allowed\n");
    }
  });

  router.add(
      V::get, "/v2/", "registry.base",
      [](Request&, Response& res) { res.set(200, "application/json", "{}"); }, tags({"base"}));

  router.add(
      V::get, "/v2/_catalog", "registry.catalog",
      [c](Request& req, Response& res) {
        auto repos = c->store.repositories();
        if (!repos) return send_error(req, res, repos.error());
        Json out = Json::object();
        paginate(req, res, *repos, c->opts.catalog_max_entries, c->opts.catalog_max_entries,
                 "/v2/_catalog", out, "repositories");
      },
      tags({"catalog"}));

  router.add(V::get, "/v2/{name...}/tags/list", "registry.tags.list",
             with_repo([c](Request& req, Response& res, const std::string& name) {
               auto t = c->store.tags(name);
               if (!t) return send_error(req, res, t.error(), Json{{"name", name}});
               Json out = {{"name", name}};
               paginate(req, res, *t, t->size(), std::numeric_limits<std::size_t>::max(),
                        "/v2/" + name + "/tags/list", out, "tags");
             }),
             tags({"pull"}));

  // ---- manifests ----
  router.add(V::get, "/v2/{name...}/manifests/{reference}", "registry.manifest.get",
             with_repo([c](Request& req, Response& res, const std::string& name) {
               auto m = c->store.get_manifest(name, req.params["reference"]);
               if (!m) return send_error(req, res, m.error());
               // As distribution does: never answer with a type the client said it cannot read
               // (there is no conversion to offer), so it sees MANIFEST_UNKNOWN, not wrong bytes.
               if (!accepts(req, m->media_type))
                 return send_error(
                     req, res,
                     oci_error("MANIFEST_UNKNOWN",
                               "manifest " + m->digest.str() + " is " + m->media_type +
                                   ", which the request's Accept header does not list",
                               Json{{"mediaType", m->media_type}}));
               res.status = 200;
               res.headers.set(http::field::content_type, m->media_type);
               res.headers.set("Docker-Content-Digest", m->digest.str());
               res.headers.set(http::field::etag, "\"" + m->digest.str() + "\"");
               res.body = *m->bytes;
             }),
             tags({"pull", "manifest-pull"}));

  router.add_stream(
      V::put, "/v2/{name...}/manifests/{reference}", "registry.manifest.put",
      with_repo([c](Request& req, Response& res,
                    const std::string& name) -> std::unique_ptr<net::RequestBodySink> {
        std::string repo = name;
        return std::make_unique<BufferSink>(
            c->opts.max_manifest_bytes, [c, repo](Request& req, Response& res, std::string body) {
              auto r =
                  c->store.put_manifest(repo, req.params["reference"], req.header("Content-Type"),
                                        std::move(body), req.query_params("tag"));
              if (!r) {
                Json detail;
                return send_error(req, res, r.error(), detail);
              }
              res.status = 201;
              res.headers.set(http::field::location,
                              "/v2/" + repo + "/manifests/" + r->digest.str());
              res.headers.set("Docker-Content-Digest", r->digest.str());
              if (r->subject) res.headers.set("OCI-Subject", r->subject->str());
              if (!req.query_params("tag").empty())
                for (const auto& t : r->tags) res.headers.insert("OCI-Tag", t);
            });
      }),
      [&] {
        auto o = tags({"push"});
        o.max_body = c->opts.max_manifest_bytes;
        o.blocking = true;  // durable writes
        return o;
      }());

  router.add(V::delete_, "/v2/{name...}/manifests/{reference}", "registry.manifest.delete",
             with_repo([c](Request& req, Response& res, const std::string& name) {
               if (!deletion_allowed(c->opts, req, res)) return;
               auto st = c->store.delete_manifest(name, req.params["reference"]);
               if (!st) return send_error(req, res, st.error());
               res.status = 202;
             }),
             tags({"delete"}));

  // ---- blobs ----
  router.add(
      V::get, "/v2/{name...}/blobs/{digest}", "registry.blob.get",
      with_repo([c](Request& req, Response& res, const std::string& name) {
        auto d = digest_param(req, res, req.params["digest"]);
        if (!d) return;
        auto f = c->store.open_blob(name, *d);
        if (!f) return send_error(req, res, f.error());
        std::uint64_t size = f->length;
        res.headers.set(http::field::content_type, "application/octet-stream");
        res.headers.set("Docker-Content-Digest", d->str());
        res.headers.set(http::field::etag, "\"" + d->str() + "\"");
        res.headers.set(http::field::accept_ranges, "bytes");
        res.headers.set(http::field::cache_control, "max-age=31536000");
        std::string range = req.header("Range");
        if (!range.empty() && range.starts_with("bytes=") && range.find(',') == std::string::npos) {
          std::string_view spec = std::string_view(range).substr(6);
          auto dash = spec.find('-');
          std::optional<std::uint64_t> a, b;
          bool ok = dash != std::string_view::npos;
          if (ok) {
            if (dash > 0) ok = (a = parse_u64(spec.substr(0, dash))).has_value();
            if (ok && dash + 1 < spec.size())
              ok = (b = parse_u64(spec.substr(dash + 1))).has_value();
            ok = ok && (a || b);
          }
          if (ok) {
            std::uint64_t first, last;
            if (!a) {  // suffix range: the last *b bytes
              first = *b >= size ? 0 : size - *b;
              last = size ? size - 1 : 0;
              if (*b == 0) ok = false;
            } else {
              first = *a;
              last = b ? std::min(*b, size ? size - 1 : 0) : (size ? size - 1 : 0);
              if (b && *b < *a) ok = false;
            }
            if (!ok || first >= size) {
              send_error(req, res,
                         oci_error("RANGE_INVALID", "range " + range + " is not satisfiable for " +
                                                        std::to_string(size) + " bytes"));
              res.headers.set(http::field::content_range, "bytes */" + std::to_string(size));
              return;
            }
            res.status = 206;
            res.headers.set(http::field::content_range, "bytes " + std::to_string(first) + "-" +
                                                            std::to_string(last) + "/" +
                                                            std::to_string(size));
            f->offset = first;
            f->length = last - first + 1;
            res.file = *f;
            return;
          }
        }
        res.status = 200;
        res.file = *f;
      }),
      tags({"pull"}));

  router.add(V::delete_, "/v2/{name...}/blobs/{digest}", "registry.blob.delete",
             with_repo([c](Request& req, Response& res, const std::string& name) {
               if (!deletion_allowed(c->opts, req, res)) return;
               auto d = digest_param(req, res, req.params["digest"]);
               if (!d) return;
               auto st = c->store.delete_blob(name, *d);
               if (!st) return send_error(req, res, st.error());
               res.status = 202;
               res.headers.set("Docker-Content-Digest", d->str());
             }),
             tags({"delete"}));

  // ---- uploads ----
  auto upload_opts = [&] {
    auto o = tags({"push"});
    o.max_body = 0;  // blobs have no size limit beyond the disk
    return o;
  };
  router.add_stream(
      V::post, "/v2/{name...}/blobs/uploads/", "registry.upload.start",
      with_repo([c](Request& req, Response& res,
                    const std::string& name) -> std::unique_ptr<net::RequestBodySink> {
        std::string repo = name;
        HashAlgorithm alg = HashAlgorithm::sha256;
        if (auto a = req.query_param("digest-algorithm")) {
          auto p = parse_hash_algorithm(*a);
          if (!p) {
            send_error(req, res,
                       oci_error("DIGEST_INVALID", "unsupported digest-algorithm '" + *a +
                                                       "' (supported: sha256, sha512)"));
            return nullptr;
          }
          alg = *p;
        }
        if (auto mount = req.query_param("mount")) {
          auto d = digest_param(req, res, *mount);
          if (!d) return nullptr;
          alg = d->algorithm();
          auto from = req.query_param("from");
          if (from && valid_repo_name(*from) &&
              (!c->opts.may_pull || c->opts.may_pull(req, *from))) {
            auto ok = c->store.mount_blob(repo, *from, *d);
            if (!ok) {
              send_error(req, res, ok.error());
              return nullptr;
            }
            if (*ok) {
              blob_created(res, repo, *d);
              return nullptr;
            }
          }
          // Not mountable: fall through to a normal upload session (202).
        } else if (auto digest = req.query_param("digest")) {
          auto d = digest_param(req, res, *digest);
          if (!d) return nullptr;
          auto s = c->store.start_upload(repo, d->algorithm());
          if (!s || !(*s)->begin()) {
            send_error(req, res, s ? oci_error("BLOB_UPLOAD_INVALID", "upload busy") : s.error());
            return nullptr;
          }
          Digest want = *d;
          return std::make_unique<UploadSink>(
              *s, std::nullopt, [want](Request& req, Response& res, UploadSession& s) {
                auto st = s.commit(want);
                if (!st) {
                  send_error(req, res, st.error());
                  return;
                }
                blob_created(res, s.repo(), want);
              });
        }
        auto s = c->store.start_upload(repo, alg);
        if (!s) {
          send_error(req, res, s.error());
          return nullptr;
        }
        auto session = *s;
        return std::make_unique<DiscardSink>([session](Request&, Response& res) {
          res.status = 202;
          upload_headers(res, *session);
        });
      }),
      upload_opts());

  router.add_stream(
      V::patch, "/v2/{name...}/blobs/uploads/{uuid}", "registry.upload.patch",
      [c](Request& req, Response& res) -> std::unique_ptr<net::RequestBodySink> {
        std::optional<std::uint64_t> len;
        auto s = claim_upload(*c, req, res, len);
        if (!s) return nullptr;
        return std::make_unique<UploadSink>(s, len, [](Request&, Response& res, UploadSession& s) {
          res.status = 202;
          upload_headers(res, s);
        });
      },
      upload_opts());

  router.add_stream(
      V::put, "/v2/{name...}/blobs/uploads/{uuid}", "registry.upload.put",
      [c](Request& req, Response& res) -> std::unique_ptr<net::RequestBodySink> {
        std::optional<std::uint64_t> len;
        auto s = claim_upload(*c, req, res, len);
        if (!s) return nullptr;
        auto digest_q = req.query_param("digest");
        if (!digest_q || !Digest::parse(*digest_q)) {
          s->end();
          send_error(
              req, res,
              oci_error("DIGEST_INVALID",
                        digest_q ? "invalid digest '" + *digest_q + "'"
                                 : "the digest query parameter is required to finish an upload"));
          return nullptr;
        }
        return std::make_unique<UploadSink>(
            s, len, [digest_q](Request& req, Response& res, UploadSession& s) {
              commit_upload(req, res, s, digest_q);
            });
      },
      upload_opts());

  router.add(V::get, "/v2/{name...}/blobs/uploads/{uuid}", "registry.upload.status",
             with_repo([c](Request& req, Response& res, const std::string& name) {
               auto s = c->store.find_upload(name, req.params["uuid"]);
               if (!s) return send_error(req, res, s.error());
               res.status = 204;
               upload_headers(res, **s);
             }),
             tags({"push"}));

  router.add(V::delete_, "/v2/{name...}/blobs/uploads/{uuid}", "registry.upload.cancel",
             with_repo([c](Request& req, Response& res, const std::string& name) {
               auto st = c->store.cancel_upload(name, req.params["uuid"]);
               if (!st) return send_error(req, res, st.error());
               res.status = 204;
             }),
             tags({"push"}));

  // ---- referrers ----
  router.add(V::get, "/v2/{name...}/referrers/{digest}", "registry.referrers",
             with_repo([c](Request& req, Response& res, const std::string& name) {
               auto d = digest_param(req, res, req.params["digest"]);
               if (!d) return;
               auto at = req.query_param("artifactType");
               std::optional<Digest> after;
               if (auto l = req.query_param("last")) {
                 after = digest_param(req, res, *l);
                 if (!after) return;
               }
               std::size_t n = c->opts.referrers_max_entries;
               if (!page_size_param(req, res, c->opts.referrers_max_entries, n)) return;
               auto page = c->store.referrers(name, *d, at, after, n);
               if (!page) return send_error(req, res, page.error());
               res.set(200, std::string(media::oci_index), page->index.dump());
               if (at) res.headers.set("OCI-Filters-Applied", "artifactType");
               if (page->next) {
                 std::string link = "/v2/" + name + "/referrers/" + d->str() +
                                    "?n=" + std::to_string(n) + "&last=" + page->next->str();
                 if (at) link += "&artifactType=" + percent_encode(*at);
                 res.headers.set(http::field::link, "<" + link + ">; rel=\"next\"");
               }
             }),
             tags({"pull"}));
}

}  // namespace docket::registry
