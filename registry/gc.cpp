#include "registry/gc.h"

#include <map>
#include <set>

#include "common/log.h"

namespace docket::registry {

namespace {

struct RepoState {
  std::map<std::string, std::optional<std::string>> revisions;  // digest -> subject digest
  std::map<std::string, std::string> tags;                      // tag -> digest
};

// "sha256/<hex>" -> "sha256:<hex>"
std::optional<std::string> digest_from(std::string_view alg, std::string_view hex) {
  auto d = Digest::parse(std::string(alg) + ":" + std::string(hex));
  if (!d) return std::nullopt;
  return d->str();
}

std::vector<std::string> split(std::string_view s) {
  std::vector<std::string> out;
  while (true) {
    auto p = s.find('/');
    out.emplace_back(s.substr(0, p));
    if (p == std::string_view::npos) break;
    s = s.substr(p + 1);
  }
  return out;
}

// Digests a stored manifest references (config, layers, index children).
std::vector<std::string> references_of(StorageDriver& d, const std::string& digest,
                                       std::uint64_t max_bytes) {
  std::vector<std::string> out;
  auto dg = Digest::parse(digest);
  if (!dg) return out;
  auto bytes = d.get(Store::blob_path(*dg), max_bytes + 1);
  if (!bytes) return out;
  auto j = parse_json(*bytes, "manifest", Fault::local, JsonLimits{max_bytes + 1, 64});
  if (!j || !j->is_object()) return out;
  auto add = [&](const Json& desc) {
    if (desc.is_object() && desc.contains("digest") && desc["digest"].is_string())
      out.push_back(desc["digest"].get<std::string>());
  };
  if (j->contains("config")) add((*j)["config"]);
  for (const char* k : {"layers", "manifests", "blobs"})
    if (j->contains(k) && (*j)[k].is_array())
      for (const auto& x : (*j)[k]) add(x);
  return out;
}

}  // namespace

Result<GcReport> collect_garbage(Store& store, const GcOptions& opts) {
  GcReport rep;
  StorageDriver& d = store.driver();
  auto now = std::chrono::system_clock::now();
  auto old_enough = [&](const std::string& path) {
    auto st = d.stat(path);
    return st && now - st->modified > opts.grace;
  };

  // 1. Inventory of every repository's links.
  std::map<std::string, RepoState> repos;
  std::set<std::string> marked;
  auto st = d.walk("/repositories", [&](const std::string& path, const FileInfo&) {
    auto parts = split(std::string_view(path).substr(std::string("/repositories/").size()));
    // .../<repo parts>/_layers/<alg>/<hex>/link
    // .../<repo parts>/_manifests/revisions/<alg>/<hex>/link
    // .../<repo parts>/_manifests/tags/<tag>/link
    std::size_t i = 0;
    while (i < parts.size() && !parts[i].starts_with("_")) ++i;
    if (i == 0 || i >= parts.size()) return;
    std::string repo;
    for (std::size_t k = 0; k < i; ++k) repo += (k ? "/" : "") + parts[k];
    std::vector<std::string> rest(parts.begin() + i, parts.end());
    if (rest.size() == 4 && rest[0] == "_layers" && rest[3] == "link") {
      if (auto dg = digest_from(rest[1], rest[2])) marked.insert(*dg);
    } else if (rest.size() == 5 && rest[0] == "_manifests" && rest[1] == "revisions" &&
               rest[4] == "link") {
      if (auto dg = digest_from(rest[2], rest[3])) {
        std::optional<std::string> subject;
        if (auto body = d.get(path, 64 * 1024)) {
          auto j = parse_json(*body, "revision link", Fault::local);
          if (j && j->is_object() && j->contains("subject") && (*j)["subject"].is_string())
            subject = (*j)["subject"].get<std::string>();
        }
        repos[repo].revisions[*dg] = subject;
      }
    } else if (rest.size() == 4 && rest[0] == "_manifests" && rest[1] == "tags" &&
               rest[3] == "link") {
      if (auto body = d.get(path, 1024)) repos[repo].tags[rest[2]] = *body;
    }
  });
  if (!st) return std::unexpected(st.error());

  // 2. Optionally drop manifests no tag reaches.
  for (auto& [repo, rs] : repos) {
    if (!opts.delete_untagged) break;
    std::set<std::string> reach;
    std::vector<std::string> work;
    for (auto& [t, dg] : rs.tags) work.push_back(dg);
    for (;;) {
      while (!work.empty()) {
        std::string dg = work.back();
        work.pop_back();
        if (!rs.revisions.count(dg) || !reach.insert(dg).second) continue;
        for (auto& child : references_of(d, dg, store.options().max_manifest_bytes))
          work.push_back(child);
      }
      // Referrers of reachable manifests are reachable.
      for (auto& [dg, subject] : rs.revisions)
        if (subject && reach.count(*subject) && !reach.count(dg)) work.push_back(dg);
      if (work.empty()) break;
    }
    std::vector<std::string> drop;
    for (auto& [dg, subject] : rs.revisions) {
      if (reach.count(dg)) continue;
      auto pd = Digest::parse(dg);
      if (!pd || !old_enough(Store::revision_link(repo, *pd))) continue;
      drop.push_back(dg);
    }
    for (auto& dg : drop) {
      rep.manifests_deleted.push_back(repo + "@" + dg);
      if (!opts.dry_run) {
        if (auto s = store.delete_manifest(repo, dg); !s) return std::unexpected(s.error());
      }
      rs.revisions.erase(dg);
    }
  }

  // 3. Mark manifests and what they reference.
  for (auto& [repo, rs] : repos)
    for (auto& [dg, subject] : rs.revisions) {
      marked.insert(dg);
      for (auto& ref : references_of(d, dg, store.options().max_manifest_bytes)) marked.insert(ref);
    }
  rep.blobs_marked = marked.size();

  // 4. Sweep unmarked blobs older than the grace period.
  std::vector<std::pair<std::string, std::uint64_t>> victims;
  st = d.walk("/blobs", [&](const std::string& path, const FileInfo& info) {
    auto parts = split(std::string_view(path).substr(std::string("/blobs/").size()));
    if (parts.size() != 4 || parts[3] != "data") return;
    ++rep.blobs_total;
    auto dg = digest_from(parts[0], parts[2]);
    if (!dg || marked.count(*dg)) return;
    if (!old_enough(path)) return;
    victims.emplace_back(*dg, info.size);
  });
  if (!st) return std::unexpected(st.error());
  for (auto& [dg, size] : victims) {
    auto pd = Digest::parse(dg);
    std::string dir = Store::blob_path(*pd);
    dir = dir.substr(0, dir.size() - std::string("/data").size());
    if (!opts.dry_run) {
      if (auto s = d.remove(dir); !s) return std::unexpected(s.error());
    }
    rep.blobs_deleted.push_back(dg);
    rep.bytes_freed += size;
  }

  // 5. Abandoned uploads.
  if (!opts.dry_run) {
    auto n = store.purge_uploads(now - opts.upload_max_age);
    if (!n) return std::unexpected(n.error());
    rep.uploads_purged = *n;
  }
  return rep;
}

}  // namespace docket::registry
