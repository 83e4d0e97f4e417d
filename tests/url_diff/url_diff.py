#!/usr/bin/env python3
"""url_diff: libdbconn's URL parser against SQLAlchemy 1.4's make_url().

    python3 url_diff.py --dump build/tests/url_diff/url_dump \
        --docs docs/urls.md          (ctest -R url_diff runs it)

Builds a corpus of URLs -- every URL written in the installed SQLAlchemy's
own documentation (the docstrings of its dialects and engine modules), the
examples of its "Database URLs" page (examples.txt), and generated variants
of user, password, host, IPv6 literal, port, database and query -- and
parses each one with SQLAlchemy and with dbconn_url_parse() (through
url_dump).  The run fails when

  * a component (dialect, driver, username, password, host, port, database,
    query) differs, or one side rejects a URL the other reads, and no row of
    the table "Differences from SQLAlchemy" in docs/urls.md explains it
    (every row is a predicate below, named by the row's id);
  * the table and the predicates disagree: a row without a predicate, a
    predicate without a row, or a row the corpus never exercises;
  * a password shows: for every URL with a password (as SQLAlchemy's grammar
    places it), a twin URL with that password's letters, digits and
    punctuation replaced by others of the same kind must give the very same
    result code, error message or masked rendering -- so no output depends
    on what the password says -- and a password with nothing to replace
    (four bytes or more, found nowhere else in the URL) must not appear in
    either.

Prints the figures (corpus size, components compared, differences per row)
and exits 0 when everything is explained, 1 otherwise.
"""

import argparse
import collections
import json
import os
import random
import re
import subprocess
import sys
import urllib.parse

import sqlalchemy
from sqlalchemy.engine.url import make_url

HERE = os.path.dirname(os.path.abspath(__file__))
COMPONENTS = ("dialect", "driver", "username", "password", "host", "port",
              "database", "query")

# --------------------------------------------------------------------------
# The corpus
# --------------------------------------------------------------------------

# A URL as SQLAlchemy's documentation writes them: a scheme, "://" and
# everything up to white space, a quote, a backtick, ')' or ','.
DOC_URL = re.compile(r"""[A-Za-z_][A-Za-z0-9_]*(?:\+[A-Za-z0-9_]+)?://"""
                     r"""[^\s"'`),]*""")


def documented_urls():
    """Every URL in the installed SQLAlchemy's dialect and engine modules
    (docstrings and comments), web links left out."""
    root = os.path.dirname(sqlalchemy.__file__)
    found = set()
    for sub in ("dialects", "engine"):
        for dirpath, _, files in os.walk(os.path.join(root, sub)):
            for name in files:
                if not name.endswith(".py"):
                    continue
                with open(os.path.join(dirpath, name), encoding="utf-8") as f:
                    text = f.read()
                for m in DOC_URL.finditer(text):
                    if not re.match(r"(?i)(https?|ftp)://", m.group(0)):
                        found.add(m.group(0))
    return sorted(found)


def page_examples():
    """examples.txt: one URL a line, '#' starts a comment line."""
    with open(os.path.join(HERE, "examples.txt"), encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f
                if line.strip() and not line.startswith("#")]


SCHEMES = ["postgresql", "postgresql+psycopg2", "postgresql+asyncpg",
           "mysql+pymysql", "mariadb+mariadbconnector", "mssql+pyodbc",
           "oracle+cx_oracle", "sqlite", "sqlite+aiosqlite", "SQLite",
           "my_db2+drv_1", "a+b+c", "pg+a-b", "b\u00e4se", "+pg", "pg+"]

# Raw text of each part as it would be written in a URL; None = absent.
USERS = [None, "", "scott", "dbuser", "u@x", "u?x", "u+x", "u%2Bx", "u%40x",
         "us%C3%A9r", "us\u00e9r", "u x", "u%zz", "u%", "u%00", "a#b", "[u]",
         "u%3Ax", "u%C3"]
