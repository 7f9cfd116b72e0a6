#include "verifier/notary_store.h"

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>

#include "common/file.h"

namespace docket::verifier {
namespace fs = std::filesystem;

// One thread writing queued files in order. `done` counts finished jobs; a job's number is
// its position in the queue, so "job n finished" is done >= n.
struct NotaryLayoutStore::Writer {
  struct Job {
    fs::path path;
    std::string bytes;
    WriteSync sync;
  };
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Job> queue;
  std::uint64_t queued = 0;
  std::uint64_t done = 0;
  std::map<fs::path, std::uint64_t> newest;  // path -> number of its last queued job
  std::optional<Error> error;                // the first failure, until flush() reports it
  bool stopping = false;
  std::thread thread;

  void run() {
    fs::path made;  // the last directory made (every role but delegations shares one)
    std::unique_lock lk(mu);
    for (;;) {
      cv.wait(lk, [&] { return stopping || !queue.empty(); });
      if (queue.empty()) return;  // stopping, and everything written
      Job job = std::move(queue.front());
      queue.pop_front();
      lk.unlock();
      Status s;
      if (job.path.parent_path() != made) {
        s = make_directories(job.path.parent_path());
        if (s) made = job.path.parent_path();
      }
      if (s) s = atomic_write_file(job.path, job.bytes, 0644, job.sync);
      lk.lock();
      if (!s && !error) error = s.error();
      ++done;
      cv.notify_all();
    }
  }
  void wait_for(std::uint64_t n) {
    std::unique_lock lk(mu);
    cv.wait(lk, [&] { return done >= n; });
  }
};

NotaryLayoutStore::NotaryLayoutStore(tuf::RepoStore repo, RootWrite root_write)
    : repo_(std::move(repo)), root_write_(root_write) {
  // The writer starts now, not with the first store(): a lookup constructs its store before
  // it connects, while it mostly waits (for OpenSSL's warm-up, for the server), so making
  // the thread (its stack's mmap, the clone) costs it nothing then, and ~0.15 ms later.
  if (root_write_ == RootWrite::background) {
    auto w = std::make_unique<Writer>();
    try {
      w->thread = std::thread([p = w.get()] { p->run(); });
      writer_ = std::move(w);
    } catch (const std::system_error&) {
      // No thread to be had: store() writes on the caller's thread instead.
    }
  }
}

NotaryLayoutStore::NotaryLayoutStore(NotaryLayoutStore&&) noexcept = default;

NotaryLayoutStore::~NotaryLayoutStore() {
  if (!writer_) return;
  {
    std::lock_guard lk(writer_->mu);
    writer_->stopping = true;
  }
  writer_->cv.notify_all();
  writer_->thread.join();  // after the last queued write
}

Status NotaryLayoutStore::flush() {
  if (!writer_) return {};
  std::unique_lock lk(writer_->mu);
  writer_->cv.wait(lk, [&] { return writer_->done == writer_->queued; });
  if (!writer_->error) return {};
  Error e = std::move(*writer_->error);
  writer_->error.reset();
  return std::unexpected(std::move(e));
}

Result<std::optional<std::string>> NotaryLayoutStore::load(const tuf::RoleName& role,
                                                           std::size_t max_bytes) {
  // root.json is read as the trust anchor: everything stored before must be on disk, and a
  // failure to write it is the caller's to know about.
  if (role == tuf::RoleName::root())
    if (auto s = flush(); !s) return std::unexpected(s.error());
  auto path = repo_.path_of(role.str());
  if (!path) {
    // A role we could never have stored (its name is no safe path) is simply absent.
    return std::optional<std::string>();
  }
  if (writer_) {
    std::uint64_t last = 0;
    {
      std::lock_guard lk(writer_->mu);
      if (auto it = writer_->newest.find(*path); it != writer_->newest.end()) last = it->second;
    }
    if (last) writer_->wait_for(last);  // reads see what was stored
  }
  std::error_code ec;
  if (!fs::exists(*path, ec)) {
    if (ec)
      return make_error(Fault::local, "io", "checking " + path->string() + ": " + ec.message());
    return std::optional<std::string>();
  }
  auto r = read_file(*path, max_bytes);
  if (!r) return std::unexpected(r.error());
  return std::optional<std::string>(std::move(*r));
}

Status NotaryLayoutStore::store(const tuf::RoleName& role, std::string_view bytes) {
  auto path = repo_.path_of(role.str());
  if (!path)
    return make_error(Fault::remote, "bad_role",
                      "role name \"" + role.str() +
                          "\" cannot be stored in a trust directory: " + path.error().message);
  // Readers never see a partial file. Durability (see header): only the root's bytes are
  // synced, since it is the trust anchor; other roles are refetched if a crash loses them.
  WriteSync sync = role == tuf::RoleName::root() ? WriteSync::file : WriteSync::none;
  if (writer_) {
    {
      std::lock_guard lk(writer_->mu);
      writer_->queue.push_back({*path, std::string(bytes), sync});
      writer_->newest[*path] = ++writer_->queued;
    }
    writer_->cv.notify_all();
    return {};
  }
  if (auto s = make_directories(path->parent_path()); !s) return s;
  return atomic_write_file(*path, bytes, 0644, sync);
}

}  // namespace docket::verifier
