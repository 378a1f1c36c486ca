#include "fcr/conditional.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include "fcr/http.hpp"
#include "field_syntax.hpp"

namespace fcr::http {
namespace {

using detail::iequals;

constexpr std::int64_t kSecondsPerDay = 86400;

// Proleptic Gregorian calendar <-> days since 1970-01-01 (H. Hinnant's
// algorithms), exact for every year representable here.
constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct Civil {
  std::int64_t year;
  unsigned month;
  unsigned day;
};

Civil civil_from_days(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2), m, d};
}

// IMF-fixdate has a four-digit year: 0000-01-01T00:00:00 .. 9999-12-31T23:59:59.
constexpr std::int64_t kMinEpoch = days_from_civil(0, 1, 1) * kSecondsPerDay;
constexpr std::int64_t kMaxEpoch = days_from_civil(10000, 1, 1) * kSecondsPerDay - 1;

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  const std::int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

bool leap_year(std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned days_in_month(std::int64_t y, unsigned m) {
  static constexpr std::array<unsigned, 12> kDays = {31, 28, 31, 30, 31, 30,
                                                     31, 31, 30, 31, 30, 31};
  return m == 2 && leap_year(y) ? 29 : kDays[m - 1];
}

constexpr std::array<std::string_view, 7> kDayNames = {"Sun", "Mon", "Tue", "Wed",
                                                       "Thu", "Fri", "Sat"};
constexpr std::array<std::string_view, 7> kLongDayNames = {
    "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"};
constexpr std::array<std::string_view, 12> kMonthNames = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

template <std::size_t N>
bool in_names(const std::array<std::string_view, N>& names, std::string_view word) {
  for (std::string_view n : names) {
    if (iequals(n, word)) return true;
  }
  return false;
}

// A cursor over the field value. Names and "GMT" match case-insensitively:
// RFC 9111 section 4.2 asks cache recipients to, although HTTP-date is
// case-sensitive.
class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}

  bool done() const { return pos_ == s_.size(); }

  bool literal(std::string_view lit) {
    if (!iequals(s_.substr(pos_, lit.size()), lit)) return false;
    pos_ += lit.size();
    return true;
  }

  std::string_view word() {
    const std::size_t start = pos_;
    while (pos_ < s_.size() && ((s_[pos_] >= 'a' && s_[pos_] <= 'z') ||
                                (s_[pos_] >= 'A' && s_[pos_] <= 'Z'))) {
      ++pos_;
    }
    return s_.substr(start, pos_ - start);
  }

  // Exactly `n` digits.
  std::optional<unsigned> digits(std::size_t n) {
    if (s_.size() - pos_ < n) return std::nullopt;
    unsigned v = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const char c = s_[pos_ + i];
      if (c < '0' || c > '9') return std::nullopt;
      v = v * 10 + static_cast<unsigned>(c - '0');
    }
    pos_ += n;
    return v;
  }

  // 1..12 for a three-letter month name.
  std::optional<unsigned> month() {
    const std::string_view w = s_.substr(pos_, 3);
    for (unsigned i = 0; i < kMonthNames.size(); ++i) {
      if (iequals(w, kMonthNames[i])) {
        pos_ += 3;
        return i + 1;
      }
    }
    return std::nullopt;
  }

 private:
  std::string_view s_;
  std::size_t pos_ = 0;
};

struct Fields {
  std::int64_t year = 0;
  unsigned month = 0, day = 0, hour = 0, minute = 0, second = 0;
};

// time-of-day = hour ":" minute ":" second; second 60 is a leap second.
bool parse_time(Cursor& c, Fields& f) {
  auto h = c.digits(2);
  if (!h || !c.literal(":")) return false;
  auto m = c.digits(2);
  if (!m || !c.literal(":")) return false;
  auto s = c.digits(2);
  if (!s || *h > 23 || *m > 59 || *s > 60) return false;
  f.hour = *h;
  f.minute = *m;
  f.second = *s;
  return true;
}

// "06 Nov 1994 08:49:37 GMT" after "Sun, ".
bool parse_imf_rest(Cursor& c, Fields& f) {
  auto d = c.digits(2);
  if (!d || !c.literal(" ")) return false;
  auto m = c.month();
  if (!m || !c.literal(" ")) return false;
  auto y = c.digits(4);
  if (!y || !c.literal(" ") || !parse_time(c, f) || !c.literal(" GMT")) return false;
  f.day = *d;
  f.month = *m;
  f.year = *y;
  return true;
}

