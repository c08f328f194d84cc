"""`overheard score` and `overheard sentiment eval | label | train`, run through the real CLI."""

from __future__ import annotations

import contextlib
import csv
import json
from datetime import UTC
from pathlib import Path

import pytest
from click.testing import CliRunner

from listener.cli import cli
from listener.models import Mention
from listener.store import Store
from sentiment.learned import SentimentModel


def run(args: list[str], stdin: str | None = None, cwd: Path | None = None):
    runner = CliRunner()
    if cwd is None:
        return runner.invoke(cli, args, input=stdin)
    with contextlib.chdir(cwd):  # no overheard.toml here: the command runs without a config
        return runner.invoke(cli, args, input=stdin)


def lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_score_jsonl_from_stdin_without_a_config(tmp_path: Path) -> None:
    stdin = "\n".join(json.dumps(x) for x in [
        {"id": "a1", "text": "thanks for nothing, still waiting for my refund"},
        {"id": 7, "text": "Love the new update, works great!"},
        {"id": "ja", "text": "最悪のサービスです、二度と使いません"},
        {"id": "tagged", "text": "Le colis n'est jamais arrivé", "lang": "fr"},
    ])
    result = run(["score", "-", "--format", "jsonl"], stdin, cwd=tmp_path)
    assert result.exit_code == 0, result.output
    out = lines(result.output)
    assert [o["id"] for o in out] == ["a1", 7, "ja", "tagged"]
    assert set(out[0]) == {"id", "label", "compound", "confidence", "lang", "model", "themes", "theme_sentiment",
                           "needs_reply"}
    assert out[0]["label"] == "negative" and "billing" in out[0]["themes"]
    assert out[1]["label"] == "positive" and out[1]["model"] == "learned"
    assert out[2]["label"] == "unscored" and out[2]["lang"] == "ja"
    assert out[3]["lang"] == "fr"


def test_plain_text_lines_from_stdin_are_scored_one_per_line(tmp_path: Path) -> None:
    stdin = "\ufeffthree hours on hold and nobody picked up, cancelling\n\nLove the new update, works great!\n"
    result = run(["score", "-"], stdin, cwd=tmp_path)
    assert result.exit_code == 0, result.output
    out = lines(result.output)
    assert [o["id"] for o in out] == [1, 3]  # line numbers; the blank line is not a text
    assert [o["label"] for o in out] == ["negative", "positive"]


def test_a_csv_on_stdin_is_still_read_as_csv(tmp_path: Path) -> None:
    result = run(["score", "-"], "id,Text\nr9,the package never arrived and support ghosted me\n", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    out = lines(result.output)
    assert [o["id"] for o in out] == ["r9"] and out[0]["label"] == "negative"


def test_score_a_csv_export_with_a_capitalised_text_column(tmp_path: Path) -> None:
    export = tmp_path / "reviews.csv"
    with export.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["Id", "Score", "Summary", "Text"])
        writer.writerow(["r1", "1", "Awful", "Arrived broken and the refund never came. Never again."])
        writer.writerow(["r2", "5", "Yum", "Delicious, my kids love it"])
        writer.writerow(["r3", "3", "Odd", ""])
    result = run(["score", str(export), "--format", "csv"], cwd=tmp_path)
    assert result.exit_code == 0, result.output
    out = lines(result.output)
    assert [(o["id"], o["label"]) for o in out] == [("r1", "negative"), ("r2", "positive"), ("r3", "unscored")]


def test_score_uses_the_configured_brands(tmp_path: Path) -> None:
    config = tmp_path / "joy.toml"
    config.write_text('[[brands]]\nname = "Joy"\nkeywords = ["Joy"]\n', encoding="utf-8")
    stdin = json.dumps({"id": 1, "text": "Joy"}) + "\n"
    with_brand = lines(run(["score", "--config", str(config)], stdin).output)[0]
    without = lines(run(["score", "--scorer", "vader"], stdin, cwd=tmp_path).output)[0]
    assert without["label"] == "positive"  # raw: "joy" is a happy word
    assert with_brand["label"] != "positive"


