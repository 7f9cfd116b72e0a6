// `docket trust …`: Docker Content Trust's commands (inspect, sign, revoke, key, signer), lookup
// and Notary's repository ones (key rotate, status, publish, reset, cosign) on a trust directory
// shared with `docker trust` and `notary` (docs/content-trust.md).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cli/command.h"
#include "cli/docket/key_export.h"
#include "client/session.h"
#include "client/transfer.h"
#include "common/encoding.h"
#include "common/file.h"
#include "common/json.h"
#include "keys/pem.h"
#include "trustclient/context.h"
#include "trustclient/inspect.h"
#include "tuf/editor.h"
#include "verifier/trust.h"

namespace {
namespace fs = std::filesystem;
using namespace docket;
using namespace docket::trustclient;

struct Common {
  std::string trust_dir;
  std::string passphrase_file;
};

void add_common(CLI::App* cmd, Common& o) {
  cmd->add_option("--trust-dir", o.trust_dir,
                  "Trust directory (default $DOCKER_CONFIG/trust or ~/.docker/trust)");
  cmd->add_option("--passphrase-file", o.passphrase_file,
                  "Read key passphrases from the first line of this file");
}

std::unique_ptr<KeyContext> key_context(const Common& o) {
  std::optional<fs::path> pf;
  if (!o.passphrase_file.empty()) pf = fs::path(o.passphrase_file);
  return value_or_raise(KeyContext::create(o.trust_dir, pf));
}

std::unique_ptr<Repository> open_repo(KeyContext& kc, const client::Reference& ref) {
  auto cfg = value_or_raise(repository_config(ref, kc.trust_dir));
  cfg.warn = [](const std::string& w) { std::fprintf(stderr, "%s\n", w.c_str()); };
  return value_or_raise(Repository::open(std::move(cfg), *kc.store));
}

client::Reference repo_ref(const std::string& s) {
  auto r = value_or_raise(client::Reference::parse(s));
  if (r.digest()) raise(Fault::user, "usage", "a trust command takes a tag, not a digest: " + s);
  return r;
}

// Stages a delegation create (or key add) for `role` with `keys`, paths "" (everything).
tuf::Change delegation_add(const RepositoryView* v, const std::string& role,
                           const std::vector<keys::PublicKey>& keys, int threshold) {
  tuf::DelegationChange d;
  for (const auto& k : keys) d.add_keys.push_back(k.json());
  d.add_paths = {""};
  d.threshold = threshold;
  bool exists = v && v->find(role);
  return tuf::make_delegation_change(
      exists ? tuf::change::kActionUpdate : tuf::change::kActionCreate, role, d);
}

// `docket trust <name> REPO [more positionals added by the caller]`: after parsing, the
// repository is opened with the command's key-store options and handed to `run`.
void repo_command(CLI::App* cmd, std::function<void(Repository&)> run) {
  auto o = std::make_shared<Common>();
  auto repo_s = std::make_shared<std::string>();
  cmd->add_option("repository", *repo_s, "REPO")->required();
  add_common(cmd, *o);
  cmd->callback([o, repo_s, run = std::move(run)] {
    auto ref = repo_ref(*repo_s);
    auto kc = key_context(*o);
    auto repo = open_repo(*kc, ref);
    run(*repo);
  });
}

// For a command that has written everything it will write (files closed, the trust cache
// flushed): ends the process once stdout is out, without the static destructors and
// OpenSSL's and libcurl's exit-time cleanup, which cost a lookup ~0.7 ms of CPU and release
// nothing the kernel does not. A failed write of stdout still fails the command.
[[noreturn]] void exit_after_output() {
  bool ok = std::fflush(stdout) == 0 && !std::ferror(stdout);
  std::fflush(stderr);
  if (!ok) std::fprintf(stderr, "docket: writing the output failed\n");
  std::_Exit(ok ? 0 : 1);
}

// The root key of the key store whose ID is `prefix` or starts with it (at least
// kMinKeyIdPrefix characters); `option` names the flag in errors.
std::string root_key_id(KeyContext& kc, const std::string& prefix, const std::string& option) {
  if (prefix.size() < docket::cli::kMinKeyIdPrefix)
    raise(Fault::user, "usage",
          option + " needs at least " + std::to_string(docket::cli::kMinKeyIdPrefix) +
              " characters of a key ID, not \"" + prefix + "\"");
  std::vector<std::string> found;
  for (const auto& info : value_or_raise(kc.store->find("root")))
    if (info.id.starts_with(prefix)) found.push_back(info.id);
  if (found.size() != 1)
    raise(Fault::user, found.empty() ? "not_found" : "usage",
          found.empty() ? "no root key " + prefix + " in " + kc.store->location()
                        : "root key prefix " + prefix + " is ambiguous in " + kc.store->location());
  return found.front();
}

// --root-key FILE|ID and --root-cert FILE (`trust init`, `trust key rotate root`). A file is
// a PEM private key, imported into the key store as a root key (encrypted with the root
// passphrase; one already there is an error naming its ID, to pass instead); otherwise the
// value names a root key of the store. The certificate is the PEM file's first certificate.
RootKeyChoice root_key_choice(KeyContext& kc, const std::string& key, const std::string& cert) {
  RootKeyChoice c;
  if (!key.empty()) {
    std::error_code ec;
    if (fs::is_regular_file(key, ec)) {
      std::string text = value_or_raise(read_file(key, keys::kMaxPemBytes));
      auto imported = value_or_raise(kc.store->import_pem(text, "root", ""));
      if (imported.size() != 1 || imported.front().role != "root") {
        for (const auto& k : imported) value_or_raise(kc.store->remove(k.id));
        raise(Fault::user, "bad_key", key + " must hold exactly one private key, a root key");
      }
      c.key_id = imported.front().id;
      std::fprintf(stderr, "Imported root key %s from %s\n", c.key_id->c_str(), key.c_str());
    } else {
      c.key_id = root_key_id(kc, key, "--root-key");
    }
  }
  if (!cert.empty()) {
    std::string text = value_or_raise(read_file(cert, keys::kMaxPemBytes));
    c.certificate = value_or_raise(root_certificate_from_pem(text, cert));
    if (!c.certificate->is_x509()) raise(Fault::user, "bad_key", cert + " holds no certificate");
  }
  return c;
}

void add_root_key_options(CLI::App* cmd, std::string& key, std::string& cert) {
  cmd->add_option("--root-key", key,
                  "Root key: a PEM private key file (imported into the trust directory) or "
                  "the ID of a root key already there");
  cmd->add_option("--root-cert", cert,
                  "x509 certificate (PEM) for the root key, e.g. issued by a CA clients pin "
                  "(default: a self-signed one)")
      ->check(CLI::ExistingFile);
}

void print_publish(const PublishResult& p, const std::string& gun) {
  if (p.initialized) std::printf("Initialized %s\n", gun.c_str());
  for (const auto& r : p.published)
    std::printf("Published %s v%lld\n", r.role.c_str(), static_cast<long long>(r.version));
}

docket::cli::Registration reg("docket", 210, {"trust"}, [](CLI::App& app) {
  auto* trust = app.add_subcommand("trust", "Sign images and manage content trust (Notary v1)");
  trust->require_subcommand(1);
  docket::cli::LazySubcommands subs(trust);
  subs.add("inspect", "Show signed tags, signers and keys", [](CLI::App* cmd) {
    auto o = std::make_shared<Common>();
    auto refs = std::make_shared<std::vector<std::string>>();
    auto pretty = std::make_shared<bool>(false);
    cmd->add_option("repositories", *refs, "REPO[:TAG]...")->required();
    cmd->add_flag("--pretty", *pretty, "Human-readable tables instead of JSON");
    add_common(cmd, *o);
    cmd->callback([=] {
      auto kc = key_context(*o);
      Json all = Json::array();
      for (const auto& s : *refs) {
        auto ref = repo_ref(s);
        auto repo = open_repo(*kc, ref);
        if (!value_or_raise(repo->refresh()))
          raise(Fault::user, "not_signed",
                "no signatures or cannot access " + s + ": no trust data on " +
                    repo->config().server_url);
        all.push_back(
            inspect_json(ref.without_tag_or_digest().familiar(), repo->view(), ref.tag()));
      }
      if (*pretty)
        for (const auto& j : all) std::fputs(inspect_pretty(j).c_str(), stdout);
      else
        std::printf("%s\n", all.dump(4).c_str());
    });
  });

  // `notary lookup GUN TAG`, through the verify-on-pull path
  subs.add(
      "lookup",
      "Resolve IMAGE[:TAG] through its trust data exactly as a verified pull does; prints "
      "TAG DIGEST SIZE ROLE",
      [](CLI::App* cmd) {
        auto image = std::make_shared<std::string>();
        auto trust_dir = std::make_shared<std::string>();
        cmd->add_option("image", *image, "IMAGE[:TAG]")->required();
        cmd->add_option("--trust-dir", *trust_dir,
                        "Trust directory (default $DOCKER_CONFIG/trust or ~/.docker/trust)");
        cmd->callback([=] {
          auto ref = repo_ref(*image);
          auto cfg = verifier::trust_config_for(ref);
          if (!trust_dir->empty()) cfg.trust_dir = *trust_dir;
          auto t = value_or_raise(verifier::resolve_trusted(
              ref, cfg, [](const std::string& w) { std::fprintf(stderr, "%s\n", w.c_str()); }));
          std::printf("%s %s %llu %s\n",
                      ref.tag().value_or(std::string(client::kDefaultTag)).c_str(),
                      t.descriptor.digest.str().c_str(),
                      static_cast<unsigned long long>(t.descriptor.size), t.role.c_str());
          exit_after_output();
        });
      });

  subs.add("sign",
           "Sign IMAGE:TAG as the registry serves it (pushing the local image if the "
           "registry has no such tag)",
           [](CLI::App* cmd) {
             auto o = std::make_shared<Common>();
             auto image = std::make_shared<std::string>();
             auto insecure = std::make_shared<bool>(false);
             cmd->add_option("image", *image, "IMAGE:TAG")->required();
             auto recursive = std::make_shared<bool>(false);
             cmd->add_flag("--insecure", *insecure,
                           "Talk plain HTTP to the registry (test set-ups only)");
             cmd->add_flag(
                 "--recursive", *recursive,
                 "For a multi-platform index: also sign each platform manifest (by its digest)");
             add_common(cmd, *o);
             cmd->callback([=] {
               auto ref = repo_ref(*image);
               if (!ref.tag())
                 raise(Fault::user, "usage", "trust sign needs IMAGE:TAG, got " + *image);
               auto reg = value_or_raise(client::registry_for(ref.domain(), *insecure));
               auto d = value_or_raise(reg->head_manifest(ref.path(), *ref.tag()));
               if (!d) {
                 auto store = value_or_raise(client::open_default_store());
                 if (!value_or_raise(store.resolve(ref)))
                   raise(Fault::user, "not_found",
                         ref.familiar() + " is neither in the registry nor in the local store");
                 client::PushOptions po;
                 auto pushed = value_or_raise(client::push_image(*reg, store, ref, ref, po));
                 d = pushed.target;
               }
               std::vector<client::Descriptor> children;
               if (*recursive) {
                 // The index as the registry serves it, checked against the digest being signed.
                 auto m = value_or_raise(reg->get_manifest(ref.path(), d->digest.str()));
                 if (client::is_index_media_type(m.media_type))
                   children = value_or_raise(client::parse_index(m.bytes, Fault::remote)).manifests;
               }
               auto kc = key_context(*o);
               auto repo = open_repo(*kc, ref);
               auto out = value_or_raise(sign_tag(*repo, *ref.tag(), d->digest, d->size, children));
               if (out.initialized) std::printf("Initialized %s\n", repo->config().gun.c_str());
               std::string roles;
               for (const auto& r : out.roles) roles += (roles.empty() ? "" : ", ") + r;
               std::printf(out.unchanged ? "%s (%s, %llu bytes) was already signed in %s\n"
                                         : "Signed %s (%s, %llu bytes) into %s\n",
                           ref.familiar().c_str(), d->digest.str().c_str(),
                           static_cast<unsigned long long>(d->size), roles.c_str());
               for (const auto& c : children)
                 std::printf("Signed platform manifest %s (%s)\n", c.digest.str().c_str(),
                             c.platform ? c.platform->str().c_str() : "no platform");
               if (*recursive && children.empty())
                 std::printf("%s is a single manifest: --recursive had nothing more to sign\n",
                             ref.familiar().c_str());
             });
           });

  subs.add("revoke", "Remove signatures of IMAGE:TAG (or every tag)", [](CLI::App* cmd) {
    auto o = std::make_shared<Common>();
    auto image = std::make_shared<std::string>();
    auto yes = std::make_shared<bool>(false);
    cmd->add_option("image", *image, "IMAGE[:TAG]")->required();
    cmd->add_flag("-y,--yes", *yes, "Do not ask before revoking every tag");
    add_common(cmd, *o);
    cmd->callback([=] {
      auto ref = repo_ref(*image);
      if (!ref.tag() && !*yes)
        raise(Fault::user, "usage", "revoking every signature of " + *image + " needs --yes (-y)");
      auto kc = key_context(*o);
      auto repo = open_repo(*kc, ref);
      std::size_t n = value_or_raise(revoke_tag(*repo, ref.tag().value_or("")));
      std::printf(
          "Successfully deleted signature%s for %s (%zu)\n", n == 1 ? "" : "s",
          ref.tag() ? ref.familiar().c_str() : ref.without_tag_or_digest().familiar().c_str(), n);
    });
  });

  subs.add("key", "Manage signing keys", [](CLI::App* key) {
    key->require_subcommand(1);
    docket::cli::LazySubcommands key_subs(key);
    key_subs.add("generate", "Generate a signer key; writes NAME.pub", [](CLI::App* cmd) {
      auto o = std::make_shared<Common>();
      auto name = std::make_shared<std::string>();
      auto dir = std::make_shared<std::string>(".");
      cmd->add_option("name", *name, "Signer name")->required();
      cmd->add_option("--dir", *dir, "Directory for NAME.pub (default: current directory)");
      add_common(cmd, *o);
      cmd->callback([=] {
        if (!std::all_of(name->begin(), name->end(),
                         [](char c) {
                           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
                                  c == '-';
                         }) ||
            name->empty() || (*name)[0] == '_' || (*name)[0] == '-')
          raise(Fault::user, "usage",
                "signer name \"" + *name + "\" must be lower-case letters, digits, '_' or '-'");
        value_or_raise(keys::validate_role(*name));
        fs::path pub = fs::path(*dir) / (*name + ".pub");
        std::error_code ec;
        if (fs::exists(pub, ec)) raise(Fault::user, "key_exists", pub.string() + " already exists");
        auto kc = key_context(*o);
        auto k = value_or_raise(keys::PrivateKey::generate(keys::Algorithm::ecdsa_p256));
        std::string id = value_or_raise(kc->store->add(k, *name, ""));
        value_or_raise(atomic_write_file(pub, public_key_pem(k, *name), 0644));
        std::printf(
            "Successfully generated and loaded private key. Corresponding public key "
            "available: %s\nKey ID: %s\n",
            pub.string().c_str(), id.c_str());
      });
    });
    key_subs.add("load", "Load a private key (PEM) as a signer key", [](CLI::App* cmd) {
      auto o = std::make_shared<Common>();
      auto file = std::make_shared<std::string>();
      auto name = std::make_shared<std::string>("signer");
      cmd->add_option("file", *file, "PEM private key")->required()->check(CLI::ExistingFile);
      cmd->add_option("--name", *name, "Signer name (default \"signer\")");
      add_common(cmd, *o);
      cmd->callback([=] {
        value_or_raise(keys::validate_role(*name));
        if (keys::is_base_role(*name))
          raise(Fault::user, "usage", "\"" + *name + "\" is a base role, not a signer name");
        auto kc = key_context(*o);
        std::string text = value_or_raise(read_file(*file, keys::kMaxPemBytes));
        auto imported = value_or_raise(kc->store->import_pem(text, *name, ""));
        for (const auto& k : imported)
          std::printf("Successfully imported key from %s (ID %s, signer %s)\n", file->c_str(),
                      k.id.c_str(), k.role.c_str());
      });
    });
    key_subs.add("list", "List signing keys in the trust directory", [](CLI::App* cmd) {
      auto o = std::make_shared<Common>();
      add_common(cmd, *o);
      cmd->callback([=] {
        auto kc = key_context(*o);
        std::printf("%-20s %-40s %s\n", "ROLE", "GUN", "KEY ID");
        for (const auto& k : value_or_raise(kc->store->list()))
          std::printf("%-20s %-40s %s\n", k.role.c_str(), k.gun.empty() ? "-" : k.gun.c_str(),
                      k.id.c_str());
      });
    });
    key_subs.add(
        "export",
        "Export a signer's keys (NAME) or one key (KEYID) as encrypted PEM, as stored: "
        "`docket trust key load` and `notary key import` take it with the same passphrase",
        [](CLI::App* cmd) {
          auto o = std::make_shared<Common>();
          auto name = std::make_shared<std::string>();
          auto output = std::make_shared<std::string>();
          cmd->add_option("key", *name, "NAME|KEYID (a signer name, or a key ID or its prefix)")
              ->required();
          cmd->add_option("-o,--output", *output,
                          "Write to this file (mode 0600) instead of stdout");
          add_common(cmd, *o);
          cmd->callback([=] {
            auto kc = key_context(*o);
            auto ids = value_or_raise(docket::cli::select_signer_keys(*kc->store, *name));
            auto n = value_or_raise(docket::cli::write_key_export(*kc->store, ids, *output));
            if (!output->empty())
              std::fprintf(stderr, "Exported %zu encrypted key(s) to %s\n", n, output->c_str());
          });
        });
    // A second root key holder's certificate for `threshold set … root`.
    key_subs.add(
        "root-cert",
        "Write the x509 root certificate of a root key for REPO's GUN (CN = GUN), to add it "
        "with `trust threshold set REPO root N --add-key FILE`; without --key a new root key "
        "is generated and stored",
        [](CLI::App* cmd) {
          auto o = std::make_shared<Common>();
          auto repo_s = std::make_shared<std::string>();
          auto key_id = std::make_shared<std::string>();
          auto output = std::make_shared<std::string>();
          cmd->add_option("repository", *repo_s, "REPO")->required();
          cmd->add_option("--key", *key_id,
                          "Use this root key of the trust directory (ID or a prefix of at least 7 "
                          "characters) instead of generating one");
          cmd->add_option("-o,--output", *output,
                          "Write the certificate to this file instead of stdout");
          add_common(cmd, *o);
          cmd->callback([=] {
            auto ref = repo_ref(*repo_s);
            const std::string gun = verifier::gun_of(ref);
            auto kc = key_context(*o);
            std::optional<keys::PrivateKey> k;
            std::string id;
            if (key_id->empty()) {
              k = value_or_raise(keys::PrivateKey::generate(keys::Algorithm::ecdsa_p256));
              id = value_or_raise(kc->store->add(*k, "root", ""));
            } else {
              id = root_key_id(*kc, *key_id, "--key");
              k = value_or_raise(kc->store->get(id)).key;
            }
            auto cert = value_or_raise(tuf::make_root_certificate(*k, gun));
            const auto& pub = cert.json()["keyval"]["public"];
            std::string pem = value_or_raise(base64_decode(pub.get<std::string>()));
            if (output->empty()) {
              std::fputs(pem.c_str(), stdout);
            } else {
              value_or_raise(atomic_write_file(*output, pem, 0644));
              std::printf("Wrote the root certificate for %s to %s\n", gun.c_str(),
                          output->c_str());
            }
            std::fprintf(stderr, "Root key ID %s; certificate key ID %s (as root.json lists it)\n",
                         id.c_str(), cert.key_id().c_str());
          });
        });
    key_subs.add("rotate", "Replace the key of root, targets, snapshot or timestamp and publish",
                 [](CLI::App* cmd) {
                   auto o = std::make_shared<Common>();
                   auto role = std::make_shared<std::string>();
                   auto repo_s = std::make_shared<std::string>();
                   auto server = std::make_shared<bool>(false);
                   auto root_key = std::make_shared<std::string>();
                   auto root_cert = std::make_shared<std::string>();
                   cmd->add_option("role", *role, "root, targets, snapshot or timestamp")
                       ->required()
                       ->check(CLI::IsMember({"root", "targets", "snapshot", "timestamp"}));
                   cmd->add_option("repository", *repo_s, "REPO")->required();
                   cmd->add_flag("-r,--server-managed", *server,
                                 "Let the trust server hold the new key (snapshot, timestamp)");
                   add_root_key_options(cmd, *root_key, *root_cert);
                   add_common(cmd, *o);
                   cmd->callback([=] {
                     auto ref = repo_ref(*repo_s);
                     auto kc = key_context(*o);
                     if (*role != "root" && (!root_key->empty() || !root_cert->empty()))
                       raise(Fault::user, "usage",
                             "--root-key and --root-cert are for rotating root only");
                     auto choice = root_key_choice(*kc, *root_key, *root_cert);
                     auto repo = open_repo(*kc, ref);
                     std::string id = value_or_raise(repo->rotate_key(*role, *server, choice));
                     std::printf("Rotated the %s key of %s; new key ID %s%s\n", role->c_str(),
                                 repo->config().gun.c_str(), id.c_str(),
                                 *server ? " (held by the server)" : "");
                   });
                 });
    key_subs.build();
  });

  subs.add("signer", "Manage signers (delegations)", [](CLI::App* signer) {
    signer->require_subcommand(1);
    docket::cli::LazySubcommands signer_subs(signer);
    signer_subs.add(
        "add", "Add a signer to repositories (targets/NAME and targets/releases)",
        [](CLI::App* cmd) {
          auto o = std::make_shared<Common>();
          auto keys_files = std::make_shared<std::vector<std::string>>();
          auto name = std::make_shared<std::string>();
          auto repos = std::make_shared<std::vector<std::string>>();
          auto threshold = std::make_shared<int>(1);
          cmd->add_option("--key", *keys_files, "Public key or certificate PEM (repeatable)")
              ->required()
              ->check(CLI::ExistingFile);
          cmd->add_option("--threshold", *threshold,
                          "Signatures a tag needs from this signer's keys (default 1)")
              ->check(CLI::Range(1, 100));
          cmd->add_option("name", *name, "Signer name")->required();
          cmd->add_option("repositories", *repos, "REPO...")->required();
          add_common(cmd, *o);
          cmd->callback([=] {
            if (*name == "releases")
              raise(Fault::user, "usage", "\"releases\" is reserved for targets/releases");
            value_or_raise(keys::validate_role("targets/" + *name));
            std::vector<keys::PublicKey> ks;
            for (const auto& f : *keys_files) {
              std::string text = value_or_raise(read_file(f, keys::kMaxPemBytes));
              ks.push_back(value_or_raise(public_key_from_pem(text, f)));
            }
            if (*threshold > static_cast<int>(ks.size()))
              raise(Fault::user, "usage",
                    "threshold " + std::to_string(*threshold) +
                        " needs at least that many --key files");
            auto kc = key_context(*o);
            for (const auto& r : *repos) {
              auto ref = repo_ref(r);
              auto repo = open_repo(*kc, ref);
              bool exists = value_or_raise(repo->refresh());
              const RepositoryView* v = exists ? &repo->view() : nullptr;
              std::printf("Adding signer \"%s\" to %s...\n", name->c_str(), r.c_str());
              value_or_raise(repo->stage(delegation_add(v, "targets/" + *name, ks, *threshold)));
              value_or_raise(
                  repo->stage(delegation_add(v, std::string(kReleasesRole), ks, *threshold)));
              auto p = value_or_raise(repo->publish());
              if (p.initialized)
                std::printf("Successfully initialized %s\n", repo->config().gun.c_str());
              std::printf("Successfully added signer: %s to %s\n", name->c_str(), r.c_str());
            }
          });
        });
    signer_subs.add("remove", "Remove a signer from repositories", [](CLI::App* cmd) {
      auto o = std::make_shared<Common>();
      auto name = std::make_shared<std::string>();
      auto repos = std::make_shared<std::vector<std::string>>();
      auto force = std::make_shared<bool>(false);
      cmd->add_option("name", *name, "Signer name")->required();
      cmd->add_option("repositories", *repos, "REPO...")->required();
      cmd->add_flag("-f,--force", *force,
                    "Also when it is the last signer of targets/releases (its signed tags "
                    "then no longer verify)");
      add_common(cmd, *o);
      cmd->callback([=] {
        auto kc = key_context(*o);
        for (const auto& r : *repos) {
          auto ref = repo_ref(r);
          auto repo = open_repo(*kc, ref);
          if (!value_or_raise(repo->refresh()))
            raise(Fault::user, "not_found", "no trust data for " + r);
          const std::string role = "targets/" + *name;
          const RoleView* sv = repo->view().find(role);
          if (!sv) raise(Fault::user, "not_found", "no signer \"" + *name + "\" in " + r);
          const RoleView* rel = repo->view().find(kReleasesRole);
          // The changes are this command's own: if they cannot be applied, they are dropped
          // again, so that they do not fail every later publish of the repository.
          std::vector<std::string> staged;
          if (rel) {
            std::set<std::string> remaining(rel->key_ids.begin(), rel->key_ids.end());
            for (const auto& id : sv->key_ids) remaining.erase(id);
            if (remaining.empty()) {
              if (!*force)
                raise(Fault::user, "usage",
                      "\"" + *name + "\" is the last signer of targets/releases in " + r +
                          ": tags it signed there would no longer verify; pass --force");
              staged.push_back(value_or_raise(repo->stage(tuf::make_delegation_change(
                  tuf::change::kActionDelete, std::string(kReleasesRole), std::nullopt))));
            } else if (remaining.size() != rel->key_ids.size()) {
              tuf::DelegationChange d;
              d.remove_keys = sv->canonical_key_ids;
              if (rel->threshold > static_cast<int>(remaining.size()))
                d.threshold = static_cast<int>(remaining.size());
              staged.push_back(value_or_raise(repo->stage(tuf::make_delegation_change(
                  tuf::change::kActionUpdate, std::string(kReleasesRole), d))));
            }
          }
          staged.push_back(value_or_raise(repo->stage(
              tuf::make_delegation_change(tuf::change::kActionDelete, role, std::nullopt))));
          if (auto p = repo->publish(); !p) {
            if (p.error().fault == Fault::user) (void)repo->unstage(staged);
            raise(p.error());
          }
          std::printf("Successfully removed %s from %s\n", name->c_str(), r.c_str());
        }
      });
    });
    signer_subs.build();
  });

  subs.add("threshold", "Manage signature thresholds", [](CLI::App* threshold) {
    threshold->require_subcommand(1);
    auto role = std::make_shared<std::string>();
    auto n = std::make_shared<int>(1);
    auto key_files = std::make_shared<std::vector<std::string>>();
    auto* cmd = threshold->add_subcommand(
        "set",
        "Require N signatures for root, targets or a delegation (adding keys with --add-key)");
    repo_command(cmd, [role, n, key_files](Repository& repo) {
      std::vector<keys::PublicKey> ks;
      for (const auto& f : *key_files) {
        std::string text = value_or_raise(read_file(f, keys::kMaxPemBytes));
        ks.push_back(value_or_raise(public_key_from_pem(text, f)));
      }
      auto out = repo.set_threshold(*role, *n, ks);
      if (!out) {
        if (out.error().code == "threshold_not_met")
          std::fprintf(stderr,
                       "The new threshold of %s is staged as partially signed metadata: "
                       "it takes effect once enough key holders co-sign it.\n",
                       role->c_str());
        raise(out.error());
      }
      for (const auto& r : *out)
        std::printf("Published %s v%lld\n", r.role.c_str(), static_cast<long long>(r.version));
      std::printf("%s of %s now needs %d signature(s)\n", role->c_str(), repo.config().gun.c_str(),
                  *n);
    });
    cmd->add_option("role", *role, "root, targets or targets/NAME")->required();
    cmd->add_option("threshold", *n, "Signatures needed")
        ->required()
        ->check(CLI::Range(1, kMaxThreshold));
    cmd->add_option("--add-key", *key_files,
                    "Public key PEM (targets, delegations) or x509 certificate for the GUN "
                    "(root) to add to the role first (repeatable)")
        ->check(CLI::ExistingFile);
  });
  subs.add("status", "Show staged, unpublished changes", [](CLI::App* cmd) {
    repo_command(cmd, [](Repository& repo) {
      auto changes = value_or_raise(repo.changelist().list());
      std::error_code ec;
      bool partial = fs::exists(repo.partial_dir() / "partial.json", ec);
      if (changes.empty() && !partial) {
        std::printf("No unpublished changes for %s\n", repo.config().gun.c_str());
        return;
      }
      if (!changes.empty()) {
        std::printf("Unpublished changes for %s:\n\n", repo.config().gun.c_str());
        std::printf("%-5s %-8s %-20s %-12s %s\n", "#", "ACTION", "SCOPE", "TYPE", "PATH");
        int i = 0;
        for (const auto& c : changes)
          std::printf("%-5d %-8s %-20s %-12s %s\n", i++, c.action.c_str(), c.role.c_str(),
                      c.type.c_str(), c.path.c_str());
      }
      if (partial)
        std::printf("\nPartially signed metadata waiting for more signatures: %s\n",
                    repo.partial_dir().string().c_str());
    });
  });
  subs.add("init",
           "Create the repository's trust data on the trust server (root and targets keys here, "
           "snapshot and timestamp keys held by the server), as `notary init` does",
           [](CLI::App* cmd) {
             auto o = std::make_shared<Common>();
             auto repo_s = std::make_shared<std::string>();
             auto root_key = std::make_shared<std::string>();
             auto root_cert = std::make_shared<std::string>();
             auto local_snapshot = std::make_shared<bool>(false);
             cmd->add_option("repository", *repo_s, "REPO")->required();
             add_root_key_options(cmd, *root_key, *root_cert);
             cmd->add_flag("--local-snapshot", *local_snapshot,
                           "Keep the snapshot key in the trust directory instead of on the server");
             add_common(cmd, *o);
             cmd->callback([=] {
               auto ref = repo_ref(*repo_s);
               auto kc = key_context(*o);
               auto repo = open_repo(*kc, ref);
               // Checked before a key is imported, so a refused init leaves the key store as it
               // was.
               if (value_or_raise(repo->refresh()))
                 raise(Fault::user, "usage",
                       repo->config().gun + " already has trust data on " +
                           repo->config().server_url +
                           " (`docket trust key rotate root` replaces its root key)");
               value_or_raise(repo->probe_server());
               InitOptions init;
               init.server_managed_snapshot = !*local_snapshot;
               init.root = root_key_choice(*kc, *root_key, *root_cert);
               auto p = value_or_raise(repo->publish(init));
               print_publish(p, repo->config().gun);
             });
           });
  subs.add("publish", "Sign and publish staged changes", [](CLI::App* cmd) {
    repo_command(cmd, [](Repository& repo) {
      auto p = value_or_raise(repo.publish());
      print_publish(p, repo.config().gun);
      if (p.published.empty() && !p.initialized)
        std::printf("Nothing to publish for %s\n", repo.config().gun.c_str());
    });
  });
  subs.add("reset", "Drop staged changes and partially signed metadata (nothing is published)",
           [](CLI::App* cmd) {
             repo_command(cmd, [](Repository& repo) {
               auto n = value_or_raise(repo.changelist().names()).size();
               value_or_raise(repo.changelist().clear());
               std::error_code ec;
               fs::remove_all(repo.partial_dir(), ec);
               std::printf("Dropped %zu staged change(s) for %s\n", n, repo.config().gun.c_str());
             });
           });
  subs.add("cosign", "Add our signatures to partially signed metadata and publish it when complete",
           [](CLI::App* cmd) {
             auto dir = std::make_shared<std::string>();
             repo_command(cmd, [dir](Repository& repo) {
               fs::path from = dir->empty() ? repo.partial_dir() : fs::path(*dir);
               auto out = value_or_raise(repo.cosign(from));
               for (const auto& r : out)
                 std::printf("Published %s v%lld\n", r.role.c_str(),
                             static_cast<long long>(r.version));
             });
             cmd->add_option("dir", *dir, "Directory with the partial metadata (default: ours)");
           });
  subs.build();
});

}  // namespace
