#include "client/archive.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>

#include "client/tar.h"
#include "common/encoding.h"
#include "common/file.h"
#include "common/time.h"

namespace docket::client {
namespace fs = std::filesystem;

namespace {

std::string blob_entry_name(const Digest& d) {
  return "blobs/" + std::string(hash_algorithm_name(d.algorithm())) + "/" + d.hex();
}

// The single-platform manifest to write for a stored target.
Result<Descriptor> savable_manifest(const ImageStore& store, const Descriptor& target,
                                    const Platform& platform, const std::string& name) {
  if (!is_index_media_type(target.media_type)) return target;
  auto bytes = store.read_blob(target.digest, kMaxManifestBytes);
  if (!bytes) return std::unexpected(bytes.error());
  auto idx = parse_index(*bytes, Fault::local);
  if (!idx) return std::unexpected(idx.error());
  auto complete = [&](const Descriptor& d) {
    if (!store.has_blob(d.digest)) return false;
    auto c = image_closure(store, d);
    return c && std::all_of(c->begin(), c->end(),
                            [&](const Descriptor& x) { return store.has_blob(x.digest); });
  };
  if (auto want = select_platform(*idx, platform); want && complete(*want)) return *want;
  for (const auto& d : idx->manifests)
    if (is_manifest_media_type(d.media_type) && complete(d)) return d;
  return make_error(Fault::local, "not_found",
                    name + ": no platform of this index is complete in the local store");
}

}  // namespace

Status save_images(const ImageStore& store, const std::vector<Reference>& refs,
                   const Platform& platform, Sink out) {
  TarWriter tw(std::move(out));
  Json docker_manifest = Json::array();
  Json oci_index = {
      {"schemaVersion", 2}, {"mediaType", media::kOciIndex}, {"manifests", Json::array()}};
  std::set<std::string> written;
  std::map<std::string, std::size_t> docker_entry_by_manifest;
  for (const auto& ref : refs) {
    auto target = store.resolve(ref);
    if (!target) return std::unexpected(target.error());
    if (!*target) return make_error(Fault::user, "not_found", "no such image: " + ref.familiar());
    auto m = savable_manifest(store, **target, platform, ref.familiar());
    if (!m) return std::unexpected(m.error());
    auto mbytes = store.read_blob(m->digest, kMaxManifestBytes);
    if (!mbytes) return std::unexpected(mbytes.error());
    auto manifest = parse_manifest(*mbytes, Fault::local);
    if (!manifest) return std::unexpected(manifest.error());
    std::vector<Descriptor> blobs{*m, manifest->config};
    blobs.insert(blobs.end(), manifest->layers.begin(), manifest->layers.end());
    for (const auto& b : blobs) {
      if (!written.insert(b.digest.str()).second) continue;
      auto size = store.blob_size(b.digest);
      if (!size)
        return make_error(
            Fault::local, "not_found",
            ref.familiar() + ": blob " + b.digest.str() + " is missing from the local store");
      auto src = store.open_blob(b.digest);
      if (!src) return std::unexpected(src.error());
      TarEntry e;
      e.name = blob_entry_name(b.digest);
      e.size = *size;
      if (auto s = tw.add(e); !s) return s;
      // Hash what we copy: a blob corrupted on disk must not be exported as if valid.
      Hasher h(b.digest.algorithm());
      std::uint64_t copied = 0;
      auto c = pump(*src, [&](std::string_view chunk) -> Status {
        h.update(chunk);
        copied += chunk.size();
        if (copied > *size)
          return make_error(Fault::local, "io",
                            "blob " + b.digest.str() + " grew while being saved");
        return tw.write(chunk);
      });
      if (!c) return std::unexpected(c.error());
      if (copied != *size || Digest::from_raw(b.digest.algorithm(), h.finish()) != b.digest)
        return make_error(Fault::local, "hash_mismatch",
                          "local store blob " + b.digest.str() +
                              " is corrupt; remove the image and pull it again");
    }
    Reference named = ref.digest() ? ref : ref.with_default_tag();
    Descriptor od = *m;
    od.annotations[std::string(kAnnotationImageName)] = named.str();
    if (named.tag()) od.annotations[std::string(kAnnotationRefName)] = *named.tag();
    oci_index["manifests"].push_back(od.to_json());
    auto it = docker_entry_by_manifest.find(m->digest.str());
    if (it == docker_entry_by_manifest.end()) {
      Json layers = Json::array();
      for (const auto& l : manifest->layers) layers.push_back(blob_entry_name(l.digest));
      docker_manifest.push_back({{"Config", blob_entry_name(manifest->config.digest)},
                                 {"RepoTags", Json::array()},
                                 {"Layers", layers}});
      it = docker_entry_by_manifest.emplace(m->digest.str(), docker_manifest.size() - 1).first;
    }
    if (named.tag()) docker_manifest[it->second]["RepoTags"].push_back(named.familiar());
  }
  if (auto s = tw.add_file("oci-layout", R"({"imageLayoutVersion":"1.0.0"})"); !s) return s;
  if (auto s = tw.add_file("index.json", oci_index.dump()); !s) return s;
  if (auto s = tw.add_file("manifest.json", docker_manifest.dump()); !s) return s;
  return tw.finish();
}

// ---------------- load ----------------

namespace {

// Canonical archive-relative path, or an error if it would leave the archive.
Result<std::string> clean_path(std::string_view name) {
  if (name.starts_with("/"))
    return make_error(Fault::user, "malformed_archive",
                      "archive entry \"" + std::string(name) + "\" is an absolute path");
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= name.size()) {
    auto slash = name.find('/', start);
    std::string_view p = name.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (p == "..") {
      if (parts.empty())
        return make_error(Fault::user, "malformed_archive",
                          "archive entry \"" + std::string(name) + "\" escapes the archive");
      parts.pop_back();
    } else if (!p.empty() && p != ".") {
      parts.emplace_back(p);
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "/") + p;
  return out;
}

struct Staged {
  fs::path file;
  Digest digest = Digest::of("");
  std::uint64_t size = 0;
  std::string head;  // first bytes, for compression detection
};

class Staging {
 public:
  explicit Staging(fs::path dir) : dir_(std::move(dir)) {}
  ~Staging() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  Status extract(Source in) {
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec)
      return make_error(Fault::local, "io", "creating " + dir_.string() + ": " + ec.message());
    TarReader tr(std::move(in), Fault::user);
    std::size_t count = 0;
    while (true) {
      auto e = tr.next();
      if (!e) return std::unexpected(e.error());
      if (!*e) break;
      if (++count > kMaxArchiveEntries)
        return make_error(
            Fault::user, "too_large",
            "archive has more than " + std::to_string(kMaxArchiveEntries) + " entries");
      auto p = clean_path((*e)->name);
      if (!p) return std::unexpected(p.error());
      if (p->empty()) continue;
      if ((*e)->type == TarEntry::Type::symlink || (*e)->type == TarEntry::Type::hardlink) {
        std::string target = (*e)->linkname;
        if ((*e)->type == TarEntry::Type::symlink) {
          auto slash = p->rfind('/');
          if (!target.starts_with("/"))
            target = (slash == std::string::npos ? "" : p->substr(0, slash + 1)) + target;
        }
        auto t = clean_path(target);
        if (!t) return std::unexpected(t.error());
        links_[*p] = *t;
        continue;
      }
      if ((*e)->type != TarEntry::Type::file) continue;
      Staged s;
      s.file = dir_ / ("f" + std::to_string(count));
      auto w = FileWriter::create(s.file, 0644);
      if (!w) return std::unexpected(w.error());
      Hasher h(HashAlgorithm::sha256);
      auto body = tr.body_source();
      auto n = pump(body, [&](std::string_view chunk) -> Status {
        if (s.head.size() < 16) s.head.append(chunk.substr(0, 16 - s.head.size()));
        h.update(chunk);
        return (*w)->write(chunk);
      });
      if (!n) return std::unexpected(n.error());
      if (auto c = (*w)->close(); !c) return c;
      s.size = *n;
      s.digest = Digest::from_raw(HashAlgorithm::sha256, h.finish());
      files_[*p] = std::move(s);
    }
    return {};
  }
  const Staged* find(std::string path) const {
    for (int hops = 0; hops < 16; ++hops) {
      if (auto it = files_.find(path); it != files_.end()) return &it->second;
      auto l = links_.find(path);
      if (l == links_.end()) return nullptr;
      path = l->second;
    }
    return nullptr;
  }
  Result<std::string> read_json_text(const std::string& path) const {
    const Staged* s = find(path);
    if (!s) return make_error(Fault::user, "not_found", "archive has no " + path);
    if (s->size > kMaxArchiveJson)
      return make_error(Fault::user, "too_large", "archive's " + path + " is too large");
    return read_file(s->file, kMaxArchiveJson);
  }
  // Moves a staged file into the store as `expected` (checking digest and size).
  Status store_blob(ImageStore& store, const std::string& path, const Descriptor& expected) const {
    const Staged* s = find(path);
    if (!s)
      return make_error(Fault::user, "malformed_archive",
                        "archive is missing " + path + " (" + expected.digest.str() + ")");
    if (s->size != expected.size)
      return make_error(Fault::user, "hash_mismatch",
                        "archive's " + path + " is " + std::to_string(s->size) +
                            " bytes, its descriptor says " + std::to_string(expected.size));
    Digest got = s->digest;
    if (expected.digest.algorithm() != HashAlgorithm::sha256) {
      auto bytes = read_file(s->file, SIZE_MAX);
      if (!bytes) return std::unexpected(bytes.error());
      got = Digest::of(*bytes, expected.digest.algorithm());
    }
    if (got != expected.digest)
      return make_error(
          Fault::user, "hash_mismatch",
          "archive's " + path + " hashes to " + got.str() + ", expected " + expected.digest.str());
    if (store.has_blob(expected.digest)) return {};
    if (::link(s->file.c_str(), store.blob_path(expected.digest).c_str()) != 0 && errno != EEXIST)
      return make_error(
          Fault::local, "io",
          "storing " + store.blob_path(expected.digest).string() + ": " + std::strerror(errno));
    return fsync_dir(store.blob_path(expected.digest).parent_path());
  }

