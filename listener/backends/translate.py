"""Our SQLite statements as PostgreSQL runs them: rewritten once per distinct SQL string.

The modules write SQL for SQLite (`?` parameters, `INSERT OR IGNORE`, 2-argument MAX, SQLite's NULL
ordering...). Rather than fork 27 modules, the PostgreSQL connection rewrites each statement here, on
a token stream (string literals and quoted names are never touched), and caches the result. Rules are
mechanical and each one is for a construct our modules use; a statement no rule fits is changed in
its module to SQL both engines take.

Why hand rules rather than a general transpiler (sqlglot): the rules that matter here are about our
schema and SQLite's semantics (qualifying upsert columns, NULLS FIRST on ascending sorts, `INSERT OR
REPLACE` on the table's primary key, FTS5 MATCH on a tsvector), which a transpiler does not know; the
rest is a dozen token swaps that stay readable and fast.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from listener.backends.catalog import CATALOG

_TOKEN = re.compile(
    r"""(?P<ws>\s+)
      | (?P<comment>--[^\n]*)
      | (?P<str>'(?:[^']|'')*')
      | (?P<qid>"(?:[^"]|"")*"|`[^`]*`|\[[^\]]*\])
      | (?P<num>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)
      | (?P<param>\?\d*|:[A-Za-z_]\w*)
      | (?P<word>[A-Za-z_][\w$]*)
      | (?P<op>\|\||<>|!=|==|<=|>=|->>|->|::|[^\s\w])
    """,
    re.VERBOSE,
)


@dataclass
class Tok:
    kind: str
    text: str

    @property
    def up(self) -> str:
        return self.text.upper() if self.kind == "word" else self.text


@dataclass
class Translated:
    """One statement as PostgreSQL runs it, and what the connection does around it."""

    sql: str
    kind: str = "sql"  # sql | begin | begin_write | pragma | noop
    pragma: str = ""
    returning_id: bool = False  # RETURNING id appended: the cursor keeps it as lastrowid
    bump_sequence: str = ""  # an explicit id was inserted into this table: move its identity past it
    extra: dict = field(default_factory=dict)


def tokenize(sql: str) -> list[Tok]:
    out = []
    pos = 0
    while pos < len(sql):
        m = _TOKEN.match(sql, pos)
        if not m:
            raise ValueError(f"cannot read SQL at {sql[pos:pos + 30]!r}")
        kind = m.lastgroup or "op"
        if kind != "comment":
            out.append(Tok(kind, m.group()))
        pos = m.end()
    return out


def _sig(toks: list[Tok]) -> list[int]:
    """Indexes of the tokens that are not whitespace."""
    return [i for i, t in enumerate(toks) if t.kind != "ws"]


def _close(toks: list[Tok], open_at: int) -> int:
    """Index of the parenthesis closing the one at open_at."""
    depth = 0
    for i in range(open_at, len(toks)):
        if toks[i].text == "(":
            depth += 1
        elif toks[i].text == ")":
            depth -= 1
            if depth == 0:
                return i
    raise ValueError("unbalanced parentheses")


def _split_args(toks: list[Tok], open_at: int, close_at: int) -> list[tuple[int, int]]:
    """(start, stop) token spans of the top-level comma-separated parts between two parentheses."""
    parts, depth, start = [], 0, open_at + 1
    for i in range(open_at + 1, close_at):
        t = toks[i].text
        if t == "(":
            depth += 1
        elif t == ")":
            depth -= 1
        elif t == "," and depth == 0:
            parts.append((start, i))
            start = i + 1
    parts.append((start, close_at))
    return parts


def _text(toks: list[Tok]) -> str:
    return "".join(t.text for t in toks)


def _next_sig(toks: list[Tok], i: int) -> int | None:
    for j in range(i + 1, len(toks)):
        if toks[j].kind != "ws":
            return j
    return None


def _prev_sig(toks: list[Tok], i: int) -> int | None:
    for j in range(i - 1, -1, -1):
        if toks[j].kind != "ws":
            return j
    return None


_DDL_TYPES = {"INTEGER": "BIGINT", "INT": "BIGINT", "REAL": "DOUBLE PRECISION", "BLOB": "BYTEA",
              "FLOAT": "DOUBLE PRECISION"}
_BOOL_CONTEXT = {"WHERE", "AND", "OR", "ON", "WHEN", "NOT", "HAVING"}
_BOOL_END = {"AND", "OR", ")", "ORDER", "GROUP", "LIMIT", "THEN", ";", "UNION", "HAVING"}
_UNARY_AFTER = {"AND", "OR", "WHERE", "ON", "NOT", "SELECT", "BY", "WHEN", "THEN", "ELSE", "HAVING"}
_ORDER_END = {"LIMIT", "OFFSET", ")", ";", "UNION", "EXCEPT", "INTERSECT", "FOR", "RETURNING", "WINDOW"}


def _ddl(toks: list[Tok]) -> list[Tok]:
    """Column types of CREATE/ALTER TABLE: 64-bit integers, doubles, bytea, byte-order text; rowid tables
    get an identity column that also takes explicit ids (db copy writes them)."""
    out: list[Tok] = []
    sig = _sig(toks)
    skip = set()
    for n, i in enumerate(sig):
        t = toks[i]
        if t.kind != "word" or i in skip:
            continue
        up = t.up
        nxt = toks[sig[n + 1]].up if n + 1 < len(sig) else ""
        nxt2 = toks[sig[n + 2]].up if n + 2 < len(sig) else ""
        if up == "INTEGER" and nxt == "PRIMARY" and nxt2 == "KEY":
            t.text = "BIGINT GENERATED BY DEFAULT AS IDENTITY"
        elif up in _DDL_TYPES:
            t.text = _DDL_TYPES[up]
        elif up == "TEXT" and n > 0 and toks[sig[n - 1]].kind in ("word", "qid"):
            t.text = 'TEXT COLLATE "C"'
        elif up == "WITHOUT" and nxt == "ROWID":
            t.text = ""
            toks[sig[n + 1]].text = ""
        elif up == "AUTOINCREMENT":
            t.text = ""
    out = toks
    return out


def _index_exprs(toks: list[Tok]) -> None:
    """CREATE INDEX ... ON t (a, f(b)): PostgreSQL wants an expression element in its own parentheses."""
    sig = _sig(toks)
    for n, i in enumerate(sig):
        if toks[i].up == "ON" and n + 2 < len(sig) and toks[sig[n + 2]].text == "(":
            open_at = sig[n + 2]
            close_at = _close(toks, open_at)
            for start, stop in _split_args(toks, open_at, close_at):
                if any(toks[k].text == "(" for k in range(start, stop)):
                    first = next(k for k in range(start, stop) if toks[k].kind != "ws")
                    toks[first].text = "(" + toks[first].text
                    last = max(k for k in range(start, stop) if toks[k].kind != "ws")
                    toks[last].text = toks[last].text + ")"
            return


def _functions(toks: list[Tok]) -> None:
    """Function-level swaps, innermost first is not needed: each rule keeps its arguments' tokens."""
    for i, t in enumerate(toks):
        if t.kind != "word":
            continue
        j = _next_sig(toks, i)
        if j is None or toks[j].text != "(":
            continue
        up = t.up
        prev = _prev_sig(toks, i)
        if prev is not None and toks[prev].text == ".":
            continue
        if up == "IFNULL":
            t.text = "COALESCE"
        elif up == "CHAR":
            t.text = "chr"
            arg = _next_sig(toks, j)
            if arg is not None and toks[arg].text == "0":
                toks[arg].text = "1"  # a separator: PostgreSQL text holds no NUL, \x01 separates as well
        elif up == "INSTR":
            t.text = "strpos"
            close_at = _close(toks, j)
            after = _next_sig(toks, close_at)
            if prev is not None and toks[prev].up in _BOOL_CONTEXT and (
                    after is None or toks[after].up in _BOOL_END):
                t.text = "0 < strpos"  # instr() as a condition
        elif up in ("MAX", "MIN"):
            close_at = _close(toks, j)
            inner = _next_sig(toks, j)
            if inner is not None and toks[inner].up == "ROWID" and _next_sig(toks, inner) == close_at:
                toks[inner].text = "ctid"  # a table without an id column: its newest row's place
            if len(_split_args(toks, j, close_at)) > 1:
                t.text = "GREATEST" if up == "MAX" else "LEAST"
        elif up == "GROUP_CONCAT":
            close_at = _close(toks, j)
            args = _split_args(toks, j, close_at)
            t.text = "string_agg"
            s0, e0 = args[0]
            toks[s0].text = "(" + toks[s0].text
            toks[e0 - 1].text = toks[e0 - 1].text + ")::text"
            if len(args) == 1:
                toks[close_at].text = ", ',')"
        elif up == "ROUND":
            close_at = _close(toks, j)
            args = _split_args(toks, j, close_at)
            if len(args) == 2:
                s0, e0 = args[0]
                toks[s0].text = "(" + toks[s0].text
                toks[e0 - 1].text = toks[e0 - 1].text + ")::numeric"
        elif up == "JSON_EXTRACT":
            close_at = _close(toks, j)
            args = _split_args(toks, j, close_at)
            path = _text(toks[args[1][0]:args[1][1]]).strip()
            if len(args) == 2 and re.fullmatch(r"'\$\.\w+'", path):
                key = path[3:-1]
                inner = _text(toks[args[0][0]:args[0][1]])
                t.text = f"(({inner})::jsonb ->> '{key}')"
                for k in range(j, close_at + 1):
                    toks[k].text = ""
                # ->> is text; compared with a number SQLite's json_extract gave a number: compare as text
                eq = _next_sig(toks, close_at)
                arg = _next_sig(toks, eq) if eq is not None else None
                if eq is not None and arg is not None and toks[eq].text == "=" and toks[arg].text == "?":
                    toks[arg].text = "?::text"
        elif up == "JSON_ARRAY_LENGTH":
            close_at = _close(toks, j)
            t.text = "jsonb_array_length"
            toks[j].text = "(("
            toks[close_at].text = ")::jsonb)"
        elif up == "JSON_EACH":
            # json_each(x) j ... j.value: the elements of a JSON array of strings, as text
            close_at = _close(toks, j)
            alias_at = _next_sig(toks, close_at)
            t.text = "jsonb_array_elements_text"
            toks[j].text = "(("
            toks[close_at].text = ")::jsonb)"
            if alias_at is not None and toks[alias_at].kind == "word" and toks[alias_at].up not in (
                    "WHERE", "ON", "JOIN", "GROUP", "ORDER", "LIMIT"):
                if toks[alias_at].up == "AS":
                    alias_at = _next_sig(toks, alias_at)
                toks[alias_at].text = f"AS {toks[alias_at].text}(value)"


