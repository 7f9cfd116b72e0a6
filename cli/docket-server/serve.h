// How server roles share one process and one port.
//
// `docket-server serve` builds one net::Router, asks every registered Role to install its
// routes (registry, trust, ...), adds the common middleware (request IDs are built in;
// access log, metrics, /health, /metrics, auth, rate limits) and runs one HttpServer.
// `docket-server registry` / `trust` run the same code with one role only.
//
// A role registers itself from its own file in cli/docket-server/ (no shared file edits):
//
//   static docket::server::RoleRegistration trust_role({"trust", 20,
//       [](docket::server::RoleContext& ctx) -> docket::Status {
//         auto svc = std::make_shared<TrustService>(...ctx.config.document["trust"]...);
//         trust::install_trust_routes(ctx.router, *svc);
//         ctx.keep(svc);  // lives as long as the server
//         return {};
//       }});
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cli/command.h"
#include "common/error.h"
#include "net/router.h"
#include "net/server_middleware.h"
#include "registry/auth.h"
#include "registry/config.h"

namespace docket::server {

struct RoleContext {
  const registry::Config& config;
  net::Router& router;
  std::vector<std::shared_ptr<void>>& owned;
  // The server's /metrics (null when metrics are off): roles add their own series.
  net::Metrics* metrics = nullptr;
  void keep(std::shared_ptr<void> p) { owned.push_back(std::move(p)); }
  // The auth.* set-up (authorizer, token endpoint), built once from the config and shared
  // by every role, so the registry and the trust server accept the same tokens and share one
  // credential cache.
  Result<std::shared_ptr<const registry::AuthSetup>> auth_setup();
  std::shared_ptr<const registry::AuthSetup> auth_;
};

struct Role {
  std::string name;
  int order = 0;  // install order (lower first)
  std::function<Status(RoleContext&)> install;
};

struct RoleRegistration {
  explicit RoleRegistration(Role r);
};

const std::vector<Role>& roles();

// Runs the server with the named roles (all registered roles when `only` is empty) until
// SIGTERM/SIGINT. Throws docket::Exception on configuration errors.
void run_server(const registry::Config& config, const std::vector<std::string>& only);

// Loads the config (file, env) and applies the common command-line overrides.
struct CommonFlags {
  std::string config_file;
  std::string addr;
  std::string data_dir;
};
registry::Config load_with_flags(const CommonFlags& f);
void add_common_flags(CLI::App* cmd, CommonFlags& f);

}  // namespace docket::server
