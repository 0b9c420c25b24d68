"""The dataset card (README.md): Hub YAML metadata (dataset_info, configs, license, ...) and prose for people.

The YAML is produced by the ecosystem's own classes (``datasets``' ``DatasetInfosDict`` / ``MetadataConfigs`` into
``huggingface_hub``'s ``DatasetCardData``), so ``load_dataset`` and the Hub read exactly what they write. The prose
follows the Hugging Face dataset card template's sections (uses, structure, creation with curation rationale and
annotations, bias/risks/limitations, citation). A built card names its repo :data:`REPO_PLACEHOLDER`;
``cogip-upload push`` fills in the repo id (:func:`for_repo`).
"""

from __future__ import annotations

import re
from pathlib import Path

from cogip_tasks.dimensions import DIMENSIONS

from .audit import AuditReport
from .layout import SPLITS, data_files

PAPER_TITLE = "From Pixels to Feelings: Aligning MLLMs with Human Cognitive Perception of Images"
ARXIV_ID = "2511.22805"
AUTHORS = ("Yiming Chen", "Junlin Han", "Tianyi Bai", "Shengbang Tong", "Filippos Kokkinos", "Philip Torr")
CITATION = f"""@misc{{chen2025pixels,
  title         = {{{PAPER_TITLE}}},
  author        = {{{" and ".join(f"{n.split()[-1]}, {' '.join(n.split()[:-1])}" for n in AUTHORS)}}},
  year          = {{2025}},
  eprint        = {{{ARXIV_ID}}},
  archivePrefix = {{arXiv}},
  url           = {{https://arxiv.org/abs/{ARXIV_ID}}}
}}"""
TAGS = [
    "cogip-bench",
    "image-assessment",
    *(key.replace("_", "-") for key in DIMENSIONS),
    "human-perception",
    "mllm-evaluation",
    "lmms-eval",
]
TASK_CATEGORIES = ["visual-question-answering", "image-text-to-text"]
#: What a built card calls its repo until ``cogip-upload push`` names it (:func:`for_repo`).
REPO_PLACEHOLDER = "<this repo>"
#: A part whose licence nobody stated: said so, never guessed.
UNKNOWN_LICENSE = "unknown"
#: A licence as the Hub's card metadata spells it (``cc-by-4.0``, ``mit``, ``cc0-1.0``): lowercase words and
#: versions joined by ``-`` or ``.``.
LICENSE_ID = re.compile(r"[a-z0-9]+(?:[.-][a-z0-9]+)*")
#: Which columns each licensed part is.
ANNOTATION_COLUMNS = ("score", "label", "prompt", "id", "dimension", "dimension_key")
IMAGE_COLUMNS = ("image",)


def license_fields(dataset: str, annotations: str, images: str) -> dict[str, str]:
    """A card's licence fields when the annotations and the images each have their own licence: the one licence
    when both parts share a known one, else ``license: other`` with a ``license_name`` that names each part's
    (``<dataset>-annotations-<id>-images-<id>``; the card's prose says which columns are which part)."""
    if annotations == images and annotations != UNKNOWN_LICENSE:
        return {"license": annotations}
    name = re.sub(r"[^a-z0-9.-]+", "-", dataset.lower()).strip("-")
    return {"license": "other", "license_name": f"{name}-annotations-{annotations}-images-{images}"}


def license_lines(annotations: str, images: str) -> str:
    """The card's per-part statement: each part's columns and licence, an unknown one said to be unknown."""

    def part(title: str, columns: tuple[str, ...], licence: str, unknown: str) -> str:
        named = ", ".join(f"`{c}`" for c in columns)
        return f"- **{title}** ({named}): " + (unknown if licence == UNKNOWN_LICENSE else f"`{licence}`.")

    return "\n".join(
        [
            part("Annotations", ANNOTATION_COLUMNS, annotations, "licence **unknown**: not stated when it was built."),
            part("Images", IMAGE_COLUMNS, images, "licences **unknown**; this repository grants no rights to them."),
        ]
    )


