"""Numbered schema migrations. Append a new (number, name, sql) entry; never edit an applied one."""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "initial schema",
        """
        CREATE TABLE mentions (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            native_id TEXT NOT NULL,
            brand TEXT,
            url TEXT,
            author TEXT,
            author_id TEXT,
            author_followers INTEGER,
            author_verified INTEGER NOT NULL DEFAULT 0,
            text TEXT NOT NULL,
            title TEXT,
            stars INTEGER,
            source_lang TEXT,
            created_at TEXT NOT NULL,
            collected_at TEXT NOT NULL,
            thread_key TEXT NOT NULL,
            parent_id TEXT,
            engagement INTEGER NOT NULL DEFAULT 0,
            metrics TEXT NOT NULL DEFAULT '{}',
            is_brand_account INTEGER NOT NULL DEFAULT 0,
            raw TEXT,
            -- the current score (the scores table keeps every model's)
            lang TEXT,
            label TEXT,
            compound REAL,
            confidence REAL,
            themes TEXT NOT NULL DEFAULT '[]',
            detractor INTEGER NOT NULL DEFAULT 0,
            scored_at TEXT,
            UNIQUE (source, native_id)
        );
        CREATE INDEX mentions_thread ON mentions (thread_key, created_at);
        CREATE INDEX mentions_created ON mentions (created_at);
        CREATE INDEX mentions_brand_created ON mentions (brand, created_at);
        CREATE INDEX mentions_author ON mentions (source, author, created_at);
        CREATE INDEX mentions_unscored ON mentions (scored_at) WHERE scored_at IS NULL;

        CREATE TABLE scores (
            mention_id INTEGER NOT NULL REFERENCES mentions(id) ON DELETE CASCADE,
            model TEXT NOT NULL,
            label TEXT NOT NULL,
            compound REAL NOT NULL,
            confidence REAL NOT NULL,
            lang TEXT,
            scored_at TEXT NOT NULL,
            PRIMARY KEY (mention_id, model)
        );

        CREATE TABLE authors (
            source TEXT NOT NULL,
            author TEXT NOT NULL,
            author_id TEXT,
            followers INTEGER,
            verified INTEGER NOT NULL DEFAULT 0,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            mentions INTEGER NOT NULL DEFAULT 0,
            negative INTEGER NOT NULL DEFAULT 0,
            last_negative_at TEXT,
            PRIMARY KEY (source, author)
        );

        CREATE TABLE threads (
            thread_key TEXT PRIMARY KEY,
            source TEXT NOT NULL,
            brand TEXT,
            url TEXT,
            title TEXT,
            first_at TEXT NOT NULL,
            last_at TEXT NOT NULL,
            mentions INTEGER NOT NULL DEFAULT 0,
            negative INTEGER NOT NULL DEFAULT 0,
            detractors INTEGER NOT NULL DEFAULT 0,
            reach INTEGER NOT NULL DEFAULT 0,
            engagement INTEGER NOT NULL DEFAULT 0,
            mean_compound REAL,
            brand_replied INTEGER NOT NULL DEFAULT 0,
            risk REAL NOT NULL DEFAULT 0,
            reasons TEXT NOT NULL DEFAULT '[]',
            flagged INTEGER NOT NULL DEFAULT 0,
            level TEXT,
            -- work marks, so a crash between stages loses nothing: rollup pending, alert check pending
            dirty INTEGER NOT NULL DEFAULT 1,
            alert_pending INTEGER NOT NULL DEFAULT 0,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX threads_dirty ON threads (dirty) WHERE dirty = 1;
        CREATE INDEX threads_alert_pending ON threads (alert_pending) WHERE alert_pending = 1;
        CREATE INDEX threads_risk ON threads (risk DESC);

        CREATE TABLE queue_items (
            id INTEGER PRIMARY KEY,
            thread_key TEXT NOT NULL UNIQUE REFERENCES threads(thread_key),
            brand TEXT,
            source TEXT,
            state TEXT NOT NULL DEFAULT 'new',
            priority TEXT NOT NULL DEFAULT 'low',
            risk REAL NOT NULL DEFAULT 0,
            assignee TEXT,
            tags TEXT NOT NULL DEFAULT '[]',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            first_response_due TEXT,
            resolution_due TEXT,
            first_response_at TEXT,
            resolved_at TEXT,
            snoozed_until TEXT,
            outcome TEXT,
            dismiss_reason TEXT,
            recovery TEXT
        );
        CREATE INDEX queue_state ON queue_items (state, priority);

        CREATE TABLE queue_events (
            id INTEGER PRIMARY KEY,
            item_id INTEGER NOT NULL REFERENCES queue_items(id),
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX queue_events_item ON queue_events (item_id, at);

        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            idem_key TEXT NOT NULL UNIQUE,
            receiver TEXT NOT NULL,
            rule TEXT NOT NULL,
            thread_key TEXT,
            level TEXT NOT NULL,
            payload TEXT NOT NULL,
            created_at TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT,
            delivered_at TEXT,
            last_error TEXT,
            external_ref TEXT
        );
        CREATE INDEX outbox_pending ON outbox (delivered_at, next_attempt_at);

        CREATE TABLE cursors (
            source TEXT NOT NULL,
            query_key TEXT NOT NULL,
            value TEXT,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (source, query_key)
        );

        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            query_key TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            fetched INTEGER NOT NULL DEFAULT 0,
            new INTEGER NOT NULL DEFAULT 0,
            duplicates INTEGER NOT NULL DEFAULT 0,
            quarantined INTEGER NOT NULL DEFAULT 0,
            errors INTEGER NOT NULL DEFAULT 0,
            error TEXT,
            duration_s REAL
        );
        CREATE INDEX runs_source ON runs (source, started_at);

        CREATE TABLE labels (
            id INTEGER PRIMARY KEY,
            mention_id INTEGER NOT NULL REFERENCES mentions(id) ON DELETE CASCADE,
            label TEXT NOT NULL,
            actor TEXT NOT NULL,
            at TEXT NOT NULL
        );

        CREATE TABLE quarantine (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            location TEXT NOT NULL,
            reason TEXT NOT NULL,
            raw TEXT,
            at TEXT NOT NULL
        );
        CREATE UNIQUE INDEX quarantine_where ON quarantine (source, location);
        """,
    ),
    (
        60,
        "trend rollups: hourly tallies per brand, source, language and theme",
        """
        -- One row per local hour (kept as the UTC instant it starts at, in the zone of trend_state.zone)
        -- x brand x source x language x theme. theme '' counts every mention, other theme rows overlap.
        CREATE TABLE trend_hours (
            hour_start TEXT NOT NULL,
            brand TEXT NOT NULL,
            source TEXT NOT NULL,
            lang TEXT NOT NULL,
            theme TEXT NOT NULL,
            mentions INTEGER NOT NULL,
            positive INTEGER NOT NULL,
            neutral INTEGER NOT NULL,
            negative INTEGER NOT NULL,
            unscored INTEGER NOT NULL,
            detractors INTEGER NOT NULL,
            reach INTEGER NOT NULL,
            compound_sum REAL NOT NULL,
            compound_n INTEGER NOT NULL,
            PRIMARY KEY (hour_start, brand, source, lang, theme)
        ) WITHOUT ROWID;
        -- Watermarks of the incremental update: scored_at and labels.id already rolled up and the zone.
        CREATE TABLE trend_state (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        -- So "mentions scored since the watermark" reads only those, not the whole history.
        CREATE INDEX mentions_scored_at ON mentions (scored_at) WHERE scored_at IS NOT NULL;
        """,
    ),
    (
        61,
        "trend rollups: the distinct authors of each hourly row",
        """
        -- Distinct authors cannot be summed over hours, so each hour keeps its set: a day's unique
        -- authors is COUNT(DISTINCT author) over its hours' rows (a handle is unique per source).
        CREATE TABLE trend_hour_authors (
            hour_start TEXT NOT NULL,
            brand TEXT NOT NULL,
            source TEXT NOT NULL,
            lang TEXT NOT NULL,
            theme TEXT NOT NULL,
            author TEXT NOT NULL,
            PRIMARY KEY (hour_start, theme, brand, source, lang, author)
        ) WITHOUT ROWID;
        -- Rebuild the rollup once so the author sets are filled for the hours already rolled up.
        DELETE FROM trend_state;
        DELETE FROM trend_hours
        """,
    ),
]

