#include "client/store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <set>

#include "common/file.h"

namespace docket::client {
namespace fs = std::filesystem;

fs::path default_data_dir() {
  if (const char* d = std::getenv("DOCKET_DATA_DIR"); d && *d) return fs::path(d);
  if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x) return fs::path(x) / "docket";
  const char* home = std::getenv("HOME");
  return fs::path(home && *home ? home : ".") / ".local" / "share" / "docket";
}

Result<FileLock> FileLock::acquire(const fs::path& p, bool exclusive) {
  int fd = ::open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    return make_error(Fault::local, "io",
                      "opening lock " + p.string() + ": " + std::strerror(errno));
  while (::flock(fd, exclusive ? LOCK_EX : LOCK_SH) != 0) {
    if (errno == EINTR) continue;
    int e = errno;
    ::close(fd);
    return make_error(Fault::local, "io", "locking " + p.string() + ": " + std::strerror(e));
  }
  return FileLock(fd);
}

FileLock& FileLock::operator=(FileLock&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);
}

Result<ImageStore> ImageStore::open(const fs::path& root) {
  ImageStore s;
  s.root_ = root;
  std::error_code ec;
  for (auto d : {root / "blobs" / "sha256", root / "blobs" / "sha512", root / "ingest"}) {
    fs::create_directories(d, ec);
    if (ec) return make_error(Fault::local, "io", "creating " + d.string() + ": " + ec.message());
  }
  if (!fs::exists(root / "oci-layout")) {
    if (auto w = atomic_write_file(root / "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}"); !w)
      return std::unexpected(w.error());
  }
  if (!fs::exists(root / "index.json")) {
    if (auto w = atomic_write_file(root / "index.json", Json{{"schemaVersion", 2},
                                                             {"mediaType", media::kOciIndex},
                                                             {"manifests", Json::array()}}
                                                            .dump());
        !w)
      return std::unexpected(w.error());
  }
  return s;
}

fs::path ImageStore::blob_path(const Digest& d) const {
  return root_ / "blobs" / std::string(hash_algorithm_name(d.algorithm())) / d.hex();
}

bool ImageStore::has_blob(const Digest& d) const {
  std::error_code ec;
  return fs::is_regular_file(blob_path(d), ec);
}

Result<std::string> ImageStore::read_blob(const Digest& d, std::size_t max_bytes) const {
  auto b = read_file(blob_path(d), max_bytes);
  if (!b) {
    if (!has_blob(d))
      return make_error(Fault::local, "not_found",
                        "blob " + d.str() + " is not in the local store " + root_.string());
    return b;
  }
  if (Digest::of(*b, d.algorithm()) != d)
    return make_error(
        Fault::local, "hash_mismatch",
        "local store blob " + blob_path(d).string() +
            " does not match its digest (corrupted on disk); remove it and pull again");
  return b;
}

Result<Source> ImageStore::open_blob(const Digest& d) const {
  if (!has_blob(d))
    return make_error(Fault::local, "not_found",
                      "blob " + d.str() + " is not in the local store " + root_.string());
  return file_source(blob_path(d));
}

Result<std::uint64_t> ImageStore::blob_size(const Digest& d) const {
  std::error_code ec;
  auto n = fs::file_size(blob_path(d), ec);
  if (ec)
    return make_error(Fault::local, "not_found", "blob " + d.str() + " is not in the local store");
  return n;
}

Result<std::unique_ptr<ImageStore::Ingest>> ImageStore::begin_ingest(
    std::optional<Digest> expected, std::optional<std::uint64_t> expected_size, std::string what,
    Fault fault, HashAlgorithm alg) const {
  std::unique_ptr<Ingest> in(new Ingest());
  in->store_ = this;
  in->expected_ = expected;
  in->expected_size_ = expected_size;
  in->fault_ = fault;
  in->what_ = std::move(what);
  in->hasher_.emplace(expected ? expected->algorithm() : alg);
  auto f = FileWriter::create(root_ / "ingest" / random_hex_id(), 0644);
  if (!f) return std::unexpected(f.error());
  in->file_ = std::move(*f);
  return in;
}

ImageStore::Ingest::~Ingest() = default;  // FileWriter unlinks an uncommitted temp file

Status ImageStore::Ingest::write(std::string_view bytes) {
  size_ += bytes.size();
  if (expected_size_ && size_ > *expected_size_)
    return make_error(
        fault_, "hash_mismatch",
        what_ + ": more than the expected " + std::to_string(*expected_size_) + " bytes received");
  hasher_->update(bytes);
  return file_->write(bytes);
}

