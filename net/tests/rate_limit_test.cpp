// Rate limiter with an injected clock: no sleeps, no timing assertions.
#include "net/rate_limit.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace docket::net {
namespace {

using namespace std::chrono_literals;

struct FakeClock {
  std::chrono::steady_clock::time_point t{std::chrono::hours(1000)};
  RateLimiter::Clock fn() {
    return [this] { return t; };
  }
};

std::unique_ptr<RateLimiter> make(FakeClock& c, std::uint64_t limit, std::chrono::seconds window,
                                  std::size_t max_clients = kDefaultMaxTrackedClients) {
  return RateLimiter::create({limit, window, max_clients}, c.fn()).value();
}

TEST(RateLimiter, CountsDownThenRefusesWithRetryAfter) {
  FakeClock clock;
  auto rl = make(clock, 3, 6h);
  for (std::uint64_t expect_remaining : {2u, 1u, 0u}) {
    auto d = rl->acquire("10.0.0.1");
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.remaining, expect_remaining);
    EXPECT_EQ(d.limit, 3u);
  }
  auto refused = rl->acquire("10.0.0.1");
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.remaining, 0u);
  EXPECT_EQ(refused.retry_after, 2h);  // one slot frees every 6h/3
  EXPECT_EQ(refused.reset_after, 6h);
  HttpHeaders h;
  refused.apply(h);
  EXPECT_EQ(h.get("RateLimit-Limit"), "3;w=21600");
  EXPECT_EQ(h.get("RateLimit-Remaining"), "0;w=21600");
  EXPECT_EQ(h.get("RateLimit-Reset"), "21600");
  EXPECT_EQ(h.get("Retry-After"), "7200");

  // Refusals are not counted: after one interval exactly one more request fits.
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(rl->acquire("10.0.0.1").allowed);
  clock.t += 2h - 1s;
  auto almost = rl->acquire("10.0.0.1");
  EXPECT_FALSE(almost.allowed);
  EXPECT_EQ(almost.retry_after, 1s);
  clock.t += 1s;
  auto ok = rl->acquire("10.0.0.1");
  EXPECT_TRUE(ok.allowed);
  EXPECT_EQ(ok.remaining, 0u);
  HttpHeaders h2{{"Retry-After", "stale"}};
  ok.apply(h2);
  EXPECT_FALSE(h2.contains("Retry-After"));
  EXPECT_FALSE(rl->acquire("10.0.0.1").allowed);

  // After a whole window the full quota is back.
  clock.t += 6h;
  EXPECT_EQ(rl->peek("10.0.0.1").remaining, 3u);
}

TEST(RateLimiter, ClientsAreIndependentAndPeekDoesNotCount) {
  FakeClock clock;
  auto rl = make(clock, 2, 60s);
  EXPECT_TRUE(rl->acquire("alice").allowed);
  EXPECT_TRUE(rl->acquire("alice").allowed);
  EXPECT_FALSE(rl->acquire("alice").allowed);
  EXPECT_TRUE(rl->acquire("bob").allowed);
  for (int i = 0; i < 5; ++i) {
    auto p = rl->peek("bob");
    EXPECT_TRUE(p.allowed);
    EXPECT_EQ(p.remaining, 1u);
  }
  auto pa = rl->peek("alice");
  EXPECT_FALSE(pa.allowed);
  EXPECT_EQ(pa.retry_after, 30s);
  auto unknown = rl->peek("carol");
  EXPECT_TRUE(unknown.allowed);
  EXPECT_EQ(unknown.remaining, 2u);
  EXPECT_EQ(rl->tracked_clients(), 2u);
}

TEST(RateLimiter, CostAboveOne) {
  FakeClock clock;
  auto rl = make(clock, 10, 100s);
  auto d = rl->acquire("c", 7);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.remaining, 3u);
  auto no = rl->acquire("c", 4);
  EXPECT_FALSE(no.allowed);
  EXPECT_EQ(no.retry_after, 10s);
  EXPECT_TRUE(rl->acquire("c", 3).allowed);
  EXPECT_FALSE(rl->acquire("fresh", 11).allowed) << "more than the whole quota never fits";
}

TEST(RateLimiter, MemoryIsBoundedIdleClientsGoFirst) {
  FakeClock clock;
  auto rl = make(clock, 2, 10s, 3);
  EXPECT_TRUE(rl->acquire("idle").allowed);
  clock.t += 20s;  // "idle" is full again: it carries no information
  EXPECT_TRUE(rl->acquire("a").allowed);
  EXPECT_TRUE(rl->acquire("a").allowed);
  EXPECT_TRUE(rl->acquire("b").allowed);
  EXPECT_LE(rl->tracked_clients(), 3u);
  EXPECT_TRUE(rl->acquire("c").allowed);
  EXPECT_LE(rl->tracked_clients(), 3u);
  // "a" is still limited: the idle client was dropped, not "a".
  EXPECT_FALSE(rl->acquire("a").allowed);
  // Flood with new clients: memory stays bounded.
  for (int i = 0; i < 1000; ++i) rl->acquire("flood-" + std::to_string(i));
  EXPECT_EQ(rl->tracked_clients(), 3u);
}

TEST(RateLimiter, LeastRecentlySeenActiveClientIsForgottenWhenFull) {
  FakeClock clock;
  auto rl = make(clock, 1, 3600s, 2);
  EXPECT_TRUE(rl->acquire("old").allowed);
  EXPECT_TRUE(rl->acquire("recent").allowed);
  EXPECT_FALSE(rl->acquire("recent").allowed);  // touches "recent"
  EXPECT_TRUE(rl->acquire("new").allowed);      // evicts "old", not "recent"
  EXPECT_FALSE(rl->acquire("recent").allowed);
  EXPECT_TRUE(rl->acquire("old").allowed) << "an evicted client starts over";
}

TEST(RateLimiter, ThreadSafeExactCount) {
  FakeClock clock;  // frozen: nothing refills
  auto rl = make(clock, 1000, 60s);
  std::atomic<int> allowed{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&] {
      for (int i = 0; i < 1000; ++i)
        if (rl->acquire("shared").allowed) ++allowed;
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(allowed.load(), 1000);
}

TEST(RateLimiter, RejectsBadOptions) {
  EXPECT_FALSE(RateLimiter::create({0, 60s, 10}));
  EXPECT_FALSE(RateLimiter::create({1, 0s, 10}));
  auto r = RateLimiter::create({1, 60s, 0});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "config");
}

}  // namespace
}  // namespace docket::net
