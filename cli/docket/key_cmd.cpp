// `docket key generate|list|import|export|remove`: private keys in the trust directory
// Notary and Docker Content Trust share (~/.docker/trust by default; docs/keys.md).
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/command.h"
#include "cli/docket/key_export.h"
#include "common/error.h"
#include "common/file.h"
#include "common/json.h"
#include "keys/keystore.h"
#include "keys/passphrase.h"

namespace {

namespace fs = std::filesystem;
using namespace docket;
using namespace docket::keys;

struct KeyOptions {
  std::string trust_dir;
  std::string passphrase_file;
};

// --trust-dir, else $DOCKER_CONFIG/trust, else ~/.docker/trust (where `docker trust`
// keeps keys).
fs::path trust_dir(const KeyOptions& o) {
  if (!o.trust_dir.empty()) return o.trust_dir;
  if (const char* dc = std::getenv("DOCKER_CONFIG"); dc != nullptr && *dc != '\0')
    return fs::path(dc) / "trust";
  const char* home = std::getenv("HOME");
  if (home == nullptr || *home == '\0')
    raise(Fault::user, "config", "HOME is not set: pass --trust-dir");
  return fs::path(home) / ".docker" / "trust";
}

// Everything a key command needs, alive for the command's duration.
struct Context {
  ProcessEnvironment env;
  std::unique_ptr<Terminal> tty = controlling_terminal();
  std::unique_ptr<PassphraseSource> passphrases;
  std::unique_ptr<TrustDirKeyStore> store;