# ---------------------------------------------------------------- support queue (block 50-59)
MIGRATIONS += [
    (
        50,
        "support queue: users, item author, waiting/snooze bookkeeping, who has an item open",
        """
        CREATE TABLE users (
            name TEXT PRIMARY KEY,
            role TEXT NOT NULL,
            password_hash TEXT NOT NULL,
            slack_user_id TEXT UNIQUE,
            created_at TEXT NOT NULL,
            disabled INTEGER NOT NULL DEFAULT 0
        );
        -- the customer whose thread it is: whose next mentions tell whether they recovered
        ALTER TABLE queue_items ADD COLUMN author TEXT;
        -- the state to return to when a snooze ends, and since when the item waits on the customer
        ALTER TABLE queue_items ADD COLUMN snoozed_from TEXT;
        ALTER TABLE queue_items ADD COLUMN waiting_since TEXT;
        ALTER TABLE queue_items ADD COLUMN recovery_at TEXT;
        ALTER TABLE queue_items ADD COLUMN reopened INTEGER NOT NULL DEFAULT 0;
        CREATE INDEX queue_items_assignee ON queue_items (assignee, state);
        CREATE INDEX queue_items_recovery ON queue_items (recovery) WHERE recovery = 'watching';
        CREATE TABLE queue_viewers (
            item_id INTEGER NOT NULL REFERENCES queue_items(id),
            user TEXT NOT NULL,
            seen_at TEXT NOT NULL,
            PRIMARY KEY (item_id, user)
        );
        """,
    ),
    (
        51,
        "full-text search over mention text (FTS5, kept in sync by triggers)",
        """
        CREATE VIRTUAL TABLE mentions_fts USING fts5(
            text, title, author, content='mentions', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
        );
        INSERT INTO mentions_fts (mentions_fts) VALUES ('rebuild');
        CREATE TRIGGER mentions_fts_insert AFTER INSERT ON mentions BEGIN
            INSERT INTO mentions_fts (rowid, text, title, author) VALUES (new.id, new.text, new.title, new.author);
        END;
        CREATE TRIGGER mentions_fts_delete AFTER DELETE ON mentions BEGIN
            INSERT INTO mentions_fts (mentions_fts, rowid, text, title, author)
            VALUES ('delete', old.id, old.text, old.title, old.author);
        END;
        CREATE TRIGGER mentions_fts_update AFTER UPDATE OF text, title, author ON mentions BEGIN
            INSERT INTO mentions_fts (mentions_fts, rowid, text, title, author)
            VALUES ('delete', old.id, old.text, old.title, old.author);
            INSERT INTO mentions_fts (rowid, text, title, author) VALUES (new.id, new.text, new.title, new.author);
        END;
        """,
    ),
]

