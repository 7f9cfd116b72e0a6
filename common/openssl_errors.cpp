#include "common/openssl_errors.h"

#include <openssl/err.h>

#include <atomic>
#include <mutex>

namespace docket {
namespace {

std::atomic<void (*)()> g_load_strings{nullptr};
std::once_flag g_strings_loaded;

}  // namespace

void defer_openssl_error_strings(void (*load)()) noexcept {
  g_load_strings.store(load, std::memory_order_release);
}

std::string openssl_error_string(unsigned long code) {
  if (auto* load = g_load_strings.load(std::memory_order_acquire))
    std::call_once(g_strings_loaded, load);
  char buf[256];
  ERR_error_string_n(code, buf, sizeof buf);
  return buf;
}

std::string take_openssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    if (!out.empty()) out += "; ";
    out += openssl_error_string(e);
  }
  return out;
}

}  // namespace docket
