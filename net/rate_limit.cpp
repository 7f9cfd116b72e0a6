#include "net/rate_limit.h"

#include <algorithm>

namespace docket::net {

namespace {

std::chrono::seconds ceil_seconds(std::chrono::nanoseconds d) {
  if (d.count() <= 0) return std::chrono::seconds(0);
  return std::chrono::ceil<std::chrono::seconds>(d);
}

}  // namespace

std::string RateLimitDecision::limit_header() const {
  return std::to_string(limit) + ";w=" + std::to_string(window.count());
}

std::string RateLimitDecision::remaining_header() const {
  return std::to_string(remaining) + ";w=" + std::to_string(window.count());
}

void RateLimitDecision::apply(HttpHeaders& h) const {
  h.set("RateLimit-Limit", limit_header());
  h.set("RateLimit-Remaining", remaining_header());
  h.set("RateLimit-Reset", std::to_string(reset_after.count()));
  if (!allowed)
    h.set("Retry-After", std::to_string(std::max<std::int64_t>(1, retry_after.count())));
  else
    h.remove("Retry-After");
}

Result<std::unique_ptr<RateLimiter>> RateLimiter::create(RateLimitOptions o, Clock clock) {
  if (o.limit == 0) return make_error(Fault::user, "config", "rate limit must be at least 1");
  if (o.window.count() < 1)
    return make_error(Fault::user, "config", "rate limit window must be at least 1 second");
  if (o.max_clients == 0)
    return make_error(Fault::user, "config", "rate limiter must track at least one client");
  if (!clock) clock = [] { return std::chrono::steady_clock::now(); };
  return std::unique_ptr<RateLimiter>(new RateLimiter(o, std::move(clock)));
}

RateLimiter::RateLimiter(RateLimitOptions o, Clock c)
    : options_(o),
      clock_(std::move(c)),
      interval_(std::chrono::duration_cast<Ns>(o.window) / static_cast<std::int64_t>(o.limit)),
      window_(std::chrono::duration_cast<Ns>(o.window)) {
  // Limits above one per nanosecond would give a zero interval.
  if (interval_.count() == 0) interval_ = Ns(1);
}

RateLimiter::Ns RateLimiter::now_ns() const {
  return std::chrono::duration_cast<Ns>(clock_().time_since_epoch());
}

RateLimitDecision RateLimiter::decide(Ns tat, Ns now, bool allowed, Ns retry) const {
  RateLimitDecision d;
  d.allowed = allowed;
  d.limit = options_.limit;
  d.window = options_.window;
  Ns used = std::max(tat, now) - now;  // how far the bucket is from full
  Ns free = window_ - used;
  d.remaining = free.count() <= 0 ? 0 : static_cast<std::uint64_t>(free / interval_);
  d.remaining = std::min(d.remaining, options_.limit);
  d.reset_after = ceil_seconds(used);
  d.retry_after = allowed ? std::chrono::seconds(0) : ceil_seconds(retry);
  return d;
}

void RateLimiter::evict_for_insert(Ns now) {
  // Drop clients whose bucket is full again, starting with the least recently seen.
  for (auto it = lru_.end(); it != lru_.begin() && clients_.size() >= options_.max_clients;) {
    --it;
    auto e = clients_.find(*it);
    if (e != clients_.end() && e->second.tat <= now) {
      clients_.erase(e);
      it = lru_.erase(it);
    }
  }
  // Still full of active clients: forget the least recently seen.
  while (clients_.size() >= options_.max_clients && !lru_.empty()) {
    clients_.erase(lru_.back());
    lru_.pop_back();
  }
}

RateLimitDecision RateLimiter::acquire(std::string_view client, std::uint64_t cost) {
  std::lock_guard lk(mu_);
  Ns now = now_ns();
  auto it = clients_.find(std::string(client));
  Ns tat = it == clients_.end() ? now : std::max(it->second.tat, now);
  Ns need = interval_ * static_cast<std::int64_t>(cost);
  Ns new_tat = tat + need;
  if (cost > options_.limit || new_tat - now > window_) {
    // Refused: nothing is counted. It fits once new_tat - window has passed.
    Ns retry = cost > options_.limit ? window_ : new_tat - window_ - now;
    // A refused client is still "seen": it must not be the first to be forgotten (which
    // would hand it a fresh quota).
    if (it != clients_.end()) lru_.splice(lru_.begin(), lru_, it->second.lru);
    return decide(it == clients_.end() ? now : it->second.tat, now, false, retry);
  }
  if (it == clients_.end()) {
    // Lazily drop a couple of idle clients on every insert, and make room if full.
    for (int k = 0; k < 2 && !lru_.empty(); ++k) {
      auto e = clients_.find(lru_.back());
      if (e == clients_.end() || e->second.tat > now) break;
      clients_.erase(e);
      lru_.pop_back();
    }
    if (clients_.size() >= options_.max_clients) evict_for_insert(now);
    lru_.emplace_front(client);
    it = clients_.emplace(std::string(client), Entry{new_tat, lru_.begin()}).first;
  } else {
    it->second.tat = new_tat;
    lru_.splice(lru_.begin(), lru_, it->second.lru);
  }
  return decide(new_tat, now, true, Ns(0));
}

RateLimitDecision RateLimiter::peek(std::string_view client) const {
  std::lock_guard lk(mu_);
  Ns now = now_ns();
  auto it = clients_.find(std::string(client));
  Ns tat = it == clients_.end() ? now : it->second.tat;
  bool fits = std::max(tat, now) + interval_ - now <= window_;
  Ns retry = fits ? Ns(0) : std::max(tat, now) + interval_ - window_ - now;
  return decide(tat, now, fits, retry);
}

std::size_t RateLimiter::tracked_clients() const {
  std::lock_guard lk(mu_);
  return clients_.size();
}

}  // namespace docket::net
