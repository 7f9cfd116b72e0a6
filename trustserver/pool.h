// A fixed-size pool of database connections shared by request threads. Connections are
// created by the backend up front; acquire() blocks until one is free.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

namespace docket::trustserver::detail {

template <class Conn>
class Pool {
 public:
  void add(std::unique_ptr<Conn> c) {
    std::lock_guard lk(mu_);
    free_.push_back(std::move(c));
  }

  class Lease {
   public:
    Lease(Pool* p, std::unique_ptr<Conn> c) : pool_(p), conn_(std::move(c)) {}
    Lease(Lease&&) = default;
    ~Lease() {
      if (conn_) pool_->release(std::move(conn_));
    }
    Conn& operator*() { return *conn_; }
    Conn* operator->() { return conn_.get(); }

   private:
    Pool* pool_;
    std::unique_ptr<Conn> conn_;
  };

  Lease acquire() {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return !free_.empty(); });
    auto c = std::move(free_.back());
    free_.pop_back();
    return Lease(this, std::move(c));
  }

 private:
  void release(std::unique_ptr<Conn> c) {
    {
      std::lock_guard lk(mu_);
      free_.push_back(std::move(c));
    }
    cv_.notify_one();
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Conn>> free_;
};

}  // namespace docket::trustserver::detail
