"""The migrations on PostgreSQL: one numbering for both engines.

Every migration's statements go through the same rewriting as the modules' SQL (types, upserts...).
What SQLite does with its own machinery has a hand-written counterpart here, keyed by the object's name:
- FTS5 → a generated `tsvector` column on mentions with a GIN index; `mentions_fts` and `queue_fts`
  become views exposing (rowid, search), so `x MATCH ?` reads `x.search @@ overheard_tsquery(?)`.
  Words are cut as FTS5's unicode61 tokenizer with remove_diacritics cuts them (ASCII punctuation
  separates, case and accents are folded, no stemming, no stop words), so both engines find the same.
- SQLite triggers → plpgsql triggers (the trend caches); the FTS triggers are not needed (the column
  is generated, the view follows the queue).
- A `sqlite_master` view over PostgreSQL's catalog, for the code and the tests that look a table,
  index or trigger up by name.
"""

from __future__ import annotations

import re

from listener.backends.translate import translate

# Run before migration 1 (in its transaction): functions the rewritten statements call.
PRELUDE = [
    # The text FTS5's unicode61 tokenizer would see: accents off (NFD, combining marks dropped), ASCII
    # punctuation a separator, so to_tsvector('simple', ...) cuts the same words.
    r"""CREATE OR REPLACE FUNCTION overheard_fts_text(value text) RETURNS text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT translate(regexp_replace(normalize(COALESCE(value, ''), NFD), '[\u0300-\u036f]', '', 'g'),
                         '!"#$%&''()*+,-./:;<=>?@[\]^_`{|}~', repeat(' ', 32))
    $$""",
    """CREATE OR REPLACE FUNCTION overheard_tsvector(text_ text, title text, author text) RETURNS tsvector
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT to_tsvector('simple'::regconfig, overheard_fts_text(text_))
            || to_tsvector('simple'::regconfig, overheard_fts_text(title))
            || to_tsvector('simple'::regconfig, overheard_fts_text(author))
    $$""",
    # What alerts.queue.fts_query writes ("word" "other"* : every phrase, `*` a prefix) as a tsquery.
    # A phrase with no word in it is left out, as FTS5 leaves it out; none left matches nothing (NULL).
    r"""CREATE OR REPLACE FUNCTION overheard_tsquery(query text) RETURNS tsquery LANGUAGE plpgsql IMMUTABLE AS $$
        DECLARE
            part text[];
            words text[];
            out text := '';
            joiner text := '';
        BEGIN
            -- "a phrase" or a bare word, either with * for a prefix; bare OR / AND / NOT are FTS5's operators
            FOR part IN SELECT regexp_matches(COALESCE(query, ''), '"([^"]*)"(\*?)|([^\s"*]+)(\*?)', 'g') LOOP
                IF part[3] IN ('OR', 'AND', 'NOT') THEN
                    joiner := CASE part[3] WHEN 'OR' THEN ' | ' WHEN 'NOT' THEN ' & !' ELSE ' & ' END;
                    CONTINUE;
                END IF;
                SELECT array_agg(quote_literal(w.lexeme) ORDER BY w.pos) INTO words
                FROM (SELECT u.lexeme, p.pos
                      FROM unnest(to_tsvector('simple'::regconfig,
                                              overheard_fts_text(COALESCE(part[1], part[3])))) AS u
                      CROSS JOIN LATERAL unnest(u.positions) AS p(pos)) AS w;
                IF words IS NOT NULL THEN
                    IF COALESCE(part[2], part[4]) = '*' THEN
                        words[array_length(words, 1)] := words[array_length(words, 1)] || ':*';
                    END IF;
                    out := out || CASE WHEN out = '' THEN (CASE WHEN joiner = ' & !' THEN '!' ELSE '' END)
                                       WHEN joiner = '' THEN ' & ' ELSE joiner END
                               || '(' || array_to_string(words, ' <-> ') || ')';
                END IF;
                joiner := '';
            END LOOP;
            IF out = '' THEN
                RETURN NULL;
            END IF;
            RETURN to_tsquery('simple'::regconfig, out);
        END
    $$""",
    # SUM(label = 'negative'): SQLite sums comparisons (0/1); NULLs are skipped, none at all is NULL.
    """CREATE OR REPLACE FUNCTION overheard_sum_bool(total bigint, value boolean) RETURNS bigint
        LANGUAGE sql IMMUTABLE AS $$
        SELECT CASE WHEN value IS NULL THEN total ELSE COALESCE(total, 0) + CASE WHEN value THEN 1 ELSE 0 END END
    $$""",
    "CREATE OR REPLACE AGGREGATE sum(boolean) (SFUNC = overheard_sum_bool, STYPE = bigint)",
    # listener.retention registers these as Python functions on SQLite.
    """CREATE OR REPLACE FUNCTION overheard_fold(value text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
        SELECT lower(value COLLATE "default") $$""",
    """CREATE OR REPLACE FUNCTION overheard_handle(value text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
        SELECT lower(ltrim(btrim(normalize(value, NFC)), '@') COLLATE "default") $$""",
    """CREATE OR REPLACE FUNCTION overheard_trend_hour_removed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF EXISTS (SELECT 1 FROM trend_period_cache) THEN
                INSERT INTO trend_changed_hours (hour_start) VALUES (OLD.hour_start) ON CONFLICT DO NOTHING;
            END IF;
            RETURN OLD;
        END $$""",
    """CREATE OR REPLACE VIEW sqlite_master AS
        SELECT 'table'::text AS type, c.relname::text AS name, c.relname::text AS tbl_name, ''::text AS sql
            FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')
        UNION ALL
        SELECT 'view', c.relname::text, c.relname::text, ''
            FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'v'
              AND c.relname NOT IN ('sqlite_master')
        UNION ALL
        SELECT 'index', indexname::text, tablename::text, indexdef FROM pg_indexes WHERE schemaname = current_schema()
        UNION ALL
        SELECT 'trigger', t.tgname::text, c.relname::text, pg_get_triggerdef(t.oid)
            FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
            WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace""",
]

