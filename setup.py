"""The package's long description: README.md, made to read right on a package index.

Everything else about the package is declared in pyproject.toml; setuptools asks this file only for the one
field pyproject lists as dynamic and cannot compute itself, ``readme``. On GitHub the README's relative links
(``docs/train.md``, ``LICENSE``) resolve against the repository; on a package index they would point at pages
that do not exist. So the long description rewrites every relative link and image:

- to ``<repository>/blob/<ref>/<path>`` (images: ``raw``) when pyproject's ``[project.urls]`` names the
  repository (``Repository``, ``Source`` or ``Homepage``, the first of these that is set), ``<ref>`` being the
  release tag ``v<version>`` so a release's page links to that release's docs;
- to plain text (the link's words) while no repository URL is declared, with one line saying the pages named
  are in the source distribution (``MANIFEST.in`` ships ``docs/``): no link on the index is ever broken.

Absolute links (the paper, the dataset) are kept as they are; code spans and fenced blocks are left alone.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

REPOSITORY_KEYS = ("Repository", "Source", "Homepage")  # [project.urls] keys that name where README's files live
NO_REPOSITORY_NOTE = (
    "*The `docs/` pages and files named below are in the source distribution (`pip download --no-binary :all: "
    "cogip`) and the project's repository.*"
)

_FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.DOTALL)
# [words](target) or ![alt](target), target without spaces, an optional "title" after it.
_INLINE = re.compile(r"(?P<bang>!?)\[(?P<words>[^\]\n]*)\]\((?P<target>[^)\s]+)(?P<title>\s+\"[^\"]*\")?\)")
# [label]: target  (a reference definition, on its own line)
_REFERENCE = re.compile(r"^(?P<lead> {0,3}\[(?P<label>[^\]\n]+)\]:[ \t]*)(?P<target>\S+)(?P<rest>.*)$", re.MULTILINE)
# its uses: [words][label], [label][] or [label] alone (not followed by "(" or ":")
_REFERENCE_USE = re.compile(r"(?<![\]!])\[(?P<words>[^\]\n]+)\](?:\[(?P<label>[^\]\n]*)\]|(?![(:\[]))")
_ABSOLUTE = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*:|//)")  # a scheme (https:, mailto:) or protocol-relative


def is_relative(target: str) -> bool:
    """True for a link a package index cannot resolve: a path or an in-page anchor, no scheme."""
    return not _ABSOLUTE.match(target)


def absolute_url(target: str, repository: str, ref: str, *, image: bool = False) -> str:
    """``docs/train.md#x`` -> ``<repository>/blob/<ref>/docs/train.md#x`` (``tree`` for a folder, ``raw`` for an
    image); ``#x`` -> the README's own page at that anchor."""
    path, hash_, anchor = target.partition("#")
    path = path.removeprefix("./") or "README.md"
    kind = "raw" if image else ("tree" if path.endswith("/") else "blob")
    return f"{repository.rstrip('/')}/{kind}/{ref}/{path.rstrip('/')}{hash_}{anchor}"


def _outside_code(text: str, rewrite) -> str:
    """Apply ``rewrite`` to every stretch of ``text`` that is neither a fenced block nor a code span."""
    out, last = [], 0
    for match in _FENCE.finditer(text):
        out.append(_spans(text[last : match.start()], rewrite))
        out.append(match.group(0))
        last = match.end()
    out.append(_spans(text[last:], rewrite))
    return "".join(out)


def _spans(text: str, rewrite) -> str:
    out, last = [], 0
    for match in _CODE_SPAN.finditer(text):
        out.append(rewrite(text[last : match.start()]))
        out.append(match.group(0))
        last = match.end()
    out.append(rewrite(text[last:]))
    return "".join(out)


def index_readme(text: str, repository: str | None, ref: str) -> str:
    """README ``text`` with every relative link made absolute against ``repository`` at ``ref``, or, with no
    repository, turned into its words (an image into its alt text)."""
    relative_labels: set[str] = set()

    def collect(part: str) -> str:
        relative_labels.update(m["label"].lower() for m in _REFERENCE.finditer(part) if is_relative(m["target"]))
        return part

    _outside_code(text, collect)
    changed = bool(relative_labels)

    def inline(match: re.Match) -> str:
        nonlocal changed
        target = match["target"]
        if not is_relative(target):
            return match.group(0)
        changed = True
        if repository is None:
            return match["words"]
        url = absolute_url(target, repository, ref, image=bool(match["bang"]))
        return f"{match['bang']}[{match['words']}]({url}{match['title'] or ''})"

    def reference(match: re.Match) -> str:
        if not is_relative(match["target"]):
            return match.group(0)
        if repository is None:
            return ""  # the definition goes; its uses become their words (below)
        return f"{match['lead']}{absolute_url(match['target'], repository, ref)}{match['rest']}"

    def reference_use(match: re.Match) -> str:
        label = (match["label"] or match["words"]).lower()
        return match["words"] if label in relative_labels else match.group(0)

    def rewrite(part: str) -> str:
        part = _REFERENCE.sub(reference, _INLINE.sub(inline, part))
        return _REFERENCE_USE.sub(reference_use, part) if repository is None else part

    result = _outside_code(text, rewrite)
    if changed and repository is None:
        title, _, body = result.partition("\n")
        if title.startswith("# "):
            result = f"{title}\n\n{NO_REPOSITORY_NOTE}\n\n{body.lstrip(chr(10))}"
    return result


def repository_url(urls: dict[str, str]) -> str | None:
    """The first of ``REPOSITORY_KEYS`` that pyproject's ``[project.urls]`` sets."""
    return next((urls[key] for key in REPOSITORY_KEYS if urls.get(key)), None)


def package_version(root: Path) -> str:
    """``cogip_tasks.__version__`` read as text (its one home; importing the package here would need its
    dependencies at build time)."""
    text = (root / "cogip_tasks" / "__init__.py").read_text(encoding="utf-8")
    return re.search(r'^__version__\s*=\s*["\']([^"\']+)["\']', text, re.MULTILINE).group(1)


def long_description(root: Path) -> str:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - build-system requires tomli there
        import tomli as tomllib
    pyproject = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    urls = pyproject["project"].get("urls", {})
    readme = (root / "README.md").read_text(encoding="utf-8")
    return index_readme(readme, repository_url(urls), f"v{package_version(root)}")


if __name__ == "__main__":
    from setuptools import setup

    setup(
        long_description=long_description(Path(__file__).resolve().parent),
        long_description_content_type="text/markdown",
    )
