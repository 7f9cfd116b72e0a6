// Every metadata parser (both dialects), the header peek, and writing back whatever parsed.
// Invariants: no crash; a parsed file serialises; what was serialised parses again as the
// same role and version.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "tuf/metadata.h"

namespace {
using namespace docket::tuf;

template <class T>
void exercise(std::string_view text) {
  ParseOptions o;
  o.max_bytes = 1 << 20;
  auto m = parse_metadata<T>(text, o);
  if (!m) return;
  auto out = serialize(*m);
  if (!out) return;  // e.g. a value with no canonical form inside an unknown field
  auto again = parse_metadata<T>(*out, o);
  if (!again) std::abort();
  if (again->signed_.version != m->signed_.version || again->signed_.dialect != m->signed_.dialect)
    std::abort();
  (void)canonical_signed(m->signed_);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)parse_header(text);
  exercise<Root>(text);
  exercise<Timestamp>(text);
  exercise<Snapshot>(text);
  exercise<Targets>(text);
  return 0;
}
