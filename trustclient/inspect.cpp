#include "trustclient/inspect.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "common/encoding.h"
#include "keys/pem.h"

namespace docket::trustclient {

std::string signer_name(std::string_view role) {
  return std::string(role.starts_with("targets/") ? role.substr(8) : role);
}

namespace {
std::string hex_sha256(const tuf::TargetFile& f) {
  auto it = f.hashes.find("sha256");
  if (it == f.hashes.end()) return "";
  auto raw = base64_decode(it->second);
  return raw ? hex_encode(*raw) : "";
}

bool is_released(const std::string& role) {
  return role == "targets" || role == kReleasesRole;
}

Json key_list(std::vector<std::string> ids) {
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  Json keys = Json::array();
  for (const auto& id : ids) keys.push_back({{"ID", id}});
  return keys;
}

std::string padded(const std::string& s, std::size_t width) {
  return s.size() >= width ? s + " " : s + std::string(width - s.size(), ' ');
}
}  // namespace

Json inspect_json(const std::string& name, const RepositoryView& v,
                  const std::optional<std::string>& tag) {
  std::map<std::pair<std::string, std::string>, std::vector<std::string>> released;
  for (const auto& r : v.roles)
    if (is_released(r.name))
      for (const auto& [t, f] : r.targets)
        if (!tag || t == *tag) released[{t, hex_sha256(f)}];
  for (const auto& r : v.roles)
    if (!is_released(r.name))
      for (const auto& [t, f] : r.targets)
        if (auto it = released.find({t, hex_sha256(f)}); it != released.end())
          it->second.push_back(signer_name(r.name));
  Json tags = Json::array();
  for (auto& [k, signers] : released) {
    std::sort(signers.begin(), signers.end());
    signers.erase(std::unique(signers.begin(), signers.end()), signers.end());
    tags.push_back({{"SignedTag", k.first}, {"Digest", k.second}, {"Signers", signers}});
  }
  std::vector<const RoleView*> roles;
  for (const auto& r : v.roles)
    if (!is_released(r.name)) roles.push_back(&r);
  std::sort(roles.begin(), roles.end(),
            [](const RoleView* a, const RoleView* b) { return a->name < b->name; });
  Json signers = Json::array();
  for (const auto* r : roles)
    signers.push_back({{"Name", signer_name(r->name)}, {"Keys", key_list(r->key_ids)}});
  const RoleView* t = v.find("targets");
  Json admin = Json::array();
  admin.push_back({{"Name", "Root"}, {"Keys", key_list(v.root_key_ids)}});
  admin.push_back(
      {{"Name", "Repository"}, {"Keys", key_list(t ? t->key_ids : std::vector<std::string>{})}});
  return Json{
      {"Name", name}, {"SignedTags", tags}, {"Signers", signers}, {"AdministrativeKeys", admin}};
}

std::string inspect_pretty(const Json& j) {
  std::string out;
  const std::string name = j["Name"];
  if (j["SignedTags"].empty()) {
    out += "\nNo signatures for " + name + "\n\n";
  } else {
    out += "\nSignatures for " + name + "\n\n";
    out += padded("SIGNED TAG", 20) + padded("DIGEST", 68) + "SIGNERS\n";
    for (const auto& t : j["SignedTags"]) {
      std::string s;
      for (const auto& x : t["Signers"]) s += (s.empty() ? "" : ", ") + x.get<std::string>();
      if (s.empty()) s = "(Repo Admin)";
      out += padded(t["SignedTag"], 20) + padded(t["Digest"], 68) + s + "\n";
    }
    out += "\n";
  }
  if (!j["Signers"].empty()) {
    out += "List of signers and their keys for " + name + "\n\n";
    out += padded("SIGNER", 20) + "KEYS\n";
    for (const auto& s : j["Signers"]) {
      std::string ids;
      for (const auto& k : s["Keys"])
        ids += (ids.empty() ? "" : ", ") + k["ID"].get<std::string>().substr(0, 12);
      out += padded(s["Name"], 20) + ids + "\n";
    }
    out += "\n";
  }
  out += "Administrative keys for " + name + "\n\n";
  for (const auto& a : j["AdministrativeKeys"]) {
    std::string ids;
    for (const auto& k : a["Keys"]) ids += (ids.empty() ? "" : ", ") + k["ID"].get<std::string>();
    out += "  " + a["Name"].get<std::string>() + " Key:\t" + ids + "\n";
  }
  return out;
}

Result<keys::PublicKey> public_key_from_pem(std::string_view text, std::string_view what) {
  auto blocks = keys::parse_pem(text, what, Fault::user);
  if (!blocks) return std::unexpected(blocks.error());
  for (const auto& b : *blocks) {
    if (b.type == "CERTIFICATE") {
      // Notary carries x509 keys as the certificate's PEM text, one block.
      keys::PemBlock only = b;
      only.headers.clear();
      std::string pem = keys::encode_pem(only);
      for (const char* kt : {"ecdsa-x509", "rsa-x509"}) {
        Json j{{"keytype", kt}, {"keyval", {{"private", nullptr}, {"public", base64_encode(pem)}}}};
        if (auto k = keys::PublicKey::from_json(j, Fault::user)) return *k;
      }
    } else if (b.type == "PUBLIC KEY") {
      for (const char* kt : {"ecdsa", "rsa", "ed25519"}) {
        Json j{{"keytype", kt},
               {"keyval", {{"private", nullptr}, {"public", base64_encode(b.bytes)}}}};
        if (auto k = keys::PublicKey::from_json(j, Fault::user)) return *k;
      }
    }
  }
  return make_error(Fault::user, "bad_key",
                    std::string(what) + " holds no usable PUBLIC KEY or CERTIFICATE block");
}

Result<keys::PublicKey> root_certificate_from_pem(std::string_view text, std::string_view what) {
  auto blocks = keys::parse_pem(text, what, Fault::user);
  if (!blocks) return std::unexpected(blocks.error());
  std::string bundle;
  for (const auto& b : *blocks)
    if (b.type == "CERTIFICATE") bundle += keys::encode_pem(keys::PemBlock{b.type, {}, b.bytes});
  if (bundle.empty())
    return make_error(Fault::user, "bad_key", std::string(what) + " holds no CERTIFICATE block");
  Error last{Fault::user, "bad_key", std::string(what) + ": unusable certificate"};
  for (const char* kt : {"ecdsa-x509", "rsa-x509"}) {
    Json j{{"keytype", kt}, {"keyval", {{"private", nullptr}, {"public", base64_encode(bundle)}}}};
    auto k = keys::PublicKey::from_json(j, Fault::user);
    if (k) return *k;
    last = k.error();
    // The keytype only decides which of the two fits; any other refusal is the answer.
    if (last.message.find("holds a certificate for a key of another type") == std::string::npos)
      break;
  }
  return std::unexpected(with_context(last, std::string(what)));
}

std::string public_key_pem(const keys::PrivateKey& k, std::string_view role) {
  keys::PemBlock b;
  b.type = "PUBLIC KEY";
  b.set_header("role", role);
  b.bytes = k.public_key().public_der();
  return keys::encode_pem(b);
}

}  // namespace docket::trustclient
