// src/handlers/example/word_count_handler.hpp — the README's "Adding a handler"
// example, compiled and tested here so the README cannot drift from the API.
#pragma once

#include <cctype>

#include "core/handler.hpp"

namespace streamer {

// Counts words in payload.text, reporting progress per chunk.
class WordCountHandler final : public Handler {
 public:
  WordCountHandler()
      : Handler(HandlerSpec{.name = "word_count",
                            .estimated_duration = std::chrono::seconds(30),  // > 5 s: async
                            .permission = "read",
                            .time_limit = std::chrono::minutes(5),           // then TIMEOUT
                            .max_attempts = 3}) {}                           // retryable failures

  // Runs before the request is accepted: cheap checks only.
  void validate(const boost::json::object& payload) const override {
    auto it = payload.find("text");
    if (it == payload.end() || !it->value().is_string())
      throw HandlerError::validation("text", "string", it == payload.end() ? nullptr : it->value(),
                                     "text is required");
  }

  // Runs on a worker thread. Throw HandlerError for typed failures (NOT_FOUND,
  // VALIDATION_ERROR... end at once); any other exception is retried with backoff.
  HandlerResult run(const boost::json::object& payload, JobContext& ctx) override {
    std::string_view text = payload.at("text").as_string();
    std::size_t words = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (i % 65536 == 0) {
        ctx.cancel.throw_if_cancelled();  // cancel requests and time limits land here
        ctx.progress.report(100.0 * i / text.size(), "Counting",
                            {{"records_processed", i}, {"records_total", text.size()}});
      }
      if (!std::isspace(static_cast<unsigned char>(text[i])) &&
          (i == 0 || std::isspace(static_cast<unsigned char>(text[i - 1]))))
        ++words;
    }
    return {boost::json::object{{"words", words}}};  // becomes result.data
  }
};

}  // namespace streamer
