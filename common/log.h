// Structured logs: one JSON object per line on stderr. Never pass secrets (passphrases,
// private keys, tokens, Authorization headers) as fields: use redact() for anything that
// may hold one.
#pragma once

#include <string_view>

#include "common/json.h"

namespace docket::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3, off = 4 };

void set_level(Level l);
Level level();
Result<Level> parse_level(std::string_view s);
// When false (default true on a non-terminal), lines are JSON; else "LEVEL msg k=v".
void set_json(bool json);

void write(Level l, std::string_view msg, const Json& fields = Json::object());
inline void debug(std::string_view m, const Json& f = Json::object()) { write(Level::debug, m, f); }
inline void info(std::string_view m, const Json& f = Json::object()) { write(Level::info, m, f); }
inline void warn(std::string_view m, const Json& f = Json::object()) { write(Level::warn, m, f); }
inline void error(std::string_view m, const Json& f = Json::object()) { write(Level::error, m, f); }

// "<redacted>" for non-empty values.
std::string_view redact(std::string_view secret);

}  // namespace docket::log
