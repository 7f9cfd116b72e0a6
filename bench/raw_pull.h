// The "unverified" baseline both pull benches time: fetch a manifest and write its config
// and layers to `dir` with the client's parallelism, with none of the image store's work
// (no digest check against a store, no fsync, no rename into place).
#pragma once

#include <filesystem>
#include <functional>
#include <vector>

#include "client/stream.h"
#include "client/transfer.h"

namespace docket::bench {

inline void raw_pull(client::RegistryClient& c, const client::Reference& ref,
                     const std::filesystem::path& dir) {
  auto m = value_or_raise(c.get_manifest(ref.path(), ref.manifest_reference()));
  auto manifest = value_or_raise(client::parse_manifest(m.bytes, Fault::remote));
  std::vector<client::Descriptor> blobs{manifest.config};
  blobs.insert(blobs.end(), manifest.layers.begin(), manifest.layers.end());
  std::vector<std::function<Status()>> tasks;
  for (const auto& d : blobs)
    tasks.push_back([&, d]() -> Status {
      auto w = client::FileWriter::create(dir / d.digest.hex());
      if (!w) return std::unexpected(w.error());
      auto s = c.get_blob(ref.path(), d, (*w)->sink(), [] { return Status{}; });
      if (!s) return s;
      return (*w)->close();
    });
  value_or_raise(client::run_parallel(client::kDefaultParallelTransfers, std::move(tasks)));
}

}  // namespace docket::bench
