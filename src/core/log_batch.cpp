#include "core/log_batch.hpp"

#include <spdlog/spdlog.h>

namespace streamer {
namespace {
thread_local int open_batches = 0;
}

LogBatch::LogBatch() { ++open_batches; }

LogBatch::~LogBatch() {
  if (--open_batches > 0) return;
  if (auto* logger = spdlog::default_logger_raw()) {
    try {
      logger->flush();
    } catch (...) {  // a destructor: spdlog reports its own errors
    }
  }
}

bool LogBatch::open_on_this_thread() noexcept { return open_batches > 0; }

}  // namespace streamer
