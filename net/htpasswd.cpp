#include "net/htpasswd.h"

#include <crypt.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <memory>

#include "common/file.h"

namespace docket::net {

namespace {

constexpr std::string_view kBcryptAlphabet =
    "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

// A valid hash of a random password, verified against when the user does not exist.
const std::string& dummy_hash() {
  static const std::string h = [] {
    auto r = bcrypt_hash("docket-dummy-password");
    return r ? *r : std::string();
  }();
  return h;
}

bool valid_user_name(std::string_view u) {
  if (u.empty()) return false;
  return std::none_of(u.begin(), u.end(), [](char c) {
    auto b = static_cast<unsigned char>(c);
    return c == ':' || b < 0x20 || b == 0x7f;
  });
}

}  // namespace

bool is_bcrypt_hash(std::string_view h) {
  if (h.size() != 60) return false;
  if (!(h.starts_with("$2a$") || h.starts_with("$2b$") || h.starts_with("$2y$"))) return false;
  if (!std::isdigit(static_cast<unsigned char>(h[4])) ||
      !std::isdigit(static_cast<unsigned char>(h[5])) || h[6] != '$')
    return false;
  int cost = (h[4] - '0') * 10 + (h[5] - '0');
  if (cost < static_cast<int>(kMinBcryptCost) || cost > static_cast<int>(kMaxBcryptCost))
    return false;
  return std::all_of(h.begin() + 7, h.end(),
                     [](char c) { return kBcryptAlphabet.find(c) != std::string_view::npos; });
}

Result<std::string> bcrypt_hash(std::string_view password, unsigned cost) {
  if (cost < kMinBcryptCost || cost > kMaxBcryptCost)
    return make_error(Fault::user, "usage",
                      "bcrypt cost must be between " + std::to_string(kMinBcryptCost) + " and " +
                          std::to_string(kMaxBcryptCost));
  if (password.size() > kMaxBcryptPasswordBytes)
    return make_error(
        Fault::user, "usage",
        "password is longer than bcrypt's " + std::to_string(kMaxBcryptPasswordBytes) + " bytes");
  if (password.find('\0') != std::string_view::npos)
    return make_error(Fault::user, "usage", "password contains a NUL byte");
  std::string rnd = random_bytes(16);
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  if (!crypt_gensalt_rn("$2y$", cost, rnd.data(), static_cast<int>(rnd.size()), setting,
                        sizeof setting))
    return make_error(Fault::bug, "openssl", "crypt_gensalt_rn($2y$) failed");
  auto data = std::make_unique<crypt_data>();
  std::string pw(password);
  char* out = crypt_r(pw.c_str(), setting, data.get());
  OPENSSL_cleanse(pw.data(), pw.size());
  if (!out || out[0] == '*') return make_error(Fault::bug, "openssl", "crypt_r(bcrypt) failed");
  std::string h(out);
  OPENSSL_cleanse(data.get(), sizeof(crypt_data));
  return h;
}

bool bcrypt_verify(std::string_view password, std::string_view hash) {
  if (!is_bcrypt_hash(hash)) return false;
  if (password.find('\0') != std::string_view::npos) return false;
  auto data = std::make_unique<crypt_data>();
  std::string pw(password);
  std::string setting(hash);
  char* out = crypt_r(pw.c_str(), setting.c_str(), data.get());
  OPENSSL_cleanse(pw.data(), pw.size());
  bool ok = out && out[0] != '*' && std::strlen(out) == hash.size() &&
            CRYPTO_memcmp(out, hash.data(), hash.size()) == 0;
  OPENSSL_cleanse(data.get(), sizeof(crypt_data));
  return ok;
}

Result<Htpasswd> Htpasswd::parse(std::string_view text, std::string_view source) {
  Htpasswd h;
  std::size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    auto first = line.find_first_not_of(" \t");
    if (first == std::string_view::npos || line[first] == '#') continue;
    auto where = std::string(source) + " line " + std::to_string(line_no);
    auto colon = line.find(':');
    if (colon == std::string_view::npos)
      return make_error(Fault::user, "config", where + ": expected user:hash");
    auto user = line.substr(0, colon);
    auto hash = line.substr(colon + 1);
    if (!valid_user_name(user))
      return make_error(Fault::user, "config", where + ": invalid user name");
    if (!is_bcrypt_hash(hash))
      return make_error(Fault::user, "config",
                        where + ": user \"" + std::string(user) +
                            "\" does not have a bcrypt hash (make one with htpasswd -B)");
    if (h.hashes_.contains(user))
      return make_error(Fault::user, "config",
                        where + ": user \"" + std::string(user) + "\" is listed twice");
    h.hashes_.emplace(std::string(user), std::string(hash));
    h.order_.emplace_back(user);
  }
  return h;
}

Result<Htpasswd> Htpasswd::load(const std::filesystem::path& path) {
  auto text = read_file(path, kMaxHtpasswdBytes);
  if (!text) return std::unexpected(with_context(text.error(), "htpasswd file"));
  return parse(*text, path.string());
}

bool Htpasswd::verify(std::string_view user, std::string_view password) const {
  auto it = hashes_.find(user);
  if (it == hashes_.end()) {
    (void)bcrypt_verify(password, dummy_hash());
    return false;
  }
  return bcrypt_verify(password, it->second);
}

bool Htpasswd::has_user(std::string_view user) const {
  return hashes_.contains(user);
}

std::optional<std::string> Htpasswd::hash_of(std::string_view user) const {
  auto it = hashes_.find(user);
  if (it == hashes_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> Htpasswd::users() const {
  return order_;
}

Status Htpasswd::set_password(std::string_view user, std::string_view password, unsigned cost) {
  if (!valid_user_name(user))
    return make_error(Fault::user, "usage",
                      "invalid user name (empty, or contains ':' or control characters)");
  auto h = bcrypt_hash(password, cost);
  if (!h) return std::unexpected(h.error());
  auto it = hashes_.find(user);
  if (it != hashes_.end()) {
    it->second = *h;
  } else {
    hashes_.emplace(std::string(user), *h);
    order_.emplace_back(user);
  }
  return {};
}

bool Htpasswd::remove(std::string_view user) {
  auto it = hashes_.find(user);
  if (it == hashes_.end()) return false;
  hashes_.erase(it);
  std::erase(order_, std::string(user));
  return true;
}

std::string Htpasswd::serialize() const {
  std::string out;
  for (const auto& u : order_) out += u + ":" + hashes_.at(u) + "\n";
  return out;
}

}  // namespace docket::net