PASSWORDS = [None, "", "tiger", "t+ger", "1/2", "80/", "kx%40jj5%2Fg",
             "kx@jj5/g", "p@ss", "a:b", "x?y", "x/y?z:w", "p%zz", "p%",
             "p%00", "p%C3", "p\u00e4ssw\u00f6rd", "pass word", "p#w", "[p]",
             "s3cr3t!$&'()*,;=", "hunter2/with/slashes?and=query", "p%2Fw",
             "::::", "%41%42%43%44"]
HOSTS = [None, "localhost", "db.example.com", "192.168.0.1", "h%41",
         "b\u00fccher.example", "my-host_1", "[::1]", "[2001:db8::7]",
         "[fe80::1%eth0]", "[fe80::1%25eth0]", "[::ffff:1.2.3.4]", "[]",
         "[::1", "[zz::1]", "[1.2.3.4]", "[fe80::1%]", "[fe80::1%e/0]",
         "ho st", "h#x", "a]b", "[::1]x", "[::1]]", "h\tx"]
PORTS = [None, "5432", "1", "65535", "065535", "0", "65536", "99999", "",
         "abc", "-1", "+5", " 5", "5:6", "1_0", "\u0665"]
DATABASES = [None, "", "db", "test", "my%20db.db", "my db.db", "%2F.db",
             "a/b/c.db", "/abs/path.db", "file:path", ":memory:",
             "%3Amemory%3A", "a@b", "a:b", "db#frag", "50%.db", "50%2",
             "caf%C3%A9", "caf\u00e9", "a%00b", "a+b", "%ff", "d;b",
             "C:\\path\\to\\foo.db", "a\tb", "a\x7fb"]
QUERIES = [None, "", "a=1", "a=1&b=2", "a=1&a=2&b=3&a=4", "ro", "a=",
           "driver=ODBC+Driver+17+for+SQL+Server", "application_name=my+app",
           "k%3D=v%26w", "a=b=c", "x=a%40b", "x=a@b", "x=%zz", "=v",
           "a=1&&b=2", "a=1&", "x=%ff", "a+b=c", "q=%2B", "q=%20",
           "sslmode=require", "host=/var/lib/postgresql", "x=a:b/c?d",
           "x=%00", "charset=utf8mb4&binary_prefix=true", "x=1\n", "x=%C3"]
PARTS = {"user": USERS, "password": PASSWORDS, "host": HOSTS, "port": PORTS,
         "database": DATABASES, "query": QUERIES}
BASE = {"user": "scott", "password": "tiger", "host": "localhost",
        "port": "5432", "database": "test", "query": None}
PAIRS = [("user", "password"), ("password", "host"), ("password", "port"),
         ("password", "database"), ("password", "query"), ("host", "port"),
         ("host", "database"), ("port", "database"), ("database", "query"),
         ("host", "query"), ("user", "host")]


def assemble(scheme, p):
    url = scheme + "://"
    if p["user"] is not None or p["password"] is not None:
        url += p["user"] or ""
        if p["password"] is not None:
            url += ":" + p["password"]
        url += "@"
    url += p["host"] or ""
    if p["port"] is not None:
        url += ":" + p["port"]
    if p["database"] is not None:
        url += "/" + p["database"]
    if p["query"] is not None:
        url += "?" + p["query"]
    return url


def generated_urls():
    urls = []
    # One part at a time, the others as in a plain server URL.
    for scheme in SCHEMES:
        for part, values in PARTS.items():
            for v in values:
                urls.append(assemble(scheme, dict(BASE, **{part: v})))
    # Two parts at a time, every combination.
    for a, b in PAIRS:
        for va in PARTS[a]:
            for vb in PARTS[b]:
                urls.append(assemble("postgresql",
                                     dict(BASE, **{a: va, b: vb})))
    # File URLs: database and query with no server parts.
    none = dict.fromkeys(BASE)
    for scheme in ("sqlite", "sqlite+aiosqlite", "sqlite+pysqlite"):
        for db in DATABASES:
            for q in QUERIES:
                urls.append(assemble(scheme, dict(none, database=db, query=q)))
    # Random combinations of everything (fixed seed: the same corpus on
    # every run).
    rnd = random.Random(18)
    for _ in range(2000):
        urls.append(assemble(rnd.choice(SCHEMES),
                             {k: rnd.choice(v) for k, v in PARTS.items()}))
    # The length limit.
    urls.append("postgresql://scott:tiger@localhost/" + "a" * 70000)
    return urls


