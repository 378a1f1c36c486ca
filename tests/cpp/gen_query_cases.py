#!/usr/bin/env python3
"""Prints the kParseQueryCases table of key_test.cpp.

The expectations come from the reference behaviour the engine must match,
Starlette's QueryParams: parse_qsl(raw.decode("latin-1"), keep_blank_values=True),
with every result encoded as UTF-8. Rerun after adding inputs:
    python3 tests/cpp/gen_query_cases.py
and paste the output between the BEGIN/END GENERATED markers.
"""

from urllib.parse import parse_qsl

INPUTS = [
    # Splitting.
    b"",
    b"&",
    b"&&",
    b"a",
    b"a=",
    b"=",
    b"=b",
    b"a=1",
    b"a=1&b=2",
    b"a=1&&b=2&",
    b"&a=1",
    b"a=1=2",
    b"a==",
    b"a=1;b=2",
    b"a&b",
    b"a=1&a=2&a=3",
    b"b=2&a=1",
    # '+' and spaces.
    b"a+b=c+d",
    b"a=%2B",
    b"a=+%20+",
    b"a%20b=1",
    b"a=%2b%2B",
    # Valid escapes, either case.
    b"a=%61",
    b"%61=%62",
    b"a=%3d%3D",
    b"a=%26",
    b"x=%C3%A9",
    b"x=%c3%a9",
    b"x=%E2%82%AC",
    b"x=%F0%9F%98%80",
    b"x=%00",
    b"x=%7F",
    b"%3F%23=%25",
    # Invalid or truncated escapes stay literal.
    b"a=%zz",
    b"a=%",
    b"a=%%",
    b"a=%%41",
    b"a=%4",
    b"a=%4g",
    b"a=100%",
    b"a=%G1",
    b"%=%",
    # Invalid UTF-8 after decoding: one U+FFFD per maximal subpart.
    b"x=%FF",
    b"x=%80",
    b"x=%C3",
    b"x=%C3x",
    b"x=%E2%82",
    b"x=%E2%82x",
    b"x=%F0%9F%98",
    b"x=%C0%AF",
    b"x=%C1%BF",
    b"x=%E0%80%80",
    b"x=%E0%9F%BF",
    b"x=%ED%A0%80",
    b"x=%ED%9F%BF",
    b"x=%F0%8F%BF%BF",
    b"x=%F4%90%80%80",
    b"x=%F4%8F%BF%BF",
    b"x=%F5%80%80%80",
    b"x=%C3%A9%FF%C3%A9",
    b"x=%E2%28%A1",
    b"x=%80%80",
    # Raw bytes >= 0x80 are Latin-1 code points, never UTF-8 decoded.
    b"x=\xc3\xa9",
    b"\xe9=\xff",
    b"x=\x80",
    b"x=\xc3\xa9%20",
    b"x=a\xe9b",
    # ASCII and non-ASCII runs are decoded separately.
    b"x=%C3\xa9",
    b"x=\xc3%A9",
    b"x=%E2\x82%AC",
    b"x=%\xe9",
    b"x=%4\xe9",
    # Control characters pass through.
    b"x=\x00y",
    b"x=\t\n",
]


def c_literal(data: bytes) -> str:
    out = []
    for b in data:
        if b in (0x22, 0x5C) or b < 0x20 or b >= 0x7F or b == 0x3F:  # '?' avoids trigraphs
            out.append(f"\\{b:03o}")
        else:
            out.append(chr(b))
    return '"' + "".join(out) + '"sv'


def main() -> None:
    for raw in INPUTS:
        items = parse_qsl(raw.decode("latin-1"), keep_blank_values=True)
        pairs = ", ".join(f"{{{c_literal(k.encode())}, {c_literal(v.encode())}}}" for k, v in items)
        print(f"    {{{c_literal(raw)}, {{{pairs}}}}},")


if __name__ == "__main__":
    main()