def test_a_csv_saved_by_excel_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    export = tmp_path / "excel.csv"
    export.write_bytes("\ufefftext,id\n\"still waiting 2 hours, thanks for nothing\",m-7\n".encode("utf-8"))
    out = lines(run(["score", str(export), "--format", "csv"], cwd=tmp_path).output)
    assert [(o["id"], o["label"]) for o in out] == [("m-7", "negative")]


def test_a_semicolon_separated_export_is_read(tmp_path: Path) -> None:
    """Spreadsheets set to a European locale save CSV with semicolons."""
    export = tmp_path / "export.csv"
    export.write_text('id;text\nm1;"Vuelo cancelado otra vez; gracias por nada"\nm2;Me encanta la app\n',
                      encoding="utf-8")
    out = lines(run(["score", str(export), "--format", "csv"], cwd=tmp_path).output)
    assert [(o["id"], o["label"]) for o in out] == [("m1", "negative"), ("m2", "positive")]


def test_brand_names_given_on_the_command_line_are_masked_without_a_config(tmp_path: Path) -> None:
    """`--brand` masks a brand for a quick score of an export, with no config file written."""
    stdin = json.dumps({"id": 1, "text": "Joy Airlines, joy joy joy"}) + "\n"
    raw = lines(run(["score", "--scorer", "vader"], stdin, cwd=tmp_path).output)[0]
    masked = lines(run(["score", "--scorer", "vader", "--brand", "Joy", "--brand", "Joy Airlines"], stdin,
                       cwd=tmp_path).output)[0]
    assert raw["label"] == "positive" and raw["compound"] > 0.5  # "joy" is a happy word to VADER
    assert masked["label"] == "neutral" and masked["compound"] == 0.0
    learned = lines(run(["score", "--brand", "Joy", "--brand", "Joy Airlines"], stdin, cwd=tmp_path).output)[0]
    assert learned["label"] == "neutral"  # nothing but the brand's name and a comma: nothing said either way


def test_bad_lines_are_named_skipped_and_the_rest_scored(tmp_path: Path) -> None:
    stdin = '{"id": 1, "text": "great"}\nnot json\n{"id": 3}\n{"id": 4, "text": "awful, never again"}\n'
    result = run(["score"], stdin, cwd=tmp_path)
    assert result.exit_code == 2
    assert [o["id"] for o in lines(result.output)] == [1, 4]
    assert "stdin line 2: not valid JSON" in result.output
    assert "stdin line 3" in result.output and "2 of 4 inputs skipped" in result.output


def test_a_csv_without_a_text_column_is_one_clear_error(tmp_path: Path) -> None:
    export = tmp_path / "x.csv"
    export.write_text("id,body\n1,hello\n", encoding="utf-8")
    result = run(["score", str(export), "--format", "csv"], cwd=tmp_path)
    assert result.exit_code == 2
    assert "no column 'text'" in result.output and "--text-column" in result.output
    result = run(["score", str(export), "--format", "csv", "--text-column", "body"], cwd=tmp_path)
    assert result.exit_code == 0 and lines(result.output)[0]["id"] == "1"


def test_an_explicit_missing_config_is_an_error(tmp_path: Path) -> None:
    result = run(["score", "--config", str(tmp_path / "nope.toml")], "{}\n")
    assert result.exit_code == 2 and "nope.toml" in result.output


