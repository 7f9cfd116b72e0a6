#include "client/image.h"

#include <sys/utsname.h>

namespace docket::client {

std::string manifest_accept_header() {
  return std::string(media::kOciManifest) + ", " + std::string(media::kOciIndex) + ", " +
         std::string(media::kDockerManifest) + ", " + std::string(media::kDockerManifestList);
}

bool is_index_media_type(std::string_view mt) {
  return mt == media::kOciIndex || mt == media::kDockerManifestList;
}
bool is_manifest_media_type(std::string_view mt) {
  return mt == media::kOciManifest || mt == media::kDockerManifest;
}
bool is_gzip_layer(std::string_view mt) {
  return mt == media::kOciLayerGzip || mt == media::kDockerLayerGzip ||
         mt == media::kDockerForeignLayerGzip;
}

Result<Platform> Platform::parse(std::string_view s) {
  Platform p;
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    auto slash = s.find('/', start);
    parts.emplace_back(s.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  auto valid = [](const std::string& x) {
    return !x.empty() && std::all_of(x.begin(), x.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
    });
  };
  if (parts.size() < 2 || parts.size() > 3 || !std::all_of(parts.begin(), parts.end(), valid))
    return make_error(Fault::user, "usage",
                      "invalid platform \"" + std::string(s) +
                          "\": expected os/arch[/variant], e.g. linux/amd64 or linux/arm64/v8");
  p.os = parts[0];
  p.architecture = parts[1];
  if (parts.size() == 3) p.variant = parts[2];
  if (p.architecture == "x86_64" || p.architecture == "x86-64") p.architecture = "amd64";
  if (p.architecture == "aarch64") p.architecture = "arm64";
  return p;
}

Platform Platform::host() {
  Platform p{"linux", "amd64", "", ""};
  utsname u{};
  if (::uname(&u) == 0) {
    std::string m = u.machine;
    if (m == "x86_64")
      p.architecture = "amd64";
    else if (m == "aarch64" || m == "arm64")
      p.architecture = "arm64";
    else if (m.starts_with("armv7"))
      p.architecture = "arm", p.variant = "v7";
    else if (m.starts_with("armv6"))
      p.architecture = "arm", p.variant = "v6";
    else if (m == "i686" || m == "i386")
      p.architecture = "386";
    else
      p.architecture = m;
  }
  return p;
}

std::string Platform::str() const {
  std::string s = os + "/" + architecture;
  if (!variant.empty()) s += "/" + variant;
  return s;
}

bool Platform::matches(const Platform& c) const {
  if (os != c.os || architecture != c.architecture) return false;
  if (variant.empty()) return true;
  std::string cv = c.variant;
  if (cv.empty() && architecture == "arm64") cv = "v8";
  return variant == cv;
}

Json Platform::to_json() const {
  Json j = {{"architecture", architecture}, {"os", os}};
  if (!variant.empty()) j["variant"] = variant;
  if (!os_version.empty()) j["os.version"] = os_version;
  return j;
}

Platform Platform::from_json(const Json& j) {
  Platform p;
  if (!j.is_object()) return p;
  auto s = [&](const char* k) {
    return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : std::string();
  };
  p.os = s("os");
  p.architecture = s("architecture");
  p.variant = s("variant");
  p.os_version = s("os.version");
  return p;
}

Json Descriptor::to_json() const {
  Json j = {{"mediaType", media_type}, {"digest", digest.str()}, {"size", size}};
  if (platform) j["platform"] = platform->to_json();
  if (!annotations.empty()) j["annotations"] = annotations;
  if (!urls.empty()) j["urls"] = urls;
  return j;
}

Result<Descriptor> Descriptor::from_json(const Json& j, std::string_view what, Fault fault) {
  auto bad = [&](std::string m) {
    return make_error(fault, "malformed_manifest", std::string(what) + ": " + m);
  };
  if (!j.is_object()) return bad("descriptor is not an object");
  Descriptor d;
  if (j.contains("mediaType")) {
    if (!j["mediaType"].is_string()) return bad("descriptor mediaType is not a string");
    d.media_type = j["mediaType"];
  }
  if (!j.contains("digest") || !j["digest"].is_string()) return bad("descriptor has no digest");
  auto dg = Digest::parse(j["digest"].get<std::string>());
  if (!dg) return bad("descriptor digest: " + dg.error().message);
  d.digest = *dg;
  if (!j.contains("size") || !j["size"].is_number_integer() || j["size"].get<std::int64_t>() < 0)
    return bad("descriptor for " + d.digest.str() + " has no valid size");
  d.size = j["size"].get<std::uint64_t>();
  if (j.contains("platform")) d.platform = Platform::from_json(j["platform"]);
  if (j.contains("annotations") && j["annotations"].is_object())
    for (const auto& [k, v] : j["annotations"].items())
      if (v.is_string()) d.annotations[k] = v;
  if (j.contains("urls") && j["urls"].is_array())
    for (const auto& u : j["urls"])
      if (u.is_string()) d.urls.push_back(u);
  return d;
}

Result<std::string> detect_manifest_media_type(std::string_view bytes,
                                               std::string_view content_type, Fault fault) {
  auto j = parse_json(bytes, "manifest", fault, JsonLimits{kMaxManifestBytes, 64});
  if (!j) return make_error(fault, "malformed_manifest", j.error().message);
  if (!j->is_object())
    return make_error(fault, "malformed_manifest", "manifest is not a JSON object");
  std::string mt;
  if (j->contains("mediaType") && (*j)["mediaType"].is_string()) mt = (*j)["mediaType"];
  std::string ct(content_type.substr(0, content_type.find(';')));
  while (!ct.empty() && ct.back() == ' ') ct.pop_back();
  if (mt.empty()) mt = ct;
  if (mt.empty() || mt == "application/json" || mt == "application/octet-stream") {
    if (j->contains("manifests"))
      mt = media::kOciIndex;
    else if (j->contains("layers") && j->contains("config"))
      mt = media::kOciManifest;
  }
  if (j->contains("schemaVersion") && (*j)["schemaVersion"] == 1)
    return make_error(
        fault, "unsupported_manifest",
        "Docker schema 1 manifests are not supported (deprecated and unsigned-by-digest)");
  if (!is_index_media_type(mt) && !is_manifest_media_type(mt))
    return make_error(fault, "unsupported_manifest",
                      "unsupported manifest media type \"" + mt + "\"");
  return mt;
}

Result<Manifest> parse_manifest(std::string_view bytes, Fault fault) {
  auto mt = detect_manifest_media_type(bytes, "", fault);
  if (!mt) return std::unexpected(mt.error());
  if (!is_manifest_media_type(*mt))
    return make_error(fault, "malformed_manifest", "expected an image manifest, got " + *mt);
  Manifest m;
  m.media_type = *mt;
  m.raw_json = *parse_json(bytes, "manifest", fault, JsonLimits{kMaxManifestBytes, 64});
  if (!m.raw_json.contains("config"))
    return make_error(fault, "malformed_manifest", "manifest has no config");
  auto c = Descriptor::from_json(m.raw_json["config"], "manifest config", fault);
  if (!c) return std::unexpected(c.error());
  m.config = *c;
  if (!m.raw_json.contains("layers") || !m.raw_json["layers"].is_array())
    return make_error(fault, "malformed_manifest", "manifest has no layers array");
  for (const auto& l : m.raw_json["layers"]) {
    auto d = Descriptor::from_json(l, "manifest layer", fault);
    if (!d) return std::unexpected(d.error());
    m.layers.push_back(*d);
  }
  return m;
}

Result<Index> parse_index(std::string_view bytes, Fault fault) {
  auto mt = detect_manifest_media_type(bytes, "", fault);
  if (!mt) return std::unexpected(mt.error());
  if (!is_index_media_type(*mt))
    return make_error(fault, "malformed_manifest", "expected an image index, got " + *mt);
  Index idx;
  idx.media_type = *mt;
  idx.raw_json = *parse_json(bytes, "index", fault, JsonLimits{kMaxManifestBytes, 64});
  if (!idx.raw_json.contains("manifests") || !idx.raw_json["manifests"].is_array())
    return make_error(fault, "malformed_manifest", "index has no manifests array");
  for (const auto& m : idx.raw_json["manifests"]) {
    auto d = Descriptor::from_json(m, "index entry", fault);
    if (!d) return std::unexpected(d.error());
    idx.manifests.push_back(*d);
  }
  return idx;
}

Result<Descriptor> select_platform(const Index& idx, const Platform& want) {
  std::string avail;
  for (const auto& d : idx.manifests) {
    if (!d.platform) continue;
    // Attestation manifests (buildkit's "unknown/unknown") are never a runnable platform.
    if (d.platform->os == "unknown") continue;
    if (!avail.empty()) avail += ", ";
    avail += d.platform->str();
    if (want.matches(*d.platform) &&
        is_manifest_media_type(d.media_type.empty() ? media::kOciManifest : d.media_type))
      return d;
  }
  return make_error(Fault::user, "platform_not_found",
                    "no manifest for platform " + want.str() +
                        " in the index (available: " + (avail.empty() ? "none" : avail) + ")");
}

}  // namespace docket::client
