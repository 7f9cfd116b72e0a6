#include "net/server_middleware.h"

#include <array>
#include <map>
#include <mutex>
#include <sstream>
#include <tuple>

#include "common/log.h"

namespace docket::net {

Middleware access_log_middleware() {
  return Middleware{
      "access-log", nullptr,
      [](const Request& req, const Response& res, std::uint64_t sent,
         std::chrono::steady_clock::duration elapsed) {
        if (log::level() > log::Level::info) return;
        log::info("request",
                  {{"request_id", req.request_id},
                   {"method", req.method_string},
                   {"path", req.path},
                   {"route", req.route},
                   {"status", res.status},
                   {"bytes", sent},
                   {"duration_ms", std::chrono::duration<double, std::milli>(elapsed).count()},
                   {"remote", req.remote_address},
                   {"user", req.principal}});
      }};
}

namespace {
constexpr std::array<double, 12> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                             0.05,   0.1,   0.25,   1,     5,    30};
struct Series {
  std::uint64_t count = 0;
  double sum = 0;
  std::uint64_t bytes = 0;
  std::array<std::uint64_t, kBuckets.size()> buckets{};
};
std::string esc(std::string_view s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    if (c == '\n') {
      o += "\\n";
      continue;
    }
    o += c;
  }
  return o;
}
}  // namespace

struct Metrics::Impl {
  mutable std::mutex mu;
  std::map<std::tuple<std::string, std::string, unsigned>, Series> series;
  std::vector<std::tuple<std::string, std::string, std::function<double()>>> gauges;
  std::vector<std::function<std::string()>> texts;
};

Metrics::Metrics() : impl_(std::make_unique<Impl>()) {}
Metrics::~Metrics() = default;

Middleware Metrics::middleware() {
  Impl* p = impl_.get();
  return Middleware{
      "metrics", nullptr,
      [p](const Request& req, const Response& res, std::uint64_t sent,
          std::chrono::steady_clock::duration el) {
        double secs = std::chrono::duration<double>(el).count();
        std::lock_guard lk(p->mu);
        auto& s =
            p->series[{req.route.empty() ? "unmatched" : req.route, req.method_string, res.status}];
        ++s.count;
        s.sum += secs;
        s.bytes += sent;
        for (std::size_t i = 0; i < kBuckets.size(); ++i)
          if (secs <= kBuckets[i]) ++s.buckets[i];
      }};
}

void Metrics::add_gauge(std::string name, std::string help, std::function<double()> value) {
  std::lock_guard lk(impl_->mu);
  impl_->gauges.emplace_back(std::move(name), std::move(help), std::move(value));
}

void Metrics::add_text(std::function<std::string()> text) {
  std::lock_guard lk(impl_->mu);
  impl_->texts.push_back(std::move(text));
}

std::string Metrics::render() const {
  std::ostringstream o;
  std::lock_guard lk(impl_->mu);
  o << "# HELP docket_http_requests_total HTTP requests by route, method and status.\n"
       "# TYPE docket_http_requests_total counter\n";
  for (auto& [k, s] : impl_->series)
    o << "docket_http_requests_total{route=\"" << esc(std::get<0>(k)) << "\",method=\""
      << esc(std::get<1>(k)) << "\",code=\"" << std::get<2>(k) << "\"} " << s.count << "\n";
  o << "# HELP docket_http_response_bytes_total Bytes sent, headers included.\n"
       "# TYPE docket_http_response_bytes_total counter\n";
  for (auto& [k, s] : impl_->series)
    o << "docket_http_response_bytes_total{route=\"" << esc(std::get<0>(k)) << "\",method=\""
      << esc(std::get<1>(k)) << "\",code=\"" << std::get<2>(k) << "\"} " << s.bytes << "\n";
  // Duration histogram per route+method (codes merged).
  std::map<std::pair<std::string, std::string>, Series> merged;
  for (auto& [k, s] : impl_->series) {
    auto& m = merged[{std::get<0>(k), std::get<1>(k)}];
    m.count += s.count;
    m.sum += s.sum;
    for (std::size_t i = 0; i < kBuckets.size(); ++i) m.buckets[i] += s.buckets[i];
  }
  o << "# HELP docket_http_request_duration_seconds Time from request header to response sent.\n"
       "# TYPE docket_http_request_duration_seconds histogram\n";
  for (auto& [k, s] : merged) {
    std::string lbl = "route=\"" + esc(k.first) + "\",method=\"" + esc(k.second) + "\"";
    for (std::size_t i = 0; i < kBuckets.size(); ++i)
      o << "docket_http_request_duration_seconds_bucket{" << lbl << ",le=\"" << kBuckets[i]
        << "\"} " << s.buckets[i] << "\n";
    o << "docket_http_request_duration_seconds_bucket{" << lbl << ",le=\"+Inf\"} " << s.count
      << "\n";
    o << "docket_http_request_duration_seconds_sum{" << lbl << "} " << s.sum << "\n";
    o << "docket_http_request_duration_seconds_count{" << lbl << "} " << s.count << "\n";
  }
  for (auto& [name, help, fn] : impl_->gauges)
    o << "# HELP " << name << " " << help << "\n# TYPE " << name << " gauge\n"
      << name << " " << fn() << "\n";
  for (auto& fn : impl_->texts) o << fn();
  return o.str();
}

void install_health_routes(Router& router, Metrics* metrics, std::function<std::string()> healthy) {
  RouteOptions o;
  o.tags = {"no-auth", "health"};
  router.add(
      http::verb::get, "/health", "health",
      [healthy](Request&, Response& res) {
        std::string why = healthy ? healthy() : "";
        if (why.empty())
          res.set_json(200, Json{{"status", "ok"}});
        else
          res.set_json(503, Json{{"status", "unhealthy"}, {"reason", why}});
      },
      o);
  if (metrics) {
    router.add(
        http::verb::get, "/metrics", "metrics",
        [metrics](Request&, Response& res) {
          res.set(200, "text/plain; version=0.0.4", metrics->render());
        },
        o);
  }
}

}  // namespace docket::net