#: ``license: other``: the annotations are CC-BY-4.0, the images' licences are not known (the card says which is which).
_RELEASE_LICENSE = license_fields("cogip-bench", "cc-by-4.0", UNKNOWN_LICENSE)
LICENSE_NAME = _RELEASE_LICENSE["license_name"]
#: The release build's card fields beyond the data's own: the licence of each part (the card's "License" says which
#: is which), who made the annotations (human ratings; the release does not say who gave them) and the prompts.
RELEASE_METADATA = {
    **_RELEASE_LICENSE,
    "annotations_creators": ["other"],
    "language_creators": ["expert-generated"],
    "source_datasets": ["original"],
}
#: Where the annotation release comes from (the paper's code and data repository).
RELEASE_SOURCE = "https://github.com/Follen-cry/MLLM_Cognition_Alignment (`data/cognition/`)"
SPLIT_TEXT = {
    "train": "the release's 3,200 SFT rows (800 per dimension, images 000000-000799)",
    "test": "the evaluation set: {n} (see below)",
    "test_full": "the whole test pool of the release (images 000800 upward)",
}


# The Hub's size_categories buckets: (upper bound, name), the first bound above the row count wins.
SIZE_CATEGORIES = [
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"),
    (100_000_000, "10M<n<100M"),
    (1_000_000_000, "100M<n<1B"),
    (10_000_000_000, "1B<n<10B"),
    (100_000_000_000, "10B<n<100B"),
    (1_000_000_000_000, "100B<n<1T"),
]


def size_category(n_rows: int) -> str:
    """The Hub's bucket for a dataset of ``n_rows`` distinct rows."""
    return next((name for bound, name in SIZE_CATEGORIES if n_rows < bound), "n>1T")


def distinct_rows(rows) -> int:
    """Rows of the dataset: train + test_full (``test`` is a subset of ``test_full``)."""
    return rows["default"]["train"] + rows["default"]["test_full"]


def card_data(
    feats,
    rows,
    num_bytes,
    shard_bytes,
    *,
    keys: tuple[str, ...] = tuple(DIMENSIONS),
    splits: tuple[str, ...] = SPLITS,
    pretty_name: str = "CogIP-Bench",
    tags: list[str] = TAGS,
    license: str = "cc-by-4.0",
    n_rows: int | None = None,
    **metadata,
):
    """``DatasetCardData``: license, size category, task categories, tags, configs, per-config ``dataset_info``;
    ``metadata``: other card fields (``license_name``, ``annotations_creators``, ``source_datasets``, ...)."""
    import datasets
    from datasets.info import DatasetInfosDict
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCardData

    def info(dims: list[str]) -> datasets.DatasetInfo:
        split_dict = datasets.SplitDict()
        for split in splits:
            split_dict.add(
                datasets.SplitInfo(
                    split,
                    num_bytes=sum(num_bytes[k][split] for k in dims),
                    num_examples=sum(rows[k][split] for k in dims),
                )
            )
        download = sum(shard_bytes[k][s] for k in dims for s in splits)
        return datasets.DatasetInfo(
            features=feats,
            splits=split_dict,
            download_size=download,
            dataset_size=sum(num_bytes[k][s] for k in dims for s in splits),
        )

    data = DatasetCardData(
        license=license,
        **metadata,
        language=["en"],
        pretty_name=pretty_name,
        size_categories=[size_category(distinct_rows(rows) if n_rows is None else n_rows)],
        task_categories=TASK_CATEGORIES,
        tags=tags,
    )
    configs = {
        "default": {"data_files": [{"split": s, "path": data_files(None, s, keys)} for s in splits], "default": True}
    }
    configs.update({k: {"data_files": [{"split": s, "path": data_files(k, s)} for s in splits]} for k in keys})
    MetadataConfigs(configs).to_dataset_card_data(data)
    infos = {"default": info(list(keys))} | {k: info([k]) for k in keys}
    DatasetInfosDict(infos).to_dataset_card_data(data)
    return data


def _table(header: list[str], body: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in body])