# ---------------------------------------------------------------- alerts (block 40-49)
MIGRATIONS += [
    (
        40,
        "alert silences, outbox grouping and holds, send log",
        """
        CREATE TABLE silences (
            id INTEGER PRIMARY KEY,
            matcher TEXT NOT NULL,            -- author | keyword | thread | brand | source
            value TEXT NOT NULL,
            starts_at TEXT NOT NULL,
            ends_at TEXT NOT NULL,
            created_by TEXT NOT NULL,
            comment TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL
        );
        CREATE INDEX silences_active ON silences (ends_at);

        -- group_key: alerts with the same key go out together. hold: why next_attempt_at is in the
        -- future (group, cooldown, quiet, cap). sent_as: single, digest or superseded
        ALTER TABLE outbox ADD COLUMN group_key TEXT;
        ALTER TABLE outbox ADD COLUMN hold TEXT;
        ALTER TABLE outbox ADD COLUMN sent_as TEXT;
        CREATE INDEX outbox_thread ON outbox (receiver, thread_key, id);

        -- one row per message a receiver was sent (a digest is one): the per-hour cap counts these
        CREATE TABLE alert_sends (
            id INTEGER PRIMARY KEY,
            receiver TEXT NOT NULL,
            group_key TEXT,
            at TEXT NOT NULL,
            alerts INTEGER NOT NULL,
            kind TEXT NOT NULL,
            external_ref TEXT
        );
        CREATE INDEX alert_sends_receiver ON alert_sends (receiver, at);
        CREATE INDEX alert_sends_group ON alert_sends (receiver, group_key, at);
        """,
    ),
    (
        41,
        "per-author repeat-detractor flag",
        """
        -- set by the thread rollup when an author complains again within [risk].repeat_window_days
        ALTER TABLE authors ADD COLUMN repeat_detractor_at TEXT;
        """,
    ),
]

# ---------------------------------------------------------------- daemon (block 70-79)
MIGRATIONS += [
    (
        70,
        "daemon: job schedule, source health, daemon heartbeat, forgotten authors",
        """
        -- What the running daemon plans and last did, per job, so `overheard status` (another process)
        -- can show next runs. Positions stay in `cursors`: this is only bookkeeping.
        CREATE TABLE daemon_jobs (
            job_id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            source TEXT,
            query_key TEXT,
            next_run_at TEXT,
            last_started_at TEXT,
            last_finished_at TEXT,
            last_error TEXT,
            updated_at TEXT NOT NULL
        );

        -- Per-source health and backoff. `incident` counts health incidents, so each one alerts once.
        CREATE TABLE source_health (
            source TEXT PRIMARY KEY,
            state TEXT NOT NULL DEFAULT 'ok',
            consecutive_failures INTEGER NOT NULL DEFAULT 0,
            backoff_until TEXT,
            last_error TEXT,
            last_success_at TEXT,
            last_failure_at TEXT,
            state_since TEXT,
            incident INTEGER NOT NULL DEFAULT 0,
            updated_at TEXT NOT NULL
        );

        CREATE TABLE daemon_state (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            pid INTEGER,
            host TEXT,
            started_at TEXT,
            heartbeat_at TEXT,
            stopped_at TEXT
        );

        -- People who asked to be forgotten: a hash of (source, author), never the name, so their
        -- posts are not collected again.
        CREATE TABLE forgotten_authors (
            author_hash TEXT PRIMARY KEY,
            at TEXT NOT NULL
        );
        """,
    ),
    (
        71,
        "daemon: backoff per rate-limit scope of a source that reads many hosts",
        """
        -- An RSS feed or a Mastodon instance answering 429 backs off alone, not the whole source.
        CREATE TABLE source_backoff (
            source TEXT NOT NULL,
            scope TEXT NOT NULL,
            backoff_until TEXT NOT NULL,
            PRIMARY KEY (source, scope)
        );
        """,
    ),
]

# ---------------------------------------------------------------- sentiment (block 30-39)
MIGRATIONS += [
    (
        30,
        "per-theme sentiment of each mention",
        """
        -- {"billing": "negative", "app": "positive"}: a mixed mention's sentiment about each of its themes
        ALTER TABLE mentions ADD COLUMN theme_sentiment TEXT NOT NULL DEFAULT '{}';
        """,
    ),
]

