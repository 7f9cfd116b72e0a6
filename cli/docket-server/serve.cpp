#include "cli/docket-server/serve.h"

#include <algorithm>
#include <thread>

#include "cli/command.h"
#include "common/log.h"
#include "net/http_server.h"
#include "net/server_middleware.h"
#include "registry/auth.h"
#include "registry/gc.h"
#include "registry/http.h"
#include "registry/store.h"

namespace docket::server {

namespace {
std::vector<Role>& role_list() {
  static std::vector<Role> r;
  return r;
}
}  // namespace

RoleRegistration::RoleRegistration(Role r) {
  role_list().push_back(std::move(r));
  std::stable_sort(role_list().begin(), role_list().end(),
                   [](const Role& a, const Role& b) { return a.order < b.order; });
}

const std::vector<Role>& roles() {
  return role_list();
}

Result<std::shared_ptr<const registry::AuthSetup>> RoleContext::auth_setup() {
  if (!auth_) {
    auto a = registry::make_auth(config);
    if (!a) return std::unexpected(a.error());
    auth_ = std::make_shared<const registry::AuthSetup>(std::move(*a));
  }
  return auth_;
}

void add_common_flags(CLI::App* cmd, CommonFlags& f) {
  cmd->add_option("--config,-c", f.config_file, "YAML config file (docs/server-config.md)");
  cmd->add_option("--addr", f.addr,
                  "listen address host:port (default 127.0.0.1:5000; env DOCKET_HTTP_ADDR)");
  cmd->add_option("--data", f.data_dir,
                  "data directory (default ./data; env DOCKET_STORAGE_FILESYSTEM_ROOTDIRECTORY)");
}

registry::Config load_with_flags(const CommonFlags& f) {
  std::optional<std::filesystem::path> file;
  if (!f.config_file.empty()) file = f.config_file;
  if (!f.addr.empty()) ::setenv("DOCKET_HTTP_ADDR", f.addr.c_str(), 1);
  if (!f.data_dir.empty())
    ::setenv("DOCKET_STORAGE_FILESYSTEM_ROOTDIRECTORY", f.data_dir.c_str(), 1);
  auto c = value_or_raise(registry::load_config(file));
  log::set_level(value_or_raise(log::parse_level(c.log_level)));
  log::set_json(c.log_format == "json");
  return c;
}

void run_server(const registry::Config& config, const std::vector<std::string>& only) {
  net::Router router;
  std::vector<std::shared_ptr<void>> owned;
  auto metrics = std::make_shared<net::Metrics>();
  if (config.access_log) router.use(net::access_log_middleware());
  if (config.metrics_enabled) router.use(metrics->middleware());
  net::install_health_routes(router, config.metrics_enabled ? metrics.get() : nullptr);
  RoleContext ctx{config, router, owned, nullptr, nullptr};
  if (config.metrics_enabled) ctx.metrics = metrics.get();
  std::vector<std::string> installed;
  for (const auto& r : roles()) {
    if (!only.empty() && std::find(only.begin(), only.end(), r.name) == only.end()) continue;
    if (auto st = r.install(ctx); !st)
      raise(with_context(st.error(), "starting the " + r.name + " role"));
    installed.push_back(r.name);
  }
  for (const auto& want : only)
    if (std::find(installed.begin(), installed.end(), want) == installed.end())
      raise(Fault::bug, "usage", "server role '" + want + "' is not built into this docket-server");
  net::HttpServer server(config.http, router);
  metrics->add_gauge("docket_http_connections_open", "Open client connections.",
                     [&server] { return static_cast<double>(server.stats().connections_open); });
  value_or_raise(server.start());
  log::info("docket-server listening",
            {{"addr", config.http.host + ":" + std::to_string(server.port())},
             {"tls", !config.http.tls_cert_file.empty()},
             {"roles", installed},
             {"data", config.root_dir}});
  net::run_until_signal(server);
  log::info("docket-server stopped");
}

// ---- the registry role ----

static RoleRegistration registry_role(
    {"registry", 10, [](RoleContext& ctx) -> Status {
       const auto& c = ctx.config;
       if (c.unsafe_skip_fsync)
         log::warn(
             "storage.filesystem.unsafe_skip_fsync is on: an OS crash or power cut can lose "
             "acknowledged uploads");
       auto drv = registry::make_filesystem_driver(
           c.root_dir, registry::FilesystemOptions{c.unsafe_skip_fsync});
       if (!drv) return std::unexpected(drv.error());
       registry::StoreOptions so;
       so.max_manifest_bytes = c.max_manifest_bytes;
       so.manifest_cache_bytes = c.manifest_cache_bytes;
       auto store = std::make_shared<registry::Store>(std::move(*drv), so);
       registry::HttpOptions ho;
       ho.read_only = c.read_only;
       ho.delete_enabled = c.delete_enabled;
       ho.catalog_max_entries = c.catalog_max_entries;
       ho.referrers_max_entries = c.referrers_max_entries;
       ho.max_manifest_bytes = c.max_manifest_bytes;
       auto auth = ctx.auth_setup();
       if (!auth) return std::unexpected(auth.error());
       registry::install_auth(ctx.router, **auth, ho);
       if (c.ratelimit_enabled) {
         auto rl = net::RateLimiter::create(
             net::RateLimitOptions{c.ratelimit_manifest_pulls, c.ratelimit_window});
         if (!rl) return std::unexpected(with_context(rl.error(), "ratelimit"));
         registry::install_rate_limit(ctx.router,
                                      std::shared_ptr<net::RateLimiter>(std::move(*rl)));
       }
       registry::install_routes(ctx.router, *store, ho);
       ctx.keep(store);
       if (c.upload_purging && !c.read_only) {
         // Expire abandoned uploads in the background (detached: the process exits with it).
         std::thread([store, age = c.upload_max_age, every = c.upload_purge_interval] {
           for (;;) {
             auto n = store->purge_uploads(std::chrono::system_clock::now() - age);
             if (!n)
               log::warn("upload purge failed", {{"error", n.error().describe()}});
             else if (*n)
               log::info("purged abandoned uploads", {{"count", *n}});
             std::this_thread::sleep_for(every);
           }
         }).detach();
       }
       return {};
     }});

static cli::Registration serve_cmd("docket-server", 10, {"serve"}, [](CLI::App& app) {
  auto* cmd =
      app.add_subcommand("serve", "Run every server role (registry, trust, ...) on one port");
  auto f = std::make_shared<CommonFlags>();
  add_common_flags(cmd, *f);
  cmd->callback([f] { run_server(load_with_flags(*f), {}); });
});

static cli::Registration registry_cmd("docket-server", 11, {"registry"}, [](CLI::App& app) {
  auto* cmd = app.add_subcommand("registry", "Run the OCI registry role only");
  auto f = std::make_shared<CommonFlags>();
  add_common_flags(cmd, *f);
  cmd->callback([f] { run_server(load_with_flags(*f), {"registry"}); });
});

static cli::Registration gc_cmd("docket-server", 40, {"gc"}, [](CLI::App& app) {
  auto* cmd = app.add_subcommand("gc", "Delete blobs no repository links or manifest references");
  auto f = std::make_shared<CommonFlags>();
  add_common_flags(cmd, *f);
  auto o = std::make_shared<registry::GcOptions>();
  auto grace = std::make_shared<std::string>("1h");
  cmd->add_flag("--dry-run,-n", o->dry_run, "Only report what would be deleted");
  cmd->add_flag("--delete-untagged,-m", o->delete_untagged,
                "Also delete manifests no tag reaches (directly, via an index or as a referrer)");
  cmd->add_option("--grace", *grace, "Never delete anything younger than this (default 1h)");
  cmd->callback([f, o, grace] {
    auto c = load_with_flags(*f);
    auto g = registry::parse_duration(*grace);
    if (!g)
      raise(Fault::user, "usage", "--grace: '" + *grace + "' is not a duration like 30s, 5m or 1h");
    o->grace = std::chrono::duration_cast<std::chrono::seconds>(*g);
    o->upload_max_age = c.upload_max_age;
    auto drv = value_or_raise(registry::make_filesystem_driver(c.root_dir));
    registry::Store store(std::move(drv));
    auto rep = value_or_raise(registry::collect_garbage(store, *o));
    for (auto& m : rep.manifests_deleted)
      std::printf("%s manifest %s\n", o->dry_run ? "would delete" : "deleted", m.c_str());
    for (auto& b : rep.blobs_deleted)
      std::printf("%s blob %s\n", o->dry_run ? "would delete" : "deleted", b.c_str());
    std::printf(
        "%zu blobs, %zu in use, %zu %s (%llu bytes), %zu manifests %s, %zu abandoned uploads "
        "purged\n",
        rep.blobs_total, rep.blobs_marked, rep.blobs_deleted.size(),
        o->dry_run ? "deletable" : "deleted", static_cast<unsigned long long>(rep.bytes_freed),
        rep.manifests_deleted.size(), o->dry_run ? "deletable" : "deleted", rep.uploads_purged);
  });
});

}  // namespace docket::server
