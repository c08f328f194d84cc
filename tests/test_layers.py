"""The one-way house (issue 20, item 1): pure → core → stages → app, and stages apart from each other.

Every module of ours is parsed with `ast`; every import counts, at the top of a file or inside a function
(an import hidden in a function to dodge a cycle is still a dependency). An import from a lower layer to
a higher one fails, and so does an import from one stage to another unless the pair is in SIDEWAYS with
its reason. docs/architecture.md shows the same table; a new module must be given a place in LAYERS.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("sentiment", "listener", "alerts")

PURE, CORE, STAGE, APP = 0, 1, 2, 3
LAYER_NAMES = {PURE: "pure", CORE: "core", STAGE: "stage", APP: "app"}

# Module (or package prefix) -> (layer, stage group). The longest matching prefix wins.
LAYERS: dict[str, tuple[int, str]] = {
    # pure: maths and models of language, no store, no config, nothing of ours
    "sentiment": (PURE, "sentiment"),
    # core: what every stage stands on (config, records, the store and its engines, small leaf helpers)
    "listener": (CORE, "core"),  # the package itself (its version)
    "listener.config": (CORE, "core"),
    "listener.plugins": (CORE, "core"),  # the registries: sources, channels, repliers by "module:Class"
    "listener.models": (CORE, "core"),
    "listener.store": (CORE, "core"),
    "listener.migrations": (CORE, "core"),
    "listener.backends": (CORE, "core"),
    "listener.dbcopy": (CORE, "core"),  # copies the store table by table; knows no stage
    "listener.errors": (CORE, "core"),
    "listener.masking": (CORE, "core"),
    "listener.text": (CORE, "core"),
    "listener.timeparse": (CORE, "core"),
    "listener.trends.since": (CORE, "core"),  # the --since/duration grammar as ValueError, for config too
    "listener.logs": (CORE, "core"),
    "listener.language_tags": (CORE, "core"),
    "listener.query": (CORE, "core"),  # the one query language: sources, streams and scoring match with it
    "listener.reach": (CORE, "core"),  # the reach of stored mentions: threads and trends count it alike
    "listener.quarantine": (CORE, "core"),  # the set-aside mark every stage (and the store) writes
    "listener.scorefile": (CORE, "core"),  # reading texts from JSONL/CSV: the file source and `score`
    "listener.leases": (CORE, "core"),
    "listener.daemonlock": (CORE, "core"),
    "alerts.message": (CORE, "core"),  # the Alert record, a model like listener.models: rules, spikes, health
    #                                    and the queue's SLA breaches all build one
    # stages: each does one job of the pipeline, on the core
    "listener.sources": (STAGE, "sources"),
    "listener.collect": (STAGE, "sources"),
    "listener.streams": (STAGE, "streams"),
    "listener.scoring": (STAGE, "scoring"),
    "listener.labels": (STAGE, "scoring"),  # human corrections of sentiment: the learning loop's input
    "listener.threads": (STAGE, "threads"),
    "listener.trends": (STAGE, "trends"),
    "listener.trendfiles": (STAGE, "trends"),
    "listener.topics": (STAGE, "trends"),
    "listener.summary": (STAGE, "trends"),
    "alerts": (STAGE, "alerts"),  # the package itself, and below: rules, noise, spikes, outbox, channels
    "alerts.queue": (STAGE, "queue"),
    "alerts.routing": (STAGE, "queue"),
    "alerts.permissions": (STAGE, "queue"),
    "alerts.users": (STAGE, "queue"),
    "alerts.sla": (STAGE, "queue"),
    "alerts.actions": (STAGE, "queue"),
    "alerts.live": (STAGE, "queue"),
    "alerts.dashboard": (STAGE, "queue"),
    "listener.sla": (STAGE, "queue"),  # the queue's SLA due times, read for `overheard status`
    "alerts.replies": (STAGE, "replies"),
    # app: what ties the stages together and faces people (pipeline, daemon, CLI, web, tools)
    "listener.pipeline": (APP, "app"),
    "listener.scheduler": (APP, "app"),
    "listener.health": (APP, "app"),  # the daemon's memory of each source; raises health alerts
    "listener.report_email": (APP, "app"),  # a daemon job: the trend report through an email receiver
    "listener.retention": (APP, "app"),  # prune and forget: every table, on purpose
    "listener.status": (APP, "app"),  # `overheard status`: reads the daemon, sources, queue and outbox
    "listener.retry": (APP, "app"),  # `quarantine retry`: reads a file again, runs the pipeline
    "listener.cli": (APP, "app"),
    "listener.commands": (APP, "app"),
    "listener.display": (APP, "app"),
    "listener.demo": (APP, "app"),
    "listener.demo_data": (APP, "app"),
    "alerts.backtest": (APP, "app"),  # replays the rollup, the rules and the outbox on a scratch store
    "alerts.web": (APP, "app"),
    "alerts.slack_actions": (APP, "app"),  # the Slack surface of the queue actions, like the web routes
}

# (from stage, to stage) -> why that stage may use the other. Keep it short: each entry is a coupling.
SIDEWAYS: dict[tuple[str, str], str] = {
    ("streams", "sources"): "a stream builds mentions with its source's own to_mention, so both read alike",
    ("scoring", "threads"): "a mention scored or relabelled late marks its thread for the rollup "
                            "(listener.threads.mark_dirty, the threads table's owner)",
    ("alerts", "threads"): "an alert is about a thread: its author's earlier complaints, its alert marks "
                           "(listener.threads owns them)",
    ("alerts", "trends"): "a spike alert says what drove it (listener.topics.explain, listener.summary)",
    ("alerts", "queue"): "the rules open one queue item per flagged thread; Slack's buttons are the "
                         "queue's action list (alerts.actions)",
    ("queue", "scoring"): "relabelling from the queue is a human correction (listener.labels)",
    ("queue", "trends"): "the dashboard's response times are the trend files' queue table "
                         "(listener.trends.tables.read_queue_items), so the two never disagree",
    ("replies", "queue"): "a reply is sent from a queue item, checked by its permissions and kept in its "
                          "audit trail",
}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the module of ours it imports
    line: int
    hidden: bool  # inside a function


@dataclass(frozen=True)
class Violation:
    imp: Import
    why: str

    def __str__(self) -> str:
        where = " (inside a function)" if self.imp.hidden else ""
        return f"{self.imp.module}:{self.imp.line} imports {self.imp.target}{where}: {self.why}"


def modules(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    """Dotted name -> file of every module in `packages` under `root`."""
    found: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imports_of(name: str, path: Path, known: set[str], packages: tuple[str, ...]) -> list[Import]:
    """Every import of one of our modules in `path`, wherever it stands in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    in_functions: set[int] = set()  # ids of the nodes inside a function body
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            in_functions.update(id(n) for n in ast.walk(node) if n is not node)
    found: list[Import] = []

    def resolve(dotted: str) -> str | None:
        parts = dotted.split(".")
        while parts and ".".join(parts) not in known:
            parts.pop()
        return ".".join(parts) if parts and parts[0] in packages else None

    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # `from alerts import queue` imports the module alerts.queue, not just the package
            names = [f"{module}.{alias.name}" for alias in node.names]
        for dotted in names:
            target = resolve(dotted)
            if target is not None and target != name:
                found.append(Import(name, target, node.lineno, id(node) in in_functions))
    return found


