// Filesystem storage driver: files under a root directory, atomic writes through
// common/file.h (temp file + fsync + rename + directory fsync).
#include <dirent.h>
#include <fcntl.h>  // sync_file_range (_GNU_SOURCE)
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "common/file.h"
#include "common/worker_pool.h"
#include "registry/storage.h"

namespace docket::registry {

namespace fs = std::filesystem;

Status check_path(std::string_view path) {
  auto bad = [&](const char* why) {
    return make_error(Fault::bug, "bad_path", "storage path '" + std::string(path) + "': " + why);
  };
  if (path.empty() || path.front() != '/') return bad("must start with '/'");
  std::string_view rest = path.substr(1);
  if (rest.empty()) return {};  // the root
  while (true) {
    auto s = rest.find('/');
    std::string_view seg = rest.substr(0, s);
    if (seg.empty() || seg == "." || seg == "..") return bad("empty, '.' or '..' segment");
    for (char c : seg)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' ||
            c == ':'))
        return bad("character not allowed");
    if (s == std::string_view::npos) break;
    rest = rest.substr(s + 1);
  }
  return {};
}

namespace {

Error io_error(const std::string& what, const fs::path& p, int err) {
  if (err == ENOENT || err == ENOTDIR)
    return Error{Fault::local, "not_found", what + " " + p.string() + ": not found"};
  return Error{Fault::local, "io", what + " " + p.string() + ": " + std::strerror(err)};
}

// Directory durability for the driver: which directories we created whose entry in their
// parent is not yet known to be on disk, and fsync(2) of directories with group commit.
//
// A new name is durable once the directory holding it is fsynced, and that directory's own
// name once its parent is, and so on up to the first directory that was already durable.
// Directories this process found already there count as durable (they were made by an
// earlier run, whose crash-time window the journal has long closed, or by the operator);
// directories it created stay in `unsynced_` until their parent's fsync has returned, so a
// concurrent request that finds one "existing" still syncs the parent rather than trusting
// a name that may not survive a crash.
//
// Group commit: an fsync of a directory makes durable every change made to it before the
// fsync started, so requests that arrive while one is running wait for it, and the first
// of them then starts one more on behalf of all of them. Concurrent commits into the same
// directory (200 layers of one image into /repositories/<name>/_layers/sha256) share
// fsyncs instead of queueing one each.
class DirSync {
 public:
  // Marks `dir` as created by us (after a successful mkdir, or one that raced with another
  // request's mkdir: EEXIST).
  void created(const fs::path& dir) {
    std::lock_guard lk(mu_);
    unsynced_.insert(dir);
  }

  // Forgets `tree` and everything below it (removed: nothing left to make durable).
  void forget(const fs::path& tree) {
    std::lock_guard lk(mu_);
    std::string prefix = tree.string() + "/";
    for (auto it = unsynced_.lower_bound(tree); it != unsynced_.end();) {
      if (*it != tree && !it->string().starts_with(prefix)) break;
      it = unsynced_.erase(it);
    }
  }

  // A durable change (rename or new file) is about to land in `dir`: until end_change(),
  // ensure_durable() of a file there syncs `dir` rather than trusting the entry.
  void begin_change(const fs::path& dir) {
    std::lock_guard lk(mu_);
    ++pending_[dir];
  }
  // The change in each of `dirs` is durable (called only after their syncs succeeded; after a
  // failure the directory stays pending and later callers keep syncing it).
  void end_changes(const std::vector<fs::path>& dirs) {
    std::lock_guard lk(mu_);
    for (const auto& d : dirs) {
      auto it = pending_.find(d);
      if (it != pending_.end() && --it->second == 0) pending_.erase(it);
    }
  }
  // Whether an entry of `dir` may not be durable yet: a change there is in flight, or `dir`
  // itself was created by us and not synced (then neither is anything above it we created).
  bool may_be_unsynced(const fs::path& dir) {
    std::lock_guard lk(mu_);
    return pending_.count(dir) || unsynced_.count(dir);
  }

