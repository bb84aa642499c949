#pragma once
// `streamer call ACTION [PAYLOAD_JSON] --url URL --token TOKEN [--json] [--timeout S]`:
// sends one request over ws:// or wss://, shows progress on stderr, prints the
// result's `data` as JSON on stdout.
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>

namespace streamer::app {

struct CallOptions {
  std::string url;           // ws://HOST:PORT/STAGE or wss://...; default stage /production
  std::string token;         // JWT, sent as `Authorization: Bearer`
  std::string action;        // e.g. "health", "delay"
  std::string payload_json;  // a JSON object; empty means {}
  bool json_lines = false;   // --json: every received message as one JSON line on stdout
  double timeout_s = 0;      // 0: wait forever
  std::string ca_file;       // extra CA bundle for wss:// (system roots are always used)
};

// Exit codes of run_call_command.
inline constexpr int kCallOk = 0;
inline constexpr int kCallServerError = 2;  // the server answered `error` (code on stderr)
inline constexpr int kCallTransport = 3;    // could not connect, or the connection dropped
inline constexpr int kCallTimeout = 4;      // no final answer within timeout_s
inline constexpr int kCallUsage = 64;       // bad URL or payload

// Connects, sends one request, follows it to its final message (sync response, async
// result, or error). Progress: a live bar on stderr when it is a TTY, plain lines
// otherwise (none with --json). Returns one of the exit codes above.
int run_call_command(const CallOptions& options);

// I/O-free part of a call: interprets each received message for one request id,
// writes what the user should see, and says when the call is over.
class CallMessageHandler {
 public:
  CallMessageHandler(std::string request_id, bool json_lines, bool tty, std::ostream& out,
                     std::ostream& err);
  // Handles one text message; returns the exit code once the call is finished.
  std::optional<int> on_message(std::string_view text);
  // Ends an unfinished progress line (before printing anything else to stderr).
  void finish_progress_line();

 private:
  void show_progress(double percent, std::string_view message);

  std::string request_id_;
  bool json_lines_;
  bool tty_;
  std::ostream& out_;
  std::ostream& err_;
  bool bar_open_ = false;
  double last_percent_ = -1;
};

}  // namespace streamer::app
