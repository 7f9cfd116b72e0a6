// `docket trust lookup` starts OpenSSL's one-time set-up (net/tls_warmup.h) before main(),
// so that it runs on a second core while the CLI is built and parsed and the trust
// directory read, instead of on the lookup's path once the first connection is made.
#include <malloc.h>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "net/tls_warmup.h"

namespace {

// Heap the lookup will use, faulted in ahead on the warm-up's thread. A cold lookup first
// touches ~1-2 MB of fresh heap (parsing the targets file, the TLS records, the model),
// one page fault per 4 KiB page on the lookup's path, ~1-1.5 us each on this kind of VM;
// pages made present on the other core beforehand cost the lookup nothing. Not more than
// the lookup reaches before it would fault the pages itself: of 0, 0.5, 1, 2 and 3 MiB,
// 1 and 2 MiB gave the lowest wall times, 1 MiB at no more CPU than none (docs/client.md,
// fourth round).
constexpr std::size_t kPrefaultHeapBytes = 1 << 20;

struct HeapRange {
  char* begin = nullptr;
  std::size_t bytes = 0;
};
HeapRange g_heap;

void prefault_heap(void*) {
  // MADV_POPULATE_WRITE (Linux 5.14+) makes the pages present without writing to them, so
  // it is safe while the lookup is already allocating from (and writing to) this range.
  // There is no fallback: touching the pages here would race with those writes, and reading
  // them would only map the shared zero page.
#ifdef MADV_POPULATE_WRITE
  if (!g_heap.begin) return;
  // Only with CPU time nobody else wants: on two cores the lookup's own thread and the
  // trust server (often on the same machine in tests and benchmarks) come first.
  sched_param idle{};
  ::sched_setscheduler(0, SCHED_IDLE, &idle);
  // In steps: the kernel holds the address space's lock for reading while it populates,
  // and an mmap() on the lookup's thread (a thread's stack, say) waits for it. Whole, that
  // wait could last the entire range at idle priority; per step it is at most one step.
  constexpr std::size_t kStep = 64 << 10;
  for (std::size_t off = 0; off < g_heap.bytes; off += kStep)
    ::madvise(g_heap.begin + off, std::min(kStep, g_heap.bytes - off), MADV_POPULATE_WRITE);
#endif
}

// Makes the top of malloc's main heap `bytes` of mapped, unused memory and notes where it
// is: big allocations come from the heap (not mmap) and the heap is never trimmed, so the
// memory prefaulted is the memory later allocations get. Only for this short-lived process.
void reserve_heap_top(std::size_t bytes) {
  if (::mallopt(M_MMAP_THRESHOLD, 32 << 20) != 1 || ::mallopt(M_TRIM_THRESHOLD, 256 << 20) != 1)
    return;
  void* p = std::malloc(bytes);
  if (!p) return;
  auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  auto begin = (reinterpret_cast<std::uintptr_t>(p) + page) & ~(page - 1);
  auto end = (reinterpret_cast<std::uintptr_t>(p) + bytes) & ~(page - 1);
  std::free(p);
  if (end > begin) g_heap = HeapRange{reinterpret_cast<char*>(begin), end - begin};
}

#ifdef DOCKET_OPENSSL_LINKED_STATICALLY
// OpenSSL's own loaders of all its error strings (libcrypto's and libssl's; what its
// initialisation runs when not told otherwise). Internal to OpenSSL: the archives have
// them, the shared libraries do not export them, hence only in the static build.
extern "C" int ossl_err_load_crypto_strings(void);
extern "C" int ossl_err_load_SSL_strings(void);
void load_openssl_error_strings() {
  ossl_err_load_crypto_strings();
  ossl_err_load_SSL_strings();
}
constexpr void (*kLoadErrorStrings)() = load_openssl_error_strings;
#else
constexpr void (*kLoadErrorStrings)() = nullptr;
#endif

// Whether the command line names `trust lookup` (global options may come first). A false
// positive costs only the warm-up's CPU.
bool is_trust_lookup(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; ++i)
    if (argv[i] && argv[i + 1] && std::strcmp(argv[i], "trust") == 0 &&
        std::strcmp(argv[i + 1], "lookup") == 0)
      return true;
  return false;
}

// glibc calls ELF constructors with main's arguments; this one runs before the static
// initialisers that build nothing it needs.
__attribute__((constructor(101))) void start_trust_lookup_tls_warm_up(int argc, char** argv,
                                                                      char**) {
  if (argc >= 3 && argv && is_trust_lookup(argc, argv)) {
    reserve_heap_top(kPrefaultHeapBytes);
    // Error strings are loaded by the first OpenSSL error text instead (~0.2 ms less before
    // the first handshake; a lookup that succeeds never needs them).
    docket::net::start_tls_warm_up(prefault_heap, nullptr, kLoadErrorStrings);
  }
}

}  // namespace
