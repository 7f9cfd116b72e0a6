// OCI and Docker image formats: media types, descriptors, manifests, indexes, platforms.
// Parsing is strict about what the client relies on (digests, sizes, media types) and
// keeps the raw bytes, because a manifest's identity is the digest of its exact bytes.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/digest.h"
#include "common/json.h"

namespace docket::client {

namespace media {
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kOciLayer = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view kOciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr std::string_view kDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kDockerLayer = "application/vnd.docker.image.rootfs.diff.tar";
inline constexpr std::string_view kDockerLayerGzip =
    "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr std::string_view kDockerForeignLayerGzip =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
}  // namespace media

// Accept header for manifest GETs: every manifest/index type the client understands.
std::string manifest_accept_header();
bool is_index_media_type(std::string_view mt);
bool is_manifest_media_type(std::string_view mt);  // single-image manifests

// Largest manifest or config accepted from anywhere (the distribution spec suggests 4 MiB).
inline constexpr std::size_t kMaxManifestBytes = 4 * 1024 * 1024;
inline constexpr std::size_t kMaxConfigBytes = 16 * 1024 * 1024;

struct Platform {
  std::string os, architecture, variant, os_version;
  // "linux/amd64", "linux/arm64/v8", "linux/arm/v7"; fails (user) on malformed text.
  static Result<Platform> parse(std::string_view s);
  // The platform docket itself runs on (linux/<uname machine>, normalised to Go names).
  static Platform host();
  std::string str() const;
  // Matches an index entry: same os and architecture, and variant if this has one (with
  // arm64's implicit v8).
  bool matches(const Platform& candidate) const;
  Json to_json() const;
  static Platform from_json(const Json& j);
};

struct Descriptor {
  std::string media_type;
  Digest digest = Digest::of("");
  std::uint64_t size = 0;
  std::optional<Platform> platform;
  std::map<std::string, std::string> annotations;
  std::vector<std::string> urls;
  Json to_json() const;
  // `what` names the document in errors; `fault` says whose document it is.
  static Result<Descriptor> from_json(const Json& j, std::string_view what, Fault fault);
};

// A single-platform image manifest (OCI or Docker schema 2).
struct Manifest {
  std::string media_type;
  Descriptor config;
  std::vector<Descriptor> layers;
  Json raw_json;
};

// A multi-platform index (OCI index or Docker manifest list).
struct Index {
  std::string media_type;
  std::vector<Descriptor> manifests;
  Json raw_json;
};

// Detects the media type from the "mediaType" field, the Content-Type header (if given) and
// the document's shape. Rejects schema 1 and anything unknown with a clear error.
Result<std::string> detect_manifest_media_type(std::string_view bytes,
                                               std::string_view content_type, Fault fault);
Result<Manifest> parse_manifest(std::string_view bytes, Fault fault);
Result<Index> parse_index(std::string_view bytes, Fault fault);

// Picks the manifest for a platform out of an index; a clear error lists what is available.
Result<Descriptor> select_platform(const Index& idx, const Platform& want);

bool is_gzip_layer(std::string_view media_type);

}  // namespace docket::client
