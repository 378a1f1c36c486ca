// Soft purge: an invalidation by tag that marks entries stale instead of
// removing them (what Fastly calls a soft purge), so that a route may serve
// them within their stale-while-revalidate window while one refresh runs and
// revalidates them (or misses) otherwise.
#pragma once

#include <optional>

#include "fcr/freshness.hpp"

namespace fcr::http {

// The timing of an entry made stale at `now`: its freshness lifetime ends at
// its current age (RFC 9111 section 4.2: "response_is_fresh =
// (freshness_lifetime > current_age)" no longer holds) and it is no longer
// unbounded; its stale windows, validators and flags are kept, so the stale
// windows count from now. nullopt when the entry is stale already (its
// windows then keep running from when it became stale).
std::optional<EntryTiming> stale_now(const EntryTiming& timing, double now) noexcept;

}  // namespace fcr::http
