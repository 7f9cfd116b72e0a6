// A set-up step run at most once per object, from whichever thread needs it first, whose
// failure every caller sees (std::call_once with the step's Status kept).
#pragma once

#include <mutex>
#include <optional>
#include <utility>

#include "common/error.h"

namespace docket {

class OnceStatus {
 public:
  // Runs `step` (returning Status) the first time; every call returns its outcome. Callers
  // racing the first call wait for it, as with std::call_once.
  template <class Step>
  Status run(Step&& step) {
    std::call_once(once_, [&] {
      if (auto s = std::forward<Step>(step)(); !s) error_ = s.error();
    });
    if (error_) return std::unexpected(*error_);
    return {};
  }

 private:
  std::once_flag once_;
  std::optional<Error> error_;
};

}  // namespace docket