def _blobs(toks: list[Tok]) -> None:
    """X'00ff' is a blob in SQLite and a bit string in PostgreSQL: make it bytea, so a text column refuses
    it as PostgreSQL should (a bit string would be stored as its digits)."""
    for i in range(len(toks) - 1):
        t, nxt = toks[i], toks[i + 1]
        if t.kind == "word" and t.up == "X" and nxt.kind == "str" and re.fullmatch(r"'[0-9A-Fa-f]*'", nxt.text):
            t.text = ""
            nxt.text = f"'\\x{nxt.text[1:-1]}'::bytea"


def _is_or_like(toks: list[Tok]) -> None:
    sig = _sig(toks)
    for n, i in enumerate(sig):
        t = toks[i]
        if t.up in ("LIKE",):
            t.text = "ILIKE"  # SQLite's LIKE ignores ASCII case
        elif t.up == "==":
            t.text = "="
        elif t.up == "INDEXED" and n + 1 < len(sig) and toks[sig[n + 1]].up == "BY":
            t.text = toks[sig[n + 1]].text = toks[sig[n + 2]].text = ""  # SQLite's index hint
        elif t.up == "NOT" and n + 1 < len(sig) and toks[sig[n + 1]].up == "INDEXED":
            t.text = toks[sig[n + 1]].text = ""
        elif t.text == "+" and n > 0 and (toks[sig[n - 1]].up in _UNARY_AFTER or toks[sig[n - 1]].text in ("(", ",")):
            t.text = ""  # SQLite's "+column" (no index on it): a plain column
        elif t.up == "IS":
            nxt = toks[sig[n + 1]].up if n + 1 < len(sig) else ""
            if nxt == "NOT":
                nxt2 = toks[sig[n + 2]].up if n + 2 < len(sig) else ""
                if nxt2 not in ("NULL", "TRUE", "FALSE", "DISTINCT"):
                    t.text = "IS DISTINCT FROM"
                    toks[sig[n + 1]].text = ""
            elif nxt not in ("NULL", "TRUE", "FALSE", "DISTINCT"):
                t.text = "IS NOT DISTINCT FROM"
        elif t.kind == "word" and t.up == "TEMP" and n + 1 < len(sig) and toks[sig[n + 1]].text == ".":
            t.text = "pg_temp"
        elif t.kind == "word" and t.up == "USER":
            t.text = '"user"'  # a column of queue_viewers; a reserved word in PostgreSQL
        elif t.kind == "num" and t.text in ("0", "1") and 0 < n < len(sig) - 0:
            prev = toks[sig[n - 1]].up
            nxt = toks[sig[n + 1]].up if n + 1 < len(sig) else ";"
            if prev in _BOOL_CONTEXT and nxt in _BOOL_END:
                t.text = "TRUE" if t.text == "1" else "FALSE"


