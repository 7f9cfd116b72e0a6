// Streaming SHA-256/SHA-512 on OpenSSL EVP (which uses the CPU's SHA extensions) and the
// validated Digest type ("sha256:<64 lower hex>").
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/error.h"

namespace docket {

enum class HashAlgorithm { sha256, sha512 };

std::string_view hash_algorithm_name(HashAlgorithm a);  // "sha256" / "sha512"
Result<HashAlgorithm> parse_hash_algorithm(std::string_view name);
std::size_t hash_size(HashAlgorithm a);  // bytes: 32 / 64

class Hasher {
 public:
  explicit Hasher(HashAlgorithm a);
  ~Hasher();
  Hasher(Hasher&&) noexcept;
  Hasher& operator=(Hasher&&) noexcept;
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;

  void update(std::string_view bytes);
  void update(const void* data, std::size_t n);
  // Raw digest bytes. The hasher is reset afterwards and may be reused.
  std::string finish();
  HashAlgorithm algorithm() const { return alg_; }

 private:
  HashAlgorithm alg_;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string hash_bytes(HashAlgorithm a, std::string_view data);  // raw digest
std::string sha256(std::string_view data);                        // raw 32 bytes
std::string sha256_hex(std::string_view data);
std::string sha512(std::string_view data);

// A content digest as OCI and Docker write it: "<algorithm>:<hex>".
class Digest {
 public:
  // Validates the algorithm (sha256, sha512) and the hex (lower case, right length).
  static Result<Digest> parse(std::string_view s);
  static Digest of(std::string_view data, HashAlgorithm a = HashAlgorithm::sha256);
  static Digest from_raw(HashAlgorithm a, std::string_view raw);
  // hex must already be validated lower hex of the right length, else returns error.
  static Result<Digest> from_hex(HashAlgorithm a, std::string_view hex);

  HashAlgorithm algorithm() const { return alg_; }
  const std::string& hex() const { return hex_; }
  std::string str() const;  // "sha256:abcd…"
  // Constant-time comparison is not needed: digests are public.
  bool operator==(const Digest&) const = default;
  auto operator<=>(const Digest& o) const { return str() <=> o.str(); }

 private:
  Digest(HashAlgorithm a, std::string hex) : alg_(a), hex_(std::move(hex)) {}
  HashAlgorithm alg_ = HashAlgorithm::sha256;
  std::string hex_;
};

}  // namespace docket