 private:
  fs::path dir_;
  std::map<std::string, Staged> files_;
  std::map<std::string, std::string> links_;
};

Source peeked_source(std::string head, Source rest) {
  auto h = std::make_shared<std::string>(std::move(head));
  auto off = std::make_shared<std::size_t>(0);
  return [h, off, rest](char* buf, std::size_t n) -> Result<std::size_t> {
    if (*off < h->size()) {
      std::size_t k = std::min(n, h->size() - *off);
      std::memcpy(buf, h->data() + *off, k);
      *off += k;
      return k;
    }
    return rest(buf, n);
  };
}

// Stores an OCI manifest/index and everything it references that the archive holds.
Status load_oci_target(ImageStore& store, const Staging& st, const Descriptor& d, int depth) {
  if (depth > 4)
    return make_error(Fault::user, "malformed_archive", "archive's indexes nest too deeply");
  std::string mt = d.media_type.empty() ? std::string(media::kOciManifest) : d.media_type;
  std::string path = blob_entry_name(d.digest);
  if (auto s = st.store_blob(store, path, d); !s) return s;
  if (!is_index_media_type(mt) && !is_manifest_media_type(mt)) return {};
  auto bytes = store.read_blob(d.digest, kMaxManifestBytes);
  if (!bytes) return std::unexpected(bytes.error());
  if (is_index_media_type(mt)) {
    auto idx = parse_index(*bytes, Fault::user);
    if (!idx) return std::unexpected(idx.error());
    for (const auto& m : idx->manifests) {
      if (!st.find(blob_entry_name(m.digest))) continue;  // other platforms may be absent
      if (auto s = load_oci_target(store, st, m, depth + 1); !s) return s;
    }
    return {};
  }
  auto m = parse_manifest(*bytes, Fault::user);
  if (!m) return std::unexpected(m.error());
  if (auto s = st.store_blob(store, blob_entry_name(m->config.digest), m->config); !s) return s;
  for (const auto& l : m->layers)
    if (auto s = st.store_blob(store, blob_entry_name(l.digest), l); !s) return s;
  return {};
}

}  // namespace

