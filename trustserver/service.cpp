#include "trustserver/service.h"

#include <array>
#include <charconv>
#include <limits>
#include <set>
#include <type_traits>

#include "common/digest.h"
#include "common/encoding.h"
#include "common/fast_json.h"
#include "common/json.h"
#include "common/log.h"
#include "tuf/metadata.h"

namespace docket::trustserver {
namespace {

constexpr const char* kTextPlain = "text/plain; charset=utf-8";
constexpr const char* kJson = "application/json; charset=utf-8";

// Notary writes Last-Modified with a literal "UTC" (Go's time.Format with http.TimeFormat
// minus the zone rewrite); clients ignore it, but we stay byte-compatible.
std::string last_modified(TimePoint t) {
  auto s = format_http_date(t);
  if (s.ends_with("GMT")) s.replace(s.size() - 3, 3, "UTC");
  return s;
}

class SignerKeys final : public ServerKeys {
 public:
  SignerKeys(Storage& s, signer::Signer& sg) : storage_(s), signer_(sg) {}
  std::vector<std::string> held_keys(const std::string& gun, const std::string& role) override {
    std::vector<std::string> out;
    auto ks = storage_.server_keys(gun, role);
    if (!ks) return out;
    for (const auto& k : *ks) out.push_back(k.key_id);
    return out;
  }
  Result<Json> sign(const std::string& key_id, std::string_view canonical) override {
    auto info = signer_.get_key(key_id);
    if (!info) return std::unexpected(info.error());
    auto sig = signer_.sign(key_id, canonical);
    if (!sig) return std::unexpected(sig.error());
    return Json{{"keyid", key_id}, {"method", info->method}, {"sig", base64_encode(*sig)}};
  }

