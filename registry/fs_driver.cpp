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
#include <future>
#include <map>
#include <mutex>
#include <new>
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

// Appends to an upload file. Small uploads go through the page cache as plain write()s, with
// writeback of each completed window started at once (sync_file_range), so the fdatasync at
// commit has little left to wait for.
//
// Large uploads on a durable driver switch to O_DIRECT once kDirectAfter bytes have come
// through this writer: bytes are gathered into a 4 KiB-aligned staging buffer and written
// straight from it by a thread of the driver's data-write pool, one write in flight per
// writer, while the caller fills the rest of that buffer or the other one. A write starts
// when a buffer is full, or earlier, as soon as the previous write has finished and at
// least kEarlyWriteBytes are staged: the disk never idles while bytes wait, and a request
// ends with about one write's worth left for flush() to write while its client waits
// (rather than up to a whole buffer). The disk then reads the bytes from our buffer (no copy
// into fresh page-cache pages, which was half of the server's CPU for a 256 MiB PUT), the
// disk works while the next piece is received, and there is no dirty page cache to throttle
// or flush at commit. O_DIRECT needs aligned offsets: the bytes up to the next 4 KiB
// boundary of the file, and the tail left at flush(), go through the buffered descriptor
// (never the same pages: the two descriptors never write overlapping blocks). A filesystem
// without O_DIRECT (tmpfs) keeps the buffered path.
//
// flush() (end of every request, and the destructor) writes out what is staged, so a
// reopened writer or a reader always sees every byte size() counts; sync() is flush() plus
// fdatasync, as before.
// The 4 KiB-aligned staging buffers of O_DIRECT uploads, kept for the next request (a
// fresh 4 MiB buffer costs a thousand page faults, per 16 MiB PATCH of a chunked upload),
// at most kKeep of them idle.
class StagingBuffers {
 public:
  static constexpr std::size_t kAlign = 4096;
  static constexpr std::size_t kBytes = 4 << 20;  // one O_DIRECT write
  static constexpr std::size_t kKeep = 2;         // one upload's pair
  struct Free {
    void operator()(char* p) const { ::operator delete[](p, std::align_val_t{kAlign}); }
  };
  using Buffer = std::unique_ptr<char[], Free>;
  Buffer take() {
    {
      std::lock_guard lk(mu_);
      if (!idle_.empty()) {
        Buffer b = std::move(idle_.back());
        idle_.pop_back();
        return b;
      }
    }
    return Buffer(new (std::align_val_t{kAlign}) char[kBytes]);
  }
  void give(Buffer b) {
    if (!b) return;
    std::lock_guard lk(mu_);
    if (idle_.size() < kKeep) idle_.push_back(std::move(b));
  }

 private:
  std::mutex mu_;
  std::vector<Buffer> idle_;
};

class FsWriter : public FileWriter {
 public:
  FsWriter(int fd, std::uint64_t size, fs::path p, bool durable, WorkerPool* io,
           StagingBuffers* bufs)
      : fd_(fd),
        size_(size),
        flushed_(size),
        path_(std::move(p)),
        durable_(durable),
        io_(io),
        bufs_(bufs) {}
  ~FsWriter() override {
    (void)flush();
    if (inflight_.valid()) inflight_.wait();  // flush() waited unless it failed before
    if (dfd_ >= 0) ::close(dfd_);
    ::close(fd_);
  }
  Status write(std::string_view b) override {
    if (error_) return std::unexpected(*error_);
    written_ += b.size();
    if (!direct_ && durable_ && io_ && !no_direct_ && written_ >= kDirectAfter) {
      // Up to the next aligned offset through the page cache, the rest direct.
      std::uint64_t head = (kAlign - size_ % kAlign) % kAlign;
      std::string_view h = b.substr(0, std::min<std::uint64_t>(head, b.size()));
      if (auto st = buffered(h); !st) return st;
      b.remove_prefix(h.size());
      if (b.empty()) return {};
      start_direct();
    }
    if (!direct_) return buffered(b);
    while (!b.empty()) {
      Stage& s = stage_[cur_];
      std::size_t n = std::min<std::size_t>(b.size(), kStageBytes - s.len);
      // Received into append_buffer(): already in place.
      if (b.data() != s.data.get() + s.len) std::memcpy(s.data.get() + s.len, b.data(), n);
      s.len += n;
      size_ += n;
      b.remove_prefix(n);
      if (s.len == kStageBytes)
        if (auto st = submit_full(); !st) return st;
    }
    // The disk has finished the previous write: give it what is staged now rather than
    // when the buffer is full, so that it stays busy and the bytes still staged when the
    // request's body ends (which flush() writes while the client waits for its 202) are
    // about what arrived during one write, not up to a whole buffer. When the disk is the
    // slower side it is never idle here, and the writes grow to whole buffers.
    Stage& s = stage_[cur_];
    std::size_t aligned = s.len & ~(kAlign - 1);
    if (aligned - s.sent >= kEarlyWriteBytes && inflight_done())
      if (auto st = submit(s, aligned); !st) return st;
    return {};
  }
  // The free rest of the current staging buffer: nothing a write in flight reads (those
  // end at or before s.len), and the other buffer's writes have all finished.
  std::span<char> append_buffer(std::size_t max) override {
    if (!direct_ || error_) return {};
    Stage& s = stage_[cur_];
    return {s.data.get() + s.len, std::min(max, kStageBytes - s.len)};
  }
  std::uint64_t size() const override { return size_; }
  Status flush() override {
    if (!direct_) return error_ ? Status(std::unexpected(*error_)) : Status{};
    if (auto st = wait_inflight(); !st) return st;
    Stage& s = stage_[cur_];
    std::size_t aligned = s.len & ~(kAlign - 1);
    bool fell_back = false;
    Status st = put_direct(s.data.get() + s.sent, aligned - s.sent, s.off + s.sent, fell_back);
    if (fell_back) no_direct_ = true;
    if (st) {
      std::string_view tail(s.data.get() + aligned, s.len - aligned);
      st = write_all(fd_, tail);
    }
    // Back to the buffered path until the next write (which re-aligns, then goes direct
    // again): the buffers go back to the driver between requests (an abandoned upload
    // session must not pin 8 MiB).
    direct_ = false;
    for (auto& b : stage_) {
      bufs_->give(std::move(b.data));
      b = Stage{};
    }
    if (!st) error_ = st.error();
    flushed_ = size_;
    return st;
  }
  Status sync() override {
    if (auto st = flush(); !st) return st;
    if (durable_ && ::fdatasync(fd_) != 0) return std::unexpected(io_error("fsync", path_, errno));
    return {};
  }

