#include <sodium.h>
#include <sys/stat.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>

#include "common/digest.h"
#include "common/encoding.h"
#include "common/file.h"
#include "common/json.h"
#include "signer/signer.h"

namespace docket::signer {
namespace fs = std::filesystem;

std::string passphrase_env_name(std::string_view alias) {
  std::string n = "DOCKET_SIGNER_PASSPHRASE_";
  for (unsigned char c : alias)
    n.push_back(std::isalnum(c) ? static_cast<char>(std::toupper(c)) : '_');
  return n;
}

Result<std::string> passphrase_from_env(std::string_view alias) {
  auto name = passphrase_env_name(alias);
  const char* v = std::getenv(name.c_str());
  if (!v || !*v)
    return make_error(
        Fault::user, "passphrase",
        "no passphrase for signer key alias '" + std::string(alias) + "': set " + name);
  return std::string(v);
}

namespace {

constexpr std::string_view kFormat = "docket-signer-key/1";

bool safe_key_id(std::string_view id) {
  return id.size() == 64 && is_lower_hex(id);
}

std::string aad(const KeyInfo& k) {
  return k.key_id + "|" + k.gun + "|" + k.role + "|" +
         std::string(keys::algorithm_name(k.algorithm));
}

class LocalSigner final : public Signer {
 public:
  explicit LocalSigner(LocalSignerOptions o) : o_(std::move(o)) {
    if (!o_.passphrase) o_.passphrase = passphrase_from_env;
  }

  Status init() {
    if (sodium_init() < 0)
      return make_error(Fault::bug, "crypto", "libsodium failed to initialise");
    std::error_code ec;
    fs::create_directories(o_.directory, ec);
    if (ec)
      return make_error(Fault::local, "io",
                        "creating signer key directory " + o_.directory + ": " + ec.message());
    ::chmod(o_.directory.c_str(), 0700);
    // Fail at start, not at the first publish, when the passphrase is missing.
    if (auto p = o_.passphrase(o_.default_alias); !p) return std::unexpected(p.error());
    // Load the public halves of every record; private halves are decrypted on first use.
    for (const auto& e : fs::directory_iterator(o_.directory, ec)) {
      if (e.path().extension() != ".json") continue;
      auto rec = load_record(e.path());
      if (!rec) return std::unexpected(rec.error());
      std::lock_guard lk(mu_);
      records_[rec->info.key_id] = std::move(*rec);
    }
    if (ec) return make_error(Fault::local, "io", "listing " + o_.directory + ": " + ec.message());
    return {};
  }

  Result<KeyInfo> create_key(std::string_view gun, std::string_view role,
                             keys::Algorithm a) override {
    auto priv = keys::PrivateKey::generate(a);
    if (!priv) return std::unexpected(priv.error());
    auto pub = priv->public_key(keys::Dialect::notary);
    auto pub_json = canonical_json(pub.json());
    if (!pub_json) return std::unexpected(pub_json.error());
    KeyInfo info;
    info.key_id = pub.key_id();
    info.gun = std::string(gun);
    info.role = std::string(role);
    info.algorithm = a;
    info.public_json = *pub_json;
    info.method = priv->method(keys::Dialect::notary);
    info.created = now();

    auto pass = o_.passphrase(o_.default_alias);
    if (!pass) return std::unexpected(pass.error());
    std::string salt(crypto_pwhash_SALTBYTES, '\0');
    randombytes_buf(salt.data(), salt.size());
    auto kek = derive(*pass, salt, o_.kdf_opslimit, o_.kdf_memlimit);
    if (!kek) return std::unexpected(kek.error());
    std::string nonce(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, '\0');
    randombytes_buf(nonce.data(), nonce.size());
    const auto der = priv->to_pkcs8_der();
    const auto ad = aad(info);
    std::string ct(der.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES, '\0');
    unsigned long long ct_len = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(
        reinterpret_cast<unsigned char*>(ct.data()), &ct_len,
        reinterpret_cast<const unsigned char*>(der.data()), der.size(),
        reinterpret_cast<const unsigned char*>(ad.data()), ad.size(), nullptr,
        reinterpret_cast<const unsigned char*>(nonce.data()),
        reinterpret_cast<const unsigned char*>(kek->data()));
    sodium_memzero(kek->data(), kek->size());
    ct.resize(ct_len);

    Json rec = Json::object();
    rec["format"] = kFormat;
    rec["key_id"] = info.key_id;
    rec["gun"] = info.gun;
    rec["role"] = info.role;
    rec["algorithm"] = keys::algorithm_name(a);
    rec["public"] = pub.json();
    rec["created"] = format_rfc3339_nano(info.created);
    rec["alias"] = o_.default_alias;
    rec["kdf"] = {{"name", "argon2id13"},
                  {"opslimit", o_.kdf_opslimit},
                  {"memlimit", o_.kdf_memlimit},
                  {"salt", base64_encode(salt)}};
    rec["cipher"] = "xchacha20poly1305-ietf";
    rec["nonce"] = base64_encode(nonce);
    rec["ciphertext"] = base64_encode(ct);
    auto path = fs::path(o_.directory) / (info.key_id + ".json");
    if (auto st = atomic_write_file(path, rec.dump(2) + "\n", 0600); !st)
      return std::unexpected(st.error());
    std::lock_guard lk(mu_);
    records_[info.key_id] = Record{info, std::move(rec), std::make_shared<keys::PrivateKey>(*priv)};
    return info;
  }

