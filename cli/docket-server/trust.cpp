// The trust role: the Notary-compatible trust server (docs/trust-server.md). Installed by
// `docket-server serve` beside the registry on one port, or alone by `docket-server trust`.
// Configuration (YAML `trust:` section, each with a DOCKET_TRUST_* environment override):
//   trust.storage.url        sqlite://<storage.filesystem.rootdirectory>/trust.db
//                            | postgres://user@host:port/db
//   trust.signer.directory   <rootdirectory>/trust-keys  (encrypted server keys)
//   trust.signer.alias       default  (passphrase from DOCKET_SIGNER_PASSPHRASE_<ALIAS>)
//   trust.signer.url         https://signer:7899  (a remote `docket-server signer`; then
//   trust.signer.ca           its CA, and this server's client certificate and key for
//   trust.signer.cert         mutual TLS; the directory/alias above are not used)
//   trust.signer.key
//   trust.key_algorithm      ed25519 | ecdsa | rsa
//   trust.cache              true (serve current metadata from memory; on postgres only
//                            while the LISTEN/NOTIFY change watch is connected)
// Authentication is the server's auth.* section (docs/auth.md), shared with the registry in
// `serve`: the trust routes need Notary's scopes (trustserver/http.h). Alone, the trust role
// also serves the token endpoint /auth/token when auth.token.* and auth.htpasswd.path are set.
#if defined(DOCKET_HAVE_TRUST_HTTP) && __has_include("cli/docket-server/serve.h")
#include <filesystem>

#include "cli/command.h"
#include "cli/docket-server/serve.h"
#include "common/log.h"
#include "signer/remote.h"
#include "signer/signer.h"
#include "trustserver/http.h"
#include "trustserver/service.h"
#include "trustserver/storage.h"