Result<std::vector<LoadedImage>> load_archive(ImageStore& store, Source in) {
  auto lock = store.lock_shared();
  if (!lock) return std::unexpected(lock.error());
  // Transparently accept a gzip-compressed archive, as docker load does.
  std::string head(2, '\0');
  std::size_t got = 0;
  while (got < 2) {
    auto r = in(head.data() + got, 2 - got);
    if (!r) return std::unexpected(r.error());
    if (*r == 0) break;
    got += *r;
  }
  head.resize(got);
  if (got == 0) return make_error(Fault::user, "malformed_archive", "the archive is empty");
  Source src = peeked_source(head, std::move(in));
  if (looks_gzip(head)) src = gunzip_source(std::move(src), Fault::user);

  Staging st(store.root() / "ingest" / ("load-" + random_hex_id()));
  if (auto s = st.extract(std::move(src)); !s) return std::unexpected(s.error());

  std::vector<LoadedImage> out;
  std::optional<Json> docker_manifest;
  if (st.find("manifest.json")) {
    auto text = st.read_json_text("manifest.json");
    if (!text) return std::unexpected(text.error());
    auto j = parse_json(*text, "archive manifest.json", Fault::user);
    if (!j) return std::unexpected(j.error());
    if (!j->is_array())
      return make_error(Fault::user, "malformed_archive", "archive manifest.json is not an array");
    docker_manifest = *j;
  }
  auto tag_all = [&](const Descriptor& target, const std::vector<Reference>& names) -> Status {
    if (names.empty()) out.push_back(LoadedImage{std::nullopt, target});
    for (const auto& n : names) {
      if (auto s = store.tag(n, target); !s) return s;
      out.push_back(LoadedImage{n, target});
    }
    return {};
  };
  auto repo_tags = [&](const Json& entry) -> Result<std::vector<Reference>> {
    std::vector<Reference> names;
    if (entry.contains("RepoTags") && entry["RepoTags"].is_array())
      for (const auto& t : entry["RepoTags"]) {
        if (!t.is_string()) continue;
        auto r = Reference::parse(t.get<std::string>());
        if (!r)
          return make_error(Fault::user, "bad_reference",
                            "archive manifest.json RepoTags: " + r.error().message);
        names.push_back(r->with_default_tag());
      }
    return names;
  };

  if (st.find("index.json") && st.find("oci-layout")) {
    auto text = st.read_json_text("index.json");
    if (!text) return std::unexpected(text.error());
    auto idx = parse_index(*text, Fault::user);
    if (!idx)
      return make_error(Fault::user, "malformed_archive",
                        "archive index.json: " + idx.error().message);
    for (const auto& d : idx->manifests) {
      if (auto s = load_oci_target(store, st, d, 0); !s) return std::unexpected(s.error());
      std::vector<Reference> names;
      auto ann = [&](std::string_view k) -> std::string {
        auto it = d.annotations.find(std::string(k));
        return it == d.annotations.end() ? "" : it->second;
      };
      if (auto n = ann(kAnnotationImageName); !n.empty()) {
        if (auto r = Reference::parse(n)) names.push_back(r->with_default_tag());
      } else if (auto rn = ann(kAnnotationRefName);
                 !rn.empty() && rn.find_first_of("/:") != std::string::npos) {
        if (auto r = Reference::parse(rn)) names.push_back(r->with_default_tag());
      }
      if (names.empty() && docker_manifest &&
          is_manifest_media_type(d.media_type.empty() ? media::kOciManifest : d.media_type)) {
        // Only a tag in the index: the Docker half of the archive may carry the names.
        auto mb = store.read_blob(d.digest, kMaxManifestBytes);
        auto m =
            mb ? parse_manifest(*mb, Fault::user) : Result<Manifest>(std::unexpected(mb.error()));
        if (m)
          for (const auto& e : *docker_manifest)
            if (e.is_object() && e.value("Config", "") == blob_entry_name(m->config.digest)) {
              auto r = repo_tags(e);
              if (!r) return std::unexpected(r.error());
              names = *r;
            }
      }
      if (auto s = tag_all(d, names); !s) return std::unexpected(s.error());
    }
    return out;
  }

  if (!docker_manifest)
    return make_error(Fault::user, "malformed_archive",
                      "not an image archive: it has neither manifest.json nor an OCI index.json");
  for (const auto& e : *docker_manifest) {
    if (!e.is_object() || !e.contains("Config") || !e["Config"].is_string() ||
        !e.contains("Layers") || !e["Layers"].is_array())
      return make_error(Fault::user, "malformed_archive",
                        "archive manifest.json entry lacks Config or Layers");
    auto cpath = clean_path(e["Config"].get<std::string>());
    if (!cpath) return std::unexpected(cpath.error());
    const Staged* cfg = st.find(*cpath);
    if (!cfg)
      return make_error(Fault::user, "malformed_archive", "archive is missing config " + *cpath);
    Descriptor cd{std::string(media::kDockerConfig), cfg->digest, cfg->size, {}, {}, {}};
    auto cfg_text = st.read_json_text(*cpath);
    if (!cfg_text) return std::unexpected(cfg_text.error());
    auto cfg_json = parse_json(*cfg_text, "archive config " + *cpath, Fault::user);
    if (!cfg_json) return std::unexpected(cfg_json.error());
    if (auto s = st.store_blob(store, *cpath, cd); !s) return std::unexpected(s.error());
    Json layers = Json::array();
    for (const auto& l : e["Layers"]) {
      if (!l.is_string())
        return make_error(Fault::user, "malformed_archive",
                          "archive manifest.json Layers holds a non-string");
      auto lpath = clean_path(l.get<std::string>());
      if (!lpath) return std::unexpected(lpath.error());
      const Staged* ls = st.find(*lpath);
      if (!ls)
        return make_error(Fault::user, "malformed_archive", "archive is missing layer " + *lpath);
      std::string mt(looks_gzip(ls->head) ? media::kDockerLayerGzip : media::kDockerLayer);
      Descriptor ld{mt, ls->digest, ls->size, {}, {}, {}};
      if (auto s = st.store_blob(store, *lpath, ld); !s) return std::unexpected(s.error());
      layers.push_back(ld.to_json());
    }
    Json m = {{"schemaVersion", 2},
              {"mediaType", media::kDockerManifest},
              {"config", cd.to_json()},
              {"layers", layers}};
    std::string mb = m.dump(3);
    auto md = store.put_blob(mb);
    if (!md) return std::unexpected(md.error());
    auto names = repo_tags(e);
    if (!names) return std::unexpected(names.error());
    if (auto s = tag_all(
            Descriptor{std::string(media::kDockerManifest), *md, mb.size(), {}, {}, {}}, *names);
        !s)
      return std::unexpected(s.error());
  }
  return out;
}

