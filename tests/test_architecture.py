"""One home per fact: no import cycles, one version, one flag style, one row id, one digit-token detection."""

from __future__ import annotations

import argparse
import ast
import importlib.metadata
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from cogip_tasks.cli_style import UNDERSCORE_NOTE, CogIPArgumentParser, hyphenate
from cogip_tasks.dimensions import DIMENSIONS, get_dimension, image_path, row_id
from conftest import REPO

PACKAGES = ("cogip_tasks", "cogip_train", "cogip_gen", "hub_upload")
# cogip_train.cli <-> cogip_train.grpo is being reworked elsewhere; every other package must stay cycle-free.
CHECKED = ("cogip_tasks", "cogip_gen", "hub_upload", "cogip_train")


# -- imports -----------------------------------------------------------------------------------------------------


def _modules() -> dict[str, tuple[Path, bool]]:
    found = {}
    for pkg in PACKAGES:
        for path in (REPO / pkg).rglob("*.py"):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            is_pkg = parts[-1] == "__init__"
            found[".".join(parts[:-1] if is_pkg else parts)] = (path, is_pkg)
    return found


def _import_graph() -> dict[str, set[str]]:
    """Module -> first-party modules it imports, at module level *or inside functions* (a lazy import hides a
    cycle from Python, not from a reader). A package's ``__init__`` importing its own submodules is not an edge
    back from them."""
    mods = _modules()
    graph: dict[str, set[str]] = {}
    for mod, (path, is_pkg) in mods.items():
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    package = mod.split(".") if is_pkg else mod.split(".")[:-1]
                    package = package[: len(package) - (node.level - 1)]
                    base = ".".join(package + ([base] if base else []))
                names = [base] + [f"{base}.{a.name}" for a in node.names]
            else:
                continue
            deps.update(n for n in names if n in mods and n != mod)
        graph[mod] = {d for d in deps if not (mods[d][1] and mod.startswith(d + "."))}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_import_graph_sees_lazy_imports():
    graph = _import_graph()
    assert "cogip_tasks.metrics" in graph["cogip_tasks"]  # imported inside cogip_tasks.__getattr__
    assert "hub_upload.card" in graph["hub_upload.build"]
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]


def test_no_import_cycles():
    cycles = [c for c in _cycles(_import_graph()) if any(m.split(".")[0] in CHECKED for m in c)]
    assert cycles == []
    graph = _import_graph()
    assert "hub_upload.build" not in graph["hub_upload.card"]  # the card gets its data as arguments


def test_core_modules_import_alone_in_a_fresh_interpreter():
    """Each shared-core module imports on its own (no hidden order dependency between them)."""
    core = [
        "cogip_tasks.dimensions",
        "cogip_tasks.tokens",
        "cogip_tasks.harness",
        "cogip_tasks.cli_style",
        "cogip_tasks.model_args",
        "cogip_tasks.files",
        "cogip_tasks.errors",
        "hub_upload.card",
        "hub_upload.layout",
        "hub_upload.push",
        "cogip_gen.harness",
    ]
    code = "import importlib, sys\nfor m in sys.argv[1:]:\n    importlib.import_module(m)\n"
    for module in core:
        proc = subprocess.run([sys.executable, "-c", code, module], capture_output=True, text=True, cwd=REPO)
        assert proc.returncode == 0, f"{module}: {proc.stderr[-2000:]}"


def test_shared_core_imports_no_consumer():
    """The core (cogip_tasks minus the plugin's models/tasks, the leaderboard and the demo) imports nothing of
    the packages built on it."""
    for mod, deps in _import_graph().items():
        if mod.startswith("cogip_tasks"):
            assert not {d for d in deps if d.split(".")[0] in ("cogip_train", "cogip_gen", "hub_upload")}, mod


# -- one version ---------------------------------------------------------------------------------------------------


def test_version_has_one_home():
    import cogip_tasks

    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    import tomllib

    assert "version" in tomllib.loads(pyproject)["project"]["dynamic"]
    assert 'attr = "cogip_tasks.__version__"' in pyproject
    from setuptools.config.pyprojecttoml import read_configuration

    # (readme is dynamic too, filled in by setup.py, which read_configuration alone does not run)
    config = read_configuration(REPO / "pyproject.toml", ignore_option_errors=True)
    assert config["project"]["version"] == cogip_tasks.__version__
    try:
        installed = importlib.metadata.version("cogip")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("cogip is not installed in this environment")
    assert installed == cogip_tasks.__version__