  // Makes the entries each of `dirs` holds durable, and every directory above them we
  // created and have not synced yet. All the fsyncs run at once (the caller's own plus the
  // rest on `pool`): nothing here depends on their order, only on all of them having
  // returned, and concurrent directory fsyncs on one filesystem share journal commits
  // instead of paying one each.
  template <class Pool>
  Status sync_all(const std::vector<fs::path>& dirs, Pool& pool) {
    std::vector<fs::path> targets, covered;
    {
      std::lock_guard lk(mu_);
      auto add = [&](const fs::path& p) {
        if (std::find(targets.begin(), targets.end(), p) == targets.end()) targets.push_back(p);
      };
      for (const auto& leaf : dirs) {
        add(leaf);
        for (fs::path d = leaf; unsynced_.count(d);) {
          fs::path parent = d.parent_path();
          if (parent == d) break;
          covered.push_back(d);
          add(parent);
          d = parent;
        }
      }
    }
    if (targets.empty()) return {};
    // Every fsync is a task the pool or the caller may claim: the caller runs whatever no
    // pool thread has started by the time it gets there, so a busy pool never makes a
    // commit slower than syncing one directory after another.
    struct Join {
      explicit Join(std::vector<fs::path> t) : targets(std::move(t)), claimed(targets.size()) {}
      std::vector<fs::path> targets;
      std::vector<std::atomic<bool>> claimed;
      std::mutex mu;
      std::condition_variable cv;
      std::size_t running = 0;  // claimed by a pool thread, not finished
      std::optional<Error> error;
      bool claim(std::size_t i) { return !claimed[i].exchange(true); }
      void record(const Status& r) {
        if (!r && !error) error = r.error();
      }
    };
    auto join = std::make_shared<Join>(std::move(targets));
    std::size_t n = join->targets.size();
    for (std::size_t i = 1; i < n; ++i)
      pool.post([this, join, i] {
        {
          std::lock_guard lk(join->mu);
          if (!join->claim(i)) return;
          ++join->running;
        }
        Status r = sync(join->targets[i]);
        std::lock_guard lk(join->mu);
        join->record(r);
        if (--join->running == 0) join->cv.notify_all();
      });
    for (std::size_t i = 0; i < n; ++i) {
      {
        std::lock_guard lk(join->mu);
        if (!join->claim(i)) continue;
      }
      Status r = sync(join->targets[i]);
      std::lock_guard lk(join->mu);
      join->record(r);
    }
    Status first;
    {
      std::unique_lock lk(join->mu);
      join->cv.wait(lk, [&] { return join->running == 0; });
      if (join->error) first = std::unexpected(*join->error);
    }
    if (!first) return first;
    std::lock_guard lk(mu_);
    for (const auto& d : covered) unsynced_.erase(d);
    return {};
  }

  // fsync(dir), shared with concurrent callers (see above).
  Status sync(const fs::path& dir) {
    std::unique_lock lk(mu_);
    auto& st = state_[dir];
    ++st.users;
    // The first fsync that starts after this call: the running one (if any) may have
    // started before our change.
    std::uint64_t need = st.started + 1;
    while (st.done < need) {
      if (st.running) {
        cv_.wait(lk);
        continue;
      }
      st.running = true;
      std::uint64_t gen = ++st.started;
      lk.unlock();
      Status r = fsync_dir(dir);
      lk.lock();
      st.running = false;
      st.done = gen;
      if (!r) {
        st.failed = gen;
        st.error = r.error();
      }
      cv_.notify_all();
    }
    Status out;
    if (st.failed >= need) out = std::unexpected(st.error);
    if (--st.users == 0) state_.erase(dir);
    return out;
  }

