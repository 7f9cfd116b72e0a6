// libcurl, loaded on first use. docket_net does not link libcurl: it defines the handful of
// curl_* functions net/http_client.cpp calls, and each forwards to the real one, found with
// dlsym in libcurl.so.4 opened the first time any of them is called. A process that never
// takes the libcurl path (e.g. `docket trust lookup`, whose requests go through the native
// transport) so never maps libcurl nor the ~30 libraries it depends on (HTTP/2, IDN, SSH,
// LDAP, Kerberos, GnuTLS, ...), whose loading and symbol binding cost a few milliseconds of
// CPU per process start.
//
// The variadic setters pass on their one argument with the type libcurl itself reads it as
// (curl/curl.h: the option number's range says long, pointer, curl_off_t or blob pointer).
//
// If libcurl cannot be loaded, curl_library_status() says why; the forwarding functions then
// answer as libcurl does when it has no memory (null handles, CURLE_FAILED_INIT), and
// http_client.cpp checks curl_library_status() first so the user sees the real reason.
#include "net/curl_dl.h"

#include <curl/curl.h>
#include <dlfcn.h>

#include <cstdarg>
#include <mutex>

namespace docket::net::detail {
namespace {

struct CurlApi {
  std::string error;  // empty when loaded
  CURLcode (*global_init)(long) = nullptr;
  CURL* (*easy_init)() = nullptr;
  void (*easy_cleanup)(CURL*) = nullptr;
  void (*easy_reset)(CURL*) = nullptr;
  CURLcode (*easy_perform)(CURL*) = nullptr;
  CURLcode (*easy_setopt)(CURL*, CURLoption, ...) = nullptr;
  CURLcode (*easy_getinfo)(CURL*, CURLINFO, ...) = nullptr;
  const char* (*easy_strerror)(CURLcode) = nullptr;
  CURLSH* (*share_init)() = nullptr;
  CURLSHcode (*share_setopt)(CURLSH*, CURLSHoption, ...) = nullptr;
  CURLSHcode (*share_cleanup)(CURLSH*) = nullptr;
  curl_slist* (*slist_append)(curl_slist*, const char*) = nullptr;
  void (*slist_free_all)(curl_slist*) = nullptr;
  void (*free)(void*) = nullptr;
  CURLU* (*url)() = nullptr;
  void (*url_cleanup)(CURLU*) = nullptr;
  CURLUcode (*url_get)(CURLU*, CURLUPart, char**, unsigned int) = nullptr;
  CURLUcode (*url_set)(CURLU*, CURLUPart, const char*, unsigned int) = nullptr;
  curl_version_info_data* (*version_info)(CURLversion) = nullptr;
};

template <typename F>
bool bind(void* lib, const char* name, F& fn, std::string& error) {
  fn = reinterpret_cast<F>(::dlsym(lib, name));
  if (!fn && error.empty()) error = std::string("libcurl.so.4 lacks ") + name;
  return fn != nullptr;
}

const CurlApi& api() {
  static const CurlApi a = [] {
    CurlApi c;
    // Never closed: libcurl keeps global state (OpenSSL, the resolver) for the process.
    void* lib = ::dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      const char* e = ::dlerror();
      c.error = std::string("cannot load libcurl.so.4: ") + (e ? e : "unknown dlopen error");
      return c;
    }
    std::string err;
    bind(lib, "curl_global_init", c.global_init, err);
    bind(lib, "curl_easy_init", c.easy_init, err);
    bind(lib, "curl_easy_cleanup", c.easy_cleanup, err);
    bind(lib, "curl_easy_reset", c.easy_reset, err);
    bind(lib, "curl_easy_perform", c.easy_perform, err);
    bind(lib, "curl_easy_setopt", c.easy_setopt, err);
    bind(lib, "curl_easy_getinfo", c.easy_getinfo, err);
    bind(lib, "curl_easy_strerror", c.easy_strerror, err);
    bind(lib, "curl_share_init", c.share_init, err);
    bind(lib, "curl_share_setopt", c.share_setopt, err);
    bind(lib, "curl_share_cleanup", c.share_cleanup, err);
    bind(lib, "curl_slist_append", c.slist_append, err);
    bind(lib, "curl_slist_free_all", c.slist_free_all, err);
    bind(lib, "curl_free", c.free, err);
    bind(lib, "curl_url", c.url, err);
    bind(lib, "curl_url_cleanup", c.url_cleanup, err);
    bind(lib, "curl_url_get", c.url_get, err);
    bind(lib, "curl_url_set", c.url_set, err);
    bind(lib, "curl_version_info", c.version_info, err);
    if (!err.empty()) {
      c = CurlApi{};
      c.error = err;
      return c;
    }
    // curl_global_init is not thread-safe; this initialiser runs once, under the static's
    // guard, before any other call can reach libcurl.
    if (c.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      c = CurlApi{};
      c.error = "libcurl's global initialisation failed";
    }
    return c;
  }();
  return a;
}

bool loaded() {
  return api().error.empty();
}

}  // namespace

