// Differential fuzzing of the fast JSON path (common/fast_json.h) against parse_json, the
// parser it stands in for on uploaded metadata (trust server) and fetched metadata (tuf/):
//  - whatever the fast path accepts, parse_json accepts, with the same DOM (value types too);
//  - the "signed" bytes it reports as canonical are exactly canonical_json() of the parsed
//    "signed" member (publish validation checks signatures over them);
//  - parse_json_fast agrees with parse_json on success and on the error code.
// Any disagreement aborts.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/fast_json.h"
#include "common/json.h"

namespace {

bool same_dom(const docket::Json& a, const docket::Json& b) {
  if (a.type() != b.type()) return false;
  if (a.is_object()) {
    if (a.size() != b.size()) return false;
    for (auto ia = a.begin(), ib = b.begin(); ia != a.end(); ++ia, ++ib)
      if (ia.key() != ib.key() || !same_dom(ia.value(), ib.value())) return false;
    return true;
  }
  if (a.is_array()) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
      if (!same_dom(a[i], b[i])) return false;
    return true;
  }
  return a == b;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace docket;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  JsonLimits limits;
  limits.max_bytes = 1 << 20;
  limits.max_depth = 16;  // small, so that the depth limit itself gets exercised
  auto slow = parse_json(text, "fuzz input", Fault::remote, limits);
  std::string_view canonical;
  auto fast = try_fast_parse_json(text, limits.max_depth, &canonical);
  if (fast) {
    if (!slow || !same_dom(*fast, *slow)) std::abort();
    if (!canonical.empty()) {
      if (!slow->is_object() || !slow->contains("signed")) std::abort();
      auto c = canonical_json((*slow)["signed"], Fault::remote);
      if (!c || *c != canonical) std::abort();
    }
  } else if (!canonical.empty()) {
    std::abort();
  }
  auto up = parse_json_fast(text, "fuzz input", Fault::remote, limits);
  if (up.has_value() != slow.has_value()) std::abort();
  if (up && !same_dom(*up, *slow)) std::abort();
  if (!up && up.error().code != slow.error().code) std::abort();
  return 0;
}
