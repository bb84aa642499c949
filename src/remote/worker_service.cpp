#include "remote/worker_service.hpp"

#include <boost/json.hpp>

#include "core/protocol.hpp"

namespace streamer::remote {
namespace json = boost::json;

namespace {

// One worker connection: every text frame must be a JSON object with a string "type";
// anything else is answered with a VALIDATION_ERROR and otherwise ignored.
class WorkerSession final : public ClientSession {
 public:
  WorkerSession(RemoteDispatcher& dispatcher, Identity who, std::weak_ptr<MessageSink> sink)
      : dispatcher_(dispatcher), who_(who), sink_(sink) {
    id_ = dispatcher_.open(std::move(who), std::move(sink));
  }
  ~WorkerSession() override { on_close(); }

  const Identity& identity() const override { return who_; }

  void on_frame(std::string_view text) override {
    if (closed_) return;
    std::error_code ec;
    json::parse_options opts;
    opts.max_depth = 64;
    json::value v = json::parse(text, ec, {}, opts);
    if (ec || !v.is_object() || !v.get_object().contains("type") ||
        !v.get_object().at("type").is_string()) {
      return refuse(ec ? "frame is not valid JSON" : "a message is an object with a string type");
    }
    dispatcher_.on_message(id_, std::move(v.get_object()));
  }

  void on_close() override {
    if (closed_) return;
    closed_ = true;
    dispatcher_.close(id_);
  }

 private:
  void refuse(const std::string& message) {
    auto sink = sink_.lock();
    if (!sink) return;
    json::object details{
        {"field", "type"}, {"expected", "JSON object with a string type"}, {"received", "null"}};
    sink->deliver("", MessageKind::kNotice,
                  protocol::error_message(std::nullopt, ErrorCode::kValidationError, message,
                                          std::move(details)));
  }

  RemoteDispatcher& dispatcher_;
  Identity who_;
  std::weak_ptr<MessageSink> sink_;
  std::uint64_t id_ = 0;
  bool closed_ = false;
};

}  // namespace

std::shared_ptr<ClientSession> WorkerService::open_session(Identity who,
                                                           std::weak_ptr<MessageSink> sink) {
  return std::make_shared<WorkerSession>(dispatcher_, std::move(who), std::move(sink));
}

}  // namespace streamer::remote
