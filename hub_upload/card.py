"""The dataset card (README.md): Hub YAML metadata (dataset_info, configs, license, ...) and prose for people.

The YAML is produced by the ecosystem's own classes (``datasets``' ``DatasetInfosDict`` / ``MetadataConfigs`` into
``huggingface_hub``'s ``DatasetCardData``), so ``load_dataset`` and the Hub read exactly what they write.
"""

from __future__ import annotations

from pathlib import Path

from cogip_tasks.dimensions import DIMENSIONS

from .audit import AuditReport

PAPER_TITLE = "From Pixels to Feelings: Aligning MLLMs with Human Cognitive Perception of Images"
ARXIV_ID = "2511.22805"
# Authors are not listed here: the release files do not name them; see the arXiv page.
CITATION = f"""@misc{{cogip_bench_2025,
  title         = {{{PAPER_TITLE}}},
  year          = {{2025}},
  eprint        = {{{ARXIV_ID}}},
  archivePrefix = {{arXiv}},
  url           = {{https://arxiv.org/abs/{ARXIV_ID}}}
}}"""
TAGS = ["cogip-bench", "image-assessment", "aesthetics", "funniness", "emotional-valence", "memorability",
        "human-perception", "mllm-evaluation", "lmms-eval"]
TASK_CATEGORIES = ["visual-question-answering", "image-text-to-text"]
SPLIT_TEXT = {
    "train": "the release's 3,200 SFT rows (800 per dimension, images 000000-000799)",
    "test": "the evaluation set: {n} items per dimension drawn from the test pool (see below)",
    "test_full": "the whole test pool of the release (images 000800 upward)",
}


def data_files(key: str | None, split: str) -> str | list[str]:
    """Shard glob(s) of a config's split; ``default`` lists the dimensions in the benchmark's order."""
    if key is not None:
        return f"data/{key}/{split}-*"
    return [f"data/{k}/{split}-*" for k in DIMENSIONS]


def card_data(feats, rows, num_bytes, shard_bytes):
    """``DatasetCardData`` with license, categories, tags, configs and per-config ``dataset_info``."""
    import datasets
    from datasets.info import DatasetInfosDict
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCardData

    from .build import SPLITS

    def info(keys: list[str]) -> datasets.DatasetInfo:
        splits = datasets.SplitDict()
        for split in SPLITS:
            splits.add(datasets.SplitInfo(split, num_bytes=sum(num_bytes[k][split] for k in keys),
                                          num_examples=sum(rows[k][split] for k in keys)))
        download = sum(shard_bytes[k][s] for k in keys for s in SPLITS)
        return datasets.DatasetInfo(features=feats, splits=splits, download_size=download,
                                    dataset_size=sum(num_bytes[k][s] for k in keys for s in SPLITS))

    data = DatasetCardData(
        license="cc-by-4.0",
        language=["en"],
        pretty_name="CogIP-Bench",
        size_categories=["1K<n<10K"],
        task_categories=TASK_CATEGORIES,
        tags=TAGS,
    )
    configs = {"default": {"data_files": [{"split": s, "path": data_files(None, s)} for s in SPLITS], "default": True}}
    configs.update({k: {"data_files": [{"split": s, "path": data_files(k, s)} for s in SPLITS]} for k in DIMENSIONS})
    MetadataConfigs(configs).to_dataset_card_data(data)
    infos = {"default": info(list(DIMENSIONS))} | {k: info([k]) for k in DIMENSIONS}
    DatasetInfosDict(infos).to_dataset_card_data(data)
    return data


def _table(header: list[str], body: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in body])