def test_eval_prints_accuracy_macro_f1_negative_precision_recall_and_speed(tmp_path: Path) -> None:
    texts = tmp_path / "texts.txt"
    labels = tmp_path / "labels.txt"
    texts.write_text("I love this\nthis is terrible, never again\nthe store opens at nine\n", encoding="utf-8")
    labels.write_text("2\nnegative\n1\n", encoding="utf-8")
    result = run(["sentiment", "eval", "--texts", str(texts), "--labels", str(labels), "--lang", "en"],
                 cwd=tmp_path)
    assert result.exit_code == 0, result.output
    for what in ("accuracy", "macro-F1", "negative precision", "negative recall"):
        assert what in result.output
    assert "negative recall     1.000" in result.output
    # three texts time the start-up, not the scorer: no "speed 5 texts/s"
    assert "texts/s" not in result.output and "speed               not measured" in result.output
    # where the labels went: gold negative row, scored-as-negative column
    negative_row = next(line for line in result.output.splitlines() if line.split()[:1] == ["negative"]
                        and line.split()[1].isdigit())
    assert negative_row.split()[1:] == ["1", "0", "0", "0"]
    labels.write_text("2\nsad\n1\n", encoding="utf-8")
    bad = run(["sentiment", "eval", "--texts", str(texts), "--labels", str(labels)], cwd=tmp_path)
    assert bad.exit_code == 2 and "line 2" in bad.output


def test_eval_reads_a_labelled_csv_export_with_brand_names_masked(tmp_path: Path) -> None:
    """A team checks the model on its own labelled export (columns named as the export names them)."""
    export = tmp_path / "labelled.csv"
    with export.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["Tweet ID", "Sentiment", "Message", "lang"])
        writer.writerow(["1", "Negative", "@JoyAir still waiting 2 hours for my bag, thanks for nothing", "en"])
        writer.writerow(["2", "Positive", "Joy Air crew were lovely, thank you!", "en"])
        writer.writerow(["3", "neutral", "Joy Air", "en"])
        writer.writerow(["4", "NEG", "Vuelo cancelado otra vez, gracias por nada", "es"])
    args = ["sentiment", "eval", "--csv", str(export), "--text-column", "message", "--label-column", "sentiment"]
    result = run(args + ["--brand", "Joy Air"], cwd=tmp_path)
    assert result.exit_code == 0, result.output
    assert "on 4 texts (labelled.csv)" in result.output
    assert "accuracy            1.000" in result.output and "negative recall     1.000" in result.output
    missing = run(["sentiment", "eval", "--csv", str(export)], cwd=tmp_path)
    assert missing.exit_code == 2 and "no column 'text'" in missing.output and "--text-column" in missing.output
    export.write_text("text,label\nfine,sad\n", encoding="utf-8")
    bad = run(["sentiment", "eval", "--csv", str(export)], cwd=tmp_path)
    assert bad.exit_code == 2 and "line 2" in bad.output and "'sad'" in bad.output
    neither = run(["sentiment", "eval"], cwd=tmp_path)
    assert neither.exit_code == 2 and "--csv" in neither.output


def _store_with_mentions(tmp_path: Path) -> Path:
    config = tmp_path / "overheard.toml"
    config.write_text('[[brands]]\nname = "Brightwave"\nkeywords = ["Brightwave"]\n', encoding="utf-8")
    return config