def corpus():
    docs = documented_urls() + page_examples()
    seen, urls = set(), []
    for u in docs + generated_urls():
        if u not in seen:
            seen.add(u)
            urls.append(u)
    return urls, len(set(docs))

# --------------------------------------------------------------------------
# Both parsers
# --------------------------------------------------------------------------


def sqlalchemy_parse(url):
    try:
        u = make_url(url)
    except Exception as e:  # SQLAlchemy raises ArgumentError or ValueError
        return {"error": "%s: %s" % (type(e).__name__, e)}
    dialect, plus, driver = u.drivername.partition("+")
    query = collections.OrderedDict()
    for k, v in u.query.items():
        query[k] = list(v) if isinstance(v, tuple) else [v]
    return {"dialect": dialect, "driver": driver if plus else None,
            "username": u.username, "password": u.password, "host": u.host,
            "port": u.port, "database": u.database, "query": query}


def dbconn_parse_all(dump, urls):
    data = "".join(u.encode("utf-8").hex() + "\n" for u in urls)
    run = subprocess.run([dump], input=data.encode("ascii"),
                         stdout=subprocess.PIPE, check=False)
    if run.returncode != 0:
        sys.exit("url_diff: url_dump exited with %d" % run.returncode)
    lines = run.stdout.decode("utf-8", "surrogateescape").splitlines()
    if len(lines) != len(urls):
        sys.exit("url_diff: url_dump answered %d lines for %d URLs"
                 % (len(lines), len(urls)))
    out = []
    for line in lines:
        r = json.loads(line)
        if r["rc"] != 0:
            out.append({"error": r["err"], "msg": r["msg"]})
            continue
        query = collections.OrderedDict()
        for k, v in r["query"]:
            query.setdefault(k, []).append(v)
        r["query"] = query
        r["port"] = r["port"] or None
        out.append(r)
    return out


def differing(sa, ours):
    return [c for c in COMPONENTS if sa[c] != ours[c]]

# --------------------------------------------------------------------------
# The password as SQLAlchemy's grammar places it
# --------------------------------------------------------------------------


def password_span(url):
    """(start, end) of the password's raw text, or None: after the first
    "://", the username runs to the first ':' or '/'; a ':' there followed
    by an '@' anywhere makes the text between them the password."""
    auth = url.find("://")
    if auth < 0:
        return None
    auth += 3
    m = re.compile(r"[^:/]*").match(url, auth)
    colon = m.end()
    if colon >= len(url) or url[colon] != ":":
        return None
    at = url.find("@", colon + 1)
    return (colon + 1, at) if at >= 0 else None


ROTATIONS = ["abcdef", "ghijklmnopqrstuvwxyz", "ABCDEF",
             "GHIJKLMNOPQRSTUVWXYZ", "0123456789", "!$&'()*+,;=-._~",
             "\"<>\\^`{|} ", "#/:?[]"]
NEXT = {c: s[(i + 1) % len(s)] for s in ROTATIONS for i, c in enumerate(s)}


def rotate(text):
    """Every byte the parser reads only as data replaced by another of its
    kind; a '%' and the two bytes after it stay (they are an escape, or a
    bad one, either way what the parser checks)."""
    out, keep = [], 0
    for c in text:
        if keep:
            keep -= 1
            out.append(c)
        elif c == "%":
            keep = 2
            out.append(c)
        else:
            out.append(NEXT.get(c, c))
    return "".join(out)


def shown(r):
    return r.get("msg") if "error" in r else r.get("masked")