# -- row ids -------------------------------------------------------------------------------------------------------


def test_row_id_and_image_path():
    assert row_id("memorability", "000123") == "Memorability/000123"
    assert row_id(DIMENSIONS["emotional_valence"], "7") == "Emotional_Valence/7"
    assert image_path("cogip_funniness", "000001") == "Funniness/000001.jpg"
    for dim in DIMENSIONS.values():  # an id names its dimension back
        assert get_dimension(row_id(dim, "000000").split("/")[0]) is dim
    with pytest.raises(ValueError, match="unknown CogIP dimension"):
        row_id("beauty", "000001")


def test_release_items_use_the_row_id(tmp_path):
    from fixtures.release import write_synthetic_release
    from hub_upload.release import read_release

    release = read_release(write_synthetic_release(tmp_path / "release", n_train=1, pool_sizes=1))
    for item in release.training + release.test_pool:
        assert item.id == row_id(item.dimension, item.stem) and item.image == image_path(item.dimension, item.stem)


# -- digit tokens --------------------------------------------------------------------------------------------------


class _Tok:
    """A stub tokenizer: ``"7"`` is ``[7]`` unless listed in ``split`` (then two tokens)."""

    def __init__(self, split: str = ""):
        self.split = split

    def encode(self, text, add_special_tokens=False):
        return [ord(c) for c in text] + ([0] if text in self.split else [])

    def decode(self, ids):
        return "".join(chr(i) for i in ids if i)


def test_digit_token_ids():
    from cogip_tasks.tokens import digit_token_ids, single_digit_ids

    assert digit_token_ids(_Tok()) == [ord(d) for d in "0123456789"]
    assert digit_token_ids(SimpleNamespace(tokenizer=_Tok())) == [ord(d) for d in "0123456789"]  # a processor
    assert digit_token_ids(_Tok(split="7")) is None
    assert "7" not in single_digit_ids(_Tok(split="7")) and single_digit_ids(_Tok(split="7"))["8"] == ord("8")


def test_digit_token_ids_agree_with_the_soft_label_loss():
    from cogip_tasks.tiny_model import train_tokenizer
    from cogip_tasks.tokens import digit_token_ids
    from cogip_train.soft_label import DigitTokens

    tok = train_tokenizer()
    ids = digit_token_ids(tok)
    assert ids is not None and len(set(ids)) == 10 and [tok.decode([i]) for i in ids] == list("0123456789")
    assert tuple(ids) == DigitTokens.from_tokenizer(tok).digit_ids


# -- the card reads structured audit facts -------------------------------------------------------------------------


def test_card_states_placeholders_from_the_findings_facts_not_their_message():
    from hub_upload.audit import AuditReport, Finding, Placeholder
    from hub_upload.card import _placeholder_text

    facts = Placeholder(0.0, 209, 2000, 0.2)
    report = AuditReport(
        [
            Finding(
                "suspicious_placeholder",
                "cognition_scores/Memorability_scores.txt",
                "Memorability/000801",
                "free text: not parsed",
                placeholder=facts,
            )
        ]
    )
    text = _placeholder_text(report, SimpleNamespace(drop_suspicious=False), 3)
    assert facts.describe() in text and "not parsed" not in text and "3 of them are in `test`" in text
    assert facts.describe() == (
        "score 0.000 is shared by 209 of 2000 images, nearest other score 0.2: likely a missing annotation"
    )
    resolved = report.to_json()["findings"][0]
    assert resolved["placeholder"] == {"value": 0.0, "count": 209, "total": 2000, "nearest": 0.2}
    report.resolve("suspicious_placeholder")
    assert report.findings[0].resolved and report.findings[0].placeholder == facts


# -- one flag style --------------------------------------------------------------------------------------------------


def _parsers():
    from cogip_gen.cli import build_parser as gen_parser
    from cogip_tasks.leaderboard.cli import build_parser as leaderboard_parser
    from hub_upload.cli import build_parser as upload_parser

    for top in (gen_parser(), upload_parser(), leaderboard_parser()):
        yield top
        for action in top._actions:
            if isinstance(action, argparse._SubParsersAction):
                yield from action.choices.values()


