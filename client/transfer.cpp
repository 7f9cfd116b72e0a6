#include "client/transfer.h"

#include <atomic>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "common/file.h"

namespace docket::client {
namespace fs = std::filesystem;

namespace {
std::string short_id(const Digest& d) {
  return d.hex().substr(0, 12);
}
fs::path sources_file(const ImageStore& s, const Digest& d) {
  return s.root() / "sources" / (std::string(hash_algorithm_name(d.algorithm())) + "-" + d.hex());
}
}  // namespace

std::vector<std::string> blob_sources(const ImageStore& store, const Digest& d) {
  std::vector<std::string> out;
  std::ifstream in(sources_file(store, d));
  std::string line;
  while (std::getline(in, line))
    if (!line.empty() && std::find(out.begin(), out.end(), line) == out.end()) out.push_back(line);
  return out;
}

void record_blob_source(const ImageStore& store, const Digest& d, const std::string& repository) {
  auto have = blob_sources(store, d);
  if (std::find(have.begin(), have.end(), repository) != have.end()) return;
  std::error_code ec;
  fs::create_directories(store.root() / "sources", ec);
  // Only a hint for mounts: an append that races or is lost costs an upload, nothing more.
  std::ofstream out(sources_file(store, d), std::ios::app);
  out << repository << "\n";
}

Status run_parallel(int parallel, std::vector<std::function<Status()>> tasks) {
  parallel = std::clamp(parallel, 1, kMaxParallelTransfers);
  std::atomic<std::size_t> next{0};
  std::mutex mu;
  std::optional<Error> first;
  auto worker = [&] {
    while (true) {
      {
        std::lock_guard l(mu);
        if (first) return;
      }
      std::size_t i = next++;
      if (i >= tasks.size()) return;
      Status s;
      try {
        s = tasks[i]();
      } catch (const Exception& e) {
        s = std::unexpected(e.error());
      } catch (const std::exception& e) {
        s = make_error(Fault::bug, "unexpected", e.what());
      }
      if (!s) {
        std::lock_guard l(mu);
        if (!first) first = s.error();
      }
    }
  };
  std::vector<std::thread> threads;
  int n = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(parallel), tasks.size()));
  for (int i = 1; i < n; ++i) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
  if (first) return std::unexpected(*first);
  return {};
}