// ---------------- import ----------------

namespace {

// Writes a directory tree as tar entries (sorted, so the layer is reproducible).
Status write_tree(TarWriter& tw, const fs::path& root, const std::string& rel,
                  std::map<std::pair<dev_t, ino_t>, std::string>& inodes) {
  fs::path dir = rel.empty() ? root : root / rel;
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& de : fs::directory_iterator(dir, ec))
    names.push_back(de.path().filename().string());
  if (ec)
    return make_error(Fault::user, "io", "reading directory " + dir.string() + ": " + ec.message());
  std::sort(names.begin(), names.end());
  for (const auto& n : names) {
    std::string r = rel.empty() ? n : rel + "/" + n;
    fs::path p = root / r;
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0)
      return make_error(Fault::user, "io", "stat " + p.string() + ": " + std::strerror(errno));
    TarEntry e;
    e.name = r;
    e.mode = st.st_mode & 07777;
    e.uid = st.st_uid;
    e.gid = st.st_gid;
    e.mtime = st.st_mtime;
    if (S_ISDIR(st.st_mode)) {
      e.type = TarEntry::Type::directory;
      e.name += "/";
      if (auto s = tw.add(e); !s) return s;
      if (auto s = write_tree(tw, root, r, inodes); !s) return s;
    } else if (S_ISLNK(st.st_mode)) {
      e.type = TarEntry::Type::symlink;
      std::string target(static_cast<std::size_t>(st.st_size) + 1, '\0');
      ssize_t k = ::readlink(p.c_str(), target.data(), target.size());
      if (k < 0)
        return make_error(Fault::user, "io",
                          "readlink " + p.string() + ": " + std::strerror(errno));
      target.resize(static_cast<std::size_t>(k));
      e.linkname = target;
      if (auto s = tw.add(e); !s) return s;
    } else if (S_ISREG(st.st_mode)) {
      auto key = std::make_pair(st.st_dev, st.st_ino);
      if (st.st_nlink > 1) {
        if (auto it = inodes.find(key); it != inodes.end()) {
          e.type = TarEntry::Type::hardlink;
          e.linkname = it->second;
          if (auto s = tw.add(e); !s) return s;
          continue;
        }
        inodes[key] = r;
      }
      e.size = static_cast<std::uint64_t>(st.st_size);
      auto src = file_source(p);
      if (!src) return make_error(Fault::user, "io", src.error().message);
      if (auto s = tw.add(e); !s) return s;
      std::uint64_t copied = 0;
      auto n = pump(*src, [&](std::string_view c) -> Status {
        copied += c.size();
        if (copied > e.size)
          return make_error(Fault::user, "io", p.string() + " changed while being imported");
        return tw.write(c);
      });
      if (!n) return std::unexpected(n.error());
      if (copied != e.size)
        return make_error(Fault::user, "io", p.string() + " changed while being imported");
    } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISFIFO(st.st_mode)) {
      e.type = S_ISCHR(st.st_mode)   ? TarEntry::Type::chardev
               : S_ISBLK(st.st_mode) ? TarEntry::Type::blockdev
                                     : TarEntry::Type::fifo;
      e.devmajor = major(st.st_rdev);
      e.devminor = minor(st.st_rdev);
      if (auto s = tw.add(e); !s) return s;
    }
    // Sockets are not representable in tar and are skipped, as tar does.
  }
  return {};
}

}  // namespace