def place(name: str, layers: dict[str, tuple[int, str]]) -> tuple[int, str] | None:
    parts = name.split(".")
    while parts:
        if ".".join(parts) in layers:
            return layers[".".join(parts)]
        parts.pop()
    return None


def check(root: Path, packages: tuple[str, ...], layers: dict[str, tuple[int, str]],
          sideways: dict[tuple[str, str], str]) -> tuple[list[Violation], list[str]]:
    """The imports that break the layering, and the modules LAYERS gives no place."""
    found = modules(root, packages)
    unplaced = sorted(name for name in found if place(name, layers) is None)
    violations: list[Violation] = []
    for name, path in found.items():
        here = place(name, layers)
        if here is None:
            continue
        for imp in imports_of(name, path, set(found), packages):
            there = place(imp.target, layers)
            if there is None:
                continue
            if there[0] > here[0]:
                violations.append(Violation(imp, f"{LAYER_NAMES[here[0]]} ({here[1]}) may not import "
                                                 f"{LAYER_NAMES[there[0]]} ({there[1]})"))
            elif here[0] == there[0] == STAGE and here[1] != there[1] and (here[1], there[1]) not in sideways:
                violations.append(Violation(imp, f"stage {here[1]} may not import stage {there[1]} "
                                                 "(no reason in SIDEWAYS)"))
    return sorted(set(violations), key=str), unplaced