# ---------------------------------------------------------------- trend file speed (block 80-89)
MIGRATIONS += [
    (
        80,
        "trend files: the rows of finished periods, kept so a new hour redoes only what changed",
        """
        -- One row per finished local period already written (period kind x zone x period start), with
        -- the UTC span it covers. A row is deleted once an hour inside its span has changed in the
        -- rollup (see trend_changed_hours), so what is left here is exactly what can be reused.
        CREATE TABLE trend_period_cache (
            period TEXT NOT NULL,
            zone TEXT NOT NULL,
            period_start TEXT NOT NULL,
            start_utc TEXT NOT NULL,
            stop_utc TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            brands TEXT NOT NULL,
            PRIMARY KEY (period, zone, period_start)
        ) WITHOUT ROWID;
        -- The period's rows as they are in the files (CSV lines and JSON lines), per table and brand.
        -- Only read through a row of trend_period_cache, and replaced when the period is redone.
        CREATE TABLE trend_period_text (
            period TEXT NOT NULL,
            zone TEXT NOT NULL,
            period_start TEXT NOT NULL,
            table_name TEXT NOT NULL,
            brand TEXT NOT NULL,
            csv TEXT NOT NULL,
            json TEXT NOT NULL,
            PRIMARY KEY (period, zone, period_start, table_name, brand)
        );
        -- Hours changed in the rollup since the trend files were last written: the next write drops
        -- the kept periods holding them, then empties this table (a look-up per kept period).
        CREATE TABLE trend_changed_hours (
            hour_start TEXT PRIMARY KEY
        ) WITHOUT ROWID;
        -- The rollup marks each hour it recomputes. Whoever removes an author from the rollup's author
        -- sets (forget --author does) changes unique_authors of the periods around that hour too.
        CREATE TRIGGER trend_hour_authors_removed AFTER DELETE ON trend_hour_authors
        WHEN EXISTS (SELECT 1 FROM trend_period_cache)
        BEGIN
            INSERT OR IGNORE INTO trend_changed_hours (hour_start) VALUES (old.hour_start);
        END;
        """,
    ),
]

# ---------------------------------------------------------------- sentiment, continued (block 30-39)
MIGRATIONS += [
    (
        32,
        "mentions: the other tracked brands a mention names (comparisons count for every brand they name)",
        """
        ALTER TABLE mentions ADD COLUMN also_brands TEXT
        """,
    ),
]

# ---------------------------------------------------------------- Slack exactly once (block 90-99)
MIGRATIONS += [
    (
        90,
        "outbox: the sending mark, so a restart can ask the receiver whether a message already arrived",
        """
        -- Written and committed just before a message is handed to the receiver: when it started and
        -- the key of that message (the key of the alert or of the digest). A row still undelivered
        -- with a mark may have reached the receiver before a crash: a receiver that can look (the
        -- Slack bot) checks before sending again.
        ALTER TABLE outbox ADD COLUMN sending_at TEXT;
        ALTER TABLE outbox ADD COLUMN sending_key TEXT;
        """,
    ),
]

