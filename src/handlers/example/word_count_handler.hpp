// `word_count`: the README's example handler, served, compiled and tested here so
// the README cannot drift from the API. Payload {"text": string}; async; returns
// {"words": N}.
#pragma once

#include <cctype>
#include <string>

#include "core/handler.hpp"

namespace streamer {

// The typed request: what run() gets, parsed once from the JSON payload.
struct WordCountRequest {
  std::string text;
};

class WordCountHandler final : public TypedHandler<WordCountRequest> {
 public:
  WordCountHandler()
      : TypedHandler(HandlerSpec{.name = "word_count",
                                 .estimated_duration = std::chrono::seconds(1),  // told to clients
                                 .permission = "read",
                                 .time_limit = std::chrono::minutes(5),  // then TIMEOUT
                                 .max_attempts = 3,                      // retryable failures
                                 .execution = Execution::kAsync}) {}     // stored, retried

  // Runs before the request is accepted: cheap checks only. A HandlerError here is
  // the client's synchronous VALIDATION_ERROR; nothing is queued.
  WordCountRequest parse(const boost::json::object& payload) const override {
    auto* text = payload.if_contains("text");
    if (!text || !text->is_string())
      throw HandlerError::validation("text", "string", text ? *text : nullptr, "text is required");
    return {std::string(text->get_string())};
  }

  // Runs on a worker thread. Throw HandlerError for typed failures (NOT_FOUND,
  // VALIDATION_ERROR... end at once); any other exception is retried with backoff.
  HandlerResult run(const WordCountRequest& request, JobContext& ctx) override {
    const std::string& text = request.text;
    std::size_t words = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (i % 65536 == 0) {
        ctx.cancel.throw_if_cancelled();  // cancel requests and time limits land here
        ctx.progress.report(100.0 * static_cast<double>(i) / static_cast<double>(text.size()),
                            "Counting",
                            {{"current_step", "counting"},
                             {"records_processed", i},
                             {"records_total", text.size()}});
      }
      if (!std::isspace(static_cast<unsigned char>(text[i])) &&
          (i == 0 || std::isspace(static_cast<unsigned char>(text[i - 1]))))
        ++words;
    }
    return {boost::json::object{{"words", words}}};  // becomes result.data
  }
};

}  // namespace streamer
