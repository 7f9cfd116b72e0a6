// Filesystem storage driver: files under a root directory, atomic writes through
// common/file.h (temp file + fsync + rename + directory fsync).
#include <dirent.h>
#include <fcntl.h>  // sync_file_range (_GNU_SOURCE)
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>

#include "common/file.h"
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

  // Makes the entry `dir` holds durable, and `dir` itself and every directory above it we
  // created and have not synced yet.
  Status sync_chain(const fs::path& dir) {
    if (auto st = sync(dir); !st) return st;
    fs::path d = dir;
    while (true) {
      {
        std::lock_guard lk(mu_);
        if (!unsynced_.count(d)) return {};
      }
      fs::path parent = d.parent_path();
      if (parent == d) return {};
      if (auto st = sync(parent); !st) return st;
      {
        std::lock_guard lk(mu_);
        unsynced_.erase(d);
      }
      d = parent;
    }
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
  std::map<fs::path, State> state_;
};

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

class FsDriver : public StorageDriver {
 public:
  FsDriver(fs::path root, FilesystemOptions o) : root_(std::move(root)), opts_(o) {}
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

  Status put(std::string_view path, std::string_view bytes,
             Durability durability = Durability::full) override {
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
    if (::rename(tmp.c_str(), f->c_str()) != 0) {
      int e = errno;
      ::unlink(tmp.c_str());
      return std::unexpected(io_error("renaming to", *f, e));
    }
    if (durability == Durability::none) return {};
    return dirs_.sync_chain(f->parent_path());
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

  Status move(std::string_view from, std::string_view to) override {
    auto a = full(from);
    if (!a) return std::unexpected(a.error());
    auto b = full(to);
    if (!b) return std::unexpected(b.error());
    if (auto st = create_parent_dirs(*b); !st) return st;
    if (::rename(a->c_str(), b->c_str()) != 0)
      return std::unexpected(io_error("renaming to " + b->string() + " from", *a, errno));
    if (opts_.unsafe_skip_fsync) return {};
    // The source directory is not synced: after a crash the file may still be found under
    // its old name as well (an upload leftover, purged later), never under neither.
    return dirs_.sync_chain(b->parent_path());
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
      if (::mkdir(it->c_str(), 0755) != 0 && errno != EEXIST)
        return std::unexpected(io_error("creating directory", *it, errno));
      // Also on EEXIST: whoever just made it may not have synced its parent yet.
      if (!opts_.unsafe_skip_fsync) dirs_.created(*it);
    }
    return {};
  }

  fs::path root_;
  FilesystemOptions opts_;
  DirSync dirs_;
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
