// Bounds on everything a TUF repository can make the client do. Defaults are at least as
// strict as python-tuf's UpdaterConfig (root 512000 B, timestamp 16384 B, snapshot 2 MB,
// targets 5 MB, 256 root rotations, 32 delegated roles per lookup).
#pragma once

#include <cstddef>
#include <cstdint>

namespace docket::tuf {

struct Limits {
  // Largest metadata accepted per role when the referring metadata gives no length.
  // Checked before parsing; the fetcher aborts a download that goes past it.
  std::size_t max_root_bytes = 512'000;
  std::size_t max_timestamp_bytes = 16'384;
  std::size_t max_snapshot_bytes = 2'000'000;
  std::size_t max_targets_bytes = 5'000'000;  // top-level and delegated targets
  // Hard ceiling even when snapshot/timestamp `meta` give a larger length.
  std::size_t max_metadata_bytes = 64'000'000;
  // Deepest JSON nesting accepted in any metadata file.
  std::size_t max_json_depth = 64;
  // Root versions fetched in one refresh (N.root.json loop).
  int max_root_rotations = 256;
  // Delegated roles visited in one target lookup (cycles and diamonds count once).
  int max_delegations = 32;
  // Longest chain targets -> a -> b -> ... searched.
  int max_delegation_depth = 32;
  // Signatures in one metadata file; more is treated as an attack.
  std::size_t max_signatures = 1024;
  // Largest target accepted for download (metadata gives the exact length).
  std::uint64_t max_target_bytes = 16ULL * 1024 * 1024 * 1024;
};

// Expiry checks are on by default; the only opt-out is named unsafe.
enum class ExpirationEnforcement { enforce, unsafe_ignore };

}  // namespace docket::tuf