def card_text(rows, report: AuditReport, options, notes: list[str]) -> str:
    """The prose part of the card."""
    from .build import SPLITS

    dims = list(DIMENSIONS.values())
    split_rows = [[f"`{s}`", SPLIT_TEXT[s].format(n=options.test_per_dimension), rows["default"][s]]
                  + [rows[d.key][s] for d in dims] for s in SPLITS]
    scale_rows = [[d.release_name, f"`{d.key}`", f"{d.low:g} to {d.high:g}", ", ".join(d.labels)] for d in dims]
    audit_lines = [f"- `{kind}`: {count}" for kind, count in report.counts().items()] or ["- no findings"]
    return f"""# CogIP-Bench

CogIP-Bench (Cognition Image Property Benchmark) asks a multimodal LLM to judge four subjective properties of an
image — aesthetics, funniness, emotional valence and memorability — with a *describe-then-predict* answer
(`high 7.234`: a label, then a score) and measures agreement with human scores. It accompanies the paper
*{PAPER_TITLE}* ([arXiv {ARXIV_ID}](https://arxiv.org/abs/{ARXIV_ID})).

This repository was built from the public annotation release by `cogip-upload build` (the `hub_upload` package
of CogIP); `cogip_build.json` records the options, the sha256 of every input file and of
every file here, and the full audit.

## Loading

```python
from datasets import load_dataset

bench = load_dataset("<this repo>")                   # all dimensions: train / test / test_full
memo = load_dataset("<this repo>", "memorability")    # one dimension: {", ".join(f'"{k}"' for k in DIMENSIONS)}
```

With the lmms-eval tasks of CogIP: `COGIP_DATASET=<this repo> cogip-eval --tasks cogip ...`.

## Columns

{_table(["column", "type", "meaning"], [
    ["`id`", "string", "`<Dimension>/<image number>`, unique across dimensions (the release's own ids repeat per dimension)"],
    ["`image`", "image", "the JPEG, embedded; its `path` is the release path `<Dimension>/NNNNNN.jpg`"],
    ["`dimension`", "string", "release spelling: " + ", ".join(d.release_name for d in dims)],
    ["`prompt`", "string", "the release's describe-then-predict prompt of this row, leading `<image>` placeholder removed"],
    ["`score`", "float32", "mean human score"],
    ["`label`", "string", "the release's label for the score"],
    ["`dimension_key`", "string", "canonical key: " + ", ".join(d.key for d in dims) + " (also the config names)"],
])}

The first five columns match the earlier Hub copy, so tools written for it read this one unchanged.

{_table(["dimension", "key", "score range", "labels"], scale_rows)}

## Splits

{_table(["split", "what", "all"] + [d.key for d in dims], split_rows)}

**How `test` was drawn.** For the dimension at position *i* of ({", ".join(DIMENSIONS)}), `test` holds
{options.test_per_dimension} items drawn without replacement from that dimension's usable test pool with
`numpy.random.default_rng([{options.seed}, i]).choice(len(pool), {options.test_per_dimension}, replace=False)`,
kept in pool order (seed **{options.seed}**; a pool of at most {options.test_per_dimension} items is taken whole —
Aesthetics' pool is exactly 120). The release does not list the paper's own 480 items, so this draw is
reproducible but need not be the paper's exact sample; `test_full` holds the whole pool.
{"".join(chr(10) + "- " + n for n in notes)}

## Audit

Findings of the build's audit (missing or unreadable images, duplicate ids, train/test leakage, scores out of
range, disagreement between the release files, suspicious placeholder values); each one, with file and id, is in
`cogip_build.json`.

{chr(10).join(audit_lines)}

{_placeholder_text(report, options)}

## License and citation

The annotations are released under CC-BY-4.0.

```bibtex
{CITATION}
```
"""


def _placeholder_text(report: AuditReport, options) -> str:
    """Say what the suspicious placeholder findings are and whether the rows were left out."""
    first_per_file: dict[str, str] = {}
    for f in report.findings:
        if f.kind == "suspicious_placeholder":
            first_per_file.setdefault(f.file, f.message.split(": ", 1)[1])
    if not first_per_file:
        return ""
    what = "; ".join(f"`{file}`: {message}" for file, message in first_per_file.items())
    if options.drop_suspicious:
        return f"Rows with suspicious placeholder scores were **left out** ({what})."
    return (f"Rows with suspicious placeholder scores are **kept** as released ({what}). Filter them out or rebuild "
            "with `--drop-suspicious`.")


def write_card(folder: Path, feats, rows, num_bytes, shard_bytes, report: AuditReport, options, notes: list[str]) -> Path:
    from huggingface_hub import DatasetCard

    data = card_data(feats, rows, num_bytes, shard_bytes)
    card = DatasetCard(f"---\n{data.to_yaml()}\n---\n\n{card_text(rows, report, options, notes)}")
    path = folder / "README.md"
    path.write_text(str(card), encoding="utf-8")
    return path
