// A fixed set of threads that run posted jobs in the order they were posted. For work that
// must not cost a thread per job (a clone3, a stack mmap and its teardown each time).
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

namespace docket {

class WorkerPool {
 public:
  explicit WorkerPool(unsigned threads);
  // Runs every job already posted, then joins the threads.
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // A job must not throw (an exception would end the process); use submit() for one that may.
  void post(std::function<void()> job);
  // The future holds the job's exception, if it throws.
  std::future<void> submit(std::function<void()> job);

 private:
  void run();
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::packaged_task<void()>> queue_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace docket