# --------------------------------------------------------------------------
# The documented differences (docs/urls.md, "Differences from SQLAlchemy")
# --------------------------------------------------------------------------

PORT_OK = re.compile(r"[0-9]+")
IPV6_OK = re.compile(r"[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(%[A-Za-z0-9._~-]+)?")
NAME_OK = re.compile(r"[A-Za-z0-9_]+(\+[A-Za-z0-9_]+)?")


def detail(ours):
    """The message after the quoted URL (the quote shows '"' as \\x22, so
    its end is the first '": ')."""
    return ours["msg"].split('": ', 1)[1]


def position(msg):
    m = re.search(r"at position ([0-9]+)", msg)
    return int(m.group(1)) if m else None


def raw_at(url, pos):
    return url.encode("utf-8")[pos:].decode("utf-8", "replace")


def row_port(url, sa, ours, diff):
    """We reject a port SQLAlchemy's int() takes: not decimal digits, or
    outside 1-65535."""
    if "error" not in ours or "error" in sa:
        return False
    if not detail(ours).startswith("bad port"):
        return False
    text = re.match(r"[^/?]*", raw_at(url, position(detail(ours)))).group(0)
    return (not PORT_OK.fullmatch(text) or not 1 <= int(text) <= 65535)


def row_host(url, sa, ours, diff):
    """We reject a host name with a space, '[', ']', '#' or a control
    character, which SQLAlchemy keeps."""
    if "error" not in ours or "error" in sa:
        return False
    if not re.match(r"invalid character .+? in the host at position",
                    detail(ours)):
        return False
    return raw_at(url, position(detail(ours)))[:1] in " []#"


def row_ipv6(url, sa, ours, diff):
    """We check an IPv6 literal and what follows its ']'; SQLAlchemy takes
    anything up to the last ']' and drops what it cannot place after it."""
    if "error" not in ours or "error" in sa:
        return False
    msg = detail(ours)
    if not re.search(r"IPv6|unterminated '\['", msg):
        return False
    raw = url.encode("utf-8")
    start = raw.rfind(b"[", 0, position(msg) + 1)
    if start < 0:
        return False
    section = re.match(rb"[^/?]*", raw[start:]).group(0).decode("utf-8",
                                                                "replace")
    close = section.find("]")
    if close < 0:
        return True
    inside, after = section[1:close], section[close + 1:]
    return (not IPV6_OK.fullmatch(inside) or
            not re.fullmatch(r"(:.*)?", after, re.S))


def row_scheme(url, sa, ours, diff):
    """We take ASCII letters, digits and '_', and one '+' with a name on
    both sides; SQLAlchemy takes any word characters and any '+'."""
    if "error" not in ours or "error" in sa:
        return False
    if not re.search(r"dialect|driver", detail(ours)):
        return False
    return not NAME_OK.fullmatch(url[:url.find("://")])


def row_sqlite(url, sa, ours, diff):
    """We reject a sqlite URL with a username (even empty), a password, a
    host or a port; make_url() takes it (pysqlite rejects it only when an
    engine is created, and not an empty username)."""
    if "error" not in ours or "error" in sa:
        return False
    return ("a sqlite URL names a file" in detail(ours) and
            sa["dialect"].lower() == "sqlite" and
            (sa["username"] is not None or sa["password"] is not None or
             sa["host"] is not None or sa["port"] is not None))


def row_escape(url, sa, ours, diff):
    """We reject a '%' without two hex digits, and an escape that decodes to
    NUL or to invalid UTF-8 in a decoded part; SQLAlchemy keeps the text,
    the NUL, or a U+FFFD."""
    if "error" not in ours or "error" in sa:
        return False
    msg = detail(ours)
    if "invalid percent escape" in msg:
        esc = raw_at(url, position(msg))
        return esc[:1] == "%" and not re.match(r"%[0-9A-Fa-f]{2}", esc)
    if "percent-encoded NUL" in msg:
        return raw_at(url, position(msg))[:3] == "%00"
    return "after percent-decoding" in msg


