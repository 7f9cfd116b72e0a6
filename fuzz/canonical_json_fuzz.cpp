// Strict JSON parsing and OLPC canonical JSON: never crash, and canonicalisation is a fixed
// point (canonical(parse(canonical(x))) == canonical(x)), which signature checks rely on.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/json.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  docket::JsonLimits limits;
  limits.max_bytes = 1 << 20;
  auto j = docket::parse_json(text, "fuzz input", docket::Fault::remote, limits);
  if (!j) return 0;
  auto c1 = docket::canonical_json(*j, docket::Fault::remote);
  if (!c1) return 0;
  auto j2 = docket::parse_json(*c1, "canonical form", docket::Fault::bug, limits);
  if (!j2) {
    // OLPC canonical JSON writes control characters inside strings raw (only '"' and '\\'
    // are escaped), and strict JSON refuses raw control characters: such a canonical form
    // is by design not strict JSON. Anything else must parse.
    bool raw_control = false;
    for (unsigned char ch : *c1) raw_control |= ch < 0x20;
    if (!raw_control) std::abort();
    return 0;
  }
  auto c2 = docket::canonical_json(*j2, docket::Fault::bug);
  if (!c2 || *c2 != *c1) std::abort();  // and be a fixed point
  return 0;
}
