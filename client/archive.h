// `docket save` / `docket load` / `docket import`: image tarballs with no engine.
//
// save writes one tarball that is at once a Docker archive (manifest.json, as `docker load`
// and skopeo's docker-archive: read it) and an OCI image layout (oci-layout, index.json,
// blobs/sha256/…, as skopeo's oci-archive: reads it), the same dual layout `docker save`
// has written since Docker 25. Manifests keep their exact bytes, so digests survive a
// save/load round trip.
//
// load accepts Docker archives (legacy <id>/layer.tar layouts with symlinked duplicate
// layers included), OCI layout archives and either one gzip-compressed. Every blob is
// checked against its digest before it is stored, and entry paths that would escape the
// archive ('..', absolute, through symlinks) are refused.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "client/store.h"

namespace docket::client {

// Largest single JSON document (manifest.json, index.json) in an archive.
inline constexpr std::size_t kMaxArchiveJson = 16 * 1024 * 1024;
// Most entries an archive may have (a guard against tar bombs of tiny files).
inline constexpr std::size_t kMaxArchiveEntries = 100000;

// Writes `refs` (already in the store) to `out`. For a multi-platform index only the
// platform manifest whose blobs are all present is written (preferring `platform`).
Status save_images(const ImageStore& store, const std::vector<Reference>& refs,
                   const Platform& platform, Sink out);

struct LoadedImage {
  std::optional<Reference> reference;  // nullopt: the archive named no image
  Descriptor target;
};
Result<std::vector<LoadedImage>> load_archive(ImageStore& store, Source in);

struct ImportOptions {
  Platform platform = Platform::host();
  std::string message;  // history comment
  std::vector<std::string> env{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
  std::vector<std::string> cmd;
};
// Makes a one-layer image from a directory or a rootfs tarball (plain or gzip) and tags it.
Result<Descriptor> import_image(ImageStore& store, const std::filesystem::path& source,
                                const Reference& ref, const ImportOptions& opts);

}  // namespace docket::client