def test_text(test_split: dict) -> str:
    """How ``test`` was chosen: the release's draw (its order stated) or a pinned id list."""
    if test_split["method"] == "ids":
        return (
            f"**How `test` was chosen.** Pinned to an explicit list of {test_split['count']} ids (`--test-ids`, "
            f"file sha256 `{test_split['ids_file_sha256']}`), each looked up in the release's test pool; rows are "
            "kept in pool order. `test_full` holds the whole pool."
        )
    n, seed, order = test_split["per_dimension"], test_split["seed"], test_split["order"]
    how = " (the test_msg_file folder names, sorted)" if list(order) == sorted(order) else " (`--draw-order`)"
    return f"""**How `test` was drawn.** By the release's own evaluation protocol (`evaluation/qwen/cog_test.py`,
whose `cog_test.sh` passes `--sample-n 120 --seed 19`; here n = {n}, seed = {seed}): Python `random.seed({seed})`
once, then for each dimension in turn `sorted(random.sample(range(N), {n}))` over the N entries of its
`test_msg_file/<Dim>/<Dim>_messages.json`, in file order; a pool of exactly {n} entries is used whole and draws
nothing (the script samples only when {n} < N; Aesthetics' pool is exactly 120). Dimension order of the draw:
**{", ".join(order)}**{how}. The release's script took the order from `os.listdir`, which depends on the
filesystem, and each dimension's draw depends on those before it: these are the paper's exact items if its listdir
order was this one. Rebuild with `--draw-order` for another order, or `--test-ids FILE` to pin an explicit id
list. `test_full` holds the whole pool."""


def _stand_in_text(stand_in: str | None) -> str:
    if stand_in is None:
        return ""
    return (
        f"\n> **Stand-in build: not the benchmark's images.** The images here are procedural stand-ins "
        f"({stand_in}); the scores and prompts are the release's. Use it to try the pipeline only: do not "
        "evaluate on it or publish it as CogIP-Bench.\n"
    )