  Result<KeyInfo> get_key(std::string_view key_id) override {
    std::lock_guard lk(mu_);
    auto it = records_.find(std::string(key_id));
    if (it == records_.end())
      return make_error(Fault::user, "not_found", "signer holds no key " + std::string(key_id));
    return it->second.info;
  }

  Result<std::vector<KeyInfo>> list_keys(std::string_view gun, std::string_view role) override {
    std::vector<KeyInfo> out;
    std::lock_guard lk(mu_);
    for (const auto& [id, r] : records_)
      if (r.info.gun == gun && r.info.role == role) out.push_back(r.info);
    std::sort(out.begin(), out.end(), [](const KeyInfo& a, const KeyInfo& b) {
      return a.created != b.created ? a.created < b.created : a.key_id < b.key_id;
    });
    return out;
  }

  Result<std::string> sign(std::string_view key_id, std::string_view message) override {
    std::shared_ptr<keys::PrivateKey> key;
    {
      std::lock_guard lk(mu_);
      auto it = records_.find(std::string(key_id));
      if (it == records_.end())
        return make_error(Fault::user, "not_found", "signer holds no key " + std::string(key_id));
      if (!it->second.priv) {
        auto k = decrypt(it->second);
        if (!k) return std::unexpected(k.error());
        it->second.priv = std::make_shared<keys::PrivateKey>(std::move(*k));
      }
      key = it->second.priv;
    }
    return key->sign(message, keys::Dialect::notary);
  }

  Status delete_key(std::string_view key_id) override {
    if (!safe_key_id(key_id))
      return make_error(Fault::user, "not_found", "signer holds no key " + std::string(key_id));
    std::lock_guard lk(mu_);
    auto it = records_.find(std::string(key_id));
    if (it == records_.end())
      return make_error(Fault::user, "not_found", "signer holds no key " + std::string(key_id));
    std::error_code ec;
    fs::remove(fs::path(o_.directory) / (std::string(key_id) + ".json"), ec);
    if (ec) return make_error(Fault::local, "io", "deleting key record: " + ec.message());
    (void)fsync_dir(o_.directory);
    records_.erase(it);
    return {};
  }

  Status check_health() override {
    std::error_code ec;
    if (!fs::is_directory(o_.directory, ec))
      return make_error(Fault::local, "io", "signer key directory " + o_.directory + " is missing");
    return {};
  }

 private:
  struct Record {
    KeyInfo info;
    Json json;
    std::shared_ptr<keys::PrivateKey> priv;  // decrypted lazily
  };

  static Result<std::string> derive(const std::string& pass, const std::string& salt,
                                    unsigned long long ops, std::size_t mem) {
    std::string k(crypto_aead_xchacha20poly1305_ietf_KEYBYTES, '\0');
    if (crypto_pwhash(reinterpret_cast<unsigned char*>(k.data()), k.size(), pass.data(),
                      pass.size(), reinterpret_cast<const unsigned char*>(salt.data()), ops, mem,
                      crypto_pwhash_ALG_ARGON2ID13) != 0)
      return make_error(Fault::local, "crypto", "argon2id key derivation ran out of memory");
    return k;
  }