Result<PullResult> pull_image(RegistryClient& reg, ImageStore& store, const Reference& ref_in,
                              const PullOptions& opts) {
  Reference ref = ref_in.with_default_tag();
  auto lock = store.lock_shared();
  if (!lock) return std::unexpected(lock.error());
  const std::string repo = ref.path();
  Progress* pg = opts.progress;
  std::string name = ref.familiar();

  std::string first_ref = opts.trusted ? opts.trusted->digest.str() : ref.manifest_reference();
  auto top = reg.get_manifest(repo, first_ref);
  if (!top) return std::unexpected(top.error());
  if (opts.trusted && top->bytes.size() != opts.trusted->size)
    return make_error(Fault::remote, "hash_mismatch",
                      name + ": manifest is " + std::to_string(top->bytes.size()) +
                          " bytes, the trusted size is " + std::to_string(opts.trusted->size));
  if (ref.digest() && top->digest != *ref.digest())
    return make_error(Fault::remote, "hash_mismatch",
                      name + ": registry served manifest " + top->digest.str());

  PullResult res{ref, top->descriptor(), top->descriptor()};
  std::optional<FetchedManifest> platform_manifest;
  if (is_index_media_type(top->media_type)) {
    auto idx = parse_index(top->bytes, Fault::remote);
    if (!idx) return std::unexpected(with_context(idx.error(), name));
    auto pick = select_platform(*idx, opts.platform);
    if (!pick) return std::unexpected(with_context(pick.error(), name));
    if (opts.check_platform_manifest)
      if (auto s = opts.check_platform_manifest(*pick); !s)
        return std::unexpected(with_context(s.error(), name));
    auto m = reg.get_manifest(repo, pick->digest.str());
    if (!m) return std::unexpected(m.error());
    if (m->bytes.size() != pick->size)
      return make_error(Fault::remote, "hash_mismatch",
                        name + ": platform manifest size differs from the index's descriptor");
    if (!is_manifest_media_type(m->media_type))
      return make_error(
          Fault::remote, "malformed_manifest",
          name + ": index entry for " + opts.platform.str() + " is not an image manifest");
    platform_manifest = std::move(*m);
    res.manifest = platform_manifest->descriptor();
  }
  const FetchedManifest& mf = platform_manifest ? *platform_manifest : *top;
  auto manifest = parse_manifest(mf.bytes, Fault::remote);
  if (!manifest) return std::unexpected(with_context(manifest.error(), name));

  std::vector<Descriptor> blobs{manifest->config};
  blobs.insert(blobs.end(), manifest->layers.begin(), manifest->layers.end());
  std::vector<std::function<Status()>> tasks;
  std::set<std::string> scheduled;
  std::atomic<std::uint64_t> bytes{0};
  std::atomic<std::size_t> downloaded{0}, present{0};
  for (std::size_t i = 0; i < blobs.size(); ++i) {
    const Descriptor d = blobs[i];
    if (!scheduled.insert(d.digest.str()).second) continue;
    if (store.has_blob(d.digest)) {
      ++present;
      if (pg && i > 0) pg->finish(short_id(d.digest), "Already exists");
      continue;
    }
    std::string what =
        (i == 0 ? "config " : "layer " + std::to_string(i) + " ") + d.digest.str() + " of " + name;
    tasks.push_back([&, d, what, i]() -> Status {
      auto id = short_id(d.digest);
      if (pg && i > 0) pg->start(id, "Downloading", d.size);
      auto ingest = store.begin_ingest(d.digest, d.size, what, Fault::remote);
      if (!ingest) return std::unexpected(ingest.error());
      auto restart = [&]() -> Status {
        auto again = store.begin_ingest(d.digest, d.size, what, Fault::remote);
        if (!again) return std::unexpected(again.error());
        *ingest = std::move(*again);
        return {};
      };
      auto st = reg.get_blob(
          repo, d, [&](std::string_view b) { return (*ingest)->write(b); }, restart,
          [&](std::uint64_t n) {
            if (pg && i > 0) pg->update(id, n);
          });
      if (!st) return st;
      auto c = (*ingest)->commit();
      if (!c) return std::unexpected(c.error());
      bytes += d.size;
      ++downloaded;
      if (pg && i > 0) pg->finish(id, "Pull complete");
      return {};
    });
  }
  if (auto s = run_parallel(opts.parallel, std::move(tasks)); !s) return std::unexpected(s.error());

  // Manifests last: the bytes were verified against their digests when fetched.
  if (platform_manifest)
    if (auto s = store.put_blob(platform_manifest->bytes); !s) return std::unexpected(s.error());
  if (auto s = store.put_blob(top->bytes); !s) return std::unexpected(s.error());
  Reference local_name = ref.tag() ? ref.without_tag_or_digest().with_tag(*ref.tag()) : ref;
  if (auto s = store.tag(local_name, res.target); !s) return std::unexpected(s.error());
  for (const auto& d : blobs) record_blob_source(store, d.digest, ref.repository());
  res.reference = local_name;
  res.blobs_downloaded = downloaded;
  res.blobs_present = present;
  res.bytes_downloaded = bytes;
  if (pg) {
    pg->message("Digest: " + res.target.digest.str());
    pg->message("Status: Downloaded newer image for " + name);
  }
  return res;
}

