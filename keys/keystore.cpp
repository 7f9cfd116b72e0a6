#include "keys/keystore.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "common/encoding.h"
#include "common/file.h"
#include "common/log.h"

namespace docket::keys {
namespace fs = std::filesystem;

namespace {

bool role_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '/';
}

std::string key_header_role(const PemBlock& b) {
  return b.header("role");
}

void sort_infos(std::vector<KeyInfo>& v) {
  std::sort(v.begin(), v.end(), [](const KeyInfo& a, const KeyInfo& b) {
    return std::tie(a.role, a.gun, a.id) < std::tie(b.role, b.gun, b.id);
  });
}

// The PEM block a key file or an export holds.
Result<std::string> encrypted_block(const PrivateKey& key, const std::string& id,
                                    std::string_view role, std::string_view gun,
                                    PassphraseSource& source, int iterations, bool with_path) {
  PassphraseRequest req{id, std::string(role), std::string(gun), true, 0};
  auto pass = source.get(req);
  if (!pass) return std::unexpected(pass.error());
  auto der = encrypt_pkcs8(key, pass->view(), iterations);
  if (!der) return std::unexpected(der.error());
  PemBlock b{std::string(kEncryptedKeyPemType), {}, std::move(*der)};
  b.set_header("role", role);
  if (role_has_gun(role) && !gun.empty()) b.set_header("gun", gun);
  if (with_path) b.set_header("path", id);
  return encode_pem(b);
}

// Targets and snapshot keys may name the GUN they belong to; `notary key generate --role
// targets` writes one without, so the GUN stays optional.
Status check_role_gun(std::string_view role, std::string_view gun) {
  if (auto s = validate_role(role); !s) return s;
  if (role_has_gun(role) && !gun.empty()) return validate_gun(gun);
  return {};
}

}  // namespace

Status validate_role(std::string_view role) {
  auto bad = [&](std::string why) {
    return make_error(Fault::user, "usage", "invalid role \"" + std::string(role) + "\": " + why);
  };
  if (role.empty()) return bad("empty");
  if (role.size() > kMaxRoleBytes) return bad("longer than " + std::to_string(kMaxRoleBytes));
  for (char c : role)
    if (!role_char(c)) return bad("only letters, digits, '-', '_', '.' and '/' are allowed");
  std::size_t start = 0;
  while (start <= role.size()) {
    auto end = role.find('/', start);
    if (end == std::string_view::npos) end = role.size();
    std::string_view seg = role.substr(start, end - start);
    if (seg.empty() || seg == "." || seg == "..") return bad("empty, '.' or '..' path segment");
    start = end + 1;
  }
  return {};
}

Status validate_gun(std::string_view gun) {
  if (gun.empty()) return make_error(Fault::user, "usage", "the GUN is empty");
  if (gun.size() > kMaxGunBytes)
    return make_error(Fault::user, "usage",
                      "the GUN is longer than " + std::to_string(kMaxGunBytes) + " characters");
  for (char c : gun)
    if (c < 0x21 || c > 0x7e)
      return make_error(Fault::user, "usage",
                        "the GUN \"" + std::string(gun) +
                            "\" contains whitespace, control or non-ASCII characters");
  return {};
}

Status validate_key_id(std::string_view id, Fault fault) {
  if (id.size() != 64 || !is_lower_hex(id))
    return make_error(
        fault, "usage",
        "\"" + std::string(id.substr(0, 80)) + "\" is not a key ID (64 lower-case hex characters)");
  return {};
}

bool role_has_gun(std::string_view role) {
  return role == "targets" || role == "snapshot";
}