  explicit Context(const KeyOptions& o) {
    PassphraseOptions po;
    po.env = &env;
    if (!o.passphrase_file.empty()) po.passphrase_file = fs::path(o.passphrase_file);
    po.tty = tty.get();
    passphrases = value_or_raise(default_passphrase_source(po));
    store = std::make_unique<TrustDirKeyStore>(trust_dir(o), *passphrases);
  }
};

void add_common(CLI::App* cmd, KeyOptions& o) {
  cmd->add_option("--trust-dir,-d", o.trust_dir,
                  "Trust directory (default $DOCKER_CONFIG/trust or ~/.docker/trust)");
  cmd->add_option("--passphrase-file", o.passphrase_file,
                  "Read key passphrases from the first line of this file");
}

void print_table(const std::vector<KeyInfo>& keys) {
  std::printf("%-20s %-34s %-64s %s\n", "ROLE", "GUN", "KEY ID", "LOCATION");
  for (const auto& k : keys)
    std::printf("%-20s %-34s %-64s %s\n", k.role.c_str(), k.gun.empty() ? "-" : k.gun.c_str(),
                k.id.c_str(), k.location.c_str());
}

docket::cli::Registration reg("docket", 200, {"key"}, [](CLI::App& app) {
  auto* key = app.add_subcommand("key", "Manage private keys in the trust directory");
  key->require_subcommand(1);
  docket::cli::LazySubcommands subs(key);

  subs.add("generate", "Generate a key and store it encrypted", [](CLI::App* cmd) {
    auto o = std::make_shared<KeyOptions>();
    auto role = std::make_shared<std::string>("root");
    auto gun = std::make_shared<std::string>();
    auto alg = std::make_shared<std::string>("ecdsa");
    auto bits = std::make_shared<int>(kDefaultRsaBits);
    cmd->add_option("algorithm", *alg, "ecdsa (default, what Notary uses), ed25519 or rsa");
    cmd->add_option("--role,-r", *role, "Role the key signs for (default root)");
    cmd->add_option("--gun,-g", *gun, "Repository (GUN) a targets/snapshot key belongs to");
    cmd->add_option("--rsa-bits", *bits, "RSA modulus size (3072 default, 2048..8192)");
    add_common(cmd, *o);
    cmd->callback([=] {
      Algorithm a = value_or_raise(parse_algorithm(*alg));
      value_or_raise(validate_role(*role));
      Context ctx(*o);
      PrivateKey k = value_or_raise(PrivateKey::generate(a, *bits));
      std::string id = value_or_raise(ctx.store->add(k, *role, *gun));
      std::printf("Generated new %s %s key with ID %s\n", std::string(algorithm_name(a)).c_str(),
                  role->c_str(), id.c_str());
    });
  });

  subs.add("list", "List stored keys (nothing is decrypted)", [](CLI::App* cmd) {
    auto o = std::make_shared<KeyOptions>();
    auto role = std::make_shared<std::string>();
    auto gun = std::make_shared<std::string>();
    auto json = std::make_shared<bool>(false);
    cmd->add_option("--role,-r", *role, "Only keys for this role");
    cmd->add_option("--gun,-g", *gun, "Only keys for this GUN");
    cmd->add_flag("--json", *json, "One JSON array instead of a table");
    add_common(cmd, *o);
    cmd->callback([=] {
      Context ctx(*o);
      std::vector<KeyInfo> keys;
      for (auto& k : value_or_raise(ctx.store->list()))
        if ((role->empty() || k.role == *role) && (gun->empty() || k.gun == *gun))
          keys.push_back(std::move(k));
      if (*json) {
        Json arr = Json::array();
        for (const auto& k : keys)
          arr.push_back({{"id", k.id}, {"role", k.role}, {"gun", k.gun}, {"location", k.location}});
        std::printf("%s\n", arr.dump(2).c_str());
      } else {
        print_table(keys);
      }
    });
  });

  subs.add(
      "import", "Import PEM private keys (encrypted or not; notary/openssl formats)",
      [](CLI::App* cmd) {
        auto o = std::make_shared<KeyOptions>();
        auto files = std::make_shared<std::vector<std::string>>();
        auto role = std::make_shared<std::string>();
        auto gun = std::make_shared<std::string>();
        cmd->add_option("files", *files, "PEM files")->required()->check(CLI::ExistingFile);
        cmd->add_option("--role,-r", *role, "Role for blocks without a role header");
        cmd->add_option("--gun,-g", *gun, "GUN for targets/snapshot blocks without a gun header");
        add_common(cmd, *o);
        cmd->callback([=] {
          Context ctx(*o);
          for (const auto& f : *files) {
            std::string text = value_or_raise(read_file(f, kMaxPemBytes));
            auto imported = ctx.store->import_pem(text, *role, *gun);
            if (!imported) raise(with_context(imported.error(), f));
            for (const auto& k : *imported)
              std::printf("Imported %s key %s from %s\n", k.role.c_str(), k.id.c_str(), f.c_str());
          }
        });
      });

  subs.add(
      "export", "Export keys as encrypted PEM (same passphrase) that `notary key import` accepts",
      [](CLI::App* cmd) {
        auto o = std::make_shared<KeyOptions>();
        auto ids = std::make_shared<std::vector<std::string>>();
        auto role = std::make_shared<std::string>();
        auto gun = std::make_shared<std::string>();
        auto output = std::make_shared<std::string>();
        cmd->add_option("--key,-k", *ids, "Key ID to export (repeatable; default every key)");
        cmd->add_option("--role,-r", *role, "Only keys for this role");
        cmd->add_option("--gun,-g", *gun, "Only keys for this GUN");
        cmd->add_option("--output,-o", *output, "Write to this file (mode 0600) instead of stdout");
        add_common(cmd, *o);
        cmd->callback([=] {
          Context ctx(*o);
          auto want = value_or_raise(
              docket::cli::select_keys(*ctx.store, docket::cli::KeySelection{*ids, *role, *gun}));
          auto n = value_or_raise(docket::cli::write_key_export(*ctx.store, want, *output));
          if (!output->empty())
            std::fprintf(stderr, "Exported %zu key(s) to %s\n", n, output->c_str());
        });
      });

  subs.add("remove", "Delete keys from the trust directory", [](CLI::App* cmd) {
    auto o = std::make_shared<KeyOptions>();
    auto ids = std::make_shared<std::vector<std::string>>();
    cmd->add_option("ids", *ids, "Key IDs")->required();
    add_common(cmd, *o);
    cmd->callback([=] {
      Context ctx(*o);
      for (const auto& id : *ids) {
        value_or_raise(ctx.store->remove(id));
        std::printf("Removed key %s\n", id.c_str());
      }
    });
  });
  subs.build();
});

}  // namespace