# ---------------------------------------------------------------- queue search at scale (block 100-109)
MIGRATIONS += [
    (
        100,
        "queue_fts: full-text index of the mentions in queued threads only (queue search at 1M stored)",
        """
        -- Queue search asks "does any mention of the item's thread contain these words?". Over the whole
        -- history a common word (a brand's name) matches half a million mentions that must all be read,
        -- while queued threads hold a few percent of the mentions, so their own index answers in milliseconds.
        -- Contentless (nothing stored twice, and no 'rebuild' can fill it with the whole history): a row
        -- is deleted with the values it was indexed with, which the triggers below have as old.*.
        -- A mention is indexed while some queue item points at its thread.
        CREATE VIRTUAL TABLE queue_fts USING fts5(
            text, title, author, content='', tokenize='unicode61 remove_diacritics 2'
        );
        INSERT INTO queue_fts (rowid, text, title, author)
            SELECT id, text, title, author FROM mentions
            WHERE thread_key IN (SELECT thread_key FROM queue_items);
        CREATE TRIGGER queue_fts_mention_insert AFTER INSERT ON mentions
        WHEN EXISTS (SELECT 1 FROM queue_items WHERE thread_key = new.thread_key) BEGIN
            INSERT INTO queue_fts (rowid, text, title, author) VALUES (new.id, new.text, new.title, new.author);
        END;
        CREATE TRIGGER queue_fts_mention_delete AFTER DELETE ON mentions
        WHEN EXISTS (SELECT 1 FROM queue_items WHERE thread_key = old.thread_key) BEGIN
            INSERT INTO queue_fts (queue_fts, rowid, text, title, author)
            VALUES ('delete', old.id, old.text, old.title, old.author);
        END;
        CREATE TRIGGER queue_fts_mention_update AFTER UPDATE OF text, title, author, thread_key ON mentions BEGIN
            INSERT INTO queue_fts (queue_fts, rowid, text, title, author)
            SELECT 'delete', old.id, old.text, old.title, old.author
            WHERE EXISTS (SELECT 1 FROM queue_items WHERE thread_key = old.thread_key);
            INSERT INTO queue_fts (rowid, text, title, author)
            SELECT new.id, new.text, new.title, new.author
            WHERE EXISTS (SELECT 1 FROM queue_items WHERE thread_key = new.thread_key);
        END;
        -- The first item of a thread brings the thread's mentions in, the last one gone takes them out.
        CREATE TRIGGER queue_fts_item_insert AFTER INSERT ON queue_items
        WHEN NOT EXISTS (SELECT 1 FROM queue_items WHERE thread_key = new.thread_key AND id != new.id) BEGIN
            INSERT INTO queue_fts (rowid, text, title, author)
            SELECT id, text, title, author FROM mentions WHERE thread_key = new.thread_key;
        END;
        CREATE TRIGGER queue_fts_item_delete AFTER DELETE ON queue_items
        WHEN NOT EXISTS (SELECT 1 FROM queue_items WHERE thread_key = old.thread_key) BEGIN
            INSERT INTO queue_fts (queue_fts, rowid, text, title, author)
            SELECT 'delete', id, text, title, author FROM mentions WHERE thread_key = old.thread_key;
        END;
        """,
    ),
    (
        110,
        "quarantine: the stage that set a row aside, the mention it holds back, and a mark on that mention",
        """
        -- 'import' for rows that never became mentions, 'score', 'threads', 'rules', 'trends' for a stored
        -- mention a later stage could not handle (mention_id names it, mentions.quarantined holds it back).
        ALTER TABLE quarantine ADD COLUMN stage TEXT NOT NULL DEFAULT 'import';
        ALTER TABLE quarantine ADD COLUMN mention_id INTEGER;
        ALTER TABLE mentions ADD COLUMN quarantined TEXT;
        CREATE INDEX mentions_quarantined ON mentions (quarantined) WHERE quarantined IS NOT NULL;
        CREATE INDEX quarantine_at ON quarantine (at, id);
        """,
    ),
    (
        111,
        "outbox: a receiver's pending alerts of one group, in order of when they may go out",
        """
        -- noise.hold_until asks for the earliest pending alert of (receiver, group) once per new alert,
        -- without this index each question read every outbox row of the receiver (a 100k import: 15 min).
        CREATE INDEX outbox_group_pending ON outbox (receiver, group_key, COALESCE(next_attempt_at, created_at))
        WHERE delivered_at IS NULL;
        """,
    ),
]

# ---------------------------------------------------------------- web security (block 130-139)
MIGRATIONS += [
    (
        130,
        "web security: per-user session version, login attempts for throttling, Slack requests handled",
        """
        -- Every session cookie carries the version it was issued under: logout, a new password or
        -- disabling the user moves the number on, which ends all their sessions at once.
        ALTER TABLE users ADD COLUMN session_version INTEGER NOT NULL DEFAULT 0;
        -- Login attempts within the throttle window, by the name tried and the client address. A row is
        -- written (state 'checking') before the password is checked, in one IMMEDIATE transaction with
        -- the count, so parallel requests and several server processes cannot all slip under the limit.
        CREATE TABLE login_attempts (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            account TEXT NOT NULL,
            client TEXT NOT NULL,
            state TEXT NOT NULL
        );
        CREATE INDEX login_attempts_account ON login_attempts (account, at);
        CREATE INDEX login_attempts_client ON login_attempts (client, at);
        -- Slack requests already handled (by signature, and by the click itself), kept a little longer
        -- than Slack's 5-minute signature window, so a replayed request is answered without acting twice.
        CREATE TABLE slack_requests (
            key TEXT PRIMARY KEY,
            handled_at TEXT NOT NULL
        );
        CREATE INDEX slack_requests_handled_at ON slack_requests (handled_at);
        """,
    ),
]

# ---------------------------------------------------------------- CLI speed (block 170-179)
MIGRATIONS += [
    (
        170,
        "chart_cache: PNG charts keyed by a digest of their data, so unchanged charts are not redrawn",
        """
        -- Drawing the charts (importing matplotlib, laying out, rendering) is most of what `trends`,
        -- `report` and each daemon pass cost, and a chart whose rows did not change is the same PNG.
        CREATE TABLE chart_cache (
            digest TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            title TEXT NOT NULL,
            brand TEXT NOT NULL,
            png BLOB NOT NULL,
            used_at TEXT NOT NULL
        );
        CREATE INDEX chart_cache_used ON chart_cache (used_at);
        """,
    ),
]

