// Deterministic incompressible test data for upload and storage tests: a seeded xorshift64
// stream, so a failing byte offset is the same on every run and every machine.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace docket::registry::testing {

inline std::string random_bytes(std::size_t size, std::uint64_t seed) {
  std::string out(size, '\0');
  std::uint64_t x = seed;
  for (auto& ch : out) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    ch = static_cast<char>(x);
  }
  return out;
}

}  // namespace docket::registry::testing
