// Middleware every docket server uses: structured access log, Prometheus metrics and the
// /metrics and health endpoints. Installed by `docket-server serve|registry|trust`.
#pragma once

#include <functional>
#include <memory>

#include "net/router.h"

namespace docket::net {

// One JSON log line per request: request_id, method, path (no query string: it may hold
// tokens), route, status, bytes, duration_ms, remote, user. Never headers or bodies.
Middleware access_log_middleware();

class Metrics {
 public:
  Metrics();
  ~Metrics();
  Middleware middleware();
  // Extra gauges sampled at scrape time (open connections, ...): name, help, value.
  void add_gauge(std::string name, std::string help, std::function<double()> value);
  // More exposition text appended at scrape time (a component's own counters and
  // histograms, already in the text format with HELP/TYPE lines). Must not call render().
  void add_text(std::function<std::string()> text);
  // Prometheus text exposition format 0.0.4.
  std::string render() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// GET /metrics (when metrics != nullptr) and GET /health ("{"status":"ok"}"), tagged
// "no-auth" so auth middleware lets them through. `healthy` (optional) returns an empty
// string when healthy, else the reason (503).
void install_health_routes(Router& router, Metrics* metrics,
                           std::function<std::string()> healthy = nullptr);

}  // namespace docket::net