def test_label_stores_a_correction_and_train_with_corrections_learns_it(tmp_path: Path) -> None:
    from datetime import datetime

    from listener.config import load_config

    config_path = _store_with_mentions(tmp_path)
    config = load_config(config_path, check_secrets=False)
    text = "porting my number to Brightwave has taken nine days"
    with Store(config.db_path) as store:
        from listener.models import Batch

        now = datetime(2026, 1, 1, tzinfo=UTC)
        mention = Mention(source="x", native_id="1", brand="Brightwave", text=text, created_at=now,
                          author="ann")
        store.save_batch("x", "q", Batch(mentions=[mention], cursor=None))
        mention_id = store.scalar("SELECT id FROM mentions")
    result = run(["sentiment", "label", str(mention_id), "negative", "--config", str(config_path)])
    assert result.exit_code == 0, result.output
    with Store(config.db_path) as store:
        assert store.scalar("SELECT label FROM labels") == "negative"
        assert store.scalar("SELECT label FROM mentions") == "negative"
    missing = run(["sentiment", "label", "999", "negative", "--config", str(config_path)])
    assert missing.exit_code == 2 and "mention 999" in missing.output

    data = _tiny_training_data(tmp_path / "data")
    out = tmp_path / "team-model.npz"
    args = ["sentiment", "train", "--data", str(data), "--config", str(config_path), "--out", str(out)]
    result = run(args + ["--with-corrections"])
    assert result.exit_code == 0, result.output
    assert "1 human corrections" in result.output
    model = SentimentModel.load(out)
    assert model.info["trained_on"]["human corrections"] == 1

    # The same input gives the same bytes: the shipped model can be rebuilt and checked.
    again = tmp_path / "again.npz"
    run(["sentiment", "train", "--data", str(data), "--config", str(config_path), "--out", str(again),
         "--with-corrections"])
    assert again.read_bytes() == out.read_bytes()


def _tiny_training_data(root: Path) -> Path:
    """A miniature copy of the development data's layout, written by the test."""
    pos = ["love it", "great service", "amazing, thank you", "best day", "so happy with this"]
    neg = ["hate it", "awful service", "terrible, never again", "worst day", "so angry with this"]
    neu = ["the shop opens at nine", "flight 22 lands at noon", "new store on main street", "update today",
           "meeting at ten"]
    texts = pos + neg + neu
    labels = ["2"] * 5 + ["0"] * 5 + ["1"] * 5
    folders = [root / "sentiment" / "tweeteval"] + [
        root / "sentiment" / "umsab" / lang for lang in
        ("arabic", "english", "french", "german", "hindi", "italian", "portuguese", "spanish")]
    for folder in folders:
        folder.mkdir(parents=True)
        (folder / "train_text.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
        (folder / "train_labels.txt").write_text("\n".join(labels) + "\n", encoding="utf-8")
    vader = root / "sentiment" / "vader-icwsm"
    vader.mkdir(parents=True)
    ratings = ["2.5"] * 5 + ["-2.5"] * 5 + ["0.0"] * 5
    (vader / "tweets_GroundTruth.txt").write_text(
        "".join(f"{i}\t{r}\t{t}\n" for i, (r, t) in enumerate(zip(ratings, texts, strict=True), 1)), encoding="utf-8")
    reviews = root / "reviews"
    reviews.mkdir()
    with (reviews / "amazon-finefood-first5000.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["Id", "ProductId", "Score", "Summary", "Text"])
        for i, (label, text) in enumerate(zip(labels, texts, strict=True), 1):
            writer.writerow([i, f"P{i}", {"0": 1, "1": 3, "2": 5}[label], "", text])
    return root


def test_train_without_the_data_says_where_it_looked(tmp_path: Path) -> None:
    result = run(["sentiment", "train", "--data", str(tmp_path / "none"), "--out", str(tmp_path / "m.npz")],
                 cwd=tmp_path)
    assert result.exit_code == 2 and "not found" in result.output


@pytest.mark.parametrize("command", [["score"], ["sentiment"], ["sentiment", "train"], ["sentiment", "eval"],
                                     ["sentiment", "label"]])
def test_every_command_has_help(command: list[str]) -> None:
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0 and len(result.output) > 200


def test_a_jsonl_file_with_a_byte_order_mark_keeps_its_first_line(tmp_path: Path) -> None:
    path = tmp_path / "texts.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"id": "first", "text": "awful service"}).encode() + b"\n"
                     + json.dumps({"id": "second", "text": "great service"}).encode() + b"\n")
    result = run(["score", str(path), "--format", "jsonl"], cwd=tmp_path)
    assert result.exit_code == 0, result.output
    assert [o["id"] for o in lines(result.output)] == ["first", "second"]
