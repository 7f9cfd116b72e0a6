#include "trustclient/context.h"

#include <set>

#include "client/docker_config.h"
#include "client/registry_client.h"
#include "common/encoding.h"
#include "verifier/trust.h"

namespace docket::trustclient {
namespace fs = std::filesystem;

fs::path default_trust_dir() {
  return client::docker_config_dir() / "trust";
}

Result<std::unique_ptr<KeyContext>> KeyContext::create(fs::path trust_dir,
                                                       std::optional<fs::path> passphrase_file) {
  auto c = std::make_unique<KeyContext>();
  c->trust_dir = trust_dir.empty() ? default_trust_dir() : std::move(trust_dir);
  c->tty = keys::controlling_terminal();
  keys::PassphraseOptions po;
  po.env = &c->env;
  po.passphrase_file = std::move(passphrase_file);
  po.tty = c->tty.get();
  auto p = keys::default_passphrase_source(po);
  if (!p) return std::unexpected(p.error());
  c->passphrases = std::move(*p);
  c->store = std::make_unique<keys::TrustDirKeyStore>(c->trust_dir, *c->passphrases);
  return c;
}

Status preflight_passphrases(KeyContext& kc, const std::vector<std::string>& roles,
                             bool have_passphrase_file) {
  if (have_passphrase_file || (kc.tty && kc.tty->available())) return {};
  for (const auto& role : roles) {
    auto vars = keys::passphrase_env_vars(role);
    bool set = false;
    for (const auto& v : vars) set = set || (kc.env.get(v) && !kc.env.get(v)->empty());
    if (!set) {
      std::string names;
      for (const auto& v : vars) names += (names.empty() ? "" : " or ") + v;
      return make_error(Fault::user, "passphrase",
                        "signing needs the passphrase of the " + role +
                            " key and there is no terminal to ask: set " + names +
                            " (or pass --passphrase-file)");
    }
  }
  return {};
}

Result<RepositoryConfig> repository_config(const client::Reference& ref,
                                           const fs::path& trust_dir) {
  auto tc = verifier::trust_config_for(ref);
  RepositoryConfig c;
  c.gun = verifier::gun_of(ref);
  c.server_url = tc.server_url;
  c.trust_dir = trust_dir;
  c.credentials = tc.credentials;
  // host[:port] of the trust server, for its TLS directory.
  std::string host = tc.server_url;
  if (auto p = host.find("://"); p != std::string::npos) host = host.substr(p + 3);
  if (auto p = host.find('/'); p != std::string::npos) host = host.substr(0, p);
  std::vector<fs::path> dirs{client::docker_config_dir() / "tls" / host};
  for (const auto& d : client::certs_d_search_path()) dirs.push_back(d / host);
  for (const auto& d : dirs) {
    std::error_code ec;
    if (!fs::is_directory(d, ec)) continue;
    auto tls = net::tls_options_from_certs_d(d);
    if (!tls) return std::unexpected(tls.error());
    c.http.tls = *tls;
    if (fs::exists(d / "ca.crt", ec)) c.http.tls.ca_dir = d;
    break;
  }
  return c;
}

std::string platform_target_name(const Digest& d) {
  return d.str();
}

Result<SignOutcome> sign_tag(Repository& repo, const std::string& tag, const Digest& digest,
                             std::uint64_t length,
                             const std::vector<client::Descriptor>& platform_manifests) {
  if (digest.algorithm() != HashAlgorithm::sha256)
    return make_error(Fault::user, "usage", "only sha256 digests can be signed: " + digest.str());
  for (const auto& m : platform_manifests)
    if (m.digest.algorithm() != HashAlgorithm::sha256)
      return make_error(Fault::user, "usage",
                        "only sha256 digests can be signed: platform manifest " + m.digest.str());
  auto exists = repo.refresh();
  if (!exists) return std::unexpected(exists.error());
  auto roles = repo.signable_roles(tag);
  if (!roles) return std::unexpected(roles.error());
  auto raw = hex_decode(digest.hex());
  if (!raw) return std::unexpected(raw.error());
  tuf::TargetChange meta = docker_target(length, *raw);
  for (const auto& role : *roles)
    if (auto s = repo.stage(tuf::make_target_change(tuf::change::kActionCreate, role, tag, meta));
        !s)
      return std::unexpected(s.error());
  std::set<std::string> staged;
  for (const auto& m : platform_manifests) {
    if (!staged.insert(m.digest.str()).second) continue;
    auto mraw = hex_decode(m.digest.hex());
    if (!mraw) return std::unexpected(mraw.error());
    tuf::TargetChange mt = docker_target(m.size, *mraw);
    for (const auto& role : *roles)
      if (auto s = repo.stage(tuf::make_target_change(tuf::change::kActionCreate, role,
                                                      platform_target_name(m.digest), mt));
          !s)
        return std::unexpected(s.error());
  }
  auto p = repo.publish();
  if (!p) return std::unexpected(p.error());
  SignOutcome out;
  out.roles = *roles;
  out.platform_manifests = staged.size();
  out.initialized = p->initialized;
  out.unchanged = p->published.empty() && !p->initialized;
  return out;
}

Result<std::size_t> revoke_tag(Repository& repo, const std::string& tag) {
  auto exists = repo.refresh();
  if (!exists) return std::unexpected(exists.error());
  if (!*exists)
    return make_error(Fault::user, "not_found",
                      "no trust data for " + repo.config().gun + ": nothing to revoke");
  auto held = repo.held_key_ids();
  if (!held) return std::unexpected(held.error());
  std::size_t n = 0;
  bool listed_anywhere = false;
  for (const auto& r : repo.view().roles) {
    bool ours = false;
    for (const auto& id : r.canonical_key_ids) ours = ours || held->contains(id);
    for (const auto& [name, file] : r.targets) {
      if (!tag.empty() && name != tag) continue;
      listed_anywhere = true;
      if (!ours) continue;
      if (auto s = repo.stage(
              tuf::make_target_change(tuf::change::kActionDelete, r.name, name, std::nullopt));
          !s)
        return std::unexpected(s.error());
      ++n;
    }
  }
  if (n == 0) {
    if (!listed_anywhere)
      return make_error(Fault::user, "not_signed",
                        "no signature for " + (tag.empty() ? std::string("any tag") : tag) +
                            " in " + repo.config().gun);
    return make_error(Fault::user, "no_signing_key",
                      "the roles that sign " + (tag.empty() ? std::string("tags") : tag) + " in " +
                          repo.config().gun + " are not ours: none of their keys is held");
  }
  auto p = repo.publish();
  if (!p) return std::unexpected(p.error());
  return n;
}

}  // namespace docket::trustclient