def _cross_join(toks: list[Tok]) -> None:
    sig = _sig(toks)
    for n, i in enumerate(sig):
        if toks[i].up == "CROSS" and n + 1 < len(sig) and toks[sig[n + 1]].up == "JOIN":
            depth = 0
            for k in sig[n + 2:]:
                t = toks[k]
                if t.text == "(":
                    depth += 1
                elif t.text == ")":
                    if depth == 0:
                        break
                    depth -= 1
                elif depth == 0 and t.up == "ON":
                    toks[i].text = ""  # CROSS JOIN ... ON is an inner join in both engines
                    break
                elif depth == 0 and (t.text == "," or t.up in ("JOIN", "WHERE", "GROUP", "ORDER", "LIMIT")):
                    break


def _nulls_order(toks: list[Tok]) -> None:
    """SQLite sorts NULLs first ascending and last descending, PostgreSQL the other way round."""
    sig = _sig(toks)
    n = 0
    while n < len(sig):
        if toks[sig[n]].up == "ORDER" and n + 1 < len(sig) and toks[sig[n + 1]].up == "BY":
            depth = 0
            term_last = None
            term_has_nulls = False
            term_desc = False
            k = n + 2
            while k < len(sig):
                t = toks[sig[k]]
                if t.text == "(":
                    depth += 1
                elif t.text == ")" and depth > 0:
                    depth -= 1
                elif depth == 0 and (t.text == "," or t.up in _ORDER_END):
                    if term_last is not None and not term_has_nulls:
                        toks[term_last].text += " NULLS LAST" if term_desc else " NULLS FIRST"
                    term_last, term_has_nulls, term_desc = None, False, False
                    if t.text != ",":
                        break
                    k += 1
                    continue
                if depth == 0:
                    if t.up == "NULLS":
                        term_has_nulls = True
                    if t.up in ("DESC", "ASC"):
                        term_desc = t.up == "DESC"
                term_last = sig[k]
                k += 1
            else:
                if term_last is not None and not term_has_nulls:
                    toks[term_last].text += " NULLS LAST" if term_desc else " NULLS FIRST"
            n = k
        n += 1


