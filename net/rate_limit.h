// Per-client rate limiting in the Docker Hub model: at most `limit` counted requests (e.g.
// manifest pulls) per `window` for each client key (an IP address, a user name), reported
// to clients the way Docker Hub does:
//
//   RateLimit-Limit: 100;w=21600        RateLimit-Remaining: 76;w=21600
//   RateLimit-Reset: 540                (seconds until the quota is full again)
//   Retry-After: 216                    (only on a refusal, which the server answers with
//                                        429 TOOMANYREQUESTS)
//
// The algorithm is a token bucket (GCRA): a client may burst `limit` requests, and a slot is
// freed every window/limit. It needs one timestamp per client, so memory is bounded by
// `max_clients`: clients whose bucket is full again carry no information and are dropped
// first; beyond that the least recently seen client is dropped (it gets a fresh quota).
//
// Thread-safe. Time comes from an injected monotonic clock so tests need no sleeps.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/error.h"
#include "net/http_client.h"

namespace docket::net {

inline constexpr std::uint64_t kDefaultRateLimit = 100;
inline constexpr std::chrono::seconds kDefaultRateWindow{6 * 3600};
inline constexpr std::size_t kDefaultMaxTrackedClients = 100'000;

struct RateLimitOptions {
  std::uint64_t limit = kDefaultRateLimit;           // counted requests per window (>= 1)
  std::chrono::seconds window = kDefaultRateWindow;  // >= 1 s
  std::size_t max_clients = kDefaultMaxTrackedClients;
};

struct RateLimitDecision {
  bool allowed = true;
  std::uint64_t limit = 0;
  std::uint64_t remaining = 0;
  std::chrono::seconds window{0};
  std::chrono::seconds reset_after{0};  // until the quota is full again (rounded up)
  std::chrono::seconds retry_after{0};  // when refused: until one request fits (rounded up)

  std::string limit_header() const;      // "100;w=21600"
  std::string remaining_header() const;  // "76;w=21600"
  // Sets RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset and, when refused,
  // Retry-After.
  void apply(HttpHeaders& headers) const;
};

class RateLimiter {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  // Error{user, "config"} for limit 0, a window under 1 s or max_clients 0.
  static Result<std::unique_ptr<RateLimiter>> create(RateLimitOptions options,
                                                     Clock clock = nullptr);

  // Counts `cost` requests for `client` if they fit; otherwise refuses and counts nothing.
  RateLimitDecision acquire(std::string_view client, std::uint64_t cost = 1);
  // The client's state without counting (e.g. for HEAD requests, which Docker Hub does not
  // count but still answers with the headers).
  RateLimitDecision peek(std::string_view client) const;

  std::size_t tracked_clients() const;
  const RateLimitOptions& options() const { return options_; }

 private:
  RateLimiter(RateLimitOptions o, Clock c);
  using Ns = std::chrono::nanoseconds;
  struct Entry {
    Ns tat{0};  // theoretical arrival time: when the bucket is full again
    std::list<std::string>::iterator lru;
  };
  Ns now_ns() const;
  RateLimitDecision decide(Ns tat, Ns now, bool allowed, Ns retry) const;
  void evict_for_insert(Ns now);

  RateLimitOptions options_;
  Clock clock_;
  Ns interval_;  // window / limit
  Ns window_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> clients_;
  std::list<std::string> lru_;  // front = most recently seen
};

}  // namespace docket::net
