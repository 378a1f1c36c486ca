// Soft purge: the timing of an entry made stale now.
#include "fcr/purge.hpp"

#include <gtest/gtest.h>

namespace {

using fcr::http::current_age;
using fcr::http::decide_reuse;
using fcr::http::EntryTiming;
using fcr::http::Reuse;
using fcr::http::stale_now;
using fcr::http::store_ttl;

constexpr double kT = 1767225600;  // a fixed instant: no test reads a clock

EntryTiming timing(double lifetime, double swr = 0, double sie = 0) {
  EntryTiming t;
  t.stored_at = kT;
  t.initial_age = 5;
  t.lifetime = lifetime;
  t.stale_while_revalidate = swr;
  t.stale_if_error = sie;
  return t;
}

TEST(StaleNow, AFreshEntryBecomesStaleNowWithItsWindowsStartingNow) {
  const double now = kT + 10;
  const auto stale = stale_now(timing(60, 30, 90), now);
  ASSERT_TRUE(stale.has_value());
  EXPECT_DOUBLE_EQ(stale->lifetime, current_age(*stale, now));  // age 15
  EXPECT_DOUBLE_EQ(stale->lifetime, 15);
  EXPECT_FALSE(stale->unbounded);
  EXPECT_DOUBLE_EQ(stale->stale_while_revalidate, 30);
  EXPECT_DOUBLE_EQ(stale->stale_if_error, 90);
  // RFC 9111 section 4.2: fresh only while freshness_lifetime > current_age.
  EXPECT_EQ(decide_reuse(*stale, now, false).reuse, Reuse::stale_while_revalidate);
  EXPECT_EQ(decide_reuse(*stale, now + 29, false).reuse, Reuse::stale_while_revalidate);
  EXPECT_EQ(decide_reuse(*stale, now + 30, true).reuse, Reuse::revalidate);
  EXPECT_EQ(decide_reuse(*stale, now + 30, false).reuse, Reuse::miss);
  // Kept for the longest stale window (or `keep`) from now.
  EXPECT_DOUBLE_EQ(store_ttl(*stale, now, 10), 90);
  EXPECT_DOUBLE_EQ(store_ttl(*stale, now, 300), 300);
}

TEST(StaleNow, AnUnboundedEntryGetsABoundedLifetime) {
  EntryTiming t = timing(0);
  t.unbounded = true;
  const auto stale = stale_now(t, kT + 100);
  ASSERT_TRUE(stale.has_value());
  EXPECT_FALSE(stale->unbounded);
  EXPECT_DOUBLE_EQ(stale->lifetime, 105);
  EXPECT_EQ(decide_reuse(*stale, kT + 100, true).reuse, Reuse::revalidate);
  EXPECT_GT(store_ttl(*stale, kT + 100, 300), 0);  // no longer kept forever
}

TEST(StaleNow, AStaleEntryIsLeftAsItIs) {
  EXPECT_FALSE(stale_now(timing(60, 30), kT + 55).has_value());  // age 60: stale
  EXPECT_FALSE(stale_now(timing(0), kT).has_value());
  EXPECT_TRUE(stale_now(timing(60, 30), kT + 54.9).has_value());
}

TEST(StaleNow, FlagsAndValidatorsAreKept) {
  EntryTiming t = timing(60);
  t.must_revalidate = true;
  t.heuristic = true;
  const auto stale = stale_now(t, kT);
  ASSERT_TRUE(stale.has_value());
  EXPECT_TRUE(stale->must_revalidate);
  EXPECT_TRUE(stale->heuristic);
  EXPECT_DOUBLE_EQ(stale->stored_at, kT);
  EXPECT_DOUBLE_EQ(stale->initial_age, 5);
  // must-revalidate: never served stale (RFC 9111 section 5.2.2.2).
  EXPECT_EQ(decide_reuse(*stale, kT, true).reuse, Reuse::revalidate);
}

}  // namespace