# ---------------------------------------------------------------- figures marketers quote (block 140-149)
MIGRATIONS += [
    (
        140,
        "trend_hour_audiences: reach counts each audience (an author's followers, a community) once a period",
        """
        -- Reach cannot be summed over mentions (seven comments in one subreddit are one audience) nor over
        -- hours (the same author in two hours is one audience in the day), so each hour keeps its audiences
        -- per key with the largest size seen, and a period's reach is the sum over its distinct audiences of
        -- their largest size (listener.trends.tables). author: the handle, so `forget --author` can remove it.
        CREATE TABLE trend_hour_audiences (
            hour_start TEXT NOT NULL,
            brand TEXT NOT NULL,
            source TEXT NOT NULL,
            lang TEXT NOT NULL,
            theme TEXT NOT NULL,
            audience TEXT NOT NULL,
            followers INTEGER NOT NULL,
            author TEXT,
            PRIMARY KEY (hour_start, theme, brand, source, lang, audience)
        ) WITHOUT ROWID;
        CREATE TRIGGER trend_hour_audiences_removed AFTER DELETE ON trend_hour_audiences
        WHEN EXISTS (SELECT 1 FROM trend_period_cache)
        BEGIN
            INSERT OR IGNORE INTO trend_changed_hours (hour_start) VALUES (old.hour_start);
        END;
        -- Rebuild the rollup once (every kept period with it) so every hour has its audiences.
        DELETE FROM trend_state;
        DELETE FROM trend_hours;
        DELETE FROM trend_hour_authors;
        DELETE FROM trend_period_cache;
        DELETE FROM trend_period_text;
        DELETE FROM trend_changed_hours;
        -- A thread's reach is now its distinct audiences, not a sum per comment (listener.threads does the
        -- same from now on). A Reddit thread lives in one subreddit: one audience. Recomputed here rather
        -- than marking every thread dirty, which would re-evaluate every thread's alert rules.
        UPDATE threads SET reach = (
            SELECT COALESCE(SUM(size), 0) FROM (
                SELECT MAX(COALESCE(m.author_followers, 0)) AS size FROM mentions m
                WHERE m.thread_key = threads.thread_key AND m.is_brand_account = 0
                GROUP BY CASE WHEN m.source = 'reddit' THEN '' ELSE COALESCE(m.author, '#' || m.id) END))
        WHERE reach > 0
        """,
    ),
    (
        141,
        "report_emails: the scheduled report's send times, each mailed (or skipped) once",
        """
        CREATE TABLE report_emails (
            send_time TEXT PRIMARY KEY,
            sent INTEGER NOT NULL,
            at TEXT NOT NULL
        )
        """,
    ),
    (
        142,
        "mentions_also_created: the few mentions naming several brands, by time (topics read them per brand)",
        """
        CREATE INDEX mentions_also_created ON mentions (created_at) WHERE also_brands IS NOT NULL
        """,
    ),
]

# ---------------------------------------------------------------- sentiment second look, needs a reply (block 180-189)
MIGRATIONS += [
    (
        180,
        "mentions: needs a reply (and why), which model decided the label, a second look still owed",
        """
        -- needs_reply: 'complaint', 'question' (about a problem) or 'request' (to the brand), NULL: none.
        ALTER TABLE mentions ADD COLUMN needs_reply TEXT;
        -- The scorer whose judgement the label is: 'learned' (the fast model alone) or 'learned+e5'
        -- (the cascade's second look), 'stars' for rated reviews.
        ALTER TABLE mentions ADD COLUMN scored_by TEXT;
        -- 1: scored by the fast model during a large backfill, the second look re-scores it later.
        ALTER TABLE mentions ADD COLUMN second_look INTEGER NOT NULL DEFAULT 0;
        CREATE INDEX mentions_second_look ON mentions (id) WHERE second_look = 1;
        """,
    ),
]

# Features append their migrations in merge order; they apply in number order.
MIGRATIONS.sort(key=lambda migration: migration[0])

# ---------------------------------------------------------------- real-time streams (block 160-169)
# One row per stream connection (jetstream, x, "mastodon <host> #tag"), written by the daemon's stream
# threads: state is connecting, connected, backoff or stopped; last_event_at is our clock when the last
# event arrived and lag_seconds our clock minus that event's own time; counts are since the daemon
# started. The stream's resume position is in `cursors`, moved with the posts it follows.
MIGRATIONS += [
    (
        160,
        "stream_status: what each stream connection is doing, for `overheard status`",
        """
        CREATE TABLE stream_status (
            stream TEXT PRIMARY KEY,
            source TEXT NOT NULL,
            state TEXT NOT NULL,
            connected_since TEXT,
            last_event_at TEXT,
            lag_seconds REAL,
            events INTEGER NOT NULL DEFAULT 0,
            mentions INTEGER NOT NULL DEFAULT 0,
            reconnects INTEGER NOT NULL DEFAULT 0,
            errors INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            last_error_at TEXT,
            retry_at TEXT,
            updated_at TEXT NOT NULL
        );
        """,
    ),
]
# ---------------------------------------------------------------- pipeline speed (block 220-229)
MIGRATIONS += [
    (
        220,
        "terms table: each finished period's term counts and rows kept, so a new hour redoes the open period",
        """
        -- One row per finished local period and brand of the terms table (listener.trends.terms):
        -- the period's term counts (its corpus: what later periods compare with) and, once written, its
        -- rows. Dropped when an hour inside [start_utc, stop_utc) changes in the rollup, its rows alone
        -- (rows_json set to NULL) when an hour of the periods it is compared with, [ref_start_utc,
        -- start_utc), changes (see listener.trends.cache.forget_changed_periods).
        CREATE TABLE trend_terms_kept (
            period TEXT NOT NULL,
            zone TEXT NOT NULL,
            period_start TEXT NOT NULL,
            brand TEXT NOT NULL,
            start_utc TEXT NOT NULL,
            stop_utc TEXT NOT NULL,
            ref_start_utc TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            posts INTEGER NOT NULL,
            mentions INTEGER NOT NULL,
            terms_json TEXT NOT NULL,
            rows_json TEXT,
            PRIMARY KEY (period, zone, period_start, brand)
        );
        CREATE INDEX trend_terms_kept_span ON trend_terms_kept (start_utc, stop_utc);
        """,
    ),
]
MIGRATIONS.sort(key=lambda migration: migration[0])

