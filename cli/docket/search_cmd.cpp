// `docket search`: repositories in a registry's catalog matching a term.
#include <algorithm>
#include <cstdio>

#include "cli/command.h"
#include "client/session.h"
#include "common/json.h"

namespace {
using namespace docket;
using namespace docket::client;

inline constexpr int kDefaultSearchLimit = 25;
inline constexpr int kMaxSearchLimit = 100;
// Catalog entries scanned for matches at most (a registry may hold millions).
inline constexpr std::size_t kMaxCatalogScan = 100000;

struct SearchArgs {
  std::string term, registry, format;
  std::vector<std::string> filters;
  int limit = kDefaultSearchLimit;
  bool insecure = false;
};

docket::cli::Registration reg("docket", 50, {"search"}, [](CLI::App& app) {
  auto a = std::make_shared<SearchArgs>();
  auto* cmd = app.add_subcommand("search", "Search a registry's catalog for repositories");
  cmd->add_option("term", a->term, "Text to look for; REGISTRY/TEXT searches that registry")
      ->required();
  cmd->add_option("--registry", a->registry,
                  "Registry host[:port] to search (or give it as a prefix of the term)");
  cmd->add_option("--limit", a->limit, "Most results to show (1-100, default 25)")
      ->check(CLI::Range(1, kMaxSearchLimit));
  cmd->add_option(
      "-f,--filter", a->filters,
      "Filter: name=PREFIX (repository starts with), tag=TAG (repository has that tag)");
  cmd->add_option("--format", a->format, "json: one JSON object per result")
      ->check(CLI::IsMember({"json", "table"}));
  cmd->add_flag("--insecure", a->insecure,
                "Talk plain HTTP to the registry (unsafe outside test set-ups)");
  cmd->callback([a] {
    std::string domain = a->registry, term = a->term;
    if (domain.empty()) {
      auto slash = term.find('/');
      std::string first = slash == std::string::npos ? "" : term.substr(0, slash);
      if (first.find_first_of(".:") != std::string::npos || first == "localhost") {
        domain = first;
        term = term.substr(slash + 1);
      }
    }
    if (domain.empty())
      raise(Fault::user, "usage", "which registry? use --registry HOST[:PORT] or HOST[:PORT]/TERM");
    std::string name_prefix, tag_filter;
    for (const auto& f : a->filters) {
      auto eq = f.find('=');
      std::string k = f.substr(0, eq), v = eq == std::string::npos ? "" : f.substr(eq + 1);
      if (k == "name" && !v.empty())
        name_prefix = v;
      else if (k == "tag" && !v.empty())
        tag_filter = v;
      else
        raise(Fault::user, "usage",
              "unsupported filter \"" + f + "\" (supported: name=PREFIX, tag=TAG)");
    }
    auto reg = value_or_raise(registry_for(domain, a->insecure));
    auto repos = value_or_raise(reg->catalog(kMaxCatalogScan));
    std::vector<std::string> hits;
    for (const auto& r : repos) {
      if (static_cast<int>(hits.size()) >= a->limit) break;
      if (r.find(term) == std::string::npos) continue;
      if (!name_prefix.empty() && !r.starts_with(name_prefix)) continue;
      if (!tag_filter.empty()) {
        auto tags = reg->list_tags(r);
        if (!tags || std::find(tags->begin(), tags->end(), tag_filter) == tags->end()) continue;
      }
      hits.push_back(r);
    }
    if (a->format == "json") {
      for (const auto& h : hits)
        std::printf("%s\n",
                    Json{{"Name", domain + "/" + h}, {"Registry", domain}, {"Repository", h}}
                        .dump()
                        .c_str());
      return;
    }
    std::printf("NAME\n");
    for (const auto& h : hits) std::printf("%s/%s\n", domain.c_str(), h.c_str());
  });
});
}  // namespace