def _upsert(toks: list[Tok]) -> None:
    """INSERT OR IGNORE / OR REPLACE, and the target table's columns qualified in DO UPDATE (in
    PostgreSQL a bare column there is ambiguous between the stored row and `excluded`)."""
    sig = _sig(toks)
    if not sig or toks[sig[0]].up not in ("INSERT", "REPLACE"):
        return
    mode = ""
    if toks[sig[0]].up == "REPLACE":
        mode = "REPLACE"
        toks[sig[0]].text = "INSERT"
    elif len(sig) > 2 and toks[sig[1]].up == "OR":
        mode = toks[sig[2]].up
        toks[sig[1]].text = ""
        toks[sig[2]].text = ""
    into = next((n for n, i in enumerate(sig) if toks[i].up == "INTO"), None)
    if into is None:
        return
    table = toks[sig[into + 1]].text.strip('"').lower()
    info = CATALOG.get(table)
    cols: list[str] = []
    if into + 2 < len(sig) and toks[sig[into + 2]].text == "(":
        open_at = sig[into + 2]
        close_at = _close(toks, open_at)
        cols = [_text(toks[s:e]).strip().strip('"').lower() for s, e in _split_args(toks, open_at, close_at)]
    elif info:
        cols = list(info.columns)
    returning = next((i for i in sig if toks[i].up == "RETURNING"), None)
    end_at = returning if returning is not None else len(toks)
    if mode in ("IGNORE", "REPLACE"):
        if mode == "IGNORE" or not info or not info.pk:
            clause = " ON CONFLICT DO NOTHING "
        else:
            sets = ", ".join(f"{_q(c)} = excluded.{_q(c)}" for c in cols if c not in info.pk) or None
            target = ", ".join(_q(c) for c in info.pk)
            clause = (f" ON CONFLICT ({target}) DO UPDATE SET {sets} " if sets
                      else f" ON CONFLICT ({target}) DO NOTHING ")
        toks.insert(end_at, Tok("op", clause))
        return
    if not info:
        return
    set_at = None
    for n, i in enumerate(sig):
        if toks[i].up == "UPDATE" and n > 0 and toks[sig[n - 1]].up == "DO" and n + 1 < len(sig) \
                and toks[sig[n + 1]].up == "SET":
            set_at = n + 2
            break
    if set_at is None:
        return
    depth = 0
    lhs = True
    for n in range(set_at, len(sig)):
        i = sig[n]
        t = toks[i]
        if t.up == "RETURNING" and depth == 0:
            break
        if t.text == "(":
            depth += 1
        elif t.text == ")":
            depth -= 1
        elif depth == 0 and t.text == ",":
            lhs = True
            continue
        elif depth == 0 and t.text == "=" and lhs:
            lhs = False
            continue
        elif depth == 0 and t.up == "WHERE":
            lhs = False
            continue
        if t.kind in ("word", "qid") and not lhs:
            name = t.text.strip('"').lower()
            prev = toks[sig[n - 1]].text if n > 0 else ""
            nxt = toks[sig[n + 1]].text if n + 1 < len(sig) else ""
            if name in info.columns and prev != "." and nxt not in ("(", "."):
                t.text = f"{table}.{t.text}"


