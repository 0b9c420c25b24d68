"""Untrusted names (#25.2): one function makes a display name at verify's boundary, names are compared by a
look-alike skeleton, and anything `verify` accepts, `build` and `compare` render as plain text."""

from __future__ import annotations

import json
import re
import unicodedata

import pytest

from cogip_tasks.files import write_json
from cogip_tasks.leaderboard.cli import main as leaderboard_main
from cogip_tasks.leaderboard.names import NameProblem, display_name, is_reserved_name, skeleton
from cogip_tasks.leaderboard.verify import Rejected, load_ground_truth, verify_submission
from fixtures.leaderboard import synthetic_submission

# Names a hostile or careless submitter writes: markup, math, template syntax, control characters, bidi tricks,
# invisible and look-alike characters, every script. Each is either refused by verify or drawn by build/compare.
HOSTILE = [
    "My $x^$ model",
    "${{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{",
    "$\\frac{1}{0}$ \\$ $$",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[click](javascript:alert(1)) ![img](x)",
    "| a | b |\n|---|",
    "# heading *bold* _it_ `code` ~~strike~~",
    "&lt;&amp;&#x27; & entities",
    "{{ config }} {% raw %} %(name)s {0}",
    "bell\x07 esc\x1b[31m nul\x00",
    "line\nbreak\ttab\rreturn",
    "\u202eevil\u202c gnp.exe",
    "\ud800 lone surrogate",
    "\u200b\u200c\u200d\u2060",
    "\u3164\u3164",
    "\u115f\u1160",
    "\u2800",
    "a\u0301\u0301\u0301\u0301\u0301\u0301 zalgo",
    "Modèle 日本語 模型 한국어 العربية עברית हिन्दी",
    "emoji 🤖🧠👍🏽 family 👨‍👩‍👧",
    "\ue000 private use",
    "\U000e0001 tag char",
    "x" * 101,
    "Ｍｏｄｅｌ",
    "'; DROP TABLE models; --",
    "..\\..\\etc/passwd",
    "%s%s%s %n",
    "   spaces   everywhere   ",
]

LOOK_ALIKES = [
    ("reference: constant", "refere\u0301nce: constant"),  # a combining mark
    ("reference: constant", "reference\ufe0f: constant"),  # a variation selector
    ("reference: constant", "reference\u3164: constant"),  # Hangul filler
    ("reference: constant", "reference\u2236 constant"),  # ratio colon
    ("reference: constant", "r\u0435f\u0435r\u0435nc\u0435: constant"),  # Cyrillic e
    ("reference: constant", "ref\u0435rence\uff1a constant"),  # fullwidth colon + Cyrillic
    ("Model A", "M\u03bfdel \u0391"),  # Greek omicron and Alpha
    ("Model A", "Model\u00a0A"),  # no-break space
    ("model-1", "model\u20131"),  # en dash
]


def test_look_alikes_share_a_skeleton_and_reserved_names_are_caught():
    for original, look_alike in LOOK_ALIKES:
        assert skeleton(original) == skeleton(look_alike), (original, look_alike)
        if original.startswith("reference"):
            assert is_reserved_name(look_alike)
    assert skeleton("Model A") != skeleton("Model B") and not is_reserved_name("my reference: model")


@pytest.mark.parametrize("name", HOSTILE)
def test_display_name_is_printable_visible_unicode_or_refused(name):
    try:
        shown = display_name(name)
    except NameProblem as err:
        assert str(err)
        return
    shown.encode("utf-8")  # valid Unicode
    assert shown == " ".join(shown.split()) and 0 < len(shown) <= 100
    assert not any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in shown)
    assert any(not ch.isspace() and unicodedata.category(ch)[0] not in "MZC" for ch in shown)


def run(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as stop:
        leaderboard_main(argv)
    return stop.value.code


def test_anything_verify_accepts_build_and_compare_render(sample_dataset_dir, tmp_path, capsys):
    truth = load_ground_truth(str(sample_dataset_dir))
    folder = tmp_path / "subs"
    folder.mkdir()
    accepted = []
    for n, name in enumerate(HOSTILE):
        sub = synthetic_submission(truth, seed=n, name=name)
        try:
            verified = verify_submission(json.loads(json.dumps(sub)), truth)
        except Rejected as err:
            assert err.field == "model.name"
            continue
        write_json(folder / f"{n:02d}.json", sub)
        accepted.append(verified.name)
    assert len(accepted) >= 15  # most hostile names are fine to show, as plain text
    site = tmp_path / "site"
    data = ["--dataset", str(sample_dataset_dir), "--no-cache"]
    assert run(["build", str(folder), "-o", str(site), "--skip-rejected", *data]) == 0
    page = (site / "index.html").read_text(encoding="utf-8")
    markdown = (site / "leaderboard.md").read_text(encoding="utf-8")
    listing = json.loads((site / "leaderboard.json").read_text(encoding="utf-8"))
    shown = [r["name"] for r in listing["rows"] if not r["reference"]]
    rejected = [r["reason"] for r in listing["rejected"]]
    assert len(shown) + len(rejected) == len(accepted) and all("already used" in r for r in rejected)
    assert str(tmp_path) not in page + markdown + json.dumps(listing, ensure_ascii=False)  # no local path shown
    for text in (page, markdown):
        assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", text)  # no control character written
    assert "<script" not in page and "<img src=x" not in page and "javascript:" not in page.split("<body>")[0]
    assert not re.search(r"(?<!\\)\[click\]", markdown)  # no Markdown link
    ranking = markdown.split("\n\n")[2].splitlines()  # the ranking table: no name added or broke a column
    assert len(ranking) == 2 + 3 + len(shown) and len({len(re.split(r"(?<!\\)\|", line)) for line in ranking}) == 1
    assert len(list((site / "plots").glob("*.png"))) == len(shown) + 3

    files = sorted(folder.glob("*.json"))
    for a, b in zip(files, files[1:]):
        out = tmp_path / f"compare-{a.stem}-{b.stem}.md"
        capsys.readouterr()
        assert run(["compare", str(a), str(b), "-o", str(out), *data[:2]]) == 0
        text = out.read_text(encoding="utf-8")
        assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", text) and text == capsys.readouterr().out