Result<Digest> ImageStore::Ingest::commit() {
  Digest got = Digest::from_raw(hasher_->algorithm(), hasher_->finish());
  if (expected_size_ && size_ != *expected_size_)
    return make_error(fault_, "hash_mismatch",
                      what_ + ": expected " + std::to_string(*expected_size_) + " bytes, got " +
                          std::to_string(size_));
  if (expected_ && got != *expected_)
    return make_error(
        fault_, "hash_mismatch",
        what_ + ": content hashes to " + got.str() + ", expected " + expected_->str());
  if (auto s = file_->close(); !s) return std::unexpected(s.error());
  fs::path final = store_->blob_path(got);
  if (::rename(file_->path().c_str(), final.c_str()) != 0) {
    int e = errno;
    ::unlink(file_->path().c_str());
    return make_error(Fault::local, "io",
                      "renaming blob into " + final.string() + ": " + std::strerror(e));
  }
  if (auto s = fsync_dir(final.parent_path()); !s) return std::unexpected(s.error());
  return got;
}

Result<Digest> ImageStore::put_blob(std::string_view bytes) const {
  Digest d = Digest::of(bytes);
  if (has_blob(d)) return d;
  auto in = begin_ingest(d, bytes.size(), "blob " + d.str(), Fault::bug);
  if (!in) return std::unexpected(in.error());
  if (auto s = (*in)->write(bytes); !s) return std::unexpected(s.error());
  return (*in)->commit();
}

Result<Json> ImageStore::read_index() const {
  auto text = read_file(root_ / "index.json", 256 * 1024 * 1024);
  if (!text) return std::unexpected(text.error());
  auto j = parse_json(*text, (root_ / "index.json").string(), Fault::local,
                      JsonLimits{256 * 1024 * 1024, 64});
  if (!j) return std::unexpected(j.error());
  if (!j->is_object() || !j->contains("manifests") || !(*j)["manifests"].is_array())
    return make_error(Fault::local, "malformed_json",
                      (root_ / "index.json").string() + " has no manifests array");
  return j;
}

Status ImageStore::write_index(const Json& idx) const {
  return atomic_write_file(root_ / "index.json", idx.dump(2) + "\n");
}

Result<std::vector<ImageRecord>> ImageStore::list() const {
  auto idx = read_index();
  if (!idx) return std::unexpected(idx.error());
  std::vector<ImageRecord> out;
  for (const auto& m : (*idx)["manifests"]) {
    auto d = Descriptor::from_json(m, "local index.json", Fault::local);
    if (!d) return std::unexpected(d.error());
    auto it = d->annotations.find(std::string(kAnnotationImageName));
    if (it == d->annotations.end()) continue;  // an unnamed entry (another tool's)
    auto ref = Reference::parse(it->second);
    if (!ref) continue;
    out.push_back(ImageRecord{*ref, *d});
  }
  return out;
}

Result<std::optional<Descriptor>> ImageStore::resolve(const Reference& ref) const {
  auto all = list();
  if (!all) return std::unexpected(all.error());
  if (ref.digest()) {
    for (const auto& r : *all)
      if (r.target.digest == *ref.digest() && r.reference.repository() == ref.repository())
        return std::optional(r.target);
    for (const auto& r : *all)
      if (r.target.digest == *ref.digest()) return std::optional(r.target);
    return std::optional<Descriptor>{};
  }
  std::string want = ref.with_default_tag().str();
  for (const auto& r : *all)
    if (r.reference.str() == want) return std::optional(r.target);
  return std::optional<Descriptor>{};
}

Status ImageStore::tag(const Reference& ref, const Descriptor& target) {
  auto lock = FileLock::acquire(root_ / ".index.lock", true);
  if (!lock) return std::unexpected(lock.error());
  auto idx = read_index();
  if (!idx) return std::unexpected(idx.error());
  Reference named = ref.digest() && !ref.tag() ? ref : ref.with_default_tag();
  std::string name =
      named.tag() ? named.without_tag_or_digest().with_tag(*named.tag()).str() : named.str();
  Json kept = Json::array();
  for (const auto& m : (*idx)["manifests"]) {
    bool same = m.contains("annotations") && m["annotations"].is_object() &&
                m["annotations"].value(std::string(kAnnotationImageName), "") == name;
    if (!same) kept.push_back(m);
  }
  Descriptor d = target;
  d.annotations[std::string(kAnnotationImageName)] = name;
  if (named.tag())
    d.annotations[std::string(kAnnotationRefName)] = *named.tag();
  else
    d.annotations.erase(std::string(kAnnotationRefName));
  kept.push_back(d.to_json());
  (*idx)["manifests"] = kept;
  return write_index(*idx);
}

