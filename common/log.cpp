#include "common/log.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <mutex>

#include "common/time.h"

namespace docket::log {
namespace {
std::atomic<int> g_level{static_cast<int>(Level::info)};
std::atomic<bool> g_json{!::isatty(2)};
std::mutex g_mu;
const char* name(Level l) {
  switch (l) {
    case Level::debug: return "debug";
    case Level::info: return "info";
    case Level::warn: return "warn";
    case Level::error: return "error";
    case Level::off: return "off";
  }
  return "info";
}
}  // namespace

void set_level(Level l) { g_level = static_cast<int>(l); }
Level level() { return static_cast<Level>(g_level.load()); }
void set_json(bool json) { g_json = json; }

Result<Level> parse_level(std::string_view s) {
  for (Level l : {Level::debug, Level::info, Level::warn, Level::error, Level::off})
    if (s == name(l)) return l;
  return make_error(Fault::user, "config", "unknown log level \"" + std::string(s) + "\" (debug, info, warn, error, off)");
}

void write(Level l, std::string_view msg, const Json& fields) {
  if (static_cast<int>(l) < g_level.load() || l == Level::off) return;
  std::string line;
  if (g_json) {
    Json j = fields.is_object() ? fields : Json::object();
    j["time"] = format_rfc3339_nano(now());
    j["level"] = name(l);
    j["msg"] = std::string(msg);
    line = j.dump(-1, ' ', false, Json::error_handler_t::replace);
  } else {
    line = std::string(name(l)) + " " + std::string(msg);
    if (fields.is_object())
      for (auto it = fields.begin(); it != fields.end(); ++it)
        line += " " + it.key() + "=" +
                (it->is_string() ? it->get<std::string>() : it->dump(-1, ' ', false, Json::error_handler_t::replace));
  }
  line += '\n';
  std::lock_guard lock(g_mu);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

std::string_view redact(std::string_view secret) { return secret.empty() ? "" : "<redacted>"; }

}  // namespace docket::log