 private:
  Storage& storage_;
  signer::Signer& signer_;
};

std::optional<std::int64_t> parse_int(std::string_view s) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::map<std::string, std::string> parse_query_string(std::string_view q) {
  std::map<std::string, std::string> out;
  while (!q.empty()) {
    auto amp = q.find('&');
    auto kv = q.substr(0, amp);
    q.remove_prefix(amp == std::string_view::npos ? q.size() : amp + 1);
    auto eq = kv.find('=');
    std::string k(kv.substr(0, eq));
    std::string v(eq == std::string_view::npos ? "" : kv.substr(eq + 1));
    for (auto& c : v)
      if (c == '+') c = ' ';
    auto dk = percent_decode(k), dv = percent_decode(v);
    if (dk && dv) out.emplace(*dk, *dv);  // first value wins
  }
  return out;
}

// Prometheus histogram buckets (seconds) for publish and signer call durations.
constexpr std::array<double, 14> kLatencyBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                    0.1,    0.25,  0.5,    1,     2.5,  5,     10};

struct Histogram {
  std::uint64_t count = 0;
  double sum = 0;
  std::array<std::uint64_t, kLatencyBuckets.size()> buckets{};
  void observe(double secs) {
    ++count;
    sum += secs;
    for (std::size_t i = 0; i < kLatencyBuckets.size(); ++i)
      if (secs <= kLatencyBuckets[i]) ++buckets[i];
  }
  void render(std::string& out, const std::string& name, const std::string& labels) const {
    auto lbl = [&](const std::string& extra) {
      std::string l = labels;
      if (!extra.empty()) l += (l.empty() ? "" : ",") + extra;
      return l.empty() ? std::string() : "{" + l + "}";
    };
    for (std::size_t i = 0; i < kLatencyBuckets.size(); ++i) {
      char le[32];
      std::snprintf(le, sizeof le, "%g", kLatencyBuckets[i]);
      out += name + "_bucket" + lbl(std::string("le=\"") + le + "\"") + " " +
             std::to_string(buckets[i]) + "\n";
    }
    out += name + "_bucket" + lbl("le=\"+Inf\"") + " " + std::to_string(count) + "\n";
    char sum_s[64];
    std::snprintf(sum_s, sizeof sum_s, "%.6f", sum);
    out += name + "_sum" + lbl("") + " " + sum_s + "\n";
    out += name + "_count" + lbl("") + " " + std::to_string(count) + "\n";
  }
};

// Notary's MALFORMED_JSON check: an uploaded part must be one JSON document with an
// integer signed.version. The document is parsed once, strictly (duplicate keys, depth and
// size limited like every metadata parse), and handed on to validation, which would parse
// it again otherwise: a second parse of a 10,000-target file was a large share of a publish.
// parse_json_fast is parse_json with a faster path for the common case (fast_json.h).
// Returns the reason it is malformed, or "".
constexpr std::size_t kMaxUploadDepth = 64;  // tuf::ParseOptions::max_depth's default

// `canonical`: where the canonical JSON of signed sits in `body`, when it does.
std::string malformed_reason(std::string_view body, Json& doc, std::string_view& canonical) {
  JsonLimits lim;
  lim.max_depth = kMaxUploadDepth;
  lim.max_bytes = std::numeric_limits<std::size_t>::max();  // the publish body limit applies
  auto j = parse_json_fast(body, "the part", Fault::user, lim, &canonical);
  if (!j) return j.error().message;
  if (!j->is_object()) return "no \"signed\" object";
  auto it = j->find("signed");
  if (it == j->end() || !it->is_object()) return "no \"signed\" object";
  auto v = it->find("version");
  if (v == it->end() || !v->is_number_integer()) return "no integer signed.version";
  doc = std::move(*j);
  return "";
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

// Forwards to the configured signer (local or remote), counting calls and errors and timing
// them per operation.
class MeteredSigner final : public signer::Signer {
 public:
  explicit MeteredSigner(signer::Signer& s) : s_(s) {}
  Result<signer::KeyInfo> create_key(std::string_view gun, std::string_view role,
                                     keys::Algorithm a) override {
    return timed(kCreate, [&] { return s_.create_key(gun, role, a); });
  }
  Result<signer::KeyInfo> get_key(std::string_view key_id) override {
    return timed(kGet, [&] { return s_.get_key(key_id); });
  }
  Result<std::vector<signer::KeyInfo>> list_keys(std::string_view gun,
                                                 std::string_view role) override {
    return timed(kList, [&] { return s_.list_keys(gun, role); });
  }
  Result<std::string> sign(std::string_view key_id, std::string_view message) override {
    return timed(kSign, [&] { return s_.sign(key_id, message); });
  }
  Status delete_key(std::string_view key_id) override {
    return timed(kDelete, [&] { return s_.delete_key(key_id); });
  }
  Status check_health() override {
    return timed(kHealth, [&] { return s_.check_health(); });
  }

  std::string render() const {
    static constexpr const char* names[] = {"create_key", "get_key",    "list_keys",
                                            "sign",       "delete_key", "check_health"};
    std::lock_guard lk(mu_);
    std::string out =
        "# HELP docket_trust_signer_calls_total Calls to the signer by operation and result.\n"
        "# TYPE docket_trust_signer_calls_total counter\n";
    for (std::size_t i = 0; i < kOps; ++i)
      for (int ok = 1; ok >= 0; --ok)
        out += std::string("docket_trust_signer_calls_total{op=\"") + names[i] + "\",result=\"" +
               (ok ? "ok" : "error") + "\"} " +
               std::to_string(ok ? ops_[i].count - errors_[i] : errors_[i]) + "\n";
    out +=
        "# HELP docket_trust_signer_call_duration_seconds Duration of signer calls.\n"
        "# TYPE docket_trust_signer_call_duration_seconds histogram\n";
    for (std::size_t i = 0; i < kOps; ++i)
      ops_[i].render(out, "docket_trust_signer_call_duration_seconds",
                     std::string("op=\"") + names[i] + "\"");
    return out;
  }

 private:
  enum Op { kCreate, kGet, kList, kSign, kDelete, kHealth, kOps };
  template <class F>
  std::invoke_result_t<F> timed(Op op, F&& f) {
    auto t0 = std::chrono::steady_clock::now();
    auto r = f();
    double secs = seconds_since(t0);
    std::lock_guard lk(mu_);
    ops_[op].observe(secs);
    if (!r) ++errors_[op];
    return r;
  }
  signer::Signer& s_;
  mutable std::mutex mu_;
  std::array<Histogram, kOps> ops_{};
  std::array<std::uint64_t, kOps> errors_{};
};

struct TrustService::Counters {
  std::atomic<std::uint64_t> cache_hits{0}, change_reports{0}, cache_resets{0};
  std::atomic<std::uint64_t> get_ok{0}, get_not_found{0}, publish_ok{0}, publish_rejected{0},
      publish_version_conflict{0}, deletes{0}, key_creates{0}, timestamp_resigns{0}, changefeed{0},
      errors_5xx{0};
  std::mutex mu;
  Histogram publish_seconds;  // validation + storage of one publish, as the service saw it
};

AccessNeed access_for(const std::string& method, std::string_view raw_path) {
  auto decoded = percent_decode(raw_path);
  auto r = parse_route(decoded ? *decoded : std::string(raw_path));
  AccessNeed a;
  switch (r.kind) {
    case RouteKind::ping:
    case RouteKind::changefeed_all:
      a.kind = AccessNeed::catalog;
      a.actions = {"*"};
      return a;
    case RouteKind::health:
    case RouteKind::metrics:
    case RouteKind::not_found:
      return a;
    default:
      break;
  }
  a.kind = AccessNeed::repository;
  a.gun = r.gun;
  if (r.kind == RouteKind::publish_or_delete)
    a.actions = method == "DELETE" ? std::vector<std::string>{"*"}
                                   : std::vector<std::string>{"push", "pull"};
  else if (r.kind == RouteKind::key)
    a.actions =
        method == "POST" ? std::vector<std::string>{"*"} : std::vector<std::string>{"push", "pull"};
  else if (r.kind == RouteKind::changefeed_gun)
    a.actions = {"pull"};
  else
    a.actions = {"pull"};
  return a;
}

// Applies a storage's change reports to the service's caches (on the watch's thread).
class TrustService::Coherence final : public ChangeSink {
 public:
  explicit Coherence(TrustService& s) : s_(s) {}
  void changed(std::string_view gun) override {
    ++s_.counters_->change_reports;
    s_.invalidate(gun);
  }
  void changed_all() override {
    ++s_.counters_->change_reports;
    s_.reset_cache(s_.cache_in_use());
  }
  void watching(bool live) override {
    s_.reset_cache(live);
    log::info(live ? "trust metadata cache in use (change watch live)"
                   : "trust metadata cache bypassed (change watch down)");
  }

 private:
  TrustService& s_;
};

TrustService::TrustService(Storage& storage, signer::Signer& signer, TrustOptions o)
    : storage_(storage),
      metered_(std::make_unique<MeteredSigner>(signer)),
      signer_(*metered_),
      o_(std::move(o)),
      keys_(std::make_unique<SignerKeys>(storage, *metered_)),
      counters_(std::make_unique<Counters>()) {
  auto age = [](std::chrono::seconds s) { return std::to_string(s.count()); };
  cache_control_current_ = "public, max-age=" + age(o_.max_age_current) +
                           ", s-maxage=" + age(o_.max_age_current) + ", must-revalidate";
  cache_control_consistent_ =
      "public, max-age=" + age(o_.max_age_consistent) + ", s-maxage=" + age(o_.max_age_consistent);
  if (o_.cache_current) {
    if (storage_.sole_writer()) {
      cache_usable_ = true;
    } else {
      // Usable once the watch reports it is live (Coherence::watching).
      coherence_ = std::make_unique<Coherence>(*this);
      watch_ = storage_.watch_changes(*coherence_);
      if (!watch_)
        log::warn("trust metadata cache off: the storage is shared and offers no change watch",
                  {{"storage", std::string(storage_.backend())}});
    }
  }
}

TrustService::~TrustService() {
  watch_.reset();  // no report may arrive while the rest is destroyed
}

bool TrustService::cache_in_use() const {
  std::shared_lock lk(cache_mu_);
  return cache_usable_;
}

std::optional<std::uint64_t> TrustService::cache_generation() const {
  if (!o_.cache_current) return std::nullopt;
  std::shared_lock lk(cache_mu_);
  if (!cache_usable_) return std::nullopt;
  return generation_.load();
}

void TrustService::reset_cache(bool usable) {
  {
    std::unique_lock lk(cache_mu_);
    ++generation_;
    cache_.clear();
    cache_usable_ = usable;
  }
  ++counters_->cache_resets;
  std::lock_guard lk(feed_mu_);
  feed_cache_.clear();
}

std::mutex& TrustService::gun_lock(const std::string& gun) {
  std::lock_guard lk(locks_mu_);
  auto& m = locks_[gun];
  if (!m) m = std::make_unique<std::mutex>();
  return *m;
}

void TrustService::invalidate(std::string_view gun) {
  std::unique_lock lk(cache_mu_);
  ++generation_;  // also retires every cached changefeed page
  for (auto it = cache_.lower_bound({std::string(gun), ""});
       it != cache_.end() && it->first.first == gun;)
    it = cache_.erase(it);
}

TrustResponse TrustService::error(const HttpError& e) {
  TrustResponse r;
  r.status = static_cast<unsigned>(notary_code_info(e.code).status);
  r.headers.emplace_back("Content-Type", kJson);
  r.body = error_body(e);
  if (r.status >= 500) {
    ++counters_->errors_5xx;
    // During a database outage the storage logs once, then rate-limited: not per request.
    if (storage_.outage_logged(e.log_message)) return r;
    log::error("trust server error",
               {{"code", notary_code_info(e.code).code}, {"error", e.log_message}});
  } else if (!e.log_message.empty()) {
    log::info("trust request rejected",
              {{"code", notary_code_info(e.code).code}, {"why", e.log_message}});
  }
  return r;
}

TrustResponse TrustService::metadata_response(const MetaRecord& rec, bool consistent,
                                              const std::string* last_mod) {
  TrustResponse r;
  r.headers.reserve(3);
  r.headers.emplace_back("Content-Type", kTextPlain);
  r.headers.emplace_back("Cache-Control",
                         consistent ? cache_control_consistent_ : cache_control_current_);
  r.headers.emplace_back("Last-Modified", last_mod ? *last_mod : last_modified(rec.created));
  r.body = rec.data;  // empty for cached records: the caller attaches their shared bytes
  ++counters_->get_ok;
  return r;
}

TrustResponse TrustService::handle(const TrustRequest& req) {
  auto decoded = percent_decode(req.path);
  if (!decoded || decoded->find('\0') != std::string::npos) {
    auto r = error(HttpError{NotaryCode::metadata_not_found, "{}", ""});
    r.route = "trust.not_found";
    return r;
  }
  Route route = parse_route(*decoded);
  const auto& m = req.method;
  auto not_found = [&] {
    ++counters_->get_not_found;
    auto r = error(HttpError{NotaryCode::metadata_not_found, "{}", ""});
    r.route = "trust.not_found";
    return r;
  };
  if (!route.invalid_gun.empty()) {
    auto r = error(HttpError{NotaryCode::invalid_gun, "{}", route.invalid_gun});
    r.route = "trust.invalid_gun";
    return r;
  }
  if (!route.gun.empty() && !o_.gun_prefixes.empty()) {
    bool ok = false;
    for (const auto& p : o_.gun_prefixes) ok = ok || route.gun.starts_with(p);
    if (!ok) {
      auto r = error(HttpError{NotaryCode::invalid_gun, "{}", "GUN outside gun_prefixes"});
      r.route = "trust.invalid_gun";
      return r;
    }
  }
  TrustResponse out;
  switch (route.kind) {
    case RouteKind::ping:
      if (m != "GET" && m != "HEAD") return not_found();
      out.headers.emplace_back("Content-Type", kTextPlain);
      out.body = "{}";
      out.route = "trust.ping";
      return out;
    case RouteKind::health:
      if (m != "GET") return not_found();
      out = health();
      out.route = "trust.health";
      return out;
    case RouteKind::metrics:
      if (m != "GET") return not_found();
      out.headers.emplace_back("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
      out.body = metrics_text();
      out.route = "trust.metrics";
      return out;
    case RouteKind::metadata_current:
      if (m != "GET") return not_found();
      if (!route.invalid_role.empty())
        return error(HttpError{NotaryCode::invalid_role, Json(route.invalid_role).dump(), ""});
      out = get_metadata(route, req.share_body);
      out.route = "trust.metadata.get";
      return out;
    case RouteKind::metadata_checksum:
      if (m != "GET" || !valid_role(route.role)) return not_found();
      out = get_by_checksum(route);
      out.route = "trust.metadata.checksum";
      return out;
    case RouteKind::metadata_version:
      if (m != "GET" || !valid_role(route.role)) return not_found();
      out = get_by_version(route);
      out.route = "trust.metadata.version";
      return out;
    case RouteKind::key:
      if (m != "GET" && m != "POST") return not_found();
      out = get_or_create_key(route, m == "POST");
      out.route = m == "POST" ? "trust.key.rotate" : "trust.key.get";
      return out;
    case RouteKind::publish_or_delete:
      if (m == "POST") {
        auto t0 = std::chrono::steady_clock::now();
        out = publish(route, req);
        out.route = "trust.publish";
        double secs = seconds_since(t0);
        std::lock_guard lk(counters_->mu);
        counters_->publish_seconds.observe(secs);
      } else if (m == "DELETE") {
        out = delete_gun(route);
        out.route = "trust.delete";
      } else {
        return not_found();
      }
      return out;
    case RouteKind::changefeed_gun:
      if (m != "GET") return not_found();
      out = changefeed(route.gun, req.query);
      out.route = "trust.changefeed";
      return out;
    case RouteKind::changefeed_all:
      if (m != "GET") return not_found();
      out = changefeed(std::nullopt, req.query);
      out.route = "trust.changefeed.all";
      return out;
    case RouteKind::not_found:
      break;
  }
  return not_found();
}

TrustResponse TrustService::health() {
  Json failing = Json::object();
  if (auto st = storage_.check_health(); !st) failing["storage"] = st.error().message;
  if (auto st = signer_.check_health(); !st) failing["signer"] = st.error().message;
  TrustResponse r;
  r.headers.emplace_back("Content-Type", "application/json");
  r.status = failing.empty() ? 200 : 503;
  r.body = failing.dump();
  return r;
}

Status TrustService::refresh_timestamp(const std::string& gun) {
  std::lock_guard lk(gun_lock(gun));
  auto ts = storage_.get_current(gun, "timestamp");
  auto snap = storage_.get_current(gun, "snapshot");
  auto root = storage_.get_current(gun, "root");
  for (const auto* r : {&ts, &snap, &root})
    if (!*r) return std::unexpected(with_context(r->error(), "reading current metadata"));
  if (!ts->has_value() || !snap->has_value() || !root->has_value()) return {};
  const auto now = docket::now();
  if (!timestamp_is_stale((*ts)->data, (*snap)->data, now, o_.timestamp_refresh_margin)) return {};
  auto fresh =
      generate_timestamp(gun, (*root)->data, (*snap)->data, (*ts)->version, now, o_.expiry, *keys_);
  if (!fresh) return make_error(Fault::local, "timestamp", fresh.error().log_message);
  auto st = storage_.update_many(gun, {*fresh});
  invalidate(gun);
  if (!st && st.error().code != "version") return st;  // version: another server re-signed first
  ++counters_->timestamp_resigns;
  return {};
}

TrustResponse TrustService::get_metadata(const Route& r, bool share_body) {
  const auto key = std::make_pair(r.gun, r.role);
  const auto now = docket::now();
  if (o_.cache_current) {
    std::shared_lock lk(cache_mu_);
    if (auto it = cache_.find(key); cache_usable_ && it != cache_.end()) {
      auto c = it->second;
      lk.unlock();
      if (r.role != "timestamp" || c->expires > now + o_.timestamp_refresh_margin) {
        ++counters_->cache_hits;
        auto out = metadata_response(c->rec, false, &c->last_modified);
        if (share_body)
          out.shared_body = c->data;
        else
          out.body = *c->data;
        return out;
      }
    }
  }
  if (r.role == "timestamp") {
    if (auto st = refresh_timestamp(r.gun); !st)
      log::warn("timestamp re-sign failed", {{"gun", r.gun}, {"error", st.error().message}});
  }
  // Taken before reading: a change reported after this point keeps the read out of the cache.
  const auto gen = cache_generation();
  auto rec = storage_.get_current(r.gun, r.role);
  if (!rec) return error(from_error(rec.error()));
  if (!rec->has_value()) {
    ++counters_->get_not_found;
    return error(HttpError{NotaryCode::metadata_not_found, "{}", ""});
  }
  if (gen) {
    auto c = std::make_shared<Cached>();
    c->rec = **rec;
    c->data = std::make_shared<const std::string>(std::move(c->rec.data));
    c->rec.data.clear();
    c->last_modified = last_modified(c->rec.created);
    if (r.role == "timestamp") {
      tuf::ParseOptions po;
      po.fault = Fault::local;
      auto t = tuf::parse_header((*rec)->data, po);
      auto ts = tuf::parse_timestamp((*rec)->data, po);
      c->expires = ts ? ts->signed_.expires : TimePoint{};
    }
    std::unique_lock lk(cache_mu_);
    if (cache_usable_ && generation_ == *gen) cache_[key] = std::move(c);
  }
  return metadata_response(**rec, false);
}

TrustResponse TrustService::get_by_checksum(const Route& r) {
  if (r.checksum.size() != 64) {  // the route accepts sha384/512 lengths; storage keeps sha256
    ++counters_->get_not_found;
    return error(HttpError{NotaryCode::metadata_not_found, "{}", ""});
  }
  auto rec = storage_.get_checksum(r.gun, r.role, r.checksum);
  if (!rec) return error(from_error(rec.error()));
  if (!rec->has_value()) {
    ++counters_->get_not_found;
    return error(HttpError{NotaryCode::metadata_not_found, "{}", ""});
  }
  return metadata_response(**rec, true);
}

TrustResponse TrustService::get_by_version(const Route& r) {
  auto rec = storage_.get_version(r.gun, r.role, r.version);
  if (!rec) return error(from_error(rec.error()));
  if (!rec->has_value()) {
    ++counters_->get_not_found;
    return error(HttpError{NotaryCode::metadata_not_found, "{}", ""});
  }
  return metadata_response(**rec, true);
}

TrustResponse TrustService::get_or_create_key(const Route& r, bool rotate) {
  std::lock_guard lk(gun_lock(r.gun));
  auto ks = storage_.server_keys(r.gun, r.role);
  if (!ks) return error(from_error(ks.error()));
  std::string public_json;
  if (!rotate && !ks->empty()) {
    public_json = ks->back().public_json;
  } else {
    auto k = signer_.create_key(r.gun, r.role, o_.key_algorithm);
    if (!k) return error(HttpError{NotaryCode::no_cryptoservice, "{}", k.error().describe()});
    if (auto st = storage_.add_server_key({r.gun, r.role, k->key_id, k->public_json, k->created});
        !st)
      return error(from_error(st.error(), true));
    // Another server may have created one at the same moment: answer with the newest.
    auto again = storage_.server_keys(r.gun, r.role);
    public_json =
        (again && !again->empty() && !rotate) ? again->back().public_json : k->public_json;
    ++counters_->key_creates;
    log::info(rotate ? "server key rotated" : "server key created",
              {{"gun", r.gun}, {"role", r.role}, {"key_id", k->key_id}});
  }
  TrustResponse out;
  out.headers.emplace_back("Content-Type", kTextPlain);
  out.body = public_json;
  return out;
}

TrustResponse TrustService::publish(const Route& r, const TrustRequest& req) {
  auto boundary = multipart_boundary(req.content_type);
  if (!boundary)
    return error(HttpError{NotaryCode::malformed_upload, std::nullopt, boundary.error().message});
  auto parts = parse_multipart(req.body, *boundary, o_.multipart);
  if (!parts) {
    ++counters_->publish_rejected;
    return error(HttpError{NotaryCode::malformed_upload,
                           parts.error().code == "too_large"
                               ? std::optional<std::string>(Json(parts.error().message).dump())
                               : std::nullopt,
                           parts.error().message});
  }
  ValidationInput in;
  in.gun = r.gun;
  in.expiry = o_.expiry;
  for (const auto& p : *parts) {
    std::string role = p.filename;
    if (role.ends_with(".json")) role.resize(role.size() - 5);
    if (role.empty()) {
      ++counters_->publish_rejected;
      return error(HttpError{NotaryCode::no_filename, std::nullopt, "a part has no filename"});
    }
    if (!valid_role(role)) {
      ++counters_->publish_rejected;
      return error(HttpError{NotaryCode::invalid_role,
                             Json(role).dump(-1, ' ', false, Json::error_handler_t::replace),
                             "invalid role in upload"});
    }
    Upload u{role, std::string(p.body), {}};
    std::string_view canonical;
    if (auto why = malformed_reason(u.data, u.doc, canonical); !why.empty()) {
      ++counters_->publish_rejected;
      return error(HttpError{NotaryCode::malformed_json, std::nullopt, role + ": " + why});
    }
    if (!canonical.empty()) {
      u.signed_canonical_offset = static_cast<std::size_t>(canonical.data() - u.data.data());
      u.signed_canonical_size = canonical.size();
    }
    in.uploads.push_back(std::move(u));
  }
  // Server-generated roles may collide with a concurrent re-sign on another server; the
  // whole validation is retried on fresh state then. A client role that lost the race
  // fails the retry's version check and the client gets VERSION.
  // Stored bytes validate_update() never reads are not fetched: those of a role this upload
  // replaces (it validates and hashes the uploaded bytes; for a delegation's parent it uses
  // the uploaded parent) and the timestamp's (only its version is used; the timestamp is
  // always generated). Root's are kept: an identical re-upload is compared byte for byte,
  // and the stored root verifies a new one. Should that ever change, an empty stored file
  // fails validation (its parse or hash), it never passes it.
  std::vector<std::string> without_data{"timestamp"};
  for (const auto& u : in.uploads)
    if (u.role != "root" && u.role != "timestamp") without_data.push_back(u.role);
  std::lock_guard lk(gun_lock(r.gun));
  for (int attempt = 0;; ++attempt) {
    auto cur = storage_.get_all_current(r.gun, without_data);
    if (!cur) return error(from_error(cur.error()));
    in.current.clear();
    for (auto& rec : *cur) in.current.emplace(rec.role, std::move(rec));
    in.now = now();
    auto updates = validate_update(in, *keys_);
    if (!updates) {
      if (updates.error().code == NotaryCode::version)
        ++counters_->publish_version_conflict;
      else
        ++counters_->publish_rejected;
      return error(updates.error());
    }
    auto st = storage_.update_many(r.gun, *updates);
    invalidate(r.gun);
    if (st) break;
    if (st.error().code != "version") return error(from_error(st.error(), true));
    std::set<std::string> client_roles;
    for (const auto& u : in.uploads) client_roles.insert(u.role);
    bool client_conflict = false;
    for (const auto& u : in.uploads) {
      if (u.role == "timestamp") continue;
      auto stored = storage_.get_current(r.gun, u.role);
      for (const auto& up : *updates)
        if (up.role == u.role && stored && stored->has_value() && (*stored)->version >= up.version)
          client_conflict = true;
    }
    if (client_conflict || attempt >= 3) {
      ++counters_->publish_version_conflict;
      return error(HttpError{NotaryCode::version, "{}", st.error().message});
    }
  }
  ++counters_->publish_ok;
  log::info("published", {{"gun", r.gun}, {"roles", in.uploads.size()}});
  TrustResponse out;
  return out;
}

TrustResponse TrustService::delete_gun(const Route& r) {
  std::lock_guard lk(gun_lock(r.gun));
  auto st = storage_.delete_gun(r.gun);
  invalidate(r.gun);
  if (!st) return error(from_error(st.error(), true));
  ++counters_->deletes;
  log::info("repository deleted", {{"gun", r.gun}});
  return {};
}

TrustResponse TrustService::changefeed(const std::optional<std::string>& gun,
                                       const std::string& query) {
  const auto gen = cache_generation();
  const std::string cache_key = gun.value_or("*") + '\0' + query;
  if (gen) {
    std::lock_guard lk(feed_mu_);
    if (auto it = feed_cache_.find(cache_key);
        it != feed_cache_.end() && it->second.first == *gen) {
      ++counters_->changefeed;
      ++counters_->cache_hits;
      TrustResponse out;
      out.headers.emplace_back("Content-Type", kTextPlain);
      out.body = it->second.second;
      return out;
    }
  }
  auto q = parse_query_string(query);
  auto bad = [&](std::string why) {
    return error(HttpError{NotaryCode::invalid_parameters, "{}", std::move(why)});
  };
  ChangeQuery cq;
  cq.gun = gun;
  std::int64_t id = 0;
  if (auto it = q.find("change_id"); it != q.end() && !it->second.empty()) {
    auto v = parse_int(it->second);
    if (!v || *v < INT32_MIN || *v > INT32_MAX) return bad("change_id must be an integer");
    id = *v;
  }
  auto rit = q.find("records");
  if (rit == q.end()) return bad("records is required");
  auto records = parse_int(rit->second);
  if (!records || *records < INT32_MIN || *records > INT32_MAX)
    return bad("records must be a 32-bit integer");
  std::int64_t n = *records;
  bool backward = id < 0;
  if (n < 0) {
    backward = true;
    n = -n;
  }
  if (n == 0) n = 100;
  n = std::min(n, o_.max_changefeed_records);
  cq.limit = n;
  cq.backward = backward;
  if (backward) {
    if (id > 0) cq.before_id = id;
  } else {
    cq.after_id = id;
  }
  auto ch = storage_.changes(cq);
  if (!ch) return error(from_error(ch.error()));
  ++counters_->changefeed;
  // Go's encoding order: ID, CreatedAt, GUN, Version, SHA256, Category.
  std::string body = "{\"count\":" + std::to_string(ch->size()) + ",\"records\":[";
  bool first = true;
  for (const auto& c : *ch) {
    if (!first) body += ',';
    first = false;
    body += "{\"ID\":\"" + std::to_string(c.id) + "\",\"CreatedAt\":\"" +
            format_rfc3339_nano(c.created) +
            "\",\"GUN\":" + Json(c.gun).dump(-1, ' ', false, Json::error_handler_t::replace) +
            ",\"Version\":" + std::to_string(c.version) + ",\"SHA256\":\"" + c.sha256 +
            "\",\"Category\":\"" + std::string(change_category_name(c.category)) + "\"}";
  }
  body += "]}";
  if (gen) {  // a page read before a change keeps the old generation: never served
    std::lock_guard lk(feed_mu_);
    if (feed_cache_.size() >= kMaxCachedFeedPages) feed_cache_.clear();
    feed_cache_[cache_key] = {*gen, body};
  }
  TrustResponse out;
  out.headers.emplace_back("Content-Type", kTextPlain);
  out.body = std::move(body);
  return out;
}

std::string TrustService::metrics_text() const {
  const auto& c = *counters_;
  std::string s;
  auto add = [&](const char* name, const char* help, std::uint64_t v, const char* labels = "") {
    s += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " counter\n" + name +
         labels + " " + std::to_string(v) + "\n";
  };
  add("docket_trust_metadata_gets_total", "Metadata GETs answered with 200.", c.get_ok);
  add("docket_trust_metadata_not_found_total", "Requests answered with 404.", c.get_not_found);
  add("docket_trust_publishes_total", "Publishes stored.", c.publish_ok);
  add("docket_trust_publish_rejected_total", "Publishes rejected as invalid.", c.publish_rejected);
  add("docket_trust_publish_version_conflicts_total", "Publishes that lost a version race.",
      c.publish_version_conflict);
  add("docket_trust_deletes_total", "Repositories deleted.", c.deletes);
  add("docket_trust_server_keys_created_total", "Server-managed keys created.", c.key_creates);
  add("docket_trust_timestamp_resigns_total", "Timestamps re-signed on GET.", c.timestamp_resigns);
  add("docket_trust_changefeed_requests_total", "Changefeed pages served.", c.changefeed);
  add("docket_trust_server_errors_total", "Responses with a 5xx status.", c.errors_5xx);
  add("docket_trust_cache_hits_total", "Metadata and changefeed reads served from memory.",
      c.cache_hits);
  add("docket_trust_cache_change_reports_total",
      "Changes reported by the storage's change watch (any server's writes).", c.change_reports);
  add("docket_trust_cache_resets_total",
      "Whole-cache drops (change watch up, down, or an unreadable report).", c.cache_resets);
  s += "# HELP docket_trust_cache_in_use 1 while reads may be served from memory.\n"
       "# TYPE docket_trust_cache_in_use gauge\ndocket_trust_cache_in_use " +
       std::string(cache_in_use() ? "1" : "0") + "\n";
  s += "# HELP docket_trust_publish_duration_seconds Time to validate and store a publish "
       "(accepted or not).\n# TYPE docket_trust_publish_duration_seconds histogram\n";
  {
    std::lock_guard lk(counters_->mu);
    counters_->publish_seconds.render(s, "docket_trust_publish_duration_seconds", "");
  }
  s += metered_->render();
  return s;
}

}  // namespace docket::trustserver
