// `docket-server signer`: the signing service for server-managed keys, alone, over HTTPS
// with mutual TLS (signer/remote.h, docs/signer.md). Trust servers reach it with
// trust.signer.url and a client certificate issued by --client-ca.
#if __has_include("signer/remote.h") && __has_include("net/http_server.h")
#include <charconv>
#include <memory>

#include "cli/command.h"
#include "common/log.h"
#include "net/http_server.h"
#include "net/server_middleware.h"
#include "signer/remote.h"
#include "signer/signer.h"

namespace {
using namespace docket;

struct SignerFlags {
  std::string addr = "127.0.0.1:7899";
  std::string tls_cert, tls_key, client_ca;
  std::string directory = "./signer-keys";
  std::string alias = "default";
  std::string log_level = "info";
  std::string log_format = "json";
};

Result<std::pair<std::string, std::uint16_t>> split_addr(const std::string& a) {
  std::string host, port;
  if (a.starts_with("[")) {
    auto close = a.find("]:");
    if (close == std::string::npos)
      return make_error(Fault::user, "usage", "--addr '" + a + "' is not [ipv6]:port");
    host = a.substr(1, close - 1);
    port = a.substr(close + 2);
  } else {
    auto colon = a.rfind(':');
    if (colon == std::string::npos)
      return make_error(Fault::user, "usage", "--addr '" + a + "' is not host:port");
    host = a.substr(0, colon);
    port = a.substr(colon + 1);
  }
  unsigned v = 0;
  auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
  if (ec != std::errc() || p != port.data() + port.size() || v > 65535)
    return make_error(Fault::user, "usage", "--addr '" + a + "': bad port");
  return std::make_pair(host, static_cast<std::uint16_t>(v));
}

cli::Registration signer_cmd("docket-server", 35, {"signer"}, [](CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "signer", "Run the signing service for server-managed keys over mutual TLS (docs/signer.md)");
  auto f = std::make_shared<SignerFlags>();
  cmd->add_option("--addr", f->addr, "listen address host:port (default 127.0.0.1:7899)");
  cmd->add_option("--tls-cert", f->tls_cert, "PEM server certificate (chain)")->required();
  cmd->add_option("--tls-key", f->tls_key, "PEM server private key")->required();
  cmd->add_option("--client-ca", f->client_ca,
                  "PEM CA bundle; clients (trust servers) must present a certificate it issued")
      ->required();
  cmd->add_option("--dir", f->directory,
                  "Encrypted key directory (default ./signer-keys; created 0700)");
  cmd->add_option("--alias", f->alias,
                  "Passphrase alias for new keys: DOCKET_SIGNER_PASSPHRASE_<ALIAS> (default "
                  "'default')");
  cmd->add_option("--log-level", f->log_level, "debug | info | warn | error");
  cmd->add_option("--log-format", f->log_format, "json | text");
  cmd->callback([f] {
    log::set_level(value_or_raise(log::parse_level(f->log_level)));
    log::set_json(f->log_format == "json");
    auto [host, port] = value_or_raise(split_addr(f->addr));
    signer::LocalSignerOptions lo;
    lo.directory = f->directory;
    lo.default_alias = f->alias;
    auto local = value_or_raise(signer::open_local_signer(lo));
    net::Router router;
    router.use(net::access_log_middleware());
    auto metrics = std::make_shared<net::Metrics>();
    router.use(metrics->middleware());
    net::install_health_routes(router, metrics.get());
    signer::install_signer_routes(router, *local);
    net::ServerOptions so;
    so.host = host;
    so.port = port;
    so.tls_cert_file = f->tls_cert;
    so.tls_key_file = f->tls_key;
    so.tls_client_ca_file = f->client_ca;
    so.server_header = "docket-signer";
    net::HttpServer server(so, router);
    value_or_raise(server.start());
    log::info("docket-server signer listening",
              {{"addr", host + ":" + std::to_string(server.port())},
               {"keys", f->directory},
               {"client_ca", f->client_ca}});
    net::run_until_signal(server);
    log::info("docket-server signer stopped");
  });
});

}  // namespace
#endif