 private:
  static constexpr std::uint64_t kWritebackWindow = 8 << 20;
  static constexpr std::size_t kAlign = StagingBuffers::kAlign;
  static constexpr std::size_t kStageBytes = StagingBuffers::kBytes;  // 2 buffers
  // A staged run at least this long is written as soon as the disk is idle (see write()).
  static constexpr std::size_t kEarlyWriteBytes = 1 << 20;
  // Below this, an upload stays buffered (a 4 KiB layer needs no 8 MiB of buffers).
  static constexpr std::uint64_t kDirectAfter = 4 << 20;

  struct Stage {
    StagingBuffers::Buffer data;
    std::size_t len = 0;
    std::size_t sent = 0;   // data[0, sent) has been handed to the disk (aligned)
    std::uint64_t off = 0;  // file offset of data[0], aligned
  };

  Status write_all(int fd, std::string_view b) {
    while (!b.empty()) {
      ssize_t n = ::write(fd, b.data(), b.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return std::unexpected(io_error("writing", path_, errno));
      }
      b.remove_prefix(n);
    }
    return {};
  }
  Status pwrite_all(int fd, const char* p, std::size_t len, std::uint64_t off) {
    while (len > 0) {
      ssize_t n = ::pwrite(fd, p, len, static_cast<off_t>(off));
      if (n < 0) {
        if (errno == EINTR) continue;
        return std::unexpected(io_error("writing", path_, errno));
      }
      if (n == 0) return std::unexpected(io_error("writing", path_, EIO));
      p += n;
      len -= n;
      off += n;
    }
    return {};
  }