def test_every_cli_option_is_hyphenated_and_its_underscore_spelling_is_accepted():
    seen = 0
    for parser in _parsers():
        assert isinstance(parser, CogIPArgumentParser), parser.prog
        assert UNDERSCORE_NOTE.split()[0] in parser.format_help()
        for option in parser._option_string_actions:
            assert "_" not in option, f"{parser.prog}: {option}"  # one spelling shown in --help
            if "-" in option[2:]:
                seen += 1
                assert parser.normalise_args([option.replace("-", "_").replace("__", "--", 1)]) == [option]
                assert parser.normalise_args([option.replace("-", "_").replace("__", "--", 1) + "=x_y"]) == [
                    f"{option}=x_y"
                ]
    assert seen >= 15


def test_underscore_and_hyphen_spellings_parse_the_same():
    from cogip_gen.cli import build_parser

    hyphens = [
        "generate",
        "--model-args",
        "pretrained=x",
        "--prompt",
        "p",
        "--output-dir",
        "o",
        "--true-cfg-scale",
        "2.5",
        "--judge-batch-size",
        "3",
        "--judge-gen-kwargs=max_new_tokens=4",
        "--negative-prompt",
        "a_b",
    ]
    underscores = [
        "generate",
        "--model_args",
        "pretrained=x",
        "--prompt",
        "p",
        "--output_dir",
        "o",
        "--true_cfg_scale",
        "2.5",
        "--judge_batch_size",
        "3",
        "--judge_gen_kwargs=max_new_tokens=4",
        "--negative_prompt",
        "a_b",
    ]
    a, b = build_parser().parse_args(hyphens), build_parser().parse_args(underscores)
    assert vars(a) == vars(b)
    assert (a.model_args, a.output_dir, a.true_cfg_scale, a.judge_batch_size, a.negative_prompt) == (
        "pretrained=x",
        "o",
        2.5,
        3,
        "a_b",
    )
    assert a.judge_gen_kwargs == "max_new_tokens=4"
    assert build_parser().parse_args([*underscores[:5], "--output_d", "o"]).output_dir == "o"  # a prefix, as argparse


def test_normalising_leaves_values_positionals_and_unknown_options_alone():
    parser = CogIPArgumentParser(prog="t")
    parser.add_argument("--batch_size", "--batch-size", type=int)
    parser.add_argument("rest", nargs="*")
    assert [a.option_strings for a in parser._actions if a.dest == "batch_size"] == [["--batch-size"]]
    assert parser.normalise_args(["--batch_size", "2", "a_b", "-x_y", "--", "--batch_size"]) == [
        "--batch-size",
        "2",
        "a_b",
        "-x_y",
        "--",
        "--batch_size",
    ]
    assert parser.normalise_args(["--unknown_flag"]) == ["--unknown_flag"]
    assert parser.parse_args(["--batch_size=4", "x_y"]).batch_size == 4
    assert hyphenate("--a_b=c_d") == "--a-b=c_d" and hyphenate("-a_b") == "-a_b" and hyphenate("--") == "--"


def test_underscore_spelling_through_the_real_command(tmp_path):
    """``cogip-upload`` run as users run it, with lmms-eval's spelling: same result as the hyphenated one."""
    from fixtures.release import write_synthetic_release

    release = write_synthetic_release(tmp_path / "release", n_train=1, pool_sizes=1)
    runs = []
    for flag in ("--no-progress", "--no_progress"):
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "hub_upload",
                "stand-in-images",
                "--release",
                str(release),
                "--out",
                str(tmp_path / flag.strip("-")),
                "--size",
                "16",
                flag,
            ],
            capture_output=True,
            text=True,
            cwd=REPO,
        )
        runs.append((proc.returncode, proc.stdout.replace(flag.strip("-"), "OUT")))
    assert runs[0] == runs[1] and runs[0][0] == 0
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "hub_upload",
            "stand-in-images",
            "--release",
            str(release),
            "--out",
            str(tmp_path / "x"),
            "--no_such_flag",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert proc.returncode == 2 and "--no_such_flag" in proc.stderr