# ---------------------------------------------------------------- replies from the queue (block 190-199)
# One row per attempt to post the brand's answer (alerts.replies.send). A row is written in state
# 'sending' and committed BEFORE the platform is called: a crash leaves it there, shown as "may have
# been posted", and nothing ever sends it again on its own. A retry (by a person) is a new row that
# names the one it retries. reply_tokens keeps the OAuth tokens of connected accounts (`overheard
# connect x`), encrypted (Fernet) with a key from an environment variable: never in clear in the file.
MIGRATIONS += [
    (
        190,
        "replies: every attempt to answer a mention from the queue, with its outcome",
        """
        CREATE TABLE replies (
            id INTEGER PRIMARY KEY,
            item_id INTEGER NOT NULL REFERENCES queue_items(id),
            mention_id INTEGER NOT NULL REFERENCES mentions(id) ON DELETE CASCADE,
            source TEXT NOT NULL,
            author TEXT NOT NULL,
            text TEXT NOT NULL,
            saved_reply TEXT,
            -- awaiting_approval | rejected | sending | posted | failed
            state TEXT NOT NULL,
            native_id TEXT,
            url TEXT,
            brand_mention_id INTEGER,
            error TEXT,
            error_kind TEXT,
            retry_after TEXT,
            retry_of INTEGER REFERENCES replies(id),
            approved_by TEXT,
            approved_at TEXT,
            created_at TEXT NOT NULL,
            sending_at TEXT,
            finished_at TEXT,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX replies_item ON replies (item_id, id);
        CREATE INDEX replies_state ON replies (state, id);
        CREATE UNIQUE INDEX replies_retry_of ON replies (retry_of) WHERE retry_of IS NOT NULL;
        """,
    ),
    (
        191,
        "reply_tokens: encrypted OAuth tokens of the brand accounts the queue replies as",
        """
        CREATE TABLE reply_tokens (
            platform TEXT PRIMARY KEY,
            account TEXT,
            ciphertext TEXT NOT NULL,
            expires_at TEXT,
            updated_at TEXT NOT NULL
        );
        """,
    ),
]
MIGRATIONS.sort(key=lambda migration: migration[0])

# ------------------------------------------------ inbox v2: SLA from the post, dashboard (block 200-209)
MIGRATIONS += [
    (
        200,
        "queue_items: when the SLA clock started and from what (the customer's post or queueing)",
        """
        -- sla_started_at: the moment the SLA targets count from. sla_basis: 'post' (the thread's first
        -- unanswered customer mention) or 'queued'. post_at: that mention's own time (the post age the
        -- list shows). NULL on items from before this migration: the queue's clock (Queue.tick) works
        -- their due times out again from [queue] sla_starts and the business hours, which SQL cannot.
        ALTER TABLE queue_items ADD COLUMN sla_started_at TEXT;
        ALTER TABLE queue_items ADD COLUMN sla_basis TEXT;
        ALTER TABLE queue_items ADD COLUMN post_at TEXT;
        CREATE INDEX queue_items_sla_unset ON queue_items (id) WHERE sla_started_at IS NULL;
        """,
    ),
    (
        201,
        "indexes for the dashboard and page loads at 200k items: items by time, author, outcome, recovery",
        """
        CREATE INDEX queue_items_created ON queue_items (created_at);
        CREATE INDEX queue_events_action_at ON queue_events (action, at);
        -- the item page's author history (their other items) and the list's stats footer, which scanned
        -- every item at 200k (docs/performance.md)
        CREATE INDEX queue_items_author ON queue_items (source, author);
        CREATE INDEX queue_items_state_outcome ON queue_items (state, outcome);
        CREATE INDEX queue_items_state_recovery ON queue_items (state, recovery);
        """,
    ),
]
MIGRATIONS.sort(key=lambda migration: migration[0])

# ---------------------------------------------------------------- queue routing (block 210-219)
# queue_presence: when each signed-in user (name) last loaded a queue page (online = within [queue]
# online_minutes; logging out removes the row). queue_routing: each rule's round-robin position, moved in
# the transaction that assigns the item, so restarts and several processes take turns fairly.
MIGRATIONS += [
    (
        210,
        "queue_presence and queue_routing: who is online, and each routing rule's round-robin position",
        """
        CREATE TABLE queue_presence (
            name TEXT PRIMARY KEY,
            seen_at TEXT NOT NULL
        );
        CREATE TABLE queue_routing (
            rule TEXT PRIMARY KEY,
            last_agent TEXT,
            turns INTEGER NOT NULL DEFAULT 0,
            updated_at TEXT NOT NULL
        );
        """,
    ),
]
MIGRATIONS.sort(key=lambda migration: migration[0])

