// A fast path for parsing TUF/Notary metadata: the same result as docket::parse_json for
// every input, about twice as fast on the documents metadata is made of. The trust server
// parses uploads with it, tuf/ every role it parses from bytes (a client's fetched
// metadata included).
//
// parse_json goes through nlohmann's lexer, which reads one character at a time and copies
// every string through a token buffer; for a targets.json of 10,000 entries that parse was
// the largest single cost of a publish, and of a cold lookup among 1,000 tags the largest
// after process start and TLS. try_fast_parse_json is a recursive-descent parser
// that accepts a strict subset of what parse_json accepts and builds the identical DOM
// (same value types: non-negative integers are number_unsigned, negative ones
// number_integer, as nlohmann makes them). Anything it does not handle — a float, an
// integer of 20 or more digits, a duplicate key, nesting past the limit, any syntax or
// encoding error — makes it give up, and parse_json_fast then runs parse_json, so every
// rejection, and its message, is parse_json's own.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include "common/error.h"
#include "common/json.h"

namespace docket {

// The DOM parse_json(text, ..., limits) would return, or nullopt when the fast path does not
// handle `text` (which says nothing about whether it is valid). `max_depth` as JsonLimits's.
//
// `signed_canonical`, if given, is set to the part of `text` holding the value of the
// top-level object's "signed" member when that text is exactly canonical_json() of it (no
// whitespace, keys in bytewise order, no escapes but \" and \\, no "-0": what the notary
// client sends), else to empty. The signature check can then use those bytes instead of
// re-serialising the tree (a large share of a big publish).
std::optional<Json> try_fast_parse_json(std::string_view text, std::size_t max_depth,
                                        std::string_view* signed_canonical = nullptr);

// parse_json's contract and results (errors included), with the fast path tried first.
// `signed_canonical` as above (empty whenever the fast path was not taken).
Result<Json> parse_json_fast(std::string_view text, std::string_view what, Fault fault,
                             const JsonLimits& limits,
                             std::string_view* signed_canonical = nullptr);

}  // namespace docket