Result<PrivateKey> decrypt_with(PassphraseSource& source, std::string_view der,
                                PassphraseRequest req, Fault fault) {
  // Refuse absurd parameters before asking anyone for anything.
  if (auto it = pkcs8_iterations(der, fault); !it) return std::unexpected(it.error());
  for (req.attempt = 0;; ++req.attempt) {
    auto pass = source.get(req);
    if (!pass) return std::unexpected(pass.error());
    auto key = decrypt_pkcs8(der, pass->view(), fault);
    if (key || key.error().code != "passphrase") return key;
    if (req.attempt + 1 >= kMaxPassphraseAttempts)
      return make_error(Fault::user, "passphrase",
                        "wrong passphrase for the " + req.role + " key " +
                            req.key_id.substr(0, 12) + " after " +
                            std::to_string(kMaxPassphraseAttempts) + " attempts");
  }
}

// ---------------------------------------------------------------------------------------
// KeyStore (shared)

Result<std::vector<KeyInfo>> KeyStore::find(std::string_view role, std::string_view gun) {
  auto all = list();
  if (!all) return all;
  std::vector<KeyInfo> out;
  for (auto& k : *all)
    if (k.role == role && (gun.empty() || k.gun == gun)) out.push_back(std::move(k));
  return out;
}

Result<std::vector<KeyInfo>> KeyStore::import_pem(std::string_view pem_text,
                                                  std::string_view fallback_role,
                                                  std::string_view fallback_gun) {
  auto blocks = parse_pem(pem_text, "imported key text", Fault::user);
  if (!blocks) return std::unexpected(blocks.error());
  struct Pending {
    PrivateKey key;
    std::string id, role, gun;
  };
  std::vector<Pending> pending;
  // Decode and check everything first, so a bad block leaves the store untouched.
  for (std::size_t i = 0; i < blocks->size(); ++i) {
    const PemBlock& b = (*blocks)[i];
    const std::string where = "PEM block " + std::to_string(i + 1) + " (" + b.type + ")";
    if (!is_private_key_pem_type(b.type))
      return make_error(Fault::user, "bad_key", where + " is not a private key");
    std::string role = key_header_role(b);
    if (role.empty()) role = std::string(fallback_role);
    if (role.empty())
      return make_error(Fault::user, "usage", where + " has no role header; pass the role");
    std::string gun;
    if (role_has_gun(role)) {
      gun = b.header("gun");
      if (gun.empty()) gun = std::string(fallback_gun);
    }
    if (auto s = check_role_gun(role, gun); !s)
      return std::unexpected(with_context(s.error(), where));
    std::string path_id = b.header("path");
    if (auto slash = path_id.rfind('/'); slash != std::string::npos)
      path_id = path_id.substr(slash + 1);
    if (path_id.ends_with(".key")) path_id.resize(path_id.size() - 4);

    Result<PrivateKey> key = make_error(Fault::bug, "bad_key", "unset");
    if (b.type == kEncryptedKeyPemType) {
      PassphraseSource* src = passphrases();
      if (src == nullptr)
        return make_error(Fault::user, "passphrase",
                          where + " is encrypted and no passphrase source is set");
      key =
          decrypt_with(*src, b.bytes, PassphraseRequest{path_id, role, gun, false, 0}, Fault::user);
    } else {
      key = private_key_from_block(b, Fault::user);
    }
    if (!key) return std::unexpected(with_context(key.error(), where));
    std::string id = key->public_key().key_id();
    if (!path_id.empty() && validate_key_id(path_id) && path_id != id)
      return make_error(
          Fault::user, "bad_key",
          where + ": its path header names key " + path_id + " but the key inside is " + id);
    pending.push_back(Pending{std::move(*key), id, role, gun});
  }
  auto existing = list();
  if (!existing) return std::unexpected(existing.error());
  for (const auto& p : pending)
    for (const auto& e : *existing)
      if (e.id == p.id)
        return make_error(
            Fault::user, "key_exists",
            "key " + p.id + " is already in " + location() + " (role " + e.role + ")");
  std::vector<KeyInfo> out;
  for (const auto& p : pending) {
    auto id = add(p.key, p.role, p.gun);
    if (!id) return std::unexpected(id.error());
    out.push_back(KeyInfo{*id, p.role, p.gun, location()});
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// TrustDirKeyStore

TrustDirKeyStore::TrustDirKeyStore(fs::path trust_dir, PassphraseSource& passphrases,
                                   TrustDirOptions options)
    : dir_(std::move(trust_dir) / "private"), passphrases_(passphrases), options_(options) {}

std::string TrustDirKeyStore::location() const {
  return dir_.string();
}

fs::path TrustDirKeyStore::key_path(std::string_view id) const {
  return dir_ / (std::string(id) + ".key");
}

Result<std::string> TrustDirKeyStore::add(const PrivateKey& key, std::string_view role,
                                          std::string_view gun) {
  if (auto s = check_role_gun(role, gun); !s) return std::unexpected(s.error());
  std::string id = key.public_key().key_id();
  fs::path path = key_path(id);
  std::error_code ec;
  if (fs::exists(path, ec))
    return make_error(Fault::user, "key_exists", "key " + id + " is already in " + location());
  auto text = encrypted_block(key, id, role, role_has_gun(role) ? gun : std::string_view{},
                              passphrases_, options_.pbkdf2_iterations, false);
  if (!text) return std::unexpected(text.error());
  // Directories Notary creates are 0700; make ours the same (only those we create).
  if (!dir_.parent_path().parent_path().empty())
    fs::create_directories(dir_.parent_path().parent_path(), ec);  // e.g. ~/.docker
  for (const fs::path& d : {dir_.parent_path(), dir_}) {
    if (d.empty() || fs::exists(d, ec)) continue;
    if (::mkdir(d.c_str(), 0700) != 0 && errno != EEXIST)
      return make_error(Fault::local, "io", "creating " + d.string() + ": " + std::strerror(errno));
  }
  if (auto s = atomic_write_file(path, *text, 0600); !s) return std::unexpected(s.error());
  return id;
}

Result<PemBlock> TrustDirKeyStore::read_block(std::string_view id) {
  if (auto s = validate_key_id(id); !s) return std::unexpected(s.error());
  fs::path path = key_path(id);
  std::error_code ec;
  if (!fs::exists(path, ec))
    return make_error(Fault::user, "not_found", "no key " + std::string(id) + " in " + location());
  auto text = read_file(path, kMaxKeyFileBytes);
  if (!text) return std::unexpected(text.error());
  auto block = parse_single_pem(*text, "key file " + path.string(), Fault::local);
  if (!block) return std::unexpected(block.error());
  if (!is_private_key_pem_type(block->type))
    return make_error(Fault::local, "bad_key",
                      "key file " + path.string() + " holds a \"" + block->type + "\" block");
  return block;
}

Result<StoredKey> TrustDirKeyStore::get(std::string_view id) {
  auto block = read_block(id);
  if (!block) return std::unexpected(block.error());
  const std::string path = key_path(id).string();
  std::string role = block->header("role");
  std::string gun = block->header("gun");
  Result<PrivateKey> key = make_error(Fault::bug, "bad_key", "unset");
  if (block->type == kEncryptedKeyPemType)
    key = decrypt_with(passphrases_, block->bytes,
                       PassphraseRequest{std::string(id), role, gun, false, 0}, Fault::local);
  else
    key = private_key_from_block(*block, Fault::local);
  if (!key) return std::unexpected(with_context(key.error(), "key file " + path));
  if (key->public_key().key_id() != id)
    return make_error(Fault::local, "bad_key",
                      "key file " + path + " holds key " + key->public_key().key_id() +
                          ", not the key its name says");
  return StoredKey{std::move(*key), std::move(role), std::move(gun)};
}

Result<std::vector<KeyInfo>> TrustDirKeyStore::list() {
  std::vector<KeyInfo> out;
  std::error_code ec;
  if (!fs::exists(dir_, ec)) return out;
  fs::directory_iterator it(dir_, ec);
  if (ec) return make_error(Fault::local, "io", "listing " + dir_.string() + ": " + ec.message());
  for (const auto& e : it) {
    const fs::path& p = e.path();
    std::string stem = p.stem().string();
    if (p.extension() != ".key" || !e.is_regular_file(ec) || !validate_key_id(stem, Fault::local))
      continue;
    auto text = read_file(p, kMaxKeyFileBytes);
    auto block = text ? parse_single_pem(*text, "key file " + p.string(), Fault::local)
                      : Result<PemBlock>(std::unexpected(text.error()));
    if (!block || !is_private_key_pem_type(block->type)) {
      // One unreadable file must not hide every other key.
      log::warn(
          "skipping unreadable key file",
          {{"path", p.string()}, {"error", block ? "not a private key" : block.error().message}});
      continue;
    }
    out.push_back(KeyInfo{stem, block->header("role"), block->header("gun"), location()});
  }
  sort_infos(out);
  return out;
}

Status TrustDirKeyStore::remove(std::string_view id) {
  if (auto s = validate_key_id(id); !s) return s;
  fs::path path = key_path(id);
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT)
      return make_error(Fault::user, "not_found",
                        "no key " + std::string(id) + " in " + location());
    return make_error(Fault::local, "io",
                      "removing " + path.string() + ": " + std::strerror(errno));
  }
  return fsync_dir(dir_);
}

