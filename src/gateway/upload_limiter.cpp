#include "gateway/upload_limiter.hpp"

#include <utility>

namespace streamer {

namespace {

// One key per (tenant, user): the tenant's length first, so no two pairs share a key
// whatever characters the ids hold.
std::string user_key(const std::string& tenant, const std::string& user) {
  return std::to_string(tenant.size()) + ':' + tenant + user;
}

void decrement(std::unordered_map<std::string, int>& counts, const std::string& key) {
  auto it = counts.find(key);
  if (it != counts.end() && --it->second <= 0) counts.erase(it);
}

}  // namespace

UploadLimiter::Slot::Slot(Slot&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)),
      user_(std::move(other.user_)),
      address_(std::move(other.address_)) {}

UploadLimiter::Slot::~Slot() {
  if (owner_) owner_->release(user_, address_);
}

std::variant<UploadLimiter::Slot, UploadLimiter::Full> UploadLimiter::acquire(
    const std::string& tenant, const std::string& user, const std::string& address) {
  std::string key = user_key(tenant, user);
  std::lock_guard lock(mutex_);
  auto user_it = by_user_.find(key);
  if (user_it != by_user_.end() && user_it->second >= per_user_) return Full::kUser;
  auto addr_it = by_address_.find(address);
  if (addr_it != by_address_.end() && addr_it->second >= per_address_) return Full::kAddress;
  ++by_user_[key];
  ++by_address_[address];
  return Slot(this, std::move(key), address);
}

int UploadLimiter::running_from(const std::string& address) const {
  std::lock_guard lock(mutex_);
  auto it = by_address_.find(address);
  return it == by_address_.end() ? 0 : it->second;
}

void UploadLimiter::release(const std::string& user, const std::string& address) {
  std::lock_guard lock(mutex_);
  decrement(by_user_, user);
  decrement(by_address_, address);
}

}  // namespace streamer