// "06-Nov-94 08:49:37 GMT" after "Sunday, ". The two-digit year is taken in
// the century that puts it at most 50 years after now (RFC 9110 section
// 5.6.7), compared by calendar year.
bool parse_rfc850_rest(Cursor& c, Fields& f, std::int64_t now_epoch) {
  auto d = c.digits(2);
  if (!d || !c.literal("-")) return false;
  auto m = c.month();
  if (!m || !c.literal("-")) return false;
  auto yy = c.digits(2);
  if (!yy || !c.literal(" ") || !parse_time(c, f) || !c.literal(" GMT")) return false;
  const std::int64_t now = std::clamp(now_epoch, kMinEpoch, kMaxEpoch);
  const std::int64_t this_year = civil_from_days(floor_div(now, kSecondsPerDay)).year;
  std::int64_t year = this_year - this_year % 100 + *yy;
  if (year > this_year + 50) year -= 100;
  if (year <= this_year - 50) year += 100;
  f.day = *d;
  f.month = *m;
  f.year = year;
  return true;
}

// "Nov  6 08:49:37 1994" after "Sun ": the day is two digits or a space and a
// digit.
bool parse_asctime_rest(Cursor& c, Fields& f) {
  auto m = c.month();
  if (!m || !c.literal(" ")) return false;
  std::optional<unsigned> d = c.literal(" ") ? c.digits(1) : c.digits(2);
  if (!d || !c.literal(" ") || !parse_time(c, f) || !c.literal(" ")) return false;
  auto y = c.digits(4);
  if (!y) return false;
  f.day = *d;
  f.month = *m;
  f.year = *y;
  return true;
}

}  // namespace

std::optional<std::int64_t> parse_http_date(std::string_view value, std::int64_t now_epoch) {
  Cursor c(detail::trim_ows(value));
  Fields f;
  const std::string_view day_name = c.word();
  bool ok = false;
  if (in_names(kDayNames, day_name)) {
    if (c.literal(", ")) {
      ok = parse_imf_rest(c, f);
    } else if (c.literal(" ")) {
      ok = parse_asctime_rest(c, f);
    }
  } else if (in_names(kLongDayNames, day_name) && c.literal(", ")) {
    ok = parse_rfc850_rest(c, f, now_epoch);
  }
  // Anything after the date (e.g. a second list member) makes it invalid.
  if (!ok || !c.done()) return std::nullopt;
  if (f.month < 1 || f.month > 12 || f.day < 1 || f.day > days_in_month(f.year, f.month)) {
    return std::nullopt;
  }
  const std::int64_t t = days_from_civil(f.year, f.month, f.day) * kSecondsPerDay +
                         f.hour * 3600 + f.minute * 60 + f.second;
  if (t < kMinEpoch || t > kMaxEpoch) return std::nullopt;
  return t;
}

std::string format_http_date(std::int64_t epoch_seconds) {
  // Outside the four-digit years, the nearest representable instant.
  const std::int64_t t = std::clamp(epoch_seconds, kMinEpoch, kMaxEpoch);
  const std::int64_t days = floor_div(t, kSecondsPerDay);
  const auto secs = static_cast<unsigned>(t - days * kSecondsPerDay);
  const Civil date = civil_from_days(days);
  const auto weekday = static_cast<std::size_t>(((days % 7) + 11) % 7);  // 1970-01-01: Thursday
  std::string out;
  out.reserve(29);
  auto two = [&](unsigned v) {
    out.push_back(static_cast<char>('0' + v / 10));
    out.push_back(static_cast<char>('0' + v % 10));
  };
  out.append(kDayNames[weekday]).append(", ");
  two(date.day);
  out.push_back(' ');
  out.append(kMonthNames[date.month - 1]).push_back(' ');
  const auto year = static_cast<unsigned>(date.year);
  two(year / 100);
  two(year % 100);
  out.push_back(' ');
  two(secs / 3600);
  out.push_back(':');
  two(secs / 60 % 60);
  out.push_back(':');
  two(secs % 60);
  out.append(" GMT");
  return out;
}

bool is_not_modified(std::string_view method, std::string_view if_none_match,
                     bool has_if_none_match, std::string_view if_modified_since,
                     std::string_view etag, std::int64_t last_modified, std::int64_t now_epoch) {
  if (method != "GET" && method != "HEAD") return false;
  // RFC 9110 section 13.2.2: If-None-Match, when present, decides alone.
  if (has_if_none_match) return if_none_match_matches(if_none_match, etag);
  if (last_modified < 0) return false;
  // A field that is not exactly one valid HTTP-date (a list of several dates
  // included) is ignored (RFC 9110 section 13.1.3).
  const std::optional<std::int64_t> since = parse_http_date(if_modified_since, now_epoch);
  if (!since) return false;
  // A date later than our clock cannot come from a Last-Modified we sent;
  // it is ignored, as RFC 2616 section 14.25 required.
  if (*since > now_epoch) return false;
  return last_modified <= *since;
}

std::int64_t age_seconds(double stored_at, double now) noexcept {
  const double age = now - stored_at;
  if (!(age > 0)) return 0;  // also NaN
  constexpr double kMaxAge = 2147483648.0;  // 2^31 (RFC 9111 section 1.2.2)
  if (age >= kMaxAge) return static_cast<std::int64_t>(kMaxAge);
  return static_cast<std::int64_t>(std::floor(age));
}

}  // namespace fcr::http