Status curl_library_status() {
  if (loaded()) return {};
  return make_error(Fault::local, "missing_library", api().error);
}

bool curl_library_loaded_in_process() {
  return ::dlopen("libcurl.so.4", RTLD_NOW | RTLD_NOLOAD) != nullptr;
}

}  // namespace docket::net::detail

using docket::net::detail::api;
using docket::net::detail::loaded;

extern "C" {

CURLcode curl_global_init(long flags) {
  (void)flags;  // done once by api() with CURL_GLOBAL_DEFAULT, the only flags docket uses
  return loaded() ? CURLE_OK : CURLE_FAILED_INIT;
}

CURL* curl_easy_init(void) {
  return loaded() ? api().easy_init() : nullptr;
}

void curl_easy_cleanup(CURL* h) {
  if (loaded()) api().easy_cleanup(h);
}

void curl_easy_reset(CURL* h) {
  if (loaded()) api().easy_reset(h);
}

CURLcode curl_easy_perform(CURL* h) {
  return loaded() ? api().easy_perform(h) : CURLE_FAILED_INIT;
}

CURLcode curl_easy_setopt(CURL* h, CURLoption option, ...) {
  if (!loaded()) return CURLE_FAILED_INIT;
  va_list ap;
  va_start(ap, option);
  CURLcode rc;
  // curl/curl.h: option numbers are type base + index.
  if (option < CURLOPTTYPE_OBJECTPOINT) {
    long v = va_arg(ap, long);
    rc = api().easy_setopt(h, option, v);
  } else if (option < CURLOPTTYPE_OFF_T) {
    // Object and function pointers (CURLOPTTYPE_FUNCTIONPOINT), read by libcurl as such.
    void* v = va_arg(ap, void*);
    rc = api().easy_setopt(h, option, v);
  } else if (option < CURLOPTTYPE_BLOB) {
    curl_off_t v = va_arg(ap, curl_off_t);
    rc = api().easy_setopt(h, option, v);
  } else {
    void* v = va_arg(ap, void*);
    rc = api().easy_setopt(h, option, v);
  }
  va_end(ap);
  return rc;
}

CURLcode curl_easy_getinfo(CURL* h, CURLINFO info, ...) {
  if (!loaded()) return CURLE_FAILED_INIT;
  va_list ap;
  va_start(ap, info);
  void* out = va_arg(ap, void*);  // every CURLINFO takes a pointer to its result
  va_end(ap);
  return api().easy_getinfo(h, info, out);
}

const char* curl_easy_strerror(CURLcode rc) {
  return loaded() ? api().easy_strerror(rc) : "libcurl is not available";
}

CURLSH* curl_share_init(void) {
  return loaded() ? api().share_init() : nullptr;
}

CURLSHcode curl_share_setopt(CURLSH* sh, CURLSHoption option, ...) {
  if (!loaded()) return CURLSHE_NOT_BUILT_IN;
  va_list ap;
  va_start(ap, option);
  CURLSHcode rc;
  switch (option) {
    case CURLSHOPT_SHARE:
    case CURLSHOPT_UNSHARE: {
      int v = va_arg(ap, int);  // libcurl reads a curl_lock_data as int
      rc = api().share_setopt(sh, option, v);
      break;
    }
    default: {
      void* v = va_arg(ap, void*);  // lock/unlock functions, user data
      rc = api().share_setopt(sh, option, v);
      break;
    }
  }
  va_end(ap);
  return rc;
}

CURLSHcode curl_share_cleanup(CURLSH* sh) {
  return loaded() ? api().share_cleanup(sh) : CURLSHE_OK;
}

curl_slist* curl_slist_append(curl_slist* list, const char* s) {
  return loaded() ? api().slist_append(list, s) : nullptr;
}

void curl_slist_free_all(curl_slist* list) {
  if (loaded()) api().slist_free_all(list);
}

void curl_free(void* p) {
  if (loaded()) api().free(p);
}

CURLU* curl_url(void) {
  return loaded() ? api().url() : nullptr;
}

void curl_url_cleanup(CURLU* u) {
  if (loaded()) api().url_cleanup(u);
}

CURLUcode curl_url_get(CURLU* u, CURLUPart part, char** out, unsigned int flags) {
  return loaded() && u ? api().url_get(u, part, out, flags) : CURLUE_OUT_OF_MEMORY;
}

CURLUcode curl_url_set(CURLU* u, CURLUPart part, const char* content, unsigned int flags) {
  return loaded() && u ? api().url_set(u, part, content, flags) : CURLUE_OUT_OF_MEMORY;
}

curl_version_info_data* curl_version_info(CURLversion v) {
  return loaded() ? api().version_info(v) : nullptr;
}

}  // extern "C"