def row_control(url, sa, ours, diff):
    """We reject control characters anywhere; SQLAlchemy keeps them (its
    query stops at a newline)."""
    return ("error" in ours and "control character" in detail(ours) and
            re.search(r"[\x00-\x1f\x7f]", url) is not None)


def row_limit(url, sa, ours, diff):
    """We reject a URL over 65536 bytes."""
    return ("error" in ours and "URL is too long" in detail(ours) and
            len(url.encode("utf-8")) > 65536)


def row_query_empty_value(url, sa, ours, diff):
    """A key without '=' or with an empty value is kept with the value "";
    parse_qsl() drops it."""
    if "error" in ours or "error" in sa or "query" not in diff:
        return False
    kept = collections.OrderedDict()
    for k, vs in ours["query"].items():
        vs = [v for v in vs if v != ""]
        if vs:
            kept[k] = vs
    return {"query"} if kept == sa["query"] else False


def row_query_empty_key(url, sa, ours, diff):
    """An empty key ("?=v"), an empty pair ("&&") or a trailing '&' is an
    error; parse_qsl() keeps the key "" and skips empty pairs."""
    if "error" not in ours or "error" in sa:
        return False
    if "empty key in the query" not in detail(ours):
        return False
    rest = raw_at(url, position(detail(ours)))
    return rest == "" or rest[0] in "=&"


def row_at_in_password(url, sa, ours, diff):
    """A raw '@' in the password: ours runs on to the last '@' before the
    host; SQLAlchemy's ends at the first, and the rest goes to its host (or
    its port, which then is no number)."""
    if "error" in ours or ours["password"] is None:
        return False
    span = password_span(url)
    if not span:
        return False
    first = urllib.parse.unquote(url[span[0]:span[1]])
    if not ours["password"].startswith(first + "@"):
        return False
    if "error" in sa:
        return "invalid literal for int()" in sa["error"]
    rest = ours["password"][len(first) + 1:]
    if sa["password"] != first or sa["host"] is None or \
            not sa["host"].startswith(url[span[1] + 1:].split("@")[0] + "@"):
        return False
    return {"password", "host"} if rest else False


ROWS = {
    "port": row_port,
    "host": row_host,
    "ipv6": row_ipv6,
    "scheme": row_scheme,
    "sqlite": row_sqlite,
    "escape": row_escape,
    "control": row_control,
    "limit": row_limit,
    "query-empty-value": row_query_empty_value,
    "query-empty-key": row_query_empty_key,
    "at-in-password": row_at_in_password,
}


def documented_rows(docs):
    """The ids of the table under "## Differences from SQLAlchemy"."""
    with open(docs, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"^## Differences from SQLAlchemy\n(.*?)(?=^## |\Z)", text,
                  re.M | re.S)
    if not m:
        sys.exit("url_diff: %s has no section \"## Differences from "
                 "SQLAlchemy\"" % docs)
    return re.findall(r"^\| `([a-z0-9-]+)` \|", m.group(1), re.M)