  Result<Record> load_record(const fs::path& p) {
    auto what = "signer key record " + p.string();
    auto text = read_file(p, 1 << 20);
    if (!text) return std::unexpected(text.error());
    auto j = parse_json(*text, what, Fault::local);
    if (!j) return std::unexpected(j.error());
    try {
      if (j->value("format", "") != kFormat)
        return make_error(Fault::local, "bad_key", what + ": unknown format");
      Record r;
      r.info.key_id = j->at("key_id").get<std::string>();
      r.info.gun = j->at("gun").get<std::string>();
      r.info.role = j->at("role").get<std::string>();
      auto alg = keys::parse_algorithm(j->at("algorithm").get<std::string>());
      if (!alg) return std::unexpected(alg.error());
      r.info.algorithm = *alg;
      auto pub = keys::PublicKey::from_json(j->at("public"), Fault::local);
      if (!pub) return std::unexpected(with_context(pub.error(), what));
      if (pub->key_id() != r.info.key_id || p.stem().string() != r.info.key_id)
        return make_error(Fault::local, "bad_key", what + ": key ID does not match its public key");
      auto pj = canonical_json(pub->json());
      if (!pj) return std::unexpected(pj.error());
      r.info.public_json = *pj;
      auto created = parse_rfc3339(j->at("created").get<std::string>());
      if (created) r.info.created = *created;
      r.info.method = r.info.algorithm == keys::Algorithm::ed25519      ? "eddsa"
                      : r.info.algorithm == keys::Algorithm::ecdsa_p256 ? "ecdsa"
                                                                        : "rsapss";
      r.json = std::move(*j);
      return r;
    } catch (const std::exception& e) {
      return make_error(Fault::local, "bad_key", what + ": " + e.what());
    }
  }

  Result<keys::PrivateKey> decrypt(const Record& r) {
    const auto& j = r.json;
    auto what = "signer key " + r.info.key_id;
    try {
      auto alias = j.at("alias").get<std::string>();
      auto pass = o_.passphrase(alias);
      if (!pass) return std::unexpected(pass.error());
      auto salt = base64_decode(j.at("kdf").at("salt").get<std::string>());
      auto nonce = base64_decode(j.at("nonce").get<std::string>());
      auto ct = base64_decode(j.at("ciphertext").get<std::string>());
      if (!salt || !nonce || !ct || salt->size() != crypto_pwhash_SALTBYTES ||
          nonce->size() != crypto_aead_xchacha20poly1305_ietf_NPUBBYTES ||
          ct->size() < crypto_aead_xchacha20poly1305_ietf_ABYTES)
        return make_error(Fault::local, "bad_key", what + ": malformed record");
      auto kek = derive(*pass, *salt, j.at("kdf").at("opslimit").get<unsigned long long>(),
                        j.at("kdf").at("memlimit").get<std::size_t>());
      if (!kek) return std::unexpected(kek.error());
      std::string der(ct->size() - crypto_aead_xchacha20poly1305_ietf_ABYTES, '\0');
      unsigned long long der_len = 0;
      const auto ad = aad(r.info);
      int rc = crypto_aead_xchacha20poly1305_ietf_decrypt(
          reinterpret_cast<unsigned char*>(der.data()), &der_len, nullptr,
          reinterpret_cast<const unsigned char*>(ct->data()), ct->size(),
          reinterpret_cast<const unsigned char*>(ad.data()), ad.size(),
          reinterpret_cast<const unsigned char*>(nonce->data()),
          reinterpret_cast<const unsigned char*>(kek->data()));
      sodium_memzero(kek->data(), kek->size());
      if (rc != 0)
        return make_error(Fault::user, "passphrase",
                          what + ": cannot decrypt (wrong passphrase in " +
                              passphrase_env_name(alias) + ", or the record was altered)");
      der.resize(der_len);
      auto k = keys::PrivateKey::from_pkcs8_der(der, Fault::local);
      sodium_memzero(der.data(), der.size());
      if (!k) return std::unexpected(with_context(k.error(), what));
      if (k->public_key(keys::Dialect::notary).key_id() != r.info.key_id)
        return make_error(Fault::local, "bad_key",
                          what + ": private key does not match the record");
      return std::move(*k);
    } catch (const std::exception& e) {
      return make_error(Fault::local, "bad_key", what + ": " + e.what());
    }
  }

  LocalSignerOptions o_;
  std::mutex mu_;
  std::map<std::string, Record> records_;
};

}  // namespace

Result<std::unique_ptr<Signer>> open_local_signer(LocalSignerOptions o) {
  if (o.directory.empty())
    return make_error(Fault::user, "config", "the signer needs a key directory");
  auto s = std::make_unique<LocalSigner>(std::move(o));
  if (auto st = s->init(); !st) return std::unexpected(st.error());
  return std::unique_ptr<Signer>(std::move(s));
}

}  // namespace docket::signer