 private:
  struct State {
    std::uint64_t started = 0, done = 0, failed = 0;
    bool running = false;
    int users = 0;
    Error error;
  };
  std::mutex mu_;
  std::condition_variable cv_;
  std::set<fs::path> unsynced_;
  std::map<fs::path, int> pending_;  // directories with a durable change not yet synced
  std::map<fs::path, State> state_;
};

// Threads that run directory fsyncs beside a request's own (DirSync::sync_all).
using SyncPool = WorkerPool;

class FsWriter : public FileWriter {
 public:
  FsWriter(int fd, std::uint64_t size, fs::path p, bool durable)
      : fd_(fd), size_(size), path_(std::move(p)), durable_(durable) {}
  ~FsWriter() override { ::close(fd_); }
  Status write(std::string_view b) override {
    while (!b.empty()) {
      ssize_t n = ::write(fd_, b.data(), b.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return std::unexpected(io_error("writing", path_, errno));
      }
      b.remove_prefix(n);
      size_ += n;
    }
    // Start writeback of each completed window now, so the fdatasync at commit has little
    // left to wait for (uploads stream at network speed, the disk works alongside).
    if (durable_ && size_ - flushed_ >= kWritebackWindow) {
      ::sync_file_range(fd_, static_cast<off64_t>(flushed_), static_cast<off64_t>(size_ - flushed_),
                        SYNC_FILE_RANGE_WRITE);
      flushed_ = size_;
    }
    return {};
  }
  std::uint64_t size() const override { return size_; }
  Status sync() override {
    if (durable_ && ::fdatasync(fd_) != 0) return std::unexpected(io_error("fsync", path_, errno));
    return {};
  }

 private:
  static constexpr std::uint64_t kWritebackWindow = 8 << 20;
  int fd_;
  std::uint64_t size_;
  std::uint64_t flushed_ = size_;
  fs::path path_;
  bool durable_;
};

// The directories a batch's changes landed in, synced together at commit().
class FsBatch : public SyncBatch {
 public:
  FsBatch(DirSync& dirs, SyncPool* pool) : dirs_(dirs), pool_(pool) {}
  ~FsBatch() override { (void)commit(); }
  // A change in `dir`; `pending` when begin_change(dir) was called for it.
  void add(const fs::path& dir, bool pending) {
    if (std::find(sync_.begin(), sync_.end(), dir) == sync_.end()) sync_.push_back(dir);
    if (pending) pending_.push_back(dir);
  }
  Status commit() override {
    if (sync_.empty() || !pool_) return {};
    Status st = dirs_.sync_all(sync_, *pool_);
    if (st) dirs_.end_changes(pending_);
    sync_.clear();
    pending_.clear();
    return st;
  }

 private:
  DirSync& dirs_;
  SyncPool* pool_;  // null without fsync (unsafe_skip_fsync)
  std::vector<fs::path> sync_, pending_;
};

class FsDriver : public StorageDriver {
 public:
  FsDriver(fs::path root, FilesystemOptions o) : root_(std::move(root)), opts_(o) {
    if (!opts_.unsafe_skip_fsync) pool_.emplace(kSyncThreads);
  }
  std::string name() const override { return "filesystem"; }

  Result<fs::path> full(std::string_view p) {
    if (auto st = check_path(p); !st) return std::unexpected(st.error());
    return root_ / std::string(p.substr(1));
  }

  Result<std::string> get(std::string_view path, std::uint64_t max_bytes) override {
    auto f = full(path);
    if (!f) return std::unexpected(f.error());
    int fd = ::open(f->c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::unexpected(io_error("reading", *f, errno));
    std::string out;
    char buf[16384];
    for (;;) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0) {
        if (errno == EINTR) continue;
        int e = errno;
        ::close(fd);
        return std::unexpected(io_error("reading", *f, e));
      }
      if (n == 0) break;
      out.append(buf, n);
      if (out.size() > max_bytes) {
        ::close(fd);
        return make_error(Fault::local, "too_large",
                          f->string() + " is larger than " + std::to_string(max_bytes) + " bytes");
      }
    }
    ::close(fd);
    return out;
  }

  std::unique_ptr<SyncBatch> batch() override {
    return std::make_unique<FsBatch>(dirs_, pool_ ? &*pool_ : nullptr);
  }

  Status ensure_durable(std::string_view path, SyncBatch* batch) override {
    auto f = full(path);
    if (!f) return std::unexpected(f.error());
    struct stat st {};
    if (::stat(f->c_str(), &st) != 0) return std::unexpected(io_error("stat", *f, errno));
    if (opts_.unsafe_skip_fsync || !dirs_.may_be_unsynced(f->parent_path())) return {};
    return sync_dir(f->parent_path(), false, batch);
  }