Result<PushResult> push_image(RegistryClient& reg, ImageStore& store, const Reference& local,
                              const Reference& remote_in, const PushOptions& opts) {
  Reference remote = remote_in.with_default_tag();
  auto lock = store.lock_shared();
  if (!lock) return std::unexpected(lock.error());
  auto target = store.resolve(local);
  if (!target) return std::unexpected(target.error());
  if (!*target)
    return make_error(Fault::user, "not_found", "no such local image: " + local.familiar());
  const std::string repo = remote.path();
  Progress* pg = opts.progress;

  // Manifests to push (children before the index) and their blobs.
  std::vector<Descriptor> manifests;
  std::vector<Descriptor> blobs;
  std::set<std::string> seen;
  auto add_manifest = [&](const Descriptor& d) -> Status {
    auto bytes = store.read_blob(d.digest, kMaxManifestBytes);
    if (!bytes) return std::unexpected(bytes.error());
    auto m = parse_manifest(*bytes, Fault::local);
    if (!m) return std::unexpected(m.error());
    for (const auto& b : std::vector<Descriptor>{m->config})
      if (seen.insert(b.digest.str()).second) blobs.push_back(b);
    for (const auto& b : m->layers)
      if (seen.insert(b.digest.str()).second) blobs.push_back(b);
    manifests.push_back(d);
    return {};
  };
  if (is_index_media_type((*target)->media_type)) {
    auto bytes = store.read_blob((*target)->digest, kMaxManifestBytes);
    if (!bytes) return std::unexpected(bytes.error());
    auto idx = parse_index(*bytes, Fault::local);
    if (!idx) return std::unexpected(idx.error());
    for (auto d : idx->manifests) {
      if (!store.has_blob(d.digest))
        return make_error(
            Fault::user, "not_found",
            local.familiar() + " is a multi-platform index but platform " +
                (d.platform ? d.platform->str() : d.digest.str()) +
                " was not pulled; pull it with --platform, or push a single platform");
      if (d.media_type.empty()) d.media_type = media::kOciManifest;
      if (auto s = add_manifest(d); !s) return std::unexpected(s.error());
    }
  } else {
    if (auto s = add_manifest(**target); !s) return std::unexpected(s.error());
  }
  for (const auto& b : blobs)
    if (!store.has_blob(b.digest))
      return make_error(
          Fault::local, "not_found",
          local.familiar() + ": blob " + b.digest.str() + " is missing from the local store");

  PushResult res;
  std::atomic<std::size_t> uploaded{0}, mounted{0}, present{0};
  std::atomic<std::uint64_t> bytes{0};
  std::vector<std::function<Status()>> tasks;
  for (const auto& b : blobs) {
    tasks.push_back([&, b]() -> Status {
      auto id = short_id(b.digest);
      auto exists = reg.blob_exists(repo, b.digest);
      if (!exists) return std::unexpected(exists.error());
      if (*exists) {
        ++present;
        if (pg) pg->finish(id, "Layer already exists");
        return {};
      }
      for (const auto& src : blob_sources(store, b.digest)) {
        auto r = Reference::parse_repository(src);
        if (!r || r->domain() != remote.domain() || r->path() == repo) continue;
        auto m = reg.mount_blob(repo, b.digest, r->path());
        if (m && *m) {
          ++mounted;
          if (pg) pg->finish(id, "Mounted from " + r->path());
          return {};
        }
      }
      if (pg) pg->start(id, "Pushing", b.size);
      fs::path file = store.blob_path(b.digest);
      auto st = reg.upload_blob(
          repo, b, [file](std::uint64_t off) { return file_source(file, off); },
          [&](std::uint64_t n) {
            if (pg) pg->update(id, n);
          });
      if (!st) return st;
      ++uploaded;
      bytes += b.size;
      if (pg) pg->finish(id, "Pushed");
      return {};
    });
  }
  if (auto s = run_parallel(opts.parallel, std::move(tasks)); !s) return std::unexpected(s.error());

  bool top_is_index = is_index_media_type((*target)->media_type);
  for (const auto& m : manifests) {
    auto bytes = store.read_blob(m.digest, kMaxManifestBytes);
    if (!bytes) return std::unexpected(bytes.error());
    std::string reference = top_is_index ? m.digest.str() : remote.manifest_reference();
    auto d = reg.put_manifest(repo, reference, *bytes, m.media_type);
    if (!d) return std::unexpected(d.error());
  }
  if (top_is_index) {
    auto bytes = store.read_blob((*target)->digest, kMaxManifestBytes);
    if (!bytes) return std::unexpected(bytes.error());
    auto d = reg.put_manifest(repo, remote.manifest_reference(), *bytes, (*target)->media_type);
    if (!d) return std::unexpected(d.error());
  }
  for (const auto& b : blobs) record_blob_source(store, b.digest, remote.repository());
  res.target = **target;
  res.target.annotations.clear();
  if (top_is_index) res.platform_manifests = manifests;
  res.blobs_uploaded = uploaded;
  res.blobs_mounted = mounted;
  res.blobs_present = present;
  res.bytes_uploaded = bytes;
  if (pg)
    pg->message(remote.tag().value_or("") + ": digest: " + res.target.digest.str() +
                " size: " + std::to_string(res.target.size));
  return res;
}

}  // namespace docket::client