def card_text(
    rows,
    report: AuditReport,
    options,
    notes: list[str],
    test_split: dict,
    stand_in: str | None = None,
    suspicious_in_test: int = 0,
) -> str:
    """The prose part of the card; ``test_split`` is the manifest's record of how ``test`` was chosen."""
    dims = list(DIMENSIONS.values())
    test_what = (
        f"{test_split['count']} pinned ids"
        if test_split["method"] == "ids"
        else f"{test_split['per_dimension']} items per dimension drawn from the test pool"
    )
    split_rows = [
        [f"`{s}`", SPLIT_TEXT[s].format(n=test_what), rows["default"][s]] + [rows[d.key][s] for d in dims]
        for s in SPLITS
    ]
    scale_rows = [[d.release_name, f"`{d.key}`", f"{d.low:g} to {d.high:g}", ", ".join(d.labels)] for d in dims]
    audit_lines = [f"- `{kind}`: {count}" for kind, count in report.counts().items()] or ["- no findings"]
    suspicious_count = report.counts().get("suspicious_placeholder", 0)
    return f"""# CogIP-Bench

CogIP-Bench (Cognition Image Property Benchmark) asks a multimodal LLM to judge four subjective properties of an
image — aesthetics, funniness, emotional valence and memorability — with a *describe-then-predict* answer
(`high 7.234`: a label, then a score) and measures agreement with human scores. It accompanies the paper
*{PAPER_TITLE}* by {", ".join(AUTHORS)} ([arXiv {ARXIV_ID}](https://arxiv.org/abs/{ARXIV_ID})).
{_stand_in_text(stand_in)}
This repository was built from the public annotation release by `cogip-upload build` (the `hub_upload` package
of CogIP); `cogip_build.json` records the options, the sha256 of every input file and of
every file here, the full audit, how `test` was chosen, and whether the images are stand-ins.

## Loading

```python
from datasets import load_dataset

bench = load_dataset("{REPO_PLACEHOLDER}")                   # all dimensions: train / test / test_full
memo = load_dataset("{REPO_PLACEHOLDER}", "memorability")    # one dimension: {", ".join(f'"{k}"' for k in DIMENSIONS)}
```

With the lmms-eval tasks of CogIP: `COGIP_DATASET={REPO_PLACEHOLDER} cogip-eval --tasks cogip ...`; pin a revision
with `COGIP_DATASET={REPO_PLACEHOLDER}@<commit>` (the results then record it, with a fingerprint of the test rows).

## Uses

**Intended use.** Measuring how well a multimodal model's judgements of aesthetics, funniness, emotional valence
and memorability agree with human scores (Spearman correlation first, with its bootstrap interval), and training
models towards that agreement on `train` (the paper's soft-label SFT and GRPO recipes; `cogip-train`). Report
numbers on `test` (the paper's protocol) with the parser version and this repo's revision.

**Out of scope.** Judging people, or making any decision about a person, from these scores: they are averages of
subjective ratings of a few thousand images, not facts about an image or about whoever is in it. Training or
tuning prompts on `test` or `test_full` makes the numbers incomparable with anyone else's.

## Columns

{
        _table(
            ["column", "type", "meaning"],
            [
                [
                    "`id`",
                    "string",
                    "`<Dimension>/<image number>`, unique across dimensions "
                    "(the release's own ids repeat per dimension)",
                ],
                ["`image`", "image", "the JPEG, embedded; its `path` is the release path `<Dimension>/NNNNNN.jpg`"],
                ["`dimension`", "string", "release spelling: " + ", ".join(d.release_name for d in dims)],
                [
                    "`prompt`",
                    "string",
                    "the release's describe-then-predict prompt of this row, leading `<image>` placeholder removed",
                ],
                ["`score`", "float32", "mean human score"],
                ["`label`", "string", "the release's label for the score"],
                [
                    "`dimension_key`",
                    "string",
                    "canonical key: " + ", ".join(d.key for d in dims) + " (also the config names)",
                ],
            ],
        )
    }

The first five columns match the earlier Hub copy, so tools written for it read this one unchanged.

{_table(["dimension", "key", "score range", "labels"], scale_rows)}

## Splits

{_table(["split", "what", "all"] + [d.key for d in dims], split_rows)}

{test_text(test_split)}
{"".join(chr(10) + "- " + n for n in notes)}

## Audit

Findings of the build's audit (missing or unreadable images, duplicate ids, train/test leakage, scores out of
range, disagreement between the release files, suspicious placeholder values); each one, with file and id, is in
`cogip_build.json`.

{chr(10).join(audit_lines)}

{_placeholder_text(report, options, suspicious_in_test)}

## Dataset creation

### Curation rationale

Multimodal LLMs name what is in an image well but agree poorly with how an image *feels* to people: whether it is
memorable, funny, beautiful, or emotionally positive or negative. The paper introduces CogIP-Bench to measure that
gap on four such properties, and shows that post-training on human scores narrows it and carries over to image
generation guided by the aligned model.

### Source data

Built by `cogip-upload build` from the paper's annotation release ({RELEASE_SOURCE}): `cognition_scores/` (one
score per image and dimension), `cognition_training.json` (the 3,200 training rows with their describe-then-predict
prompts) and `test_msg_file/` (the test pool). The images are embedded as the builder received them. The release
does not say where its images were collected from.

### Annotations

**Annotation process.** Each `score` is the human score the release gives an image for one property, which the
paper uses as the human judgement a model must agree with; scales per dimension are in the table above (emotional
valence in whole steps from -3 to 3). The release holds one number per image: it does not document how many people
rated each image, who they were, their instructions or the rating interface, and it releases no individual ratings.
`label` is not a second annotation: it is the score's bin, by the bins the prompts state. `prompt` was written by
the benchmark's authors.

**Who are the annotators?** Not documented in the release (hence `annotations_creators: other` above).

### Personal and sensitive information

Images may show people. No information about the people shown, or about the raters, is part of this dataset.

## Bias, risks and limitations

- **Placeholder scores.** {_placeholder_limit(suspicious_count)}
- **A small test set.** `test` has a few hundred items (120 per dimension in the paper's protocol): intervals on
  a dimension's correlation are wide, and two models should be compared item by item (paired), not by eyeballing
  their point estimates.
- **Ties.** Emotional valence is an integer scale: many items share a score, which bounds rank correlations.
- **Subjective, averaged judgements.** Perceived funniness, beauty, emotion and memorability vary between people
  and cultures; a single mean hides that disagreement, and the raters' make-up is unknown, so agreement with these
  scores is agreement with one unknown group of raters.
- **The test draw.** The paper's test items depend on a filesystem listing order (see "How `test` was drawn").
- **Images of unknown origin and licence** (below).

## Images: sources and licences

The images are embedded as the builder received them{" (here: procedural stand-ins)" if stand_in else ""}. The
annotation release does not state where the images come from or under which licences they may be shared: their
sources and licences are **unknown** here. Check them before redistributing the images.

## License and citation

The card's `license: other` ({LICENSE_NAME}) covers two parts with different terms:

- **Annotations** (`score`, `label`, `prompt`, `id`, `dimension`, `dimension_key`): the annotation release's
  licence, [CC-BY-4.0](https://creativecommons.org/licenses/by/4.0/); attribute the paper below.
- **Images** (`image`): licences **unknown**; this repository grants no rights to them.

Please cite the paper:

```bibtex
{CITATION}
```
"""


