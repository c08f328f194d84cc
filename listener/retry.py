"""`overheard quarantine retry`: try set-aside records again with today's code and config.

An import row is read again from its file and line (through the file source); a mention or thread a
stage set aside loses its mark and the pipeline runs. It drives the file source and the pipeline, so it
sits in the app layer, above listener.quarantine (the records themselves, in the core).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from listener.errors import SourceError
from listener.pipeline import process
from listener.quarantine import QuarantineRecord, drop_record, get_record, release_mention, split_location
from listener.sources.file import FileImport, FileSource, FileSourceConfig, import_file
from listener.threads import mark_alert_pending, mark_dirty, recount
from listener.trends.rollup import recompute_mentions


@dataclass
class RetryReport:
    """What a retry did: records tried, how many came back (stored or handled), which are still bad."""

    tried: int = 0
    came_back: int = 0
    still_quarantined: list[QuarantineRecord] | None = None
    not_retried: list[tuple[QuarantineRecord, str]] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"tried": self.tried, "came_back": self.came_back,
                "still_quarantined": [r.as_dict() for r in self.still_quarantined or []],
                "not_retried": [{**r.as_dict(), "why": why} for r, why in self.not_retried or []]}


def retry(config: Any, store: Any, records: list[QuarantineRecord]) -> RetryReport:
    """Try quarantined records again with today's code and config (a brand added, a bug fixed).

    An import row is read again from its file and line; a mention a stage set aside loses its mark and
    the pipeline runs (`process`, then the trend rollup for trends-stage mentions). A record that fails
    again is quarantined again, with the new reason.
    """
    report = RetryReport(still_quarantined=[], not_retried=[])
    by_file: dict[str, list[tuple[QuarantineRecord, int]]] = {}
    mentions: list[QuarantineRecord] = []
    threads: list[QuarantineRecord] = []
    for rec in records:
        place = split_location(rec.location)
        if rec.mention_id is not None:
            mentions.append(rec)
        elif rec.location.startswith("thread ") and rec.stage in ("threads", "rules"):
            threads.append(rec)
        elif rec.stage == "import" and place and place[0].startswith("/"):
            by_file.setdefault(place[0], []).append((rec, place[1]))
        else:
            report.not_retried.append((rec, "not from an export file: the source sends it again when it "
                                            "next fetches it"))
    for path, wanted in by_file.items():
        _retry_file(config, store, path, wanted, report)
    trends_ids: list[int] = []
    retried: list[QuarantineRecord] = []
    with store.transaction() as conn:
        for rec in mentions:
            found = conn.execute("SELECT thread_key FROM mentions WHERE id = ?", (rec.mention_id,)).fetchone()
            drop_record(conn, rec.id)
            if found is None:
                report.not_retried.append((rec, "the mention is no longer stored"))
                continue
            recount(conn, [found[0]])  # its thread's running totals left it out: counted again in full
            release_mention(conn, rec.mention_id)
            mark_dirty(conn, [found[0]])
            if rec.stage == "trends":
                trends_ids.append(int(rec.mention_id or 0))
            retried.append(rec)
        for rec in threads:
            key = rec.location.removeprefix("thread ")
            drop_record(conn, rec.id)
            if rec.stage == "threads":
                mark_dirty(conn, [key])
            else:
                mark_alert_pending(conn, [key])
            retried.append(rec)
    if retried:
        process(config, store)
        if trends_ids:
            recompute_mentions(store, config.trends.timezone, trends_ids)
        for rec in retried:
            report.tried += 1
            again = store.query("SELECT id, source, location, reason, COALESCE(raw, '') AS raw, at, stage, "
                                "mention_id FROM quarantine WHERE source = ? AND location = ?",
                                (rec.source, rec.location))
            if again:
                report.still_quarantined.append(QuarantineRecord(**again[0]))
            else:
                report.came_back += 1
    return report


def _retry_file(config: Any, store: Any, path: str, wanted: list[tuple[QuarantineRecord, int]],
                report: RetryReport) -> None:
    """Read the quarantined lines of one export again (with the config's field map for that file)."""
    file = Path(path)
    if not file.exists():
        report.not_retried.extend((rec, f"{path} is no longer there") for rec, _ in wanted)
        return
    spec = _configured_import(config, file) or FileImport(paths=[path], default_source=wanted[0][0].source)
    source = FileSource(FileSourceConfig(imports=[spec]), config)
    lines = {line for _, line in wanted}
    bad: set[str] = set()
    try:
        for batch in import_file(file, source, spec, None, only_lines=lines):
            store.save_batch("file", path, batch)  # no cursor: the file's own position stays as it was
            bad.update(q.location for q in batch.quarantined)
    except SourceError as exc:
        report.not_retried.extend((rec, f"{path}: {exc}") for rec, _ in wanted)
        return
    for rec, _ in wanted:
        report.tried += 1
        if rec.location in bad:
            found = get_record(store, rec.id)
            report.still_quarantined.append(found or rec)
        else:
            with store.transaction() as conn:
                drop_record(conn, rec.id)
            report.came_back += 1


def _configured_import(config: Any, file: Any) -> Any:
    """The [[sources.file.imports]] entry that reads `file`, if the config has one."""
    section = getattr(config, "sources", {}).get("file")
    if section is None:
        return None
    try:
        for path, spec in FileSource(section, config).files():
            if path.resolve() == file.resolve():
                return spec
    except OSError:
        return None
    return None