Result<Descriptor> import_image(ImageStore& store, const fs::path& source, const Reference& ref,
                                const ImportOptions& opts) {
  auto lock = store.lock_shared();
  if (!lock) return std::unexpected(lock.error());
  std::error_code ec;
  bool is_dir = fs::is_directory(source, ec);
  if (!is_dir && !fs::is_regular_file(source, ec))
    return make_error(Fault::user, "not_found",
                      source.string() + " is neither a directory nor a file");
  auto ingest = store.begin_ingest(std::nullopt, std::nullopt, "imported layer", Fault::user);
  if (!ingest) return std::unexpected(ingest.error());
  Hasher diff(HashAlgorithm::sha256);
  if (is_dir) {
    auto gz = gzip_sink((*ingest)->sink());
    TarWriter tw([&](std::string_view b) -> Status {
      diff.update(b);
      return gz.sink(b);
    });
    std::map<std::pair<dev_t, ino_t>, std::string> inodes;
    if (auto s = write_tree(tw, source, "", inodes); !s) return std::unexpected(s.error());
    if (auto s = tw.finish(); !s) return std::unexpected(s.error());
    if (auto s = gz.finish(); !s) return std::unexpected(s.error());
  } else {
    auto raw = file_source(source);
    if (!raw) return make_error(Fault::user, "io", raw.error().message);
    std::string head(2, '\0');
    auto n = (*raw)(head.data(), 2);
    if (!n) return std::unexpected(n.error());
    head.resize(*n);
    Source src = peeked_source(head, *raw);
    std::optional<GzipSink> gz;
    Source plain;
    if (looks_gzip(head)) {
      // Keep the compressed bytes as the blob; decompress only to hash and check the tar.
      Source tee = [&, src](char* b, std::size_t k) -> Result<std::size_t> {
        auto r = src(b, k);
        if (r && *r > 0)
          if (auto s = (*ingest)->write(std::string_view(b, *r)); !s)
            return std::unexpected(s.error());
        return r;
      };
      plain = gunzip_source(tee, Fault::user);
    } else {
      gz = gzip_sink((*ingest)->sink());
      plain = src;
    }
    Source hashed = [&, plain](char* b, std::size_t k) -> Result<std::size_t> {
      auto r = plain(b, k);
      if (r && *r > 0) {
        diff.update(b, *r);
        if (gz)
          if (auto s = gz->sink(std::string_view(b, *r)); !s) return std::unexpected(s.error());
      }
      return r;
    };
    // Walk every entry so a file that is not a tar is refused, and the diff_id covers the
    // whole stream (including trailing zero blocks) as the registry's consumers compute it.
    TarReader tr(hashed, Fault::user);
    std::size_t entries = 0;
    while (true) {
      auto e = tr.next();
      if (!e)
        return make_error(Fault::user, "malformed_archive",
                          source.string() + ": " + e.error().message);
      if (!*e) break;
      ++entries;
    }
    char sink_buf[65536];
    while (true) {
      auto r = hashed(sink_buf, sizeof sink_buf);
      if (!r) return std::unexpected(r.error());
      if (*r == 0) break;
    }
    if (entries == 0)
      return make_error(Fault::user, "malformed_archive", source.string() + " holds no files");
    if (gz)
      if (auto s = gz->finish(); !s) return std::unexpected(s.error());
  }
  Digest diff_id = Digest::from_raw(HashAlgorithm::sha256, diff.finish());
  std::uint64_t layer_size = (*ingest)->size();
  auto layer_digest = (*ingest)->commit();
  if (!layer_digest) return std::unexpected(layer_digest.error());
  std::string now = format_rfc3339(std::chrono::system_clock::now());
  Json config = {
      {"architecture", opts.platform.architecture},
      {"os", opts.platform.os},
      {"created", now},
      {"config", {{"Env", opts.env}}},
      {"rootfs", {{"type", "layers"}, {"diff_ids", {diff_id.str()}}}},
      {"history",
       {{{"created", now}, {"created_by", "docket import"}, {"comment", opts.message}}}}};
  if (!opts.platform.variant.empty()) config["variant"] = opts.platform.variant;
  if (!opts.cmd.empty()) config["config"]["Cmd"] = opts.cmd;
  std::string cb = config.dump();
  auto cd = store.put_blob(cb);
  if (!cd) return std::unexpected(cd.error());
  Json m = {
      {"schemaVersion", 2},
      {"mediaType", media::kOciManifest},
      {"config", {{"mediaType", media::kOciConfig}, {"digest", cd->str()}, {"size", cb.size()}}},
      {"layers",
       {{{"mediaType", media::kOciLayerGzip},
         {"digest", layer_digest->str()},
         {"size", layer_size}}}}};
  std::string mb = m.dump();
  auto md = store.put_blob(mb);
  if (!md) return std::unexpected(md.error());
  Descriptor target{std::string(media::kOciManifest), *md, mb.size(), {}, {}, {}};
  if (auto s = store.tag(ref.with_default_tag(), target); !s) return std::unexpected(s.error());
  return target;
}

}  // namespace docket::client