def test_every_module_has_a_layer():
    _, unplaced = check(ROOT, PACKAGES, LAYERS, SIDEWAYS)
    assert not unplaced, f"give these modules a place in tests/test_layers.py LAYERS: {unplaced}"


def test_no_import_runs_back_up_or_sideways():
    violations, _ = check(ROOT, PACKAGES, LAYERS, SIDEWAYS)
    assert not violations, "imports that break the layering:\n" + "\n".join(map(str, violations))


def test_every_sideways_reason_is_still_used():
    """An allowance nobody needs any more is a coupling waiting to come back: remove it."""
    found = modules(ROOT, PACKAGES)
    used = set()
    for name, path in found.items():
        here = place(name, LAYERS)
        for imp in imports_of(name, path, set(found), PACKAGES):
            there = place(imp.target, LAYERS)
            if here and there and here[0] == there[0] == STAGE and here[1] != there[1]:
                used.add((here[1], there[1]))
    assert set(SIDEWAYS) <= used, f"unused SIDEWAYS entries: {sorted(set(SIDEWAYS) - used)}"


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_the_checker_catches_an_import_back_up(tmp_path):
    """A fake tree: core imports the app inside a function, a stage imports another stage."""
    _write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/core.py": "def load():\n    from pkg.app import main\n    return main\n",
        "pkg/app.py": "from pkg import core\nfrom pkg.stages import a\n\ndef main():\n    return core\n",
        "pkg/stages/__init__.py": "",
        "pkg/stages/a.py": "from ..core import load\nfrom . import b\n",
        "pkg/stages/b.py": "import pkg.core\n",
        "pkg/loose.py": "",
    })
    layers = {"pkg.core": (CORE, "core"), "pkg.app": (APP, "app"), "pkg.stages": (STAGE, "a"),
              "pkg.stages.b": (STAGE, "b")}
    violations, unplaced = check(tmp_path, ("pkg",), layers, {})
    found = {(v.imp.module, v.imp.target, v.imp.hidden) for v in violations}
    assert found == {("pkg.core", "pkg.app", True), ("pkg.stages.a", "pkg.stages.b", False)}
    assert unplaced == ["pkg", "pkg.loose"]
    # with a reason, the sideways import is allowed; the one back up never is
    violations, _ = check(tmp_path, ("pkg",), layers, {("a", "b"): "a test's reason"})
    assert [(v.imp.module, v.imp.target) for v in violations] == [("pkg.core", "pkg.app")]


@pytest.mark.parametrize("kind", ["sources", "channels", "repliers"])
def test_the_registries_name_stage_modules(kind):
    """The core knows the plug-ins by name only ("module:Class"); each names a stage module that exists."""
    from listener import plugins

    registry = getattr(plugins, kind.upper())
    found = modules(ROOT, PACKAGES)
    for name, target in registry.items():
        module = target.split(":")[0]
        if kind == "repliers" and module not in found:
            continue  # a platform whose replier is not written yet (alerts.replies.replier_class says None)
        assert module in found, f"{kind} {name}: no module {module}"
        assert place(module, LAYERS)[0] == STAGE, f"{kind} {name}: {module} is not a stage module"