Result<bool> ImageStore::untag(const Reference& ref) {
  auto lock = FileLock::acquire(root_ / ".index.lock", true);
  if (!lock) return std::unexpected(lock.error());
  auto idx = read_index();
  if (!idx) return std::unexpected(idx.error());
  Json kept = Json::array();
  bool removed = false;
  std::string want = ref.digest() ? "" : ref.with_default_tag().str();
  for (const auto& m : (*idx)["manifests"]) {
    std::string name;
    if (m.contains("annotations") && m["annotations"].is_object())
      name = m["annotations"].value(std::string(kAnnotationImageName), "");
    bool match = false;
    if (ref.digest()) {
      // rmi repo@digest removes every name of that repository pointing at the digest.
      auto r = Reference::parse(name);
      match =
          m.value("digest", "") == ref.digest()->str() && r && r->repository() == ref.repository();
    } else {
      match = name == want;
    }
    if (match)
      removed = true;
    else
      kept.push_back(m);
  }
  if (!removed) return false;
  (*idx)["manifests"] = kept;
  if (auto s = write_index(*idx); !s) return std::unexpected(s.error());
  return true;
}

Result<FileLock> ImageStore::lock_shared() const {
  return FileLock::acquire(root_ / ".gc.lock", false);
}

Result<std::vector<Descriptor>> image_closure(const ImageStore& store, const Descriptor& target) {
  std::vector<Descriptor> out;
  std::vector<Descriptor> todo{target};
  std::set<std::string> seen;
  while (!todo.empty()) {
    Descriptor d = todo.back();
    todo.pop_back();
    if (!seen.insert(d.digest.str()).second) continue;
    out.push_back(d);
    if (!is_index_media_type(d.media_type) && !is_manifest_media_type(d.media_type)) continue;
    auto bytes = store.read_blob(d.digest, kMaxManifestBytes);
    if (!bytes) return std::unexpected(bytes.error());
    if (is_index_media_type(d.media_type)) {
      auto idx = parse_index(*bytes, Fault::local);
      if (!idx) return std::unexpected(idx.error());
      for (auto m : idx->manifests) {
        if (m.media_type.empty()) m.media_type = media::kOciManifest;
        // Indexes pulled for one platform keep only that platform's blobs locally.
        if (!store.has_blob(m.digest)) continue;
        todo.push_back(m);
      }
    } else {
      auto m = parse_manifest(*bytes, Fault::local);
      if (!m) return std::unexpected(m.error());
      todo.push_back(m->config);
      for (const auto& l : m->layers) todo.push_back(l);
    }
  }
  return out;
}

Result<GcStats> ImageStore::gc() {
  auto gclock = FileLock::acquire(root_ / ".gc.lock", true);
  if (!gclock) return std::unexpected(gclock.error());
  auto ilock = FileLock::acquire(root_ / ".index.lock", true);
  if (!ilock) return std::unexpected(ilock.error());
  auto idx = read_index();
  if (!idx) return std::unexpected(idx.error());
  std::set<std::string> live;
  for (const auto& m : (*idx)["manifests"]) {
    auto d = Descriptor::from_json(m, "local index.json", Fault::local);
    if (!d) return std::unexpected(d.error());
    auto c = image_closure(*this, *d);
    if (!c) return std::unexpected(c.error());
    for (const auto& x : *c) live.insert(x.digest.str());
  }
  GcStats st;
  std::error_code ec;
  for (const char* alg : {"sha256", "sha512"}) {
    for (const auto& f : fs::directory_iterator(root_ / "blobs" / alg, ec)) {
      std::string dg = std::string(alg) + ":" + f.path().filename().string();
      if (live.count(dg)) continue;
      auto sz = f.file_size(ec);
      if (fs::remove(f.path(), ec)) {
        ++st.blobs_removed;
        st.bytes_removed += ec ? 0 : sz;
      }
    }
  }
  // Nothing else is ingesting (we hold the gc lock exclusively): leftovers are from crashes.
  for (const auto& f : fs::directory_iterator(root_ / "ingest", ec)) fs::remove_all(f.path(), ec);
  return st;
}

}  // namespace docket::client
