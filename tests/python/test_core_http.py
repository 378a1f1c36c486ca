"""Property tests of the engine's HTTP parsers through the binding.

Any text in, no exception out; round trips where they exist; and the query
decoder agrees with Starlette's ``QueryParams`` on arbitrary bytes.
"""

from __future__ import annotations

import calendar
import datetime as dt
import email.utils

from hypothesis import example, given, settings
from hypothesis import strategies as st
from starlette.datastructures import QueryParams

from fastapi_caching_route import _core

NOW = 1_767_225_600  # 2026-01-01T00:00:00Z
MIN_EPOCH = -62_167_219_200  # 0000-01-01T00:00:00Z
MAX_EPOCH = 253_402_300_799  # 9999-12-31T23:59:59Z
TWO_31 = 2**31

props = settings(max_examples=300, deadline=None)

# Header-ish text: mostly the characters the grammars care about, plus anything.
# fmt: off
_HEADER_ATOMS = [
    ",", ", ", "=", '"', "\\", " ", "\t", "*", "W/", "-", ":", ";",
    "max-age", "s-maxage", "no-store", "no-cache", "private", "public", "must-revalidate",
    "stale-while-revalidate", "stale-if-error", "immutable", "0", "5", "60", "99999999999",
    "Sun", "Sunday", "Nov", "GMT", "06", " 6", "1994", "94", "08:49:37",
    '"abc"', 'W/"abc"', "Accept", "accept-encoding",
]
# fmt: on
header_text = st.one_of(
    st.text(),
    st.lists(st.one_of(st.sampled_from(_HEADER_ATOMS), st.text(max_size=3)), max_size=12).map(
        "".join
    ),
)
epochs = st.integers(min_value=MIN_EPOCH, max_value=MAX_EPOCH)
datetimes = st.datetimes(
    min_value=dt.datetime(1000, 1, 1), max_value=dt.datetime(9999, 12, 31, 23, 59, 59)
).map(lambda d: d.replace(microsecond=0))


def _epoch(d: dt.datetime) -> int:
    return calendar.timegm(d.timetuple())


# --- no exception out -------------------------------------------------------


@props
@given(header_text)
@example('max-age="5, no-store')
@example("\\")
def test_parse_cache_control_never_raises(value: str) -> None:
    cc = _core.parse_cache_control(value)
    for n in (cc.max_age, cc.s_maxage, cc.stale_while_revalidate, cc.stale_if_error):
        assert n is None or 0 <= n <= TWO_31
    # A later no-store is never hidden, not even by an unterminated quote.
    assert _core.parse_cache_control(value + ", no-store").no_store


@props
@given(header_text, st.booleans(), st.floats(allow_nan=True), st.booleans(), st.booleans())
def test_decide_storage_never_raises(
    value: str, set_cookie: bool, route_ttl: float, ignore: bool, store_cookie: bool
) -> None:
    verdict, ttl, revalidate, swr, sie = _core.decide_storage(
        value, set_cookie, route_ttl, ignore, store_cookie
    )
    assert verdict in {"store", "no_store", "private", "set_cookie", "zero_lifetime"}
    assert ttl >= 0 and swr >= 0 and sie >= 0
    assert isinstance(revalidate, bool)
    if set_cookie and not store_cookie:
        assert verdict != "store"


@props
@given(st.none() | header_text, st.none() | header_text)
def test_request_directives_never_raise(cache_control: str | None, pragma: str | None) -> None:
    bypass, skip = _core.request_directives(cache_control, pragma)
    if cache_control is None:
        assert not skip
        assert bypass == _core.parse_cache_control(pragma or "").no_cache