  Status put(std::string_view path, std::string_view bytes,
             Durability durability = Durability::full, SyncBatch* batch = nullptr) override {
    auto f = full(path);
    if (!f) return std::unexpected(f.error());
    if (auto st = create_parent_dirs(*f); !st) return st;
    if (opts_.unsafe_skip_fsync) durability = Durability::none;
    fs::path tmp = f->parent_path() / ("." + f->filename().string() + ".tmp-" + random_hex_id());
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return std::unexpected(io_error("creating", tmp, errno));
    auto fail = [&](const char* what) {
      int e = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return std::unexpected(io_error(what, tmp, e));
    };
    std::string_view b = bytes;
    while (!b.empty()) {
      ssize_t n = ::write(fd, b.data(), b.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return fail("writing");
      b.remove_prefix(n);
    }
    if (durability == Durability::full && ::fdatasync(fd) != 0) return fail("fsync");
    if (::close(fd) != 0) {
      int e = errno;
      ::unlink(tmp.c_str());
      return std::unexpected(io_error("closing", tmp, e));
    }
    if (durability != Durability::none) dirs_.begin_change(f->parent_path());
    if (::rename(tmp.c_str(), f->c_str()) != 0) {
      int e = errno;
      ::unlink(tmp.c_str());
      if (durability != Durability::none) dirs_.end_changes({f->parent_path()});
      return std::unexpected(io_error("renaming to", *f, e));
    }
    if (durability == Durability::none) return {};
    return sync_dir(f->parent_path(), true, batch);
  }

  Result<FileInfo> stat(std::string_view path) override {
    auto f = full(path);
    if (!f) return std::unexpected(f.error());
    struct stat st {};
    if (::stat(f->c_str(), &st) != 0) return std::unexpected(io_error("stat", *f, errno));
    FileInfo info;
    info.size = st.st_size;
    info.is_dir = S_ISDIR(st.st_mode);
    info.modified = std::chrono::system_clock::time_point(
        std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec));
    return info;
  }

  Result<std::vector<std::string>> list(std::string_view dir) override {
    auto f = full(dir);
    if (!f) return std::unexpected(f.error());
    DIR* d = ::opendir(f->c_str());
    if (!d) return std::unexpected(io_error("listing", *f, errno));
    std::vector<std::string> out;
    while (auto* e = ::readdir(d)) {
      std::string_view n = e->d_name;
      if (n == "." || n == ".." || n.starts_with(".")) continue;  // temp files are dot-files
      out.emplace_back(n);
    }
    ::closedir(d);
    std::sort(out.begin(), out.end());
    return out;
  }

  Status remove(std::string_view path) override {
    auto f = full(path);
    if (!f) return std::unexpected(f.error());
    std::error_code ec;
    fs::remove_all(*f, ec);
    dirs_.forget(*f);
    if (ec && ec != std::errc::no_such_file_or_directory)
      return make_error(Fault::local, "io", "removing " + f->string() + ": " + ec.message());
    return {};
  }

  Status move(std::string_view from, std::string_view to, SyncBatch* batch = nullptr) override {
    auto a = full(from);
    if (!a) return std::unexpected(a.error());
    auto b = full(to);
    if (!b) return std::unexpected(b.error());
    if (auto st = create_parent_dirs(*b); !st) return st;
    if (!opts_.unsafe_skip_fsync) dirs_.begin_change(b->parent_path());
    if (::rename(a->c_str(), b->c_str()) != 0) {
      int e = errno;
      if (!opts_.unsafe_skip_fsync) dirs_.end_changes({b->parent_path()});
      return std::unexpected(io_error("renaming to " + b->string() + " from", *a, e));
    }
    if (opts_.unsafe_skip_fsync) return {};
    // The source directory is not synced: after a crash the file may still be found under
    // its old name as well (an upload leftover, purged later), never under neither.
    return sync_dir(b->parent_path(), true, batch);
  }

