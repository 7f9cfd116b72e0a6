#include "common/worker_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>

namespace {
using docket::WorkerPool;

TEST(WorkerPool, OneThreadRunsJobsInPostedOrder) {
  std::vector<int> order;
  std::future<void> last;
  {
    WorkerPool pool(1);
    for (int i = 0; i < 50; ++i) pool.post([&order, i] { order.push_back(i); });
    last = pool.submit([&order] { order.push_back(50); });
    last.get();
  }
  ASSERT_EQ(order.size(), 51u);
  for (int i = 0; i <= 50; ++i) EXPECT_EQ(order[i], i);
}

TEST(WorkerPool, SubmitCarriesTheJobsException) {
  WorkerPool pool(2);
  auto f = pool.submit([] { throw std::runtime_error("job failed"); });
  EXPECT_THROW(f.get(), std::runtime_error);
  auto ok = pool.submit([] {});
  EXPECT_NO_THROW(ok.get());  // the thread survived the throwing job
}

TEST(WorkerPool, DestructorRunsEveryPostedJobBeforeJoining) {
  std::atomic<int> ran{0};
  {
    WorkerPool pool(3);
    for (int i = 0; i < 200; ++i) pool.post([&ran] { ran.fetch_add(1); });
  }
  EXPECT_EQ(ran.load(), 200);
}

}  // namespace
