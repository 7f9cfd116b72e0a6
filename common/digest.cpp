#include "common/digest.h"

#include <openssl/evp.h>

#include <stdexcept>

#include "common/encoding.h"

namespace docket {

std::string_view hash_algorithm_name(HashAlgorithm a) {
  return a == HashAlgorithm::sha256 ? "sha256" : "sha512";
}

Result<HashAlgorithm> parse_hash_algorithm(std::string_view name) {
  if (name == "sha256") return HashAlgorithm::sha256;
  if (name == "sha512") return HashAlgorithm::sha512;
  return make_error(Fault::remote, "unsupported_algorithm",
                    "unsupported hash algorithm \"" + std::string(name) + "\" (supported: sha256, sha512)");
}

std::size_t hash_size(HashAlgorithm a) { return a == HashAlgorithm::sha256 ? 32 : 64; }

struct Hasher::Impl {
  EVP_MD_CTX* ctx = nullptr;
  const EVP_MD* md = nullptr;
  ~Impl() { EVP_MD_CTX_free(ctx); }
};

Hasher::Hasher(HashAlgorithm a) : alg_(a), impl_(std::make_unique<Impl>()) {
  impl_->md = a == HashAlgorithm::sha256 ? EVP_sha256() : EVP_sha512();
  impl_->ctx = EVP_MD_CTX_new();
  if (!impl_->ctx || EVP_DigestInit_ex(impl_->ctx, impl_->md, nullptr) != 1)
    throw Exception(Fault::bug, "openssl", "EVP_DigestInit_ex failed");
}
Hasher::~Hasher() = default;
Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;

void Hasher::update(std::string_view bytes) { update(bytes.data(), bytes.size()); }
void Hasher::update(const void* data, std::size_t n) {
  if (n && EVP_DigestUpdate(impl_->ctx, data, n) != 1)
    throw Exception(Fault::bug, "openssl", "EVP_DigestUpdate failed");
}

std::string Hasher::finish() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(impl_->ctx, out, &len) != 1 ||
      EVP_DigestInit_ex(impl_->ctx, impl_->md, nullptr) != 1)
    throw Exception(Fault::bug, "openssl", "EVP_DigestFinal_ex failed");
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string hash_bytes(HashAlgorithm a, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out, &len,
                 a == HashAlgorithm::sha256 ? EVP_sha256() : EVP_sha512(), nullptr) != 1)
    throw Exception(Fault::bug, "openssl", "EVP_Digest failed");
  return std::string(reinterpret_cast<char*>(out), len);
}
std::string sha256(std::string_view data) { return hash_bytes(HashAlgorithm::sha256, data); }
std::string sha512(std::string_view data) { return hash_bytes(HashAlgorithm::sha512, data); }
std::string sha256_hex(std::string_view data) { return hex_encode(sha256(data)); }

Result<Digest> Digest::parse(std::string_view s) {
  auto colon = s.find(':');
  if (colon == std::string_view::npos)
    return make_error(Fault::user, "digest_invalid",
                      "digest \"" + std::string(s.substr(0, 80)) + "\" has no \"algorithm:\" prefix");
  auto alg = parse_hash_algorithm(s.substr(0, colon));
  if (!alg) return make_error(Fault::user, "digest_invalid", "digest \"" + std::string(s.substr(0, 80)) + "\": " + alg.error().message);
  return from_hex(*alg, s.substr(colon + 1));
}

Result<Digest> Digest::from_hex(HashAlgorithm a, std::string_view hex) {
  if (hex.size() != hash_size(a) * 2 || !is_lower_hex(hex))
    return make_error(Fault::user, "digest_invalid",
                      std::string(hash_algorithm_name(a)) + " digest must be " +
                          std::to_string(hash_size(a) * 2) + " lower-case hex characters, got \"" +
                          std::string(hex.substr(0, 140)) + "\"");
  return Digest(a, std::string(hex));
}

Digest Digest::of(std::string_view data, HashAlgorithm a) { return Digest(a, hex_encode(hash_bytes(a, data))); }
Digest Digest::from_raw(HashAlgorithm a, std::string_view raw) { return Digest(a, hex_encode(raw)); }

std::string Digest::str() const {
  std::string s(hash_algorithm_name(alg_));
  s += ':';
  s += hex_;
  return s;
}

}  // namespace docket
