// `docket images`, `tag`, `rmi`, `inspect`: the local image store.
#include <cstdio>
#include <set>

#include "cli/command.h"
#include "client/session.h"
#include "common/json.h"

namespace {
using namespace docket;
using namespace docket::client;

std::uint64_t image_size(const ImageStore& s, const Descriptor& target) {
  auto c = image_closure(s, target);
  std::uint64_t total = 0;
  if (c)
    for (const auto& d : *c)
      if (s.has_blob(d.digest)) total += d.size;
  return total;
}

std::string human_size(std::uint64_t b) {
  char buf[32];
  if (b >= 1000ull * 1000 * 1000)
    std::snprintf(buf, sizeof buf, "%.2fGB", b / 1e9);
  else if (b >= 1000ull * 1000)
    std::snprintf(buf, sizeof buf, "%.1fMB", b / 1e6);
  else if (b >= 1000)
    std::snprintf(buf, sizeof buf, "%.1fkB", b / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%lluB", static_cast<unsigned long long>(b));
  return buf;
}

// The config JSON of an image (for an index, the first locally present platform).
std::optional<Json> image_config(const ImageStore& s, const Descriptor& target) {
  auto c = image_closure(s, target);
  if (!c) return std::nullopt;
  for (const auto& d : *c) {
    if (!is_manifest_media_type(d.media_type)) continue;
    auto mb = s.read_blob(d.digest, kMaxManifestBytes);
    if (!mb) continue;
    auto m = parse_manifest(*mb, Fault::local);
    if (!m) continue;
    auto cb = s.read_blob(m->config.digest, kMaxConfigBytes);
    if (!cb) continue;
    auto j = parse_json(*cb, "config", Fault::local);
    if (j) return *j;
  }
  return std::nullopt;
}

struct ImagesArgs {
  std::string repo, format;
  bool quiet = false, digests = false;
};

docket::cli::Registration reg("docket", 30, {"images", "tag", "rmi", "inspect"}, [](CLI::App& app) {
  auto a = std::make_shared<ImagesArgs>();
  auto* images = app.add_subcommand("images", "List images in the local store");
  images->add_option("repository", a->repo, "Only this repository (e.g. nginx)");
  images->add_flag("-q,--quiet", a->quiet, "Only print digests");
  images->add_flag("--digests", a->digests, "Show digests");
  images->add_option("--format", a->format, "json: one JSON object per image")
      ->check(CLI::IsMember({"json", "table"}));
  images->callback([a] {
    auto store = value_or_raise(open_default_store());
    auto list = value_or_raise(store.list());
    std::optional<Reference> filter;
    if (!a->repo.empty()) filter = value_or_raise(Reference::parse(a->repo));
    if (!a->quiet && a->format != "json")
      std::printf("%-40s %-16s %s%-14s %-22s %s\n", "REPOSITORY", "TAG",
                  a->digests
                      ? "DIGEST                                                                    "
                      : "",
                  "IMAGE ID", "CREATED", "SIZE");
    std::set<std::string> seen;
    for (const auto& r : list) {
      if (filter && r.reference.repository() != filter->repository()) continue;
      if (filter && filter->tag() && r.reference.tag() != filter->tag()) continue;
      std::string id = r.target.digest.hex().substr(0, 12);
      if (a->quiet) {
        if (seen.insert(id).second) std::printf("%s\n", id.c_str());
        continue;
      }
      auto cfg = image_config(store, r.target);
      std::string created = cfg && cfg->contains("created") && (*cfg)["created"].is_string()
                                ? (*cfg)["created"].get<std::string>()
                                : "";
      std::uint64_t size = image_size(store, r.target);
      std::string repo = r.reference.without_tag_or_digest().familiar();
      std::string tag = r.reference.tag().value_or("<none>");
      if (a->format == "json") {
        Json j = {
            {"Repository", repo},   {"Tag", tag},   {"Digest", r.target.digest.str()}, {"ID", id},
            {"CreatedAt", created}, {"Size", size}, {"MediaType", r.target.media_type}};
        std::printf("%s\n", j.dump().c_str());
        continue;
      }
      std::printf("%-40s %-16s %s%-14s %-22s %s\n", repo.c_str(), tag.c_str(),
                  a->digests ? (r.target.digest.str() + " ").c_str() : "", id.c_str(),
                  created.substr(0, 19).c_str(), human_size(size).c_str());
    }
  });

  auto t = std::make_shared<std::pair<std::string, std::string>>();
  auto* tag = app.add_subcommand("tag", "Give a local image another name");
  tag->add_option("source", t->first, "Existing image")->required();
  tag->add_option("target", t->second, "New name[:tag]")->required();
  tag->callback([t] {
    auto store = value_or_raise(open_default_store());
    auto src = value_or_raise(Reference::parse(t->first));
    auto dst = value_or_raise(Reference::parse(t->second));
    if (dst.digest())
      raise(Fault::user, "usage", "a tag target cannot contain a digest: " + t->second);
    auto target = value_or_raise(store.resolve(src));
    if (!target) raise(Fault::user, "not_found", "no such image: " + src.familiar());
    value_or_raise(store.tag(dst.with_default_tag(), *target));
  });

  auto r = std::make_shared<std::vector<std::string>>();
  auto* rmi = app.add_subcommand("rmi", "Remove image names and the blobs nothing else uses");
  rmi->add_option("references", *r, "Images to remove")->required();
  rmi->callback([r] {
    auto store = value_or_raise(open_default_store());
    bool missing = false;
    for (const auto& s : *r) {
      auto ref = value_or_raise(Reference::parse(s));
      if (value_or_raise(store.untag(ref))) {
        std::printf("Untagged: %s\n", ref.digest() ? ref.familiar().c_str()
                                                   : ref.with_default_tag().familiar().c_str());
      } else {
        std::fprintf(stderr, "docket: no such image: %s\n", s.c_str());
        missing = true;
      }
    }
    auto st = value_or_raise(store.gc());
    if (st.blobs_removed)
      std::printf("Deleted: %zu blobs (%s)\n", st.blobs_removed,
                  human_size(st.bytes_removed).c_str());
    if (missing) raise(Fault::user, "not_found", "some images were not found");
  });

  auto i = std::make_shared<std::vector<std::string>>();
  auto* inspect = app.add_subcommand("inspect", "Show an image's manifest and config as JSON");
  inspect->add_option("references", *i, "Images")->required();
  inspect->callback([i] {
    auto store = value_or_raise(open_default_store());
    Json out = Json::array();
    for (const auto& s : *i) {
      auto ref = value_or_raise(Reference::parse(s));
      auto target = value_or_raise(store.resolve(ref));
      if (!target) raise(Fault::user, "not_found", "no such image: " + ref.familiar());
      Json j = {{"Name", ref.with_default_tag().str()},
                {"Digest", target->digest.str()},
                {"MediaType", target->media_type},
                {"Size", image_size(store, *target)}};
      auto mb = value_or_raise(store.read_blob(target->digest, kMaxManifestBytes));
      j["Manifest"] = value_or_raise(parse_json(mb, "manifest", Fault::local));
      if (auto cfg = image_config(store, *target)) j["Config"] = *cfg;
      std::vector<std::string> names;
      for (const auto& rec : value_or_raise(store.list()))
        if (rec.target.digest == target->digest) names.push_back(rec.reference.familiar());
      j["RepoTags"] = names;
      out.push_back(j);
    }
    std::printf("%s\n", out.dump(4).c_str());
  });
});
}  // namespace
