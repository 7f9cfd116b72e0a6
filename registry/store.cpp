#include "registry/store.h"

#include <unistd.h>
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <set>
#include <thread>

#include "common/encoding.h"
#include "common/file.h"
#include "common/log.h"
#include "common/names.h"
#include "common/time.h"
#include "common/worker_pool.h"

namespace docket::registry {

namespace {

// Threads for the background hashing of large upload pieces (UploadSession::append), kept
// for the process's life: a new thread per piece (std::async) cost a clone3, a stack mmap and
// its teardown for every ~1 MiB received, 261 of each for one 256 MiB upload. Each session
// has at most one piece in flight (append() drains the previous one first), so pieces of
// one upload are hashed in order.
WorkerPool& hash_workers() {
  static WorkerPool w(std::max(2u, std::thread::hardware_concurrency()));
  return w;
}

bool not_found(const Error& e) {
  return e.code == "not_found";
}

std::string digest_dir(const Digest& d) {
  return std::string(hash_algorithm_name(d.algorithm())) + "/" + d.hex();
}

Result<Digest> parse_digest_field(const Json& desc, std::string_view what) {
  if (!desc.is_object())
    return std::unexpected(
        oci_error("MANIFEST_INVALID", std::string(what) + " is not a descriptor object"));
  auto it = desc.find("digest");
  if (it == desc.end() || !it->is_string())
    return std::unexpected(oci_error("MANIFEST_INVALID", std::string(what) + " has no digest"));
  auto d = Digest::parse(it->get<std::string>());
  if (!d)
    return std::unexpected(
        oci_error("MANIFEST_INVALID", std::string(what) + ": " + d.error().message));
  auto sz = desc.find("size");
  if (sz == desc.end() || !sz->is_number_integer() || sz->get<std::int64_t>() < 0)
    return std::unexpected(oci_error("MANIFEST_INVALID", std::string(what) + " has no valid size"));
  auto mt = desc.find("mediaType");
  if (mt != desc.end() && !mt->is_string())
    return std::unexpected(
        oci_error("MANIFEST_INVALID", std::string(what) + " has a non-string mediaType"));
  return *d;
}

std::string strip_params(std::string_view ct) {
  auto semi = ct.find(';');
  std::string_view v = ct.substr(0, semi);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  return std::string(v);
}

// A manifest reference from the URL: a digest when it has a ':', else a tag.
struct ManifestReference {
  std::optional<Digest> digest;
  std::string tag;  // when !digest
};

// What a reference that is neither a digest nor a valid tag gets.
enum class BadTag {
  refuse,   // PUT: TAG_INVALID (400), the client asked to create something unnameable
  unknown,  // GET/HEAD/DELETE: MANIFEST_UNKNOWN (404), nothing can exist under that name
};

Result<ManifestReference> parse_manifest_reference(std::string_view reference, BadTag bad_tag) {
  if (reference.find(':') != std::string_view::npos) {
    auto p = Digest::parse(reference);
    if (!p)
      return std::unexpected(oci_error(
          "DIGEST_INVALID", "invalid digest " + std::string(reference) + ": " + p.error().message));
    return ManifestReference{*p, {}};
  }
  if (!valid_tag(reference)) {
    // The spec answers a read of a manifest that is not there with 404, and one whose name
    // breaks the tag grammar cannot be there (the OCI conformance suite probes exactly this
    // with ".INVALID_MANIFEST_NAME"). Either way the name never reaches the storage driver.
    if (bad_tag == BadTag::unknown)
      return std::unexpected(
          oci_error("MANIFEST_UNKNOWN", "no manifest can be named '" + std::string(reference) +
                                            "': it is neither a digest nor a valid tag"));
    return std::unexpected(
        oci_error("TAG_INVALID", "invalid tag '" + std::string(reference) + "'"));
  }
  return ManifestReference{std::nullopt, std::string(reference)};
}

// Whether blob `d` is linked into `repo`: BLOB_UNKNOWN when it is not.
Status layer_linked(StorageDriver& driver, const std::string& repo, const Digest& d) {
  auto link = driver.stat(Store::layer_link(repo, d));
  if (!link) {
    if (not_found(link.error()))
      return std::unexpected(
          oci_error("BLOB_UNKNOWN", "blob " + d.str() + " is unknown to repository " + repo));
    return std::unexpected(link.error());
  }
  return {};
}

// The revision link of manifest `d` in `repo` (its JSON metadata); MANIFEST_UNKNOWN when the
// repository has no such revision.
Result<std::string> read_revision_link(StorageDriver& driver, const std::string& repo,
                                       const Digest& d) {
  auto rev = driver.get(Store::revision_link(repo, d), 64 * 1024);
  if (!rev) {
    if (not_found(rev.error()))
      return std::unexpected(oci_error(
          "MANIFEST_UNKNOWN", "manifest " + d.str() + " is unknown to repository " + repo));
    return std::unexpected(rev.error());
  }
  return rev;
}

// Where manifest `d`'s descriptor is filed among the referrers of `subject`.
std::string referrer_entry(const std::string& repo, const Digest& subject, const Digest& d) {
  return Store::repo_path(repo) + "/_referrers/" + digest_dir(subject) + "/" +
         std::string(hash_algorithm_name(d.algorithm())) + "-" + d.hex();
}

}  // namespace

bool valid_repo_name(std::string_view name) {
  return valid_repository_name(name);
}

bool valid_tag(std::string_view t) {
  if (t.empty() || t.size() > kMaxTagLength) return false;
  auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  if (!word(t.front())) return false;
  for (char c : t.substr(1))
    if (!(word(c) || c == '.' || c == '-')) return false;
  return true;
}

Error oci_error(std::string code, std::string message, Json detail) {
  (void)detail;
  Fault f = Fault::user;
  return Error{f, std::move(code), std::move(message)};
}

unsigned oci_status(std::string_view code) {
  static const std::map<std::string_view, unsigned> table = {
      {"BLOB_UNKNOWN", 404},
      {"BLOB_UPLOAD_INVALID", 400},
      {"BLOB_UPLOAD_UNKNOWN", 404},
      {"DIGEST_INVALID", 400},
      {"MANIFEST_BLOB_UNKNOWN", 400},
      {"MANIFEST_INVALID", 400},
      {"MANIFEST_UNKNOWN", 404},
      {"NAME_INVALID", 400},
      {"NAME_UNKNOWN", 404},
      {"SIZE_INVALID", 400},
      {"UNAUTHORIZED", 401},
      {"DENIED", 403},
      {"UNSUPPORTED", 405},
      {"TOOMANYREQUESTS", 429},
      {"TAG_INVALID", 400},
      {"MANIFEST_UNVERIFIED", 400},
      {"PAGINATION_NUMBER_INVALID", 400},
      {"RANGE_INVALID", 416},
      {"UNAVAILABLE", 503},
      {"MANIFEST_TOO_LARGE", 413},
  };
  auto it = table.find(code);
  return it == table.end() ? 500 : it->second;
}

Json oci_error_body(const Error& e, const Json& detail) {
  std::string code = oci_status(e.code) == 500 ? "UNKNOWN" : e.code;
  if (code == "MANIFEST_TOO_LARGE") code = "MANIFEST_INVALID";
  Json err = {{"code", code}, {"message", e.message}};
  err["detail"] = detail.is_null() ? Json::object() : detail;
  return Json{{"errors", Json::array({err})}};
}

// ---- paths ----

std::string Store::blob_path(const Digest& d) {
  return "/blobs/" + std::string(hash_algorithm_name(d.algorithm())) + "/" + d.hex().substr(0, 2) +
         "/" + d.hex() + "/data";
}
std::string Store::layer_link(const std::string& repo, const Digest& d) {
  return repo_path(repo) + "/_layers/" + digest_dir(d) + "/link";
}
std::string Store::revision_link(const std::string& repo, const Digest& d) {
  return repo_path(repo) + "/_manifests/revisions/" + digest_dir(d) + "/link";
}
std::string Store::tag_link(const std::string& repo, const std::string& tag) {
  return repo_path(repo) + "/_manifests/tags/" + tag + "/link";
}
std::string Store::upload_dir(const std::string& repo, const std::string& uuid) {
  return repo_path(repo) + "/_uploads/" + uuid;
}

Store::Store(std::unique_ptr<StorageDriver> driver, StoreOptions opts)
    : driver_(std::move(driver)), opts_(opts) {}

// ---- blobs ----

Result<std::uint64_t> Store::blob_size(const std::string& repo, const Digest& d) {
  if (auto st = layer_linked(*driver_, repo, d); !st) return std::unexpected(st.error());
  auto info = driver_->stat(blob_path(d));
  if (!info) {
    if (not_found(info.error()))
      return std::unexpected(
          oci_error("BLOB_UNKNOWN", "blob " + d.str() + " is unknown to the registry"));
    return std::unexpected(info.error());
  }
  return info->size;
}

Result<net::FileBody> Store::open_blob(const std::string& repo, const Digest& d) {
  if (auto st = layer_linked(*driver_, repo, d); !st) return std::unexpected(st.error());
  auto f = driver_->open(blob_path(d));
  if (!f && not_found(f.error()))
    return std::unexpected(
        oci_error("BLOB_UNKNOWN", "blob " + d.str() + " is unknown to the registry"));
  return f;
}

Status Store::delete_blob(const std::string& repo, const Digest& d) {
  if (auto st = layer_linked(*driver_, repo, d); !st) return st;
  return driver_->remove(repo_path(repo) + "/_layers/" + digest_dir(d));
}

Status Store::link_blob(const std::string& repo, const Digest& d, SyncBatch* batch) {
  // Only the link's existence is read (the path names the digest), so its content need not
  // be durable: one directory fsync instead of a file fsync plus a directory fsync.
  return driver_->put(layer_link(repo, d), d.str(), Durability::name_only, batch);
}

Result<bool> Store::mount_blob(const std::string& repo, const std::string& from, const Digest& d) {
  auto link = driver_->stat(layer_link(from, d));
  if (!link) {
    if (not_found(link.error())) return false;
    return std::unexpected(link.error());
  }
  // The blob may have been committed a moment ago by a request still syncing it: the mount
  // is acknowledged only once the blob is durable too (in the same round as the link).
  auto batch = driver_->batch();
  if (auto st = driver_->ensure_durable(blob_path(d), batch.get()); !st) {
    if (not_found(st.error())) return false;
    return std::unexpected(st.error());
  }
  if (auto st = link_blob(repo, d, batch.get()); !st) return std::unexpected(st.error());
  if (auto st = batch->commit(); !st) return std::unexpected(st.error());
  return true;
}

Status Store::commit_blob_file(const std::string& data_path, const Digest& d, SyncBatch* batch) {
  auto existing = driver_->stat(blob_path(d));
  if (existing) {
    // Content-addressed: the same bytes are already there, perhaps from a concurrent upload
    // that has renamed them into place but not synced yet.
    if (auto st = driver_->ensure_durable(blob_path(d), batch); !st) return st;
    return driver_->discard(data_path);
  }
  return driver_->move(data_path, blob_path(d), batch);
}

// ---- uploads ----

bool UploadSession::begin() {
  std::lock_guard lk(mu_);
  if (busy_) return false;
  busy_ = true;
  return true;
}
void UploadSession::end() {
  (void)flush();  // normally done already by the request's finish(); a failure marks broken_
  std::lock_guard lk(mu_);
  busy_ = false;
}

void UploadSession::drain() {
  if (!hashing_.valid()) return;
  try {
    hashing_.get();
  } catch (const std::exception& e) {
    // An OpenSSL failure: the hash state is unusable, so is the session's in-memory state.
    broken_ = true;
    log::error("hashing upload failed", {{"upload", uuid_}, {"error", e.what()}});
  }
}

Status UploadSession::flush() {
  drain();
  if (broken_ || !writer_) return {};  // nothing to keep: the next request rebuilds from storage
  if (auto st = writer_->flush(); !st) {
    broken_ = true;
    return st;
  }
  return {};
}

std::span<char> UploadSession::append_buffer(std::size_t max) {
  // The piece being hashed in the background is never in this region: a writer's buffer
  // space is handed out once, after the bytes before it.
  if (broken_ || !writer_) return {};
  return writer_->append_buffer(max);
}

Status UploadSession::append(std::string_view bytes) {
  drain();
  if (broken_ || !writer_)
    return make_error(Fault::local, "io", "upload " + uuid_ + " failed earlier");
  if (auto st = writer_->write(bytes); !st) {
    broken_ = true;
    return st;
  }
  if (bytes.size() >= kBackgroundHashBytes)
    hashing_ = hash_workers().submit([this, bytes] { hash_.update(bytes); });
  else
    hash_.update(bytes);
  size_ += bytes.size();
  return {};
}

Status UploadSession::commit(const Digest& expected) {
  drain();
  if (broken_ || !writer_)
    return make_error(Fault::local, "io", "upload " + uuid_ + " failed earlier");
  std::string dir = Store::upload_dir(repo_, uuid_);
  Digest actual = Digest::of("");
  // The session's hash is consumed either way: drop it so a retry rehashes from storage.
  broken_ = true;
  if (expected.algorithm() == hash_.algorithm()) {
    actual = Digest::from_raw(hash_.algorithm(), hash_.finish());
  } else {
    auto f = store_.driver().open(dir + "/data");
    if (!f) return std::unexpected(f.error());
    Hasher h(expected.algorithm());
    std::string buf(1 << 20, '\0');
    std::uint64_t off = 0;
    while (off < f->length) {
      ssize_t n = ::pread(f->file->fd(), buf.data(), buf.size(), off);
      if (n <= 0) return make_error(Fault::local, "io", "reading upload " + uuid_);
      h.update(buf.data(), n);
      off += n;
    }
    actual = Digest::from_raw(expected.algorithm(), h.finish());
  }
  if (actual != expected)
    return std::unexpected(oci_error(
        "DIGEST_INVALID",
        "provided digest " + expected.str() + " does not match uploaded content " + actual.str()));
  auto batch = store_.driver().batch();
  // Content-addressed: when the blob is already stored (pushed before, or by a concurrent
  // upload that may not have synced it yet), the upload's bytes are discarded unsynced and
  // the stored blob is made durable instead. If it vanishes meanwhile (a DELETE), the
  // upload is committed as a new blob below.
  bool stored = false;
  if (store_.driver().stat(Store::blob_path(expected))) {
    auto st = store_.driver().ensure_durable(Store::blob_path(expected), batch.get());
    if (!st && !not_found(st.error())) return st;
    stored = st.has_value();
  }
  if (stored) {
    writer_.reset();
  } else {
    // The bytes are durable before the rename that names them by digest can be; the blob's
    // directory entries and the repository link are then synced together in one round (a
    // crash in that round may keep the link without the blob, which readers treat as no
    // link: see check_descriptor_exists and layer_linked's callers).
    if (auto st = writer_->sync(); !st) return st;
    writer_.reset();
    // What was hashed is what the client sent; the file must hold exactly that many bytes
    // before it is named by the digest (a storage writer that lost or repeated bytes is
    // caught here rather than served).
    auto info = store_.driver().stat(dir + "/data");
    if (!info) return std::unexpected(info.error());
    if (info->size != size_)
      return make_error(Fault::local, "io",
                        "upload " + uuid_ + " has " + std::to_string(info->size) +
                            " bytes on storage but " + std::to_string(size_) + " were received");
    if (auto st = store_.commit_blob_file(dir + "/data", expected, batch.get()); !st) return st;
  }
  if (auto st = store_.link_blob(repo_, expected, batch.get()); !st) return st;
  if (auto st = batch->commit(); !st) return st;
  store_.forget_upload(repo_, uuid_);
  return store_.driver().discard(dir);
}

void UploadSession::invalidate(std::uint64_t size) {
  drain();
  broken_ = true;
  writer_.reset();
  (void)store_.driver().truncate(Store::upload_dir(repo_, uuid_) + "/data", size);
}

void Store::forget_upload(const std::string& repo, const std::string& uuid) {
  std::lock_guard lk(uploads_mu_);
  uploads_.erase(repo + "\n" + uuid);
}

Result<std::shared_ptr<UploadSession>> Store::start_upload(const std::string& repo,
                                                           HashAlgorithm alg) {
  std::string uuid = uuid4();
  std::string dir = upload_dir(repo, uuid);
  // The algorithm file goes first: "startedat" is what makes the session exist.
  if (alg != HashAlgorithm::sha256)
    if (auto st = driver_->put(dir + "/hashalgorithm", hash_algorithm_name(alg), Durability::none);
        !st)
      return std::unexpected(st.error());
  // Not fsynced: an upload session is not a promise (nothing was acknowledged with 201), and
  // after an OS crash a client whose session is gone simply starts again.
  if (auto st = driver_->put(dir + "/startedat", format_rfc3339(std::chrono::system_clock::now()),
                             Durability::none);
      !st)
    return std::unexpected(st.error());
  auto w = driver_->append(dir + "/data");
  if (!w) return std::unexpected(w.error());
  std::shared_ptr<UploadSession> s(new UploadSession(*this, repo, uuid));
  s->hash_ = Hasher(alg);
  s->writer_ = std::move(*w);
  std::lock_guard lk(uploads_mu_);
  uploads_[repo + "\n" + uuid] = s;
  return s;
}

Result<std::shared_ptr<UploadSession>> Store::find_upload(const std::string& repo,
                                                          const std::string& uuid) {
  auto unknown = [&] {
    return std::unexpected(
        oci_error("BLOB_UPLOAD_UNKNOWN", "upload " + uuid + " is unknown to repository " + repo));
  };
  bool uuid_ok = !uuid.empty() && uuid.size() <= 64 &&
                 uuid.find_first_not_of("0123456789abcdef-") == std::string::npos;
  if (!uuid_ok) return unknown();
  std::string key = repo + "\n" + uuid;
  {
    std::lock_guard lk(uploads_mu_);
    auto it = uploads_.find(key);
    if (it != uploads_.end()) {
      if (!it->second->broken_) return it->second;
      if (!it->second->busy_)
        uploads_.erase(it);
      else
        return it->second;
    }
  }
  // Not in memory (restart, or a failed request): rebuild from storage.
  std::string dir = upload_dir(repo, uuid);
  auto started = driver_->stat(dir + "/startedat");
  if (!started) {
    if (not_found(started.error())) return unknown();
    return std::unexpected(started.error());
  }
  std::shared_ptr<UploadSession> s(new UploadSession(*this, repo, uuid));
  if (auto alg = driver_->get(dir + "/hashalgorithm", 16)) {
    auto a = parse_hash_algorithm(*alg);
    if (!a)
      return make_error(
          Fault::local, "io",
          "upload " + uuid + " has a corrupt hashalgorithm file: " + a.error().message);
    s->hash_ = Hasher(*a);
  } else if (!not_found(alg.error())) {
    return std::unexpected(alg.error());
  }
  auto f = driver_->open(dir + "/data");
  // No data file beside "startedat": a commit renamed it to its blob and the process
  // stopped before removing the directory (or it stopped between creating the two files,
  // before answering the POST). Nothing is left to resume, and reporting an empty session
  // (Range 0-0) would send the client's next chunk to the wrong offset: the upload is
  // unknown, as after a commit, and no fresh data file is made for it.
  if (!f && not_found(f.error())) return unknown();
  if (f) {
    std::string buf(1 << 20, '\0');
    std::uint64_t off = 0;
    while (off < f->length) {
      ssize_t n = ::pread(f->file->fd(), buf.data(),
                          std::min<std::uint64_t>(buf.size(), f->length - off), off);
      if (n <= 0) return make_error(Fault::local, "io", "reading upload " + uuid);
      s->hash_.update(buf.data(), n);
      off += n;
    }
    s->size_ = off;
    // Drop any bytes appended after we measured (a concurrent crash leftover).
    if (auto st = driver_->truncate(dir + "/data", off); !st) return std::unexpected(st.error());
  } else {
    return std::unexpected(f.error());
  }
  auto w = driver_->append(dir + "/data");
  if (!w) return std::unexpected(w.error());
  s->writer_ = std::move(*w);
  std::lock_guard lk(uploads_mu_);
  auto [it, inserted] = uploads_.emplace(key, s);
  if (!inserted) return it->second;
  return s;
}

Status Store::cancel_upload(const std::string& repo, const std::string& uuid) {
  auto s = find_upload(repo, uuid);
  if (!s) return std::unexpected(s.error());
  {
    std::lock_guard lk(uploads_mu_);
    uploads_.erase(repo + "\n" + uuid);
  }
  return driver_->discard(upload_dir(repo, uuid));
}

Result<std::size_t> Store::purge_uploads(std::chrono::system_clock::time_point older_than) {
  std::vector<std::pair<std::string, std::string>> stale;
  auto st = driver_->walk("/repositories", [&](const std::string& path, const FileInfo&) {
    static const std::string marker = "/_uploads/";
    if (!path.ends_with("/startedat")) return;
    auto m = path.find(marker);
    if (m == std::string::npos) return;
    std::string repo =
        path.substr(std::string("/repositories/").size(), m - std::string("/repositories/").size());
    std::string uuid = path.substr(m + marker.size());
    uuid = uuid.substr(0, uuid.find('/'));
    auto info = driver_->stat(path);
    if (info && info->modified < older_than) stale.emplace_back(repo, uuid);
  });
  if (!st) return std::unexpected(st.error());
  std::size_t n = 0;
  for (auto& [repo, uuid] : stale) {
    {
      std::lock_guard lk(uploads_mu_);
      auto it = uploads_.find(repo + "\n" + uuid);
      if (it != uploads_.end() && it->second->busy_) continue;
      if (it != uploads_.end()) uploads_.erase(it);
    }
    if (driver_->discard(upload_dir(repo, uuid))) ++n;
  }
  return n;
}

// ---- manifests ----

Result<std::shared_ptr<const std::string>> Store::manifest_bytes(const Digest& d) {
  {
    std::shared_lock lk(cache_mu_);
    auto it = cache_.find(d.str());
    if (it != cache_.end()) return it->second;
  }
  auto bytes = driver_->get(blob_path(d), opts_.max_manifest_bytes + 1);
  if (!bytes) return std::unexpected(bytes.error());
  auto p = std::make_shared<const std::string>(std::move(*bytes));
  std::unique_lock lk(cache_mu_);
  if (cache_bytes_ + p->size() > opts_.manifest_cache_bytes) {
    cache_.clear();
    cache_bytes_ = 0;
  }
  if (cache_.emplace(d.str(), p).second) cache_bytes_ += p->size();
  return p;
}

Result<Manifest> Store::get_manifest(const std::string& repo, std::string_view reference) {
  auto ref = parse_manifest_reference(reference, BadTag::unknown);
  if (!ref) return std::unexpected(ref.error());
  Digest d = Digest::of("");
  if (ref->digest) {
    d = *ref->digest;
  } else {
    auto link = driver_->get(tag_link(repo, ref->tag), 1024);
    if (!link) {
      if (not_found(link.error()))
        return std::unexpected(
            oci_error("MANIFEST_UNKNOWN",
                      "manifest tagged " + ref->tag + " is unknown to repository " + repo));
      return std::unexpected(link.error());
    }
    auto p = Digest::parse(*link);
    if (!p) return make_error(Fault::local, "io", "corrupt tag link for " + repo + ":" + ref->tag);
    d = *p;
  }
  auto rev = read_revision_link(*driver_, repo, d);
  if (!rev) return std::unexpected(rev.error());
  auto meta = parse_json(*rev, "revision link", Fault::local);
  if (!meta || !meta->is_object() || !meta->contains("mediaType"))
    return make_error(Fault::local, "io", "corrupt revision link for " + repo + "@" + d.str());
  auto bytes = manifest_bytes(d);
  if (!bytes) {
    if (not_found(bytes.error()))
      return std::unexpected(
          oci_error("MANIFEST_UNKNOWN", "manifest " + d.str() + " content is missing"));
    return std::unexpected(bytes.error());
  }
  Manifest m;
  m.digest = d;
  m.media_type = (*meta)["mediaType"].get<std::string>();
  m.bytes = *bytes;
  return m;
}

Status Store::check_descriptor_exists(const std::string& repo, const Json& desc, bool manifest,
                                      std::string_view what) {
  auto d = parse_digest_field(desc, what);
  if (!d) return std::unexpected(d.error());
  Result<FileInfo> st =
      manifest ? driver_->stat(revision_link(repo, *d)) : driver_->stat(layer_link(repo, *d));
  // A link counts only with its content: a crash while a blob commit was syncing can keep
  // the link without the blob, and GC removes unreferenced blobs but not their links.
  if (st) st = driver_->stat(blob_path(*d));
  if (!st) {
    if (not_found(st.error()))
      return std::unexpected(
          oci_error("MANIFEST_BLOB_UNKNOWN",
                    std::string(what) + " " + d->str() + " is unknown to repository " + repo));
    return std::unexpected(st.error());
  }
  // Clients check a fetched blob's length against its descriptor, so a wrong size makes the
  // manifest unpullable; distribution stores such manifests, we refuse them at push.
  const auto declared = desc["size"].get<std::int64_t>();
  if (static_cast<std::uint64_t>(declared) != st->size)
    return std::unexpected(oci_error(
        "MANIFEST_INVALID", std::string(what) + " " + d->str() + " is declared as " +
                                std::to_string(declared) + " bytes but repository " + repo +
                                " holds " + std::to_string(st->size) + " bytes for it"));
  return {};
}

Result<PutManifestResult> Store::put_manifest(const std::string& repo, std::string_view reference,
                                              std::string_view content_type, std::string bytes,
                                              const std::vector<std::string>& extra_tags) {
  PutManifestResult out;
  std::optional<Digest> by_digest;
  std::vector<std::string> tags;
  auto ref = parse_manifest_reference(reference, BadTag::refuse);
  if (!ref) return std::unexpected(ref.error());
  if (ref->digest)
    by_digest = ref->digest;
  else
    tags.push_back(std::move(ref->tag));
  for (const auto& t : extra_tags) {
    if (!valid_tag(t)) return std::unexpected(oci_error("TAG_INVALID", "invalid tag '" + t + "'"));
    if (std::find(tags.begin(), tags.end(), t) == tags.end()) tags.push_back(t);
  }
  if (bytes.size() > opts_.max_manifest_bytes)
    return std::unexpected(oci_error(
        "MANIFEST_TOO_LARGE",
        "manifest is larger than " + std::to_string(opts_.max_manifest_bytes) + " bytes"));
  Digest d = by_digest ? Digest::of(bytes, by_digest->algorithm()) : Digest::of(bytes);
  if (by_digest && *by_digest != d)
    return std::unexpected(oci_error(
        "DIGEST_INVALID", "manifest digest " + d.str() + " does not match " + by_digest->str()));

  auto parsed =
      parse_json(bytes, "manifest", Fault::user, JsonLimits{opts_.max_manifest_bytes, 64});
  if (!parsed) return std::unexpected(oci_error("MANIFEST_INVALID", parsed.error().message));
  const Json& j = *parsed;
  if (!j.is_object())
    return std::unexpected(oci_error("MANIFEST_INVALID", "manifest is not a JSON object"));
  auto sv = j.find("schemaVersion");
  if (sv == j.end() || !sv->is_number_integer() || sv->get<std::int64_t>() != 2)
    return std::unexpected(oci_error("MANIFEST_INVALID", "schemaVersion must be 2"));
  std::string ct = strip_params(content_type);
  std::string mt;
  if (auto it = j.find("mediaType"); it != j.end()) {
    if (!it->is_string())
      return std::unexpected(oci_error("MANIFEST_INVALID", "mediaType is not a string"));
    mt = it->get<std::string>();
    if (!ct.empty() && ct != mt &&
        (ct == media::oci_manifest || ct == media::oci_index || ct == media::docker_manifest ||
         ct == media::docker_list))
      return std::unexpected(
          oci_error("MANIFEST_INVALID",
                    "Content-Type " + ct + " does not match the manifest's mediaType " + mt));
  } else {
    mt = ct;
  }
  bool image = mt == media::oci_manifest || mt == media::docker_manifest;
  bool index = mt == media::oci_index || mt == media::docker_list;
  if (!image && !index)
    return std::unexpected(
        oci_error("MANIFEST_INVALID", "unsupported manifest media type '" + mt + "'"));
  if (image) {
    auto cfg = j.find("config");
    if (cfg == j.end())
      return std::unexpected(oci_error("MANIFEST_INVALID", "image manifest has no config"));
    if (auto st = check_descriptor_exists(repo, *cfg, false, "config blob"); !st)
      return std::unexpected(st.error());
    auto layers = j.find("layers");
    if (layers == j.end() || !layers->is_array())
      return std::unexpected(oci_error("MANIFEST_INVALID", "image manifest has no layers array"));
    for (const auto& l : *layers) {
      auto d2 = parse_digest_field(l, "layer");
      if (!d2) return std::unexpected(d2.error());
      // Foreign / non-distributable layers live elsewhere (their "urls").
      std::string lmt = l.value("mediaType", "");
      if (lmt.find("foreign") != std::string::npos ||
          lmt.find("nondistributable") != std::string::npos)
        continue;
      if (auto st = check_descriptor_exists(repo, l, false, "layer"); !st)
        return std::unexpected(st.error());
    }
  } else {
    auto ms = j.find("manifests");
    if (ms == j.end() || !ms->is_array())
      return std::unexpected(oci_error("MANIFEST_INVALID", "index has no manifests array"));
    if (ms->size() > opts_.max_index_children)
      return std::unexpected(oci_error(
          "MANIFEST_INVALID",
          "index has more than " + std::to_string(opts_.max_index_children) + " entries"));
    for (const auto& m : *ms)
      if (auto st = check_descriptor_exists(repo, m, true, "child manifest"); !st)
        return std::unexpected(st.error());
  }
  Json rev = {{"mediaType", mt}, {"size", bytes.size()}};
  Json referrer;
  if (auto sub = j.find("subject"); sub != j.end()) {
    auto sd = parse_digest_field(*sub, "subject");
    if (!sd) return std::unexpected(sd.error());
    out.subject = *sd;
    rev["subject"] = sd->str();
    referrer = {{"mediaType", mt}, {"digest", d.str()}, {"size", bytes.size()}};
    if (auto at = j.find("artifactType"); at != j.end() && at->is_string())
      referrer["artifactType"] = *at;
    else if (auto cfg = j.find("config"); cfg != j.end() && cfg->is_object() &&
                                          cfg->contains("mediaType") &&
                                          (*cfg)["mediaType"].is_string())
      referrer["artifactType"] = (*cfg)["mediaType"];
    if (auto an = j.find("annotations"); an != j.end() && an->is_object())
      referrer["annotations"] = *an;
  }

  drop_catalog_cache();
  // Content first, then the links that name it.
  if (!driver_->stat(blob_path(d))) {
    if (auto st = driver_->put(blob_path(d), bytes); !st) return std::unexpected(st.error());
  } else if (auto st = driver_->ensure_durable(blob_path(d)); !st) {
    // Pushed a moment ago by a concurrent request that may not have synced it yet.
    return std::unexpected(st.error());
  }
  if (auto st = driver_->put(revision_link(repo, d), rev.dump()); !st)
    return std::unexpected(st.error());
  if (out.subject) {
    if (auto st = driver_->put(referrer_entry(repo, *out.subject, d), referrer.dump()); !st)
      return std::unexpected(st.error());
  }
  for (const auto& t : tags)
    if (auto st = driver_->put(tag_link(repo, t), d.str()); !st) return std::unexpected(st.error());
  drop_catalog_cache();  // again: a catalog walk may have run between the first drop and the links
  out.digest = d;
  out.tags = std::move(tags);
  return out;
}

Status Store::delete_manifest(const std::string& repo, std::string_view reference) {
  auto ref = parse_manifest_reference(reference, BadTag::unknown);
  if (!ref) return std::unexpected(ref.error());
  if (!ref->digest) {
    const std::string& tag = ref->tag;
    auto st = driver_->stat(tag_link(repo, tag));
    if (!st) {
      if (not_found(st.error()))
        return std::unexpected(
            oci_error("MANIFEST_UNKNOWN", "tag " + tag + " is unknown to repository " + repo));
      return std::unexpected(st.error());
    }
    return driver_->remove(repo_path(repo) + "/_manifests/tags/" + tag);
  }
  const Digest& d = *ref->digest;
  auto rev = read_revision_link(*driver_, repo, d);
  if (!rev) return std::unexpected(rev.error());
  // Tags first: a crash midway leaves an untagged revision, never a tag to nothing.
  auto all = tags(repo);
  if (all) {
    for (const auto& t : *all) {
      auto link = driver_->get(tag_link(repo, t), 1024);
      if (link && *link == d.str())
        if (auto st = driver_->remove(repo_path(repo) + "/_manifests/tags/" + t); !st) return st;
    }
  }
  auto meta = parse_json(*rev, "revision link", Fault::local);
  if (meta && meta->is_object() && meta->contains("subject") && (*meta)["subject"].is_string()) {
    auto sd = Digest::parse((*meta)["subject"].get<std::string>());
    if (sd) driver_->remove(referrer_entry(repo, *sd, d));
  }
  auto st = driver_->remove(repo_path(repo) + "/_manifests/revisions/" + digest_dir(d));
  drop_catalog_cache();
  return st;
}

void Store::drop_catalog_cache() {
  std::lock_guard lk(repos_mu_);
  repos_cache_.reset();
  repos_cached_at_ = std::chrono::steady_clock::now();
}

Result<std::vector<std::string>> Store::tags(const std::string& repo) {
  auto l = driver_->list(repo_path(repo) + "/_manifests/tags");
  if (!l) {
    if (not_found(l.error())) {
      auto r = driver_->stat(repo_path(repo) + "/_manifests");
      if (!r)
        return std::unexpected(
            oci_error("NAME_UNKNOWN", "repository " + repo + " is not known to the registry"));
      return std::vector<std::string>{};
    }
    return std::unexpected(l.error());
  }
  return *l;
}

Result<std::vector<std::string>> Store::repositories() {
  {
    std::lock_guard lk(repos_mu_);
    if (repos_cache_ && std::chrono::steady_clock::now() - repos_cached_at_ < kCatalogCacheTtl)
      return *repos_cache_;
  }
  auto started = std::chrono::steady_clock::now();
  std::vector<std::string> out;
  std::function<Status(const std::string&, const std::string&)> rec =
      [&](const std::string& dir, const std::string& name) -> Status {
    auto kids = driver_->list(dir);
    if (!kids) return not_found(kids.error()) ? Status{} : Status(std::unexpected(kids.error()));
    bool is_repo = false;
    for (const auto& k : *kids) {
      if (k == "_manifests") is_repo = true;
      if (k.starts_with("_")) continue;
      if (auto st = rec(dir + "/" + k, name.empty() ? k : name + "/" + k); !st) return st;
    }
    if (is_repo && !name.empty()) out.push_back(name);
    return {};
  };
  if (auto st = rec("/repositories", ""); !st) return std::unexpected(st.error());
  std::sort(out.begin(), out.end());
  std::lock_guard lk(repos_mu_);
  if (repos_cached_at_ <= started) {  // else a change happened while we walked
    repos_cache_ = out;
    repos_cached_at_ = started;
  }
  return out;
}

Result<Store::ReferrersPage> Store::referrers(const std::string& repo, const Digest& subject,
                                              const std::optional<std::string>& artifact_type,
                                              const std::optional<Digest>& after,
                                              std::size_t limit) {
  ReferrersPage page;
  page.index = {
      {"schemaVersion", 2}, {"mediaType", media::oci_index}, {"manifests", Json::array()}};
  std::string dir = repo_path(repo) + "/_referrers/" + digest_dir(subject);
  auto l = driver_->list(dir);
  if (!l) {
    if (not_found(l.error())) return page;
    return std::unexpected(l.error());
  }
  // Entries are named "<alg>-<hex>"; the listing is sorted, so paging resumes after `after`.
  auto it = l->begin();
  if (after) {
    std::string key = std::string(hash_algorithm_name(after->algorithm())) + "-" + after->hex();
    it = std::upper_bound(l->begin(), l->end(), key);
  }
  Json& out = page.index["manifests"];
  std::optional<Digest> last;
  for (; it != l->end(); ++it) {
    auto desc = driver_->get(dir + "/" + *it, 1 << 20);
    if (!desc) continue;  // deleted since the listing
    auto j = parse_json(*desc, "referrer descriptor", Fault::local);
    if (!j || !j->is_object()) continue;
    if (artifact_type && j->value("artifactType", "") != *artifact_type) continue;
    if (out.size() == limit) {  // one more matches: there is a next page
      page.next = last;
      break;
    }
    auto dash = it->find('-');
    auto alg = parse_hash_algorithm(std::string_view(*it).substr(0, dash));
    auto d = alg ? Digest::from_hex(*alg, std::string_view(*it).substr(dash + 1))
                 : Result<Digest>(std::unexpected(alg.error()));
    if (!d) continue;  // not an entry this store wrote
    last = *d;
    out.push_back(std::move(*j));
  }
  return page;
}

}  // namespace docket::registry
