#include "tuf/fetcher.h"

namespace docket::tuf {

void MemoryFetcher::put(std::string url, std::string bytes) {
  files_[std::move(url)] = std::move(bytes);
}
void MemoryFetcher::erase(const std::string& url) {
  files_.erase(url);
}
void MemoryFetcher::clear() {
  files_.clear();
}

Result<std::string> MemoryFetcher::fetch(const std::string& url, std::size_t max_bytes) {
  requests_.push_back(url);
  std::optional<Result<std::string>> r;
  if (hook_) r = hook_(url);
  if (!r) {
    auto it = files_.find(url);
    if (it == files_.end()) return make_error(Fault::remote, "not_found", "GET " + url + ": 404");
    r = it->second;
  }
  if (*r && r->value().size() > max_bytes)
    return make_error(
        Fault::remote, "too_large",
        "GET " + url + ": response is over the limit of " + std::to_string(max_bytes) + " bytes");
  return *r;
}

}  // namespace docket::tuf