# --------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dump", required=True, help="the url_dump program")
    ap.add_argument("--docs", required=True, help="docs/urls.md")
    ap.add_argument("--show", type=int, default=20,
                    help="failures to print (default 20)")
    ap.add_argument("--list", metavar="ROW",
                    help="print every URL a row explains, then the figures")
    args = ap.parse_args()

    problems = []
    rows = documented_rows(args.docs)
    for r in sorted(set(rows) ^ set(ROWS)):
        problems.append("table row and predicates disagree on `%s` (%s)"
                        % (r, "no predicate" if r in rows else "not in "
                           "docs/urls.md"))

    urls, ndocs = corpus()
    ours = dbconn_parse_all(args.dump, urls)
    sa = [sqlalchemy_parse(u) for u in urls]

    # Password twins: the same URL with the password's readable bytes
    # replaced.
    twins = {}
    for i, u in enumerate(urls):
        span = password_span(u)
        if span:
            twins[i] = (span, u[:span[0]] + rotate(u[span[0]:span[1]]) +
                        u[span[1]:])
    twin_keys = sorted(twins)
    twin_out = dict(zip(twin_keys, dbconn_parse_all(
        args.dump, [twins[i][1] for i in twin_keys])))

    stats = collections.Counter()
    per_row = collections.Counter()
    unexplained = []
    for i, url in enumerate(urls):
        s, o = sa[i], ours[i]
        if "error" in s and "error" in o:
            stats["both reject"] += 1
            continue
        diff = []
        if "error" not in s and "error" not in o:
            stats["both parse"] += 1
            diff = differing(s, o)
            stats["components compared"] += len(COMPONENTS)
            stats["components equal"] += len(COMPONENTS) - len(diff)
            if not diff:
                continue
        else:
            stats["one side rejects"] += 1
        # A URL read by one side only is explained by one row; components
        # that differ may be explained by several together.
        hits, covered = [], set()
        for r, pred in ROWS.items():
            got = pred(url, s, o, diff)
            if got and (not diff or isinstance(got, set)):
                hits.append(r)
                covered |= got if isinstance(got, set) else set()
                if not diff:
                    break
        if hits and covered >= set(diff):
            for r in hits:
                per_row[r] += 1
                if args.list == r:
                    print("%s: %r\n  sqlalchemy: %s\n  dbconn:     %s"
                          % (r, url, s.get("error", s), o.get("msg", o)))
        else:
            unexplained.append((url, s, o, diff))

    # Passwords.
    for i in twin_keys:
        (b, e), twin = twins[i]
        url, o, t = urls[i], ours[i], twin_out[i]
        s = sa[i]
        if "error" not in s and s["password"] is not None and \
                urllib.parse.unquote(url[b:e]) != s["password"]:
            problems.append("the password span of %r is not SQLAlchemy's "
                            "password %r" % (url, s["password"]))
        stats["passwords checked"] += 1
        if o.get("error") != t.get("error") or shown(o) != shown(t):
            problems.append("output depends on the password of %r:\n  %s\n"
                            "  twin %r:\n  %s" % (url, shown(o), twin,
                                                  shown(t)))
            continue
        secret = url[b:e]
        if twin == url and len(secret) >= 4 and \
                secret not in url[:b] + "\0" + url[e:] and secret in shown(o):
            problems.append("password %r shown for %r: %s"
                            % (secret, url, shown(o)))

    for u, s, o, diff in unexplained:
        problems.append("unexplained difference for %r (%s):\n"
                        "  sqlalchemy: %s\n  dbconn:     %s"
                        % (u, ", ".join(diff) or "one side rejects",
                           s.get("error") or {c: s[c] for c in COMPONENTS},
                           o.get("msg") or {c: o[c] for c in COMPONENTS}))
    for r in rows:
        if r in ROWS and not per_row[r]:
            problems.append("table row `%s` is never exercised by the corpus"
                            % r)

    print("url_diff: SQLAlchemy %s; corpus %d URLs (%d from SQLAlchemy's "
          "documentation, %d generated)"
          % (sqlalchemy.__version__, len(urls), ndocs, len(urls) - ndocs))
    print("url_diff: both parse %d URLs: %d components compared, %d equal; "
          "both reject %d; one side rejects %d"
          % (stats["both parse"], stats["components compared"],
             stats["components equal"], stats["both reject"],
             stats["one side rejects"]))
    print("url_diff: documented differences: " + ", ".join(
        "%s %d" % (r, per_row[r]) for r in rows))
    print("url_diff: %d URLs with a password checked against their twins"
          % stats["passwords checked"])
    print("url_diff: %d unexplained differences" % len(unexplained))
    for p in problems[:args.show]:
        print("url_diff: FAIL: " + p)
    if len(problems) > args.show:
        print("url_diff: FAIL: ... and %d more (--show N prints more)"
              % (len(problems) - args.show))
    print("url_diff: %s" % ("FAILED" if problems else "passed"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