  Result<std::unique_ptr<FileWriter>> append(std::string_view path) override {
    auto f = full(path);
    if (!f) return std::unexpected(f.error());
    if (auto st = create_parent_dirs(*f); !st) return std::unexpected(st.error());
    int fd = ::open(f->c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return std::unexpected(io_error("opening", *f, errno));
    struct stat st {};
    ::fstat(fd, &st);
    return std::unique_ptr<FileWriter>(new FsWriter(fd, st.st_size, *f, !opts_.unsafe_skip_fsync));
  }

  Status truncate(std::string_view path, std::uint64_t size) override {
    auto f = full(path);
    if (!f) return std::unexpected(f.error());
    if (::truncate(f->c_str(), size) != 0)
      return std::unexpected(io_error("truncating", *f, errno));
    return {};
  }

  Result<net::FileBody> open(std::string_view path) override {
    auto f = full(path);
    if (!f) return std::unexpected(f.error());
    int fd = ::open(f->c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::unexpected(io_error("opening", *f, errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
      ::close(fd);
      return make_error(Fault::local, "not_found", f->string() + ": not a file");
    }
    net::FileBody b;
    b.file = std::make_shared<net::FileHandle>(fd);
    b.offset = 0;
    b.length = st.st_size;
    return b;
  }

  Status walk(std::string_view dir,
              const std::function<void(const std::string&, const FileInfo&)>& fn) override {
    auto f = full(dir);
    if (!f) return std::unexpected(f.error());
    std::error_code ec;
    if (!fs::exists(*f, ec)) return {};
    std::string prefix = dir == "/" ? "" : std::string(dir);
    std::vector<std::pair<std::string, FileInfo>> found;
    for (auto it = fs::recursive_directory_iterator(*f, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      std::string name = it->path().filename().string();
      if (name.starts_with(".")) {
        if (it->is_directory(ec)) it.disable_recursion_pending();
        continue;
      }
      if (!it->is_regular_file(ec)) continue;
      FileInfo info;
      info.size = it->file_size(ec);
      auto rel = it->path().lexically_relative(*f).generic_string();
      fn(prefix + "/" + rel, info);
    }
    if (ec && ec != std::errc::no_such_file_or_directory)
      return make_error(Fault::local, "io", "walking " + f->string() + ": " + ec.message());
    return {};
  }

 private:
  static constexpr unsigned kSyncThreads = 8;

  // Makes the entries of `dir` durable now, or at the batch's commit. `pending`: the caller
  // called dirs_.begin_change(dir).
  Status sync_dir(const fs::path& dir, bool pending, SyncBatch* batch) {
    if (batch) {
      static_cast<FsBatch*>(batch)->add(dir, pending);
      return {};
    }
    Status st = dirs_.sync_all({dir}, *pool_);
    if (st && pending) dirs_.end_changes({dir});
    return st;
  }

  // Creates the missing directories above `file`, noting each one in dirs_ so the next
  // durable operation below it also syncs the entries that name them.
  Status create_parent_dirs(const fs::path& file) {
    fs::path dir = file.parent_path();
    std::vector<fs::path> missing;
    struct stat st {};
    for (fs::path d = dir; !d.empty() && d != root_.parent_path(); d = d.parent_path()) {
      if (::stat(d.c_str(), &st) == 0) break;
      if (errno != ENOENT)
        return std::unexpected(io_error("creating directories for", file, errno));
      missing.push_back(d);
      if (d == root_ || d == d.parent_path()) break;
    }
    for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
      // Noted before the mkdir, so a concurrent request that finds the directory already
      // there also finds it unsynced; and kept on EEXIST: whoever just made it may not have
      // synced its parent yet.
      if (!opts_.unsafe_skip_fsync) dirs_.created(*it);
      if (::mkdir(it->c_str(), 0755) != 0 && errno != EEXIST)
        return std::unexpected(io_error("creating directory", *it, errno));
    }
    return {};
  }

  fs::path root_;
  FilesystemOptions opts_;
  DirSync dirs_;
  std::optional<SyncPool> pool_;  // declared last: its threads stop before dirs_ goes
};

}  // namespace

Result<std::unique_ptr<StorageDriver>> make_filesystem_driver(const std::string& root,
                                                              FilesystemOptions opts) {
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec)
    return make_error(Fault::user, "config",
                      "storage root directory " + root + ": " + ec.message());
  auto abs = fs::absolute(root, ec);
  return std::unique_ptr<StorageDriver>(new FsDriver(abs, opts));
}

}  // namespace docket::registry