# ---------------------------------------------------------------- several workers, one store (block 230-239)
MIGRATIONS += [
    (
        230,
        "leases: a piece of work held by one worker until it finishes or its lease runs out",
        """
        -- name: what is held (e.g. "collect:x:q1"), holder: the worker (host:pid:nonce), expires_at: ISO
        -- UTC. A worker that dies holds nothing once expires_at has passed: another one takes it over.
        CREATE TABLE leases (
            name TEXT PRIMARY KEY,
            holder TEXT NOT NULL,
            acquired_at TEXT NOT NULL,
            expires_at TEXT NOT NULL
        );
        """,
    ),
]
MIGRATIONS.sort(key=lambda migration: migration[0])

# ---------------------------------------------------------------- a fast dashboard (block 240-249)
MIGRATIONS += [
    (
        240,
        "covering indexes for the dashboard: its 30-day figures read ~67k items at 200k, without the table",
        """
        -- alerts.dashboard counts a period's items in SQL from this index alone (every column it reads is
        -- in it), instead of visiting each item's row: ~2x less work at 200k items (docs/performance.md)
        CREATE INDEX queue_items_dashboard ON queue_items (created_at, brand, state, sla_started_at,
            first_response_at, first_response_due, resolved_at, resolution_due, recovery);
        -- the agents' replies and resolutions in the period, counted from the index (actor included)
        CREATE INDEX queue_events_action_at_actor ON queue_events (action, at, actor);
        -- the latest recovered customers of the period
        CREATE INDEX queue_items_recovery_created ON queue_items (recovery, created_at);
        """,
    ),
]
MIGRATIONS.sort(key=lambda migration: migration[0])

# ---------------------------------------------------------------- several workers, one store (block 250-259)
MIGRATIONS += [
    (
        250,
        "web_secrets: keys every web process on the store shares (the session cookie key)",
        """
        -- name: what the key is for ("session": signs session cookies, CSRF tokens and device cookies).
        -- Kept in the store, not in a file beside it, so that web processes on several hosts behind one
        -- load balancer accept each other's cookies. [web] session_secret_env, when set, wins.
        CREATE TABLE web_secrets (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        """,
    ),
]
MIGRATIONS.sort(key=lambda migration: migration[0])

# ---------------------------------------------------------------- incremental thread rollup (block 270-279)
# A big thread keeps its rollup's running totals, so a recompute adds only the mentions not counted yet
# (mentions.rolled_up IS NULL) instead of re-reading the whole thread: a viral thread's 50,000th reply
# costs what its first did. Anything that changes a counted mention deletes the thread's totals row, and
# the next rollup of that thread counts it again in full (listener/threads.py).
MIGRATIONS += [
    (
        270,
        "thread_totals, thread_audiences, thread_repeaters and mentions.rolled_up: incremental thread rollup",
        """
        ALTER TABLE mentions ADD COLUMN rolled_up INTEGER;
        CREATE INDEX mentions_not_rolled_up ON mentions (thread_key) WHERE rolled_up IS NULL;
        CREATE INDEX mentions_rolled_up_author ON mentions (source, author, created_at) WHERE rolled_up IS NOT NULL;
        -- totals: JSON of listener.threads.ThreadTotals, fingerprint: the settings they were counted with
        CREATE TABLE thread_totals (
            thread_key TEXT PRIMARY KEY,
            fingerprint TEXT NOT NULL,
            totals TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        -- each audience of the thread at its largest size (the thread's reach counts each once)
        CREATE TABLE thread_audiences (
            thread_key TEXT NOT NULL,
            audience TEXT NOT NULL,
            followers INTEGER NOT NULL,
            PRIMARY KEY (thread_key, audience)
        );
        -- each repeat detractor of the thread: their worst complaint so far (JSON)
        CREATE TABLE thread_repeaters (
            thread_key TEXT NOT NULL,
            author TEXT NOT NULL,
            state TEXT NOT NULL,
            PRIMARY KEY (thread_key, author)
        );
        """,
    ),
]
MIGRATIONS.sort(key=lambda migration: migration[0])

# ---------------------------------------------------------------- owners (block 290-299)
MIGRATIONS += [
    (
        290,
        "scores_scored_at and queue_items_updated: the web list's change stamp read from indexes on both engines",
        """
        -- alerts.web.routes._filter_choices: the newest score (added or replaced in place: keep_scores
        -- stamps scored_at) and the newest queue item change, each one index look-up.
        CREATE INDEX scores_scored_at ON scores (scored_at);
        CREATE INDEX queue_items_updated ON queue_items (updated_at);
        """,
    ),
    (
        291,
        "leases.renewed_at: when the holder last renewed the lease (`overheard status` lists the workers)",
        """
        ALTER TABLE leases ADD COLUMN renewed_at TEXT;
        """,
    ),
]
MIGRATIONS.sort(key=lambda migration: migration[0])