  // One O_DIRECT write at `off`, the end of the file (every earlier write has completed).
  // A filesystem that opens files O_DIRECT but refuses the writes (EINVAL) gets the bytes
  // through the buffered descriptor instead, which appends them at that same offset.
  Status put_direct(const char* p, std::size_t len, std::uint64_t off, bool& fell_back) {
    if (len == 0) return {};
    ssize_t n;
    do n = ::pwrite(dfd_, p, len, static_cast<off_t>(off));
    while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EINVAL) {
      fell_back = true;
      return write_all(fd_, std::string_view(p, len));
    }
    if (n < 0) return std::unexpected(io_error("writing", path_, errno));
    return pwrite_all(dfd_, p + n, len - n, off + n);
  }

  Status buffered(std::string_view b) {
    if (auto st = write_all(fd_, b); !st) {
      error_ = st.error();
      return st;
    }
    size_ += b.size();
    if (durable_ && size_ - flushed_ >= kWritebackWindow) {
      ::sync_file_range(fd_, static_cast<off64_t>(flushed_), static_cast<off64_t>(size_ - flushed_),
                        SYNC_FILE_RANGE_WRITE);
      flushed_ = size_;
    }
    return {};
  }

  void start_direct() {
    if (dfd_ < 0) {
      dfd_ = ::open(path_.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC);
      if (dfd_ < 0) {
        no_direct_ = true;  // EINVAL: the filesystem has no O_DIRECT
        return;
      }
    }
    // Writeback of what went through the page cache starts now; its pages are not
    // overwritten by the direct writes (they begin at the aligned size_).
    if (durable_ && size_ > flushed_)
      ::sync_file_range(fd_, static_cast<off64_t>(flushed_), static_cast<off64_t>(size_ - flushed_),
                        SYNC_FILE_RANGE_WRITE);
    flushed_ = size_;
    for (auto& s : stage_) {
      if (!s.data) s.data = bufs_->take();
      s.len = 0;
      s.sent = 0;
    }
    cur_ = 0;
    stage_[0].off = size_;
    direct_ = true;
  }

  Status wait_inflight() {
    if (inflight_.valid()) {
      inflight_.get();
      if (async_error_ && !error_) error_ = std::move(async_error_);
      if (async_fell_back_) no_direct_ = true;  // the next request stays buffered
    }
    if (error_) return std::unexpected(*error_);
    return {};
  }

  bool inflight_done() const {
    return !inflight_.valid() ||
           inflight_.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
  }

  // Hands s.data[s.sent, end) to the pool (one write in flight per writer: the previous one
  // has finished first, which keeps the file's writes in order). The caller goes on
  // filling s after `end`, or the other buffer, never bytes a write in flight reads.
  Status submit(Stage& s, std::size_t end) {
    if (end == s.sent) return {};
    if (auto st = wait_inflight(); !st) return st;
    inflight_ =
        io_->submit([this, p = s.data.get() + s.sent, len = end - s.sent, off = s.off + s.sent] {
          if (auto st = put_direct(p, len, off, async_fell_back_); !st) async_error_ = st.error();
        });
    s.sent = end;
    return {};
  }

  // Hands the rest of the full current buffer to the pool and continues in the other one,
  // whose writes have all finished (only the one just submitted is in flight).
  Status submit_full() {
    Stage& s = stage_[cur_];
    if (auto st = submit(s, s.len); !st) return st;
    Stage& next = stage_[cur_ ^ 1];
    next.off = s.off + s.len;
    next.len = 0;
    next.sent = 0;
    cur_ ^= 1;
    return {};
  }

  int fd_;
  int dfd_ = -1;  // O_DIRECT descriptor, opened at the first switch
  std::uint64_t size_;
  std::uint64_t flushed_;  // buffered path: writeback started up to here
  std::uint64_t written_ = 0;
  fs::path path_;
  bool durable_;
  WorkerPool* io_;
  StagingBuffers* bufs_;
  bool direct_ = false, no_direct_ = false;
  Stage stage_[2];
  unsigned cur_ = 0;
  std::future<void> inflight_;
  std::optional<Error> error_;        // the writer failed: every later call returns it
  std::optional<Error> async_error_;  // the pool thread's; read after inflight_.get() only
  bool async_fell_back_ = false;      // likewise
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
    if (!opts_.unsafe_skip_fsync) {
      pool_.emplace(kSyncThreads);
      data_pool_.emplace(kDataWriteThreads);
    }
    // What a previous process discarded but had not deleted yet.
    std::error_code ec;
    if (fs::exists(root_ / kTrashDir, ec)) trash_.post([t = root_ / kTrashDir] { empty_dir(t); });
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

  // Unlinking a 256 MiB upload file took 33 ms of the request that discarded it (ext4
  // frees its extents in the unlink): a tree or a large file instead leaves the namespace by
  // one rename into the hidden trash directory under the root, and the trash thread deletes
  // it. Nothing reads the trash (list() and walk() skip dot-names); what a crash leaves
  // there is deleted at the next start. The rename is not synced, like remove(): after an OS
  // crash the entry may be back under its old name, as if discard() had not run.
  Status discard(std::string_view path) override {
    auto f = full(path);
    if (!f) return std::unexpected(f.error());
    struct stat st {};
    if (::lstat(f->c_str(), &st) != 0) {
      if (errno == ENOENT || errno == ENOTDIR) return {};
      return std::unexpected(io_error("discarding", *f, errno));
    }
    if (S_ISREG(st.st_mode) && st.st_size < kDiscardInlineBytes) return remove(path);
    fs::path trash = root_ / kTrashDir;
    if (::mkdir(trash.c_str(), 0755) != 0 && errno != EEXIST) return remove(path);
    fs::path to = trash / random_hex_id();
    if (::rename(f->c_str(), to.c_str()) != 0) {
      if (errno == ENOENT) return {};
      return remove(path);
    }
    dirs_.forget(*f);
    trash_.post([to] {
      std::error_code ec;
      fs::remove_all(to, ec);
    });
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
    return std::unique_ptr<FileWriter>(new FsWriter(fd, st.st_size, *f, !opts_.unsafe_skip_fsync,
                                                    data_pool_ ? &*data_pool_ : nullptr, &bufs_));
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
  // O_DIRECT writes of large uploads (FsWriter): one in flight per upload at a time.
  static constexpr unsigned kDataWriteThreads = 4;
  // discard(): smaller files are unlinked at once (as cheap as the rename).
  static constexpr off_t kDiscardInlineBytes = 1 << 20;
  static constexpr const char* kTrashDir = ".trash";

  static void empty_dir(const fs::path& dir) {
    std::error_code ec;
    for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator();
         it.increment(ec)) {
      std::error_code rec;
      fs::remove_all(it->path(), rec);
    }
  }

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
  // Writers wait for their own writes before they are destroyed, so the pool outlives them
  // only if every writer is gone first: the Store drops its sessions before the driver.
  std::optional<WorkerPool> data_pool_;
  StagingBuffers bufs_;
  // Deletes what discard() moved to the trash; its destructor finishes what was posted.
  WorkerPool trash_{1};
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