@props
@given(header_text, st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_parse_http_date_never_raises(value: str, now: int) -> None:
    t = _core.parse_http_date(value, now)
    assert t is None or MIN_EPOCH <= t <= MAX_EPOCH


@props
@given(
    st.sampled_from(["GET", "HEAD", "POST", "get", ""]),
    st.none() | header_text,
    st.none() | header_text,
    st.sampled_from(['"abc"', 'W/"abc"', "", "abc", '"a,b"']),
    st.integers(min_value=-1, max_value=MAX_EPOCH),
)
def test_is_not_modified_never_raises(
    method: str, inm: str | None, ims: str | None, etag: str, last_modified: int
) -> None:
    result = _core.is_not_modified(method, inm, ims, etag, last_modified, NOW)
    if method not in ("GET", "HEAD"):
        assert result is False
    elif inm is not None:  # If-None-Match, even malformed, decides alone
        assert result == _core.if_none_match_matches(inm, etag)


@props
@given(header_text, header_text)
def test_if_none_match_never_raises(inm: str, etag: str) -> None:
    matched = _core.if_none_match_matches(inm, etag)
    # Only a well-formed ETag, which "*" matches, can ever match.
    assert not matched or _core.if_none_match_matches("*", etag)


@props
@given(header_text, st.lists(st.text(max_size=12).filter(lambda s: "," not in s), max_size=4))
def test_vary_never_raises_and_merge_is_idempotent(existing: str, extra: list[str]) -> None:
    star, names = _core.parse_vary(existing)
    ascii_lower = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
    assert all(n and n == n.translate(ascii_lower) and n.strip(" \t") == n for n in names)
    assert len(set(names)) == len(names)
    merged = _core.merge_vary(existing, extra)
    assert _core.merge_vary(merged, []) == merged
    assert _core.merge_vary(merged, extra) == merged
    if star:
        assert merged == "*"


# --- round trips -------------------------------------------------------------


@props
@given(epochs)
@example(MIN_EPOCH)
@example(MAX_EPOCH)
@example(0)
@example(-1)
def test_http_date_round_trip(t: int) -> None:
    s = _core.format_http_date(t)
    assert len(s) == 29
    assert _core.parse_http_date(s, NOW) == t


@props
@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_format_http_date_clamps(t: int) -> None:
    assert _core.parse_http_date(_core.format_http_date(t), NOW) == min(
        max(t, MIN_EPOCH), MAX_EPOCH
    )


@props
@given(st.integers(min_value=-(2**35), max_value=2**37))
def test_format_http_date_matches_email_utils(t: int) -> None:
    s = _core.format_http_date(t)
    assert s == email.utils.formatdate(t, usegmt=True)
    assert _core.parse_http_date(s, NOW) == _epoch(email.utils.parsedate_to_datetime(s))


@props
@given(datetimes)
def test_three_formats_agree(d: dt.datetime) -> None:
    t = _epoch(d)
    imf = d.strftime("%a, %d %b %Y %H:%M:%S GMT")
    rfc850 = d.strftime("%A, %d-%b-%y %H:%M:%S GMT")
    asctime = d.strftime("%a %b ") + f"{d.day:2d}" + d.strftime(" %H:%M:%S %Y")
    assert imf == _core.format_http_date(t)
    assert _core.parse_http_date(imf, NOW) == t
    assert _core.parse_http_date(asctime, NOW) == t
    # The two-digit year is read relative to "now": within 50 years of it.
    assert _core.parse_http_date(rfc850, t) == t
    assert _core.parse_http_date(rfc850, t + 49 * 365 * 86400) == t


@props
@given(st.integers(min_value=0, max_value=99), st.integers(min_value=1900, max_value=9900))
def test_rfc850_fifty_year_rule(yy: int, this_year: int) -> None:
    now = _epoch(dt.datetime(this_year, 7, 1))
    t = _core.parse_http_date(f"Monday, 01-Jan-{yy:02d} 00:00:00 GMT", now)
    assert t is not None
    year = (dt.datetime(1970, 1, 1) + dt.timedelta(seconds=t)).year
    assert year % 100 == yy
    assert this_year - 50 < year <= this_year + 50


@props
@given(epochs, st.sampled_from(["GET", "HEAD"]), st.integers(min_value=-5, max_value=5))
def test_if_modified_since(t: int, method: str, delta: int) -> None:
    ims = _core.format_http_date(t)
    now = max(t, NOW)
    last_modified = t + delta
    expected = 0 <= last_modified <= t
    assert _core.is_not_modified(method, None, ims, '"e"', last_modified, now) == expected
    # A list of two dates is not a valid If-Modified-Since.
    assert not _core.is_not_modified(method, None, f"{ims}, {ims}", '"e"', last_modified, now)
    # A date after "now" is ignored.
    assert not _core.is_not_modified(method, None, ims, '"e"', last_modified, t - 1)


@props
@given(st.floats(allow_nan=True), st.floats(allow_nan=True))
def test_age_seconds(stored_at: float, now: float) -> None:
    age = _core.age_seconds(stored_at, now)
    assert 0 <= age <= TWO_31
    if 0 <= now - stored_at < TWO_31:
        assert age == int(now - stored_at)


# --- query strings: exactly Starlette's QueryParams ------------------------

# fmt: off
_QUERY_ATOMS = [
    b"&", b"=", b"+", b"%", b"%2", b"%20", b"%26", b"%3D", b"%2B", b"%25", b"%C3", b"%A9",
    b"%c3%a9", b"%E2%82", b"%AC", b"%F0%9F%98%80", b"%ED%A0%80", b"%C0%AF", b"%FF", b"%ZZ",
    b"%0", b"%00", b"\xc3", b"\xa9", b"\xe9", b"\xff", b"\x00", b"a", b"b", b"key", b" ", b";",
]
# fmt: on
raw_queries = st.one_of(
    st.binary(max_size=64),
    st.lists(st.sampled_from(_QUERY_ATOMS), max_size=20).map(b"".join),
    st.text(max_size=32).map(lambda s: s.encode("utf-8")),
)


@props
@given(raw_queries)
@example(b"%C3\xa9")
@example(b"a=%F0%9F&b")
@example(b"&&=&")
def test_parse_query_matches_starlette(raw: bytes) -> None:
    assert _core.parse_query(raw) == QueryParams(raw).multi_items()
