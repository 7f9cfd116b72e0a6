// Test-only: builds synthetic images straight into a store (random layer bytes; registries
// and the client treat layers as opaque blobs).
#pragma once

#include <string>
#include <vector>

#include "client/store.h"
#include "client/stream.h"
#include "common/file.h"

namespace docket::client::test {

struct BuiltImage {
  Descriptor manifest;
  std::vector<Descriptor> layers;
  Descriptor config;
};

inline BuiltImage build_image(ImageStore& s, int layers, std::size_t layer_size,
                              const Platform& p = Platform{"linux", "amd64", "", ""},
                              const std::string& salt = "") {
  BuiltImage out;
  Json diff_ids = Json::array();
  Json ls = Json::array();
  for (int i = 0; i < layers; ++i) {
    // Real gzip (of random bytes, stored uncompressed-size-ish): peers such as skopeo sniff
    // the compression and would rewrite a manifest whose media types lie about it.
    std::string bytes;
    auto gz = gzip_sink(
        [&](std::string_view b) -> Status {
          bytes.append(b);
          return {};
        },
        1);
    (void)gz.sink(random_bytes(layer_size));
    (void)gz.finish();
    auto d = s.put_blob(bytes);
    Descriptor ld{std::string(media::kOciLayerGzip), *d, bytes.size(), {}, {}, {}};
    out.layers.push_back(ld);
    ls.push_back(ld.to_json());
    diff_ids.push_back(d->str());
  }
  Json cfg = {{"architecture", p.architecture},
              {"os", p.os},
              {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}},
              {"salt", salt}};
  if (!p.variant.empty()) cfg["variant"] = p.variant;
  std::string cb = cfg.dump();
  out.config = Descriptor{std::string(media::kOciConfig), *s.put_blob(cb), cb.size(), {}, {}, {}};
  Json m = {{"schemaVersion", 2},
            {"mediaType", media::kOciManifest},
            {"config", out.config.to_json()},
            {"layers", ls}};
  std::string mb = m.dump();
  out.manifest =
      Descriptor{std::string(media::kOciManifest), *s.put_blob(mb), mb.size(), {}, {}, {}};
  return out;
}

inline Descriptor build_index(ImageStore& s,
                              const std::vector<std::pair<Platform, Descriptor>>& entries) {
  Json ms = Json::array();
  for (const auto& [p, d] : entries) {
    Descriptor e = d;
    e.platform = p;
    ms.push_back(e.to_json());
  }
  std::string ib =
      Json{{"schemaVersion", 2}, {"mediaType", media::kOciIndex}, {"manifests", ms}}.dump();
  return Descriptor{std::string(media::kOciIndex), *s.put_blob(ib), ib.size(), {}, {}, {}};
}

}  // namespace docket::client::test