# SQLite objects with a hand-written PostgreSQL counterpart ([] : nothing is needed there).
REPLACED: dict[str, list[str]] = {
    "mentions_fts": [
        "ALTER TABLE mentions ADD COLUMN search tsvector GENERATED ALWAYS AS "
        "(overheard_tsvector(text, title, author)) STORED",
        "CREATE INDEX mentions_search ON mentions USING GIN (search)",
        "CREATE VIEW mentions_fts AS SELECT id AS rowid, search FROM mentions",
    ],
    "mentions_fts_insert": [],
    "mentions_fts_delete": [],
    "mentions_fts_update": [],
    # queue_fts is "the mentions of queued threads": on PostgreSQL a view over the same GIN index.
    "queue_fts": ["CREATE VIEW queue_fts AS SELECT m.id AS rowid, m.search FROM mentions m "
                  "WHERE m.thread_key IN (SELECT thread_key FROM queue_items)"],
    "queue_fts_mention_insert": [],
    "queue_fts_mention_delete": [],
    "queue_fts_mention_update": [],
    "queue_fts_item_insert": [],
    "queue_fts_item_delete": [],
    "trend_hour_authors_removed": [
        "CREATE TRIGGER trend_hour_authors_removed AFTER DELETE ON trend_hour_authors "
        "FOR EACH ROW EXECUTE FUNCTION overheard_trend_hour_removed()"],
    "trend_hour_audiences_removed": [
        "CREATE TRIGGER trend_hour_audiences_removed AFTER DELETE ON trend_hour_audiences "
        "FOR EACH ROW EXECUTE FUNCTION overheard_trend_hour_removed()"],
}

_OBJECT = re.compile(r"^\s*CREATE\s+(?:VIRTUAL\s+TABLE|TRIGGER)\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)", re.I)
_FTS_WRITE = re.compile(r"^\s*INSERT\s+INTO\s+(\w+_fts)\b", re.I)


class UntranslatedMigration(ValueError):
    """A migration holds SQLite machinery (a trigger, a virtual table) with no PostgreSQL counterpart."""


def pg_statements(number: int, sql: str) -> list[str]:
    """The PostgreSQL statements of one migration (the prelude first for number 1)."""
    from listener.store import _split_sql

    out: list[str] = list(PRELUDE) if number == 1 else []
    for statement in _split_sql(sql):
        obj = _OBJECT.match(statement)
        if obj:
            name = obj.group(1).lower()
            if name not in REPLACED:
                raise UntranslatedMigration(f"migration {number}: {name} is SQLite-only (a trigger or virtual "
                                            "table); add its PostgreSQL form to listener/backends/pg_schema.py")
            out.extend(REPLACED[name])
            continue
        if _FTS_WRITE.match(statement):
            continue  # filling an FTS5 index: the generated column fills itself
        translated = translate(statement)
        if translated.kind != "sql":
            continue
        out.append(translated.sql.replace("%%", "%"))
    return out
