// Concurrent `PUT /files` uploads, counted per identity (tenant + user) and per client
// address, so that neither one user nor one address can hold many open upload
// connections (each holds a file descriptor, a temporary file and a buffer). Pure
// bookkeeping, thread-safe; a Slot gives its place back when destroyed.
#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>
#include <variant>

namespace streamer {

class UploadLimiter {
 public:
  // Which limit refused an upload.
  enum class Full { kUser, kAddress };

  // One running upload; releases its place in both counts when destroyed.
  class Slot {
   public:
    Slot(Slot&& other) noexcept;
    Slot& operator=(Slot&&) = delete;
    Slot(const Slot&) = delete;
    ~Slot();

   private:
    friend class UploadLimiter;
    Slot(UploadLimiter* owner, std::string user, std::string address)
        : owner_(owner), user_(std::move(user)), address_(std::move(address)) {}
    UploadLimiter* owner_;
    std::string user_;
    std::string address_;
  };

  UploadLimiter(int per_user, int per_address) : per_user_(per_user), per_address_(per_address) {}

  // Takes a place for one more upload by `tenant`/`user` from `address`, or says
  // which limit is already reached (then nothing is counted).
  std::variant<Slot, Full> acquire(const std::string& tenant, const std::string& user,
                                   const std::string& address);

  // Uploads counted for an address (for tests and metrics).
  int running_from(const std::string& address) const;

 private:
  void release(const std::string& user, const std::string& address);

  int per_user_;
  int per_address_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, int> by_user_;  // only keys with a running upload
  std::unordered_map<std::string, int> by_address_;
};

}  // namespace streamer