def _q(name: str) -> str:
    return f'"{name}"' if name in ("user",) else name


def _match(toks: list[Tok]) -> None:
    """`queue_fts MATCH ?` (FTS5) → the view's tsvector against the same query text (see pg_schema)."""
    sig = _sig(toks)
    for n, i in enumerate(sig):
        if toks[i].up == "MATCH" and n > 0:
            name = toks[sig[n - 1]]
            name.text = f"{name.text}.search"
            toks[i].text = "@@ overheard_tsquery("
            arg = toks[sig[n + 1]]
            arg.text = arg.text + ")"


_NOT_ALIAS = {"WHERE", "GROUP", "ORDER", "LIMIT", "JOIN", "ON", "LEFT", "INNER", "CROSS", "UNION", "EXCEPT",
              "INTERSECT", "HAVING", "WINDOW", "OFFSET", "NATURAL", "RIGHT", "FULL", "USING", "RETURNING"}


def _subquery_alias(toks: list[Tok]) -> None:
    """A subquery in FROM needs a name in PostgreSQL 15 (SQLite lets it go without)."""
    sig = _sig(toks)
    count = 0
    for n, i in enumerate(sig):
        if toks[i].text != "(" or n == 0 or n + 1 >= len(sig):
            continue
        if toks[sig[n - 1]].up not in ("FROM", "JOIN", ",") or toks[sig[n + 1]].up not in ("SELECT", "WITH"):
            continue
        if toks[sig[n - 1]].text == ",":
            # a comma inside a FROM list only: look back for FROM at the same depth
            depth = 0
            for k in range(n - 2, -1, -1):
                t = toks[sig[k]]
                if t.text == ")":
                    depth += 1
                elif t.text == "(":
                    if depth == 0:
                        break
                    depth -= 1
                elif depth == 0 and t.up in ("FROM", "SELECT", "WHERE", "SET", "VALUES", "BY"):
                    break
            if depth != 0 or toks[sig[k]].up != "FROM":
                continue
        close_at = _close(toks, i)
        after = _next_sig(toks, close_at)
        if after is None or toks[after].kind not in ("word", "qid") or toks[after].up in _NOT_ALIAS:
            count += 1
            toks[close_at].text += f" AS _sub{count}"


