"""The long description a package index shows: README.md with no link that the index cannot resolve.

setup.py rewrites README's relative links (absolute against the declared repository at the release tag, or
plain text while none is declared); the real build is checked through setuptools' own PEP 517 hooks, and
the links are read back from HTML rendered by an independent Markdown parser (markdown-it, CommonMark).
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
import tarfile
from email.parser import Parser
from html.parser import HTMLParser
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REPOSITORY = "https://example.org/cogip-project/cogip"


def _setup_module():
    spec = importlib.util.spec_from_file_location("cogip_setup", REPO / "setup.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # setup() runs only as __main__
    return module


setup_py = _setup_module()


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.targets: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"a": "href", "img": "src"}.get(tag)
        self.targets += [value or "" for name, value in attrs if name == wanted]


def rendered_links(markdown: str) -> list[str]:
    """Every href/src in the HTML that a CommonMark renderer makes of ``markdown``."""
    from markdown_it import MarkdownIt

    parser = _Links()
    parser.feed(MarkdownIt("commonmark").enable("table").render(markdown))
    return parser.targets


def test_readme_has_relative_links_to_rewrite() -> None:
    # the premise: on GitHub the README links its docs relatively (else this file tests nothing)
    relative = [t for t in rendered_links((REPO / "README.md").read_text()) if not re.match(r"https?://", t)]
    assert len(relative) >= 10 and any(t.startswith("docs/") for t in relative)


def test_no_repository_declared_every_link_on_the_index_is_absolute() -> None:
    text = setup_py.long_description(REPO)
    links = rendered_links(text)
    assert links and all(t.startswith("https://") for t in links), [t for t in links if not t.startswith("https")]
    assert "https://arxiv.org/abs/2511.22805" in links  # absolute links stay
    assert setup_py.NO_REPOSITORY_NOTE in text and "docs/evaluate.md" in text  # named, as text
    assert text.count("\n") == (REPO / "README.md").read_text().count("\n") + 2  # only the note line was added


def test_declared_repository_links_point_at_the_release_tag() -> None:
    readme = (REPO / "README.md").read_text()
    text = setup_py.index_readme(readme, REPOSITORY, "v9.9.9")
    links = rendered_links(text)
    assert f"{REPOSITORY}/blob/v9.9.9/docs/evaluate.md" in links
    assert f"{REPOSITORY}/blob/v9.9.9/docs/design.md#development" in links
    assert f"{REPOSITORY}/tree/v9.9.9/docs" in links
    assert all(t.startswith("https://") for t in links)
    assert setup_py.NO_REPOSITORY_NOTE not in text
    # every relative link of the README became one into the repository, none dropped
    relative = [t for t in rendered_links(readme) if not t.startswith("https://")]
    assert len([t for t in links if t.startswith(REPOSITORY)]) == len(relative)


@pytest.mark.parametrize(
    ("markdown", "with_repository", "without"),
    [
        ("[guide](docs/a.md)", f"[guide]({REPOSITORY}/blob/v1/docs/a.md)", "guide"),
        ("[a](./docs/a.md#x)", f"[a]({REPOSITORY}/blob/v1/docs/a.md#x)", "a"),
        ("[top](#quick-start)", f"[top]({REPOSITORY}/blob/v1/README.md#quick-start)", "top"),
        ('![plot](docs/p.png "A plot")', f'![plot]({REPOSITORY}/raw/v1/docs/p.png "A plot")', "plot"),
        ("[p](https://arxiv.org/abs/1)", "[p](https://arxiv.org/abs/1)", "[p](https://arxiv.org/abs/1)"),
        ("[m](mailto:a@b.c)", "[m](mailto:a@b.c)", "[m](mailto:a@b.c)"),
        ("`[c](d.md)`", "`[c](d.md)`", "`[c](d.md)`"),  # a code span is code
        ("```md\n[c](d.md)\n```", "```md\n[c](d.md)\n```", "```md\n[c](d.md)\n```"),  # so is a fenced block
        (
            "see [the docs][d]\n\n[d]: docs/x.md",
            f"see [the docs][d]\n\n[d]: {REPOSITORY}/blob/v1/docs/x.md",
            "see the docs\n\n",
        ),
        ("[d][] and [d]\n\n[d]: docs/x.md", f"[d][] and [d]\n\n[d]: {REPOSITORY}/blob/v1/docs/x.md", "d and d\n\n"),
        ("[e][w]\n\n[w]: https://w.org", "[e][w]\n\n[w]: https://w.org", "[e][w]\n\n[w]: https://w.org"),
    ],
)
def test_rewrite_table(markdown: str, with_repository: str, without: str) -> None:
    assert setup_py.index_readme(markdown, REPOSITORY, "v1") == with_repository
    assert setup_py.index_readme(markdown, None, "v1") == without  # no "# " title here: no note line


def test_repository_key_order() -> None:
    assert (
        setup_py.repository_url({"Paper": "https://p", "Homepage": "https://h", "Source": "https://s"}) == "https://s"
    )
    assert setup_py.repository_url({"Paper": "https://p"}) is None


def _build_tree(tmp_path: Path, urls: str = "") -> Path:
    """The tracked files (what a clone holds) copied aside, optionally with more ``[project.urls]``."""
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    tree = tmp_path / "src"
    for name in files:
        if (REPO / name).is_file() and not name.startswith(("tests/", "benchmarks/")):
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, tree / name)
    if urls:
        pyproject = tree / "pyproject.toml"
        pyproject.write_text(pyproject.read_text().replace("[project.urls]\n", f"[project.urls]\n{urls}\n"))
    return tree


def _pep517(tree: Path, hook: str, out: Path) -> Path:
    """Run one setuptools PEP 517 hook in a fresh interpreter, as a frontend (pip, build) does, offline."""
    out.mkdir(parents=True, exist_ok=True)
    code = f"import setuptools.build_meta as b; print(b.{hook}({str(out)!r}))"
    done = subprocess.run([sys.executable, "-c", code], cwd=tree, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return out / done.stdout.strip().splitlines()[-1]


def test_built_sdist_and_wheel_metadata_carry_the_index_readme(tmp_path: Path) -> None:
    tree = _build_tree(tmp_path)
    sdist = _pep517(tree, "build_sdist", tmp_path / "dist")
    with tarfile.open(sdist) as archive:
        names = {Path(*Path(n).parts[1:]).as_posix() for n in archive.getnames()}
        root = Path(archive.getnames()[0]).parts[0]
        pkg_info = archive.extractfile(f"{root}/PKG-INFO").read().decode()
    # the pages the description names travel with the source distribution
    assert {"docs/evaluate.md", "docs/train.md", "ARCHITECTURE.md", "LICENSE", "setup.py"} <= names
    message = Parser().parsestr(pkg_info)
    assert message["Description-Content-Type"] == "text/markdown"
    assert message.get_payload().strip() == setup_py.long_description(REPO).strip()

    # the wheel's metadata, built from the unpacked sdist as pip does
    with tarfile.open(sdist) as archive:
        archive.extractall(tmp_path / "unpacked", filter="data")
    info = _pep517(tmp_path / "unpacked" / root, "prepare_metadata_for_build_wheel", tmp_path / "meta")
    wheel_meta = Parser().parsestr((info / "METADATA").read_text())
    assert wheel_meta.get_payload().strip() == setup_py.long_description(REPO).strip()


def test_a_declared_repository_reaches_the_built_metadata(tmp_path: Path) -> None:
    tree = _build_tree(tmp_path, urls=f'Repository = "{REPOSITORY}"')
    info = _pep517(tree, "prepare_metadata_for_build_wheel", tmp_path / "meta")
    meta = Parser().parsestr((info / "METADATA").read_text())
    version = setup_py.package_version(REPO)
    assert f"Project-URL: Repository, {REPOSITORY}" in (info / "METADATA").read_text()
    links = rendered_links(meta.get_payload())
    assert f"{REPOSITORY}/blob/v{version}/docs/train.md" in links
    assert all(t.startswith("https://") for t in links)