def _placeholder_limit(count: int) -> str:
    what = (
        "scores that look like placeholders rather than ratings (in the public release: Memorability scores of "
        "exactly 0.000 while no other Memorability score is below 0.200, most likely missing annotations)"
    )
    if count:
        return (
            f'The audit flagged {count} {what}; "Audit" above says how many are in `test` and whether they were kept.'
        )
    return f"The audit flagged no {what} in this build."


def _placeholder_text(report: AuditReport, options, suspicious_in_test: int = 0) -> str:
    """Say what the suspicious placeholder findings are, whether the rows were left out, and why that default."""
    first_per_file: dict[str, str] = {}
    for f in report.findings:
        if f.kind == "suspicious_placeholder" and f.placeholder is not None:
            first_per_file.setdefault(f.file, f.placeholder.describe())
    if not first_per_file:
        return ""
    what = "; ".join(f"`{file}`: {message}" for file, message in first_per_file.items())
    if options.drop_suspicious:
        return (
            f"Rows with suspicious placeholder scores were **left out** (`--drop-suspicious`; {what}). Numbers on "
            "this `test` split are not comparable with the paper's, whose test items include them."
        )
    return (
        f"Rows with suspicious placeholder scores are **kept** as released ({what}); {suspicious_in_test} of them "
        "are in `test`. This is the default (`--keep-suspicious`) because the paper's protocol kept them: its test "
        "pool includes them, so numbers on this `test` split are comparable with the paper's. Filter them out "
        "or rebuild with `--drop-suspicious` for a cleaner (but not comparable) set."
    )


def write_card(
    folder: Path,
    feats,
    rows,
    num_bytes,
    shard_bytes,
    report: AuditReport,
    options,
    notes: list[str],
    test_split: dict,
    stand_in: str | None = None,
    suspicious_in_test: int = 0,
) -> Path:
    from huggingface_hub import DatasetCard

    data = card_data(feats, rows, num_bytes, shard_bytes, **RELEASE_METADATA)
    text = card_text(rows, report, options, notes, test_split, stand_in, suspicious_in_test)
    card = DatasetCard(f"---\n{data.to_yaml()}\n---\n\n{text}")
    path = folder / "README.md"
    path.write_text(str(card), encoding="utf-8")
    return path


def for_repo(card: str, repo_id: str, revision: str | None = None) -> str:
    """A built card with its repo named (at push) instead of :data:`REPO_PLACEHOLDER`; a push to a branch or
    revision other than main says how to load that revision."""
    card = card.replace(REPO_PLACEHOLDER, repo_id)
    if revision:
        note = (
            f"This copy is revision `{revision}` of `{repo_id}`: pass `revision={revision!r}` to `load_dataset`, "
            f"or `COGIP_DATASET={repo_id}@{revision}`.\n\n"
        )
        card = card.replace("## Loading\n\n", "## Loading\n\n" + note, 1)
    return card
