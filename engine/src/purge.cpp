#include "fcr/purge.hpp"

namespace fcr::http {

std::optional<EntryTiming> stale_now(const EntryTiming& timing, double now) noexcept {
  const double age = current_age(timing, now);
  if (!timing.unbounded && age >= timing.lifetime) return std::nullopt;
  EntryTiming stale = timing;
  stale.unbounded = false;
  stale.lifetime = age;
  return stale;
}

}  // namespace fcr::http