namespace {
using namespace docket;

struct TrustRole {
  std::unique_ptr<trustserver::Storage> storage;
  std::unique_ptr<signer::Signer> signer;
  std::unique_ptr<trustserver::TrustService> service;
};

server::RoleRegistration trust_role(
    {"trust", 20, [](server::RoleContext& ctx) -> Status {
       const auto& doc = ctx.config.document;
       const std::filesystem::path root = ctx.config.root_dir;
       auto url = registry::config_string(doc, "trust.storage.url",
                                          "sqlite://" + (root / "trust.db").string());
       auto keydir =
           registry::config_string(doc, "trust.signer.directory", (root / "trust-keys").string());
       auto alias = registry::config_string(doc, "trust.signer.alias", "default");
       auto alg = registry::config_string(doc, "trust.key_algorithm", "ed25519");
       auto cache = registry::config_bool(doc, "trust.cache", true);
       auto signer_url = registry::config_string(doc, "trust.signer.url", "");
       auto signer_ca = registry::config_string(doc, "trust.signer.ca", "");
       auto signer_cert = registry::config_string(doc, "trust.signer.cert", "");
       auto signer_key = registry::config_string(doc, "trust.signer.key", "");
       for (const auto* r :
            {&url, &keydir, &alias, &alg, &signer_url, &signer_ca, &signer_cert, &signer_key})
         if (!*r) return std::unexpected(r->error());
       if (!cache) return std::unexpected(cache.error());
       auto algorithm = keys::parse_algorithm(*alg);
       if (!algorithm) return std::unexpected(algorithm.error());
       if (url->starts_with("sqlite://")) {
         std::error_code ec;
         std::filesystem::create_directories(std::filesystem::path(url->substr(9)).parent_path(),
                                             ec);
       }
       auto role = std::make_shared<TrustRole>();
       auto st = trustserver::open_storage(*url);
       if (!st) return std::unexpected(st.error());
       role->storage = std::move(*st);
       if (signer_url->empty()) {
         signer::LocalSignerOptions lo;
         lo.directory = *keydir;
         lo.default_alias = *alias;
         auto sg = signer::open_local_signer(lo);
         if (!sg) return std::unexpected(sg.error());
         role->signer = std::move(*sg);
       } else {
         signer::RemoteSignerOptions ro;
         ro.url = *signer_url;
         ro.ca_file = *signer_ca;
         ro.client_cert_file = *signer_cert;
         ro.client_key_file = *signer_key;
         auto sg = signer::open_remote_signer(ro);
         if (!sg) return std::unexpected(with_context(sg.error(), "trust.signer"));
         role->signer = std::move(*sg);
       }
       trustserver::TrustOptions to;
       to.key_algorithm = *algorithm;
       // The service keeps the cache coherent itself: SQLite is this process's alone, and
       // PostgreSQL's change watch reports other servers' writes (docs/trust-server.md).
       to.cache_current = *cache;
       role->service =
           std::make_unique<trustserver::TrustService>(*role->storage, *role->signer, to);
       auto auth = ctx.auth_setup();
       if (!auth) return std::unexpected(auth.error());
       trustserver::MountOptions mo;
       mo.authorizer = (*auth)->authorizer;
       mo.anonymous_pull = (*auth)->anonymous_pull;
       // Alone (no registry role), the token endpoint is ours to serve.
       if ((*auth)->token_service && !ctx.router.match(net::http::verb::get, "/auth/token").route) {
         registry::HttpOptions unused;
         registry::install_auth(ctx.router, **auth, unused);
       }
       trustserver::install_trust_routes(ctx.router, *role->service, mo);
       if (ctx.metrics) {
         auto* svc = role->service.get();  // kept alive by ctx.keep(role) below
         ctx.metrics->add_text([svc] { return svc->metrics_text(); });
       }
       log::info("trust role ready",
                 {{"storage", role->storage->backend()},
                  {"signer", signer_url->empty() ? *keydir : *signer_url},
                  {"auth", mo.authorizer ? (ctx.config.auth_token_realm.empty() ? "basic" : "token")
                                         : "none"}});
       ctx.keep(role);
       return {};
     }});

cli::Registration trust_cmd("docket-server", 30, {"trust"}, [](CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "trust", "Run the Notary-compatible trust server role only (docs/trust-server.md)");
  auto f = std::make_shared<server::CommonFlags>();
  server::add_common_flags(cmd, *f);
  struct Extra {
    std::string tls_cert, tls_key, storage, signer_dir, key_algorithm, log_level;
    std::string signer_url, signer_ca, signer_cert, signer_key;
  };
  auto x = std::make_shared<Extra>();
  cmd->add_option("--tls-cert", x->tls_cert,
                  "PEM certificate (chain); env DOCKET_HTTP_TLS_CERTIFICATE");
  cmd->add_option("--tls-key", x->tls_key, "PEM private key; env DOCKET_HTTP_TLS_KEY");
  cmd->add_option("--storage", x->storage,
                  "sqlite:///path/db or postgres://...; env DOCKET_TRUST_STORAGE_URL");
  cmd->add_option("--signer-dir", x->signer_dir,
                  "Encrypted server key directory; env DOCKET_TRUST_SIGNER_DIRECTORY");
  cmd->add_option("--signer-url", x->signer_url,
                  "Remote `docket-server signer` (https://host:port) instead of the local key "
                  "directory; env DOCKET_TRUST_SIGNER_URL");
  cmd->add_option("--signer-ca", x->signer_ca,
                  "CA of the remote signer's certificate; env DOCKET_TRUST_SIGNER_CA");
  cmd->add_option("--signer-cert", x->signer_cert,
                  "Client certificate for the remote signer; env DOCKET_TRUST_SIGNER_CERT");
  cmd->add_option("--signer-key", x->signer_key,
                  "Client key for the remote signer; env DOCKET_TRUST_SIGNER_KEY");
  cmd->add_option("--key-algorithm", x->key_algorithm,
                  "ed25519 | ecdsa | rsa; env DOCKET_TRUST_KEY_ALGORITHM");
  cmd->add_option("--log-level", x->log_level, "debug | info | warn | error; env DOCKET_LOG_LEVEL");
  cmd->callback([f, x] {
    auto set = [](const char* env, const std::string& v) {
      if (!v.empty()) ::setenv(env, v.c_str(), 1);
    };
    set("DOCKET_HTTP_TLS_CERTIFICATE", x->tls_cert);
    set("DOCKET_HTTP_TLS_KEY", x->tls_key);
    set("DOCKET_TRUST_STORAGE_URL", x->storage);
    set("DOCKET_TRUST_SIGNER_DIRECTORY", x->signer_dir);
    set("DOCKET_TRUST_KEY_ALGORITHM", x->key_algorithm);
    set("DOCKET_TRUST_SIGNER_URL", x->signer_url);
    set("DOCKET_TRUST_SIGNER_CA", x->signer_ca);
    set("DOCKET_TRUST_SIGNER_CERT", x->signer_cert);
    set("DOCKET_TRUST_SIGNER_KEY", x->signer_key);
    set("DOCKET_LOG_LEVEL", x->log_level);
    server::run_server(server::load_with_flags(*f), {"trust"});
  });
});

}  // namespace
#endif