Result<std::string> TrustDirKeyStore::export_pem(std::string_view id) {
  auto block = read_block(id);
  if (!block) return std::unexpected(block.error());
  if (block->type == kEncryptedKeyPemType) {
    // As `notary key export`: the stored block, same passphrase, plus its path.
    block->set_header("path", id);
    return encode_pem(*block);
  }
  auto key = private_key_from_block(*block, Fault::local);
  if (!key) return std::unexpected(key.error());
  return encrypted_block(*key, std::string(id), block->header("role"), block->header("gun"),
                         passphrases_, options_.pbkdf2_iterations, true);
}

// ---------------------------------------------------------------------------------------
// MemoryKeyStore

Result<std::string> MemoryKeyStore::add(const PrivateKey& key, std::string_view role,
                                        std::string_view gun) {
  if (auto s = check_role_gun(role, gun); !s) return std::unexpected(s.error());
  std::string id = key.public_key().key_id();
  std::lock_guard lock(mu_);
  if (keys_.contains(id))
    return make_error(Fault::user, "key_exists", "key " + id + " is already in memory");
  keys_.emplace(id, Entry{key, std::string(role), role_has_gun(role) ? std::string(gun) : ""});
  return id;
}

Result<StoredKey> MemoryKeyStore::get(std::string_view id) {
  if (auto s = validate_key_id(id); !s) return std::unexpected(s.error());
  std::lock_guard lock(mu_);
  auto it = keys_.find(std::string(id));
  if (it == keys_.end())
    return make_error(Fault::user, "not_found", "no key " + std::string(id) + " in memory");
  return StoredKey{it->second.key, it->second.role, it->second.gun};
}

Result<std::vector<KeyInfo>> MemoryKeyStore::list() {
  std::vector<KeyInfo> out;
  std::lock_guard lock(mu_);
  for (const auto& [id, e] : keys_) out.push_back(KeyInfo{id, e.role, e.gun, "memory"});
  sort_infos(out);
  return out;
}

Status MemoryKeyStore::remove(std::string_view id) {
  if (auto s = validate_key_id(id); !s) return s;
  std::lock_guard lock(mu_);
  if (keys_.erase(std::string(id)) == 0)
    return make_error(Fault::user, "not_found", "no key " + std::string(id) + " in memory");
  return {};
}

Result<std::string> MemoryKeyStore::export_pem(std::string_view id) {
  auto k = get(id);
  if (!k) return std::unexpected(k.error());
  if (passphrases_ == nullptr)
    return make_error(Fault::user, "passphrase", "exporting needs a passphrase source");
  return encrypted_block(k->key, std::string(id), k->role, k->gun, *passphrases_,
                         export_iterations_, true);
}

}  // namespace docket::keys
