// SendFetcher's prefetch rules (tuf/fetcher.h): kept 200 answers served once, checksum names
// served from a plain file only when its SHA-256 is that checksum, anything else fetched as
// without prefetching; and the Updater's log and stats saying which fetches were prefetched.
// The HTTP exchanges are injected functions that record what they were asked (the real
// pipelined transport is tested in net/ and verifier/ against loopback servers).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "common/digest.h"
#include "tuf/fetcher.h"
#include "tuf/simulator.h"
#include "tuf/updater.h"

namespace docket::tuf {
namespace {

const std::string kBase = "https://trust.example/v2/h/gun/_trust/tuf/";

struct Server {
  std::map<std::string, std::pair<long, std::string>> files;  // URL -> status, body
  std::vector<std::string> sent, pipelined;
  net::HttpResponse answer(const std::string& url) {
    net::HttpResponse r;
    auto it = files.find(url);
    r.status = it == files.end() ? 404 : it->second.first;
    if (it != files.end()) r.body = it->second.second;
    r.url = url;
    return r;
  }
  SendFetcher fetcher() {
    return SendFetcher(
        [this](const net::HttpRequest& q) -> Result<net::HttpResponse> {
          sent.push_back(q.url);
          auto r = answer(q.url);
          if (q.max_body_bytes && r.body.size() > *q.max_body_bytes)
            return make_error(Fault::remote, "too_large", "GET " + q.url + ": too large");
          return r;
        },
        [this](std::vector<net::HttpRequest> qs) {
          std::vector<Result<net::HttpResponse>> out;
          for (const auto& q : qs) {
            pipelined.push_back(q.url);
            out.push_back(answer(q.url));
          }
          return out;
        });
  }
};

TEST(SendFetcherPrefetch, KeptAnswersAreServedOnceAndChecksumNamesOnlyOnAHashMatch) {
  Server s;
  std::string snapshot = R"({"signed":{"_type":"Snapshot","version":2}})";
  std::string targets = R"({"signed":{"_type":"Targets","version":3}})";
  s.files[kBase + "timestamp.json"] = {200, "ts"};
  s.files[kBase + "snapshot.json"] = {200, snapshot};
  s.files[kBase + "targets.json"] = {200, targets};
  s.files[kBase + "root.json"] = {404, "none"};
  s.files[kBase + "snapshot." + sha256_hex(snapshot) + ".json"] = {200, snapshot};
  std::string other = "an older targets file";
  s.files[kBase + "targets." + sha256_hex(other) + ".json"] = {200, other};
  auto f = s.fetcher();
  std::vector<std::string> log;
  f.on_request = [&](std::string_view url, std::string_view outcome) {
    log.push_back(std::string(url) + " " + std::string(outcome));
  };
  f.prefetch({{kBase + "root.json", 100},
              {kBase + "timestamp.json", 100},
              {kBase + "snapshot.json", 100},
              {kBase + "targets.json", 100}});
  EXPECT_EQ(s.pipelined.size(), 4u);
  // The prefetched 404 is dropped: the real request gives the real error.
  auto root = f.fetch(kBase + "root.json", 100);
  ASSERT_FALSE(root);
  EXPECT_EQ(root.error().code, "not_found");
  EXPECT_EQ(s.sent, std::vector<std::string>{kBase + "root.json"});
  // A kept answer, once.
  auto ts = f.fetch(kBase + "timestamp.json", 100);
  ASSERT_TRUE(ts);
  EXPECT_EQ(*ts, "ts");
  EXPECT_EQ(f.last_fetch_origin(), "prefetched");
  ASSERT_TRUE(f.fetch(kBase + "timestamp.json", 100));
  EXPECT_EQ(f.last_fetch_origin(), "");
  EXPECT_EQ(s.sent.back(), kBase + "timestamp.json");
  // A checksum name: upper-case hex is not a checksum name we substitute; the right hash
  // over the cap is fetched (and refused) as without prefetching; within it, substituted.
  std::string hex = sha256_hex(snapshot);
  std::string upper = hex;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_FALSE(f.fetch(kBase + "snapshot." + upper + ".json", 100));
  EXPECT_EQ(s.sent.back(), kBase + "snapshot." + upper + ".json");
  auto small = f.fetch(kBase + "snapshot." + hex + ".json", snapshot.size() - 1);
  ASSERT_FALSE(small);
  EXPECT_EQ(small.error().code, "too_large");
  EXPECT_EQ(s.sent.back(), kBase + "snapshot." + hex + ".json");
  // That attempt did not use the kept copy up: it is still there for the next one.
  std::size_t sent_before = s.sent.size();
  auto snap = f.fetch(kBase + "snapshot." + hex + ".json", snapshot.size());
  ASSERT_TRUE(snap);
  EXPECT_EQ(*snap, snapshot);
  EXPECT_EQ(f.last_fetch_origin(), "prefetched snapshot.json (same sha256)");
  EXPECT_EQ(s.sent.size(), sent_before);
  // A checksum the kept targets.json does not have (published meanwhile): fetched.
  auto t = f.fetch(kBase + "targets." + sha256_hex(other) + ".json", 100);
  ASSERT_TRUE(t);
  EXPECT_EQ(*t, other);
  EXPECT_EQ(f.last_fetch_origin(), "");
  EXPECT_EQ(s.sent.back(), kBase + "targets." + sha256_hex(other) + ".json");
  EXPECT_EQ(f.served_from_prefetch(), 2);
  // The verbose log names what was prefetched, kept, dropped and served.
  auto has = [&](const std::string& line) {
    return std::find(log.begin(), log.end(), line) != log.end();
  };
  EXPECT_TRUE(has(kBase + "root.json 404 (prefetched, dropped)"));
  EXPECT_TRUE(has(kBase + "targets.json 200 (prefetched, kept)"));
  EXPECT_TRUE(
      has(kBase + "snapshot." + hex + ".json 200 (prefetched snapshot.json (same sha256))"));
}

TEST(SendFetcherPrefetch, WithoutAPipelineNothingIsPrefetched) {
  std::vector<std::string> sent;
  SendFetcher f([&](const net::HttpRequest& q) -> Result<net::HttpResponse> {
    sent.push_back(q.url);
    net::HttpResponse r;
    r.status = 200;
    r.body = "x";
    return r;
  });
  f.prefetch({{kBase + "timestamp.json", 100}});
  EXPECT_TRUE(sent.empty());
  ASSERT_TRUE(f.fetch(kBase + "timestamp.json", 100));
  EXPECT_EQ(sent.size(), 1u);
  EXPECT_EQ(f.last_fetch_origin(), "");
}

// The Updater's log and stats say which fetches a prefetch served.
TEST(SendFetcherPrefetch, UpdaterNotesPrefetchedAnswers) {
  const std::string meta = "http://repo/meta/";
  Simulator sim;
  MemoryFetcher mem;
  sim.install(mem, meta, "http://repo/targets/");
  auto answer = [&](const net::HttpRequest& q) -> Result<net::HttpResponse> {
    auto b = mem.fetch(q.url, q.max_body_bytes.value_or(1 << 20));
    net::HttpResponse r;
    r.status = b ? 200 : 404;
    if (b) r.body = *b;
    return r;
  };
  SendFetcher f(answer, [&](std::vector<net::HttpRequest> qs) {
    std::vector<Result<net::HttpResponse>> out;
    for (const auto& q : qs) out.push_back(answer(q));
    return out;
  });
  MemoryStore store;
  store.files["root.json"] = sim.signed_roots.front();
  UpdaterOptions o;
  o.metadata_url = meta;
  o.target_base_url = "http://repo/targets/";
  std::vector<std::string> log;
  o.log = [&](std::string_view l) { log.emplace_back(l); };
  Updater up(o, store, f);
  f.prefetch({{meta + "timestamp.json", 16384}});
  ASSERT_TRUE(up.refresh());
  EXPECT_EQ(up.stats().requests, 4);
  EXPECT_EQ(up.stats().prefetched, 1);
  // timestamp.json went out once, in the prefetch.
  EXPECT_EQ(std::count(mem.requests().begin(), mem.requests().end(), meta + "timestamp.json"), 1);
  std::string ts = "GET " + meta + "timestamp.json -> " +
                   std::to_string(sim.published.at("timestamp").size()) + " bytes (prefetched)";
  EXPECT_NE(std::find(log.begin(), log.end(), ts), log.end()) << ts;
  // The others were plain fetches and say nothing more.
  for (const auto& l : log)
    if (l.find("snapshot.json ->") != std::string::npos)
      EXPECT_EQ(l.find("prefetched"), std::string::npos) << l;
}

}  // namespace
}  // namespace docket::tuf
