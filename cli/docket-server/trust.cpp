// `docket-server trust`: the Notary-compatible trust server on its own port.
#if defined(DOCKET_HAVE_TRUST_HTTP)
#include <cstdio>

#include "cli/command.h"
#include "common/log.h"
#include "net/http_server.h"
#include "signer/signer.h"
#include "trustserver/http.h"
#include "trustserver/service.h"
#include "trustserver/storage.h"

namespace {

struct TrustArgs {
  std::string listen = "127.0.0.1:4443";
  std::string tls_cert, tls_key;
  std::string storage = "sqlite://trust.db";
  std::string signer_dir = "signer-keys";
  std::string signer_alias = "default";
  std::string key_algorithm = "ed25519";
  std::vector<std::string> gun_prefixes;
  bool no_cache = false;
  std::string log_level = "info";
  unsigned threads = 0;
};

std::pair<std::string, std::uint16_t> split_listen(const std::string& s) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos)
    docket::raise(docket::Fault::user, "usage", "--listen must be HOST:PORT, got '" + s + "'");
  auto host = s.substr(0, colon);
  if (host.size() > 1 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  int port = std::atoi(s.c_str() + colon + 1);
  if (port < 0 || port > 65535) docket::raise(docket::Fault::user, "usage", "bad port in --listen");
  return {host, static_cast<std::uint16_t>(port)};
}

docket::cli::Registration reg("docket-server", 30, [](CLI::App& app) {
  auto a = std::make_shared<TrustArgs>();
  auto* cmd =
      app.add_subcommand("trust", "Run the Notary-compatible trust server (docs/trust-server.md)");
  cmd->add_option("--listen", a->listen, "HOST:PORT to listen on")->capture_default_str();
  cmd->add_option("--tls-cert", a->tls_cert, "PEM certificate (chain) file; TLS is off without it");
  cmd->add_option("--tls-key", a->tls_key, "PEM private key file for --tls-cert");
  cmd->add_option("--storage", a->storage, "sqlite:///path/db or postgres://user@host:port/db")
      ->capture_default_str();
  cmd->add_option(
         "--signer-dir", a->signer_dir,
         "Directory of encrypted server keys (passphrase from DOCKET_SIGNER_PASSPHRASE_<ALIAS>)")
      ->capture_default_str();
  cmd->add_option("--signer-alias", a->signer_alias, "Passphrase alias for new keys")
      ->capture_default_str();
  cmd->add_option("--key-algorithm", a->key_algorithm, "ed25519 | ecdsa | rsa for server keys")
      ->capture_default_str();
  cmd->add_option("--gun-prefix", a->gun_prefixes,
                  "Only accept GUNs with this prefix (repeatable)");
  cmd->add_flag("--no-cache", a->no_cache, "Do not serve current metadata from memory");
  cmd->add_option("--threads", a->threads, "I/O threads (0 = one per core)");
  cmd->add_option("--log-level", a->log_level, "debug | info | warn | error")
      ->capture_default_str();
  cmd->callback([a] {
    using namespace docket;
    log::set_level(value_or_raise(log::parse_level(a->log_level)));
    trustserver::StorageOptions so;
    auto storage = value_or_raise(trustserver::open_storage(a->storage, so));
    signer::LocalSignerOptions lo;
    lo.directory = a->signer_dir;
    lo.default_alias = a->signer_alias;
    auto sg = value_or_raise(signer::open_local_signer(lo));
    trustserver::TrustOptions to;
    to.key_algorithm = value_or_raise(keys::parse_algorithm(a->key_algorithm));
    to.gun_prefixes = a->gun_prefixes;
    to.cache_current = !a->no_cache && storage->backend() == "sqlite";
    trustserver::TrustService svc(*storage, *sg, to);
    net::Router router;
    trustserver::install_trust_routes(router, svc);
    net::ServerOptions opts;
    auto [host, port] = split_listen(a->listen);
    opts.host = host;
    opts.port = port;
    opts.threads = a->threads;
    opts.tls_cert_file = a->tls_cert;
    opts.tls_key_file = a->tls_key;
    if (a->tls_cert.empty() != a->tls_key.empty())
      raise(Fault::user, "usage", "--tls-cert and --tls-key go together");
    net::HttpServer server(opts, router);
    value_or_raise(server.start());
    std::printf("docket-server trust listening on %s://%s:%u\n",
                a->tls_cert.empty() ? "http" : "https", host.c_str(),
                static_cast<unsigned>(server.port()));
    std::fflush(stdout);
    net::run_until_signal(server);
  });
});

}  // namespace
#endif