def _having_aliases(toks: list[Tok]) -> None:
    """HAVING neg > pos: SQLite reads the SELECT list's names there, PostgreSQL wants the expressions."""
    sig = _sig(toks)
    if not sig or toks[sig[0]].up != "SELECT" or not any(toks[i].up == "HAVING" for i in sig):
        return
    depth, start, aliases = 0, 1, {}
    n = 1
    while n < len(sig):
        t = toks[sig[n]]
        if t.text == "(":
            depth += 1
        elif t.text == ")":
            depth -= 1
        elif depth == 0 and (t.text == "," or t.up == "FROM"):
            if n - start >= 3 and toks[sig[n - 2]].up == "AS" and toks[sig[n - 1]].kind == "word":
                aliases[toks[sig[n - 1]].text.lower()] = _text(toks[sig[start]:sig[n - 2]]).strip()
            start = n + 1
            if t.up == "FROM":
                break
        n += 1
    depth = 0
    inside = False
    for k, i in enumerate(sig):
        t = toks[i]
        if t.text == "(":
            depth += 1
        elif t.text == ")":
            depth -= 1
        elif depth == 0 and t.up == "HAVING":
            inside = True
        elif depth == 0 and t.up in ("ORDER", "LIMIT", "UNION", "WINDOW"):
            inside = False
        elif inside and t.kind == "word" and t.text.lower() in aliases and toks[sig[k - 1]].text != ".":
            t.text = f"({aliases[t.text.lower()]})"


def _placeholders(toks: list[Tok]) -> int:
    count = 0
    for t in toks:
        if t.kind == "param":
            if t.text not in ("?", "?)", "?::text"):
                raise ValueError(f"only ? parameters are translated, not {t.text}")
            t.text = "%s" + t.text[1:]
            count += 1
        elif "%" in t.text:
            t.text = t.text.replace("%", "%%")
    return count


def _lastrowid(toks: list[Tok]) -> tuple[bool, str]:
    """A plain INSERT into a table with an id column: RETURNING id, so the cursor has lastrowid."""
    sig = _sig(toks)
    if not sig or toks[sig[0]].up != "INSERT":
        return False, ""
    into = next((n for n, i in enumerate(sig) if toks[i].up == "INTO"), None)
    if into is None or into + 1 >= len(sig):
        return False, ""
    table = toks[sig[into + 1]].text.strip('"').lower()
    info = CATALOG.get(table)
    if not info or "id" not in info.columns or info.pk != ("id",):
        return False, ""
    bump = ""
    if into + 2 < len(sig) and toks[sig[into + 2]].text == "(":
        close_at = _close(toks, sig[into + 2])
        names = [_text(toks[s:e]).strip().lower() for s, e in _split_args(toks, sig[into + 2], close_at)]
        if "id" in names:
            bump = table
    if any(toks[i].up == "RETURNING" for i in sig):
        return False, bump
    toks.append(Tok("op", " RETURNING id"))
    return True, bump


@lru_cache(maxsize=4096)
def translate(sql: str) -> Translated:
    """SQLite statement → PostgreSQL statement (cached: the modules reuse a few hundred strings)."""
    toks = tokenize(sql)
    sig = _sig(toks)
    if not sig:
        return Translated("", kind="noop")
    first = toks[sig[0]].up
    words = [toks[i].up for i in sig[:3]]
    if first == "BEGIN":
        write = len(words) > 1 and words[1] in ("IMMEDIATE", "EXCLUSIVE")
        return Translated("BEGIN", kind="begin_write" if write else "begin")
    if first in ("COMMIT", "END"):
        return Translated("COMMIT")
    if first == "PRAGMA":
        return Translated("", kind="pragma", pragma=_text(toks[sig[1]:]).strip())
    if first in ("CREATE", "ALTER") and any(toks[i].up == "TABLE" for i in sig[:4]):
        _ddl(toks)
    if first == "CREATE" and any(toks[i].up == "INDEX" for i in sig[:4]):
        _index_exprs(toks)
    _blobs(toks)
    _functions(toks)
    _is_or_like(toks)
    _cross_join(toks)
    _subquery_alias(toks)
    _having_aliases(toks)
    _nulls_order(toks)
    _upsert(toks)
    _match(toks)
    returning, bump = _lastrowid(toks)
    _placeholders(toks)
    return Translated(_text(toks).strip(), returning_id=returning, bump_sequence=bump)
