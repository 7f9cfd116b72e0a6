// The Notary v1 server API as a transport-independent service: a request in (method,
// path, query, headers, body), a response out. trustserver/http.h mounts it on docket's
// HTTP server (alone in `docket-server trust`, beside the registry in `serve`).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "common/error.h"
#include "keys/key.h"
#include "signer/signer.h"
#include "trustserver/multipart.h"
#include "trustserver/notary_errors.h"
#include "trustserver/routes.h"
#include "trustserver/storage.h"
#include "trustserver/validation.h"

namespace docket::trustserver {

struct TrustOptions {
  // Algorithm of keys the server creates for timestamp/snapshot (Notary: key_algorithm).
  keys::Algorithm key_algorithm = keys::Algorithm::ed25519;
  ExpiryPolicy expiry;
  // A GET of timestamp.json re-signs when the stored one expires within this margin.
  std::chrono::seconds timestamp_refresh_margin{std::chrono::hours(24 * 7)};
  // Cache-Control max-age for <role>.json and for the checksum/version forms.
  std::chrono::seconds max_age_current{300};
  std::chrono::seconds max_age_consistent{2592000};
  // Largest publish body accepted (the HTTP layer enforces it before reading).
  std::size_t max_publish_bytes = 256 * 1024 * 1024;
  MultipartLimits multipart;
  // Largest changefeed page (records beyond are clamped).
  std::int64_t max_changefeed_records = 1000;
  // Serve current metadata (<role>.json) and changefeed pages from memory. The cache is
  // used only while it is coherent: on a storage whose only writer is this process
  // (SQLite), always; on a shared one (PostgreSQL), while its change watch is live
  // (Storage::watch_changes), bypassed while the watch is down and dropped whole when it
  // comes back. Without a watch it is never used.
  bool cache_current = true;
  // GUN prefixes this server accepts (Notary's repositories.gun_prefixes); empty = all.
  std::vector<std::string> gun_prefixes;
};

struct TrustRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // raw path (percent-encoded), no query
  std::string query;   // raw query string, no '?'
  std::string content_type;
  std::string body;
  // The caller takes a body the server holds in memory as TrustResponse::shared_body
  // instead of a copy in TrustResponse::body (the HTTP mount does; saves copying every
  // cached metadata file per GET).
  bool share_body = false;
};

struct TrustResponse {
  unsigned status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // When set, the body is these bytes and `body` is empty (only if the request allowed it).
  std::shared_ptr<const std::string> shared_body;
  std::string route;  // stable name for metrics/logs ("trust.metadata.get")
};

// Which token-auth access a request needs (Notary's scopes).
struct AccessNeed {
  enum Kind { none, repository, catalog } kind = none;
  std::string gun;
  std::vector<std::string> actions;  // {"pull"}, {"push","pull"}, {"*"}
};
AccessNeed access_for(const std::string& method, std::string_view raw_path);

class TrustService {
 public:
  TrustService(Storage& storage, signer::Signer& signer, TrustOptions o = {});
  ~TrustService();

  TrustResponse handle(const TrustRequest& req);

  // Prometheus text for /metrics (also served by handle()).
  std::string metrics_text() const;
  // Re-signs the timestamp of a GUN if stale; used by GET and by tests.
  Status refresh_timestamp(const std::string& gun);

  Storage& storage() { return storage_; }

  // True while reads may be served from memory (see TrustOptions::cache_current).
  bool cache_in_use() const;

 private:
  TrustResponse get_metadata(const Route& r, bool share_body);
  TrustResponse get_by_checksum(const Route& r);
  TrustResponse get_by_version(const Route& r);
  TrustResponse get_or_create_key(const Route& r, bool rotate);
  TrustResponse publish(const Route& r, const TrustRequest& req);
  TrustResponse delete_gun(const Route& r);
  TrustResponse changefeed(const std::optional<std::string>& gun, const std::string& query);
  TrustResponse health();

  // `last_modified`: the formatted header when the caller has it (cached records).
  TrustResponse metadata_response(const MetaRecord& rec, bool consistent,
                                  const std::string* last_modified = nullptr);
  TrustResponse error(const HttpError& e);
  void invalidate(std::string_view gun);
  // Drops every cached read; `usable` becomes the cache's state.
  void reset_cache(bool usable);
  // The generation to fill the cache with after reading storage, or nullopt when it must
  // not be filled (or read).
  std::optional<std::uint64_t> cache_generation() const;
  std::mutex& gun_lock(const std::string& gun);

  Storage& storage_;
  // Every signer call goes through this wrapper, which counts and times it for /metrics.
  std::unique_ptr<class MeteredSigner> metered_;
  signer::Signer& signer_;
  TrustOptions o_;
  std::unique_ptr<ServerKeys> keys_;

  struct Cached {
    MetaRecord rec;  // without data: that is in `data`
    std::shared_ptr<const std::string> data;
    TimePoint expires{};        // timestamps: parsed expiry
    std::string last_modified;  // the header value, formatted once
  };
  // Cache-Control values, formatted once (current and consistent forms).
  std::string cache_control_current_, cache_control_consistent_;
  // Guards cache_, cache_usable_ and writes of generation_. Every invalidation bumps the
  // generation under the exclusive lock; a read fills the cache only when the generation it
  // took before reading storage is still current, so a read that raced a change (this
  // process's or, reported by the watch, another's) never caches what it read before it.
  mutable std::shared_mutex cache_mu_;
  std::map<std::pair<std::string, std::string>, std::shared_ptr<const Cached>> cache_;
  bool cache_usable_ = false;
  std::atomic<std::uint64_t> generation_{0};

  // Changefeed pages by (gun, query), valid while the generation they were read at is
  // current.
  std::mutex feed_mu_;
  std::map<std::string, std::pair<std::uint64_t, std::string>> feed_cache_;
  static constexpr std::size_t kMaxCachedFeedPages = 1024;

  std::mutex locks_mu_;
  std::map<std::string, std::unique_ptr<std::mutex>> locks_;

  struct Counters;
  std::unique_ptr<Counters> counters_;

  // Declared last: the watch reports to the sink on its own thread until it is destroyed,
  // and destroying it first (see ~TrustService) stops that before anything else goes.
  class Coherence;
  std::unique_ptr<Coherence> coherence_;
  std::unique_ptr<ChangeWatch> watch_;
};

}  // namespace docket::trustserver
