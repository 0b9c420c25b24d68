"""The dataset card (#23.5): a licence statement true for what is shipped, the Hugging Face card template's
sections, annotations_creators and source_datasets, and the repo id filled in at push."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from fixtures.release import write_synthetic_release
from hub_upload.build import MANIFEST, BuildOptions, build
from hub_upload.card import LICENSE_NAME, REPO_PLACEHOLDER
from hub_upload.push import push
from hub_upload.release import read_release
from hub_upload.standin import write_standin_images


@pytest.fixture()
def built(tmp_path) -> Path:
    release = write_synthetic_release(tmp_path / "release", n_train=4, pool_sizes=5, seed=0)
    write_standin_images(read_release(release), tmp_path / "images", size=32, progress=False)
    options = BuildOptions(test_per_dimension=3, progress=False)
    return build(release, tmp_path / "images", tmp_path / "built", options).out


def test_the_card_states_what_is_licensed_how_and_has_the_template_sections(built):
    from huggingface_hub import DatasetCard

    card = DatasetCard.load(built / "README.md")
    data = card.data.to_dict()
    assert data["license"] == "other" and data["license_name"] == LICENSE_NAME
    assert data["annotations_creators"] and data["source_datasets"] == ["original"]
    text = card.text
    for section in (
        "## Uses",
        "**Intended use.**",
        "**Out of scope.**",
        "## Dataset creation",
        "### Curation rationale",
        "### Source data",
        "### Annotations",
        "**Annotation process.**",
        "**Who are the annotators?**",
        "## Bias, risks and limitations",
        "## License and citation",
    ):
        assert section in text, section
    # each part's licence, scoped: the annotations CC-BY-4.0, the images unknown
    licence = text[text.index("## License and citation") :]
    assert "**Annotations**" in licence and "CC-BY-4.0" in licence
    assert "**Images** (`image`): licences **unknown**" in licence
    manifest = json.loads((built / MANIFEST).read_text())
    flagged = manifest["audit"]["counts"].get("suspicious_placeholder", 0)
    assert (f"The audit flagged {flagged} " if flagged else "The audit flagged no ") in text


def test_the_license_metadata_does_not_stop_loading(built, tmp_path):
    import datasets

    loaded = datasets.load_dataset(str(built), cache_dir=str(tmp_path / "cache"))
    assert set(loaded) == {"train", "test", "test_full"}


def test_push_names_the_repo_in_the_card_and_the_manifest_describes_the_pushed_card(built, monkeypatch):
    from huggingface_hub import CommitInfo, CommitOperationAdd, HfApi, constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    commits: list[dict] = []
    monkeypatch.setattr(HfApi, "whoami", lambda self: {"name": "someone"})
    monkeypatch.setattr(HfApi, "create_repo", lambda self, *a, **k: None)
    monkeypatch.setattr(HfApi, "create_branch", lambda self, *a, **k: None)
    monkeypatch.setattr(HfApi, "list_repo_files", lambda self, *a, **k: [])
    info = CommitInfo(commit_url="https://huggingface.co/datasets/someone/bench/commit/1", commit_message="m",
                      commit_description="", oid="1")  # fmt: skip
    monkeypatch.setattr(HfApi, "create_commit", lambda self, *a, **k: commits.append(k) or info)
    local_card = (built / "README.md").read_bytes()
    assert REPO_PLACEHOLDER.encode() in local_card

    for revision in (None, "v2"):
        push(built, "someone/bench", revision=revision, token="hf_x", echo=lambda _: None, allow_stand_in=True)
        sent = {
            op.path_in_repo: op.path_or_fileobj
            for op in commits[-1]["operations"]
            if isinstance(op, CommitOperationAdd) and op.path_in_repo in ("README.md", MANIFEST)
        }
        card, manifest = sent["README.md"], json.loads(sent[MANIFEST])
        assert isinstance(card, bytes) and REPO_PLACEHOLDER.encode() not in card
        assert b'load_dataset("someone/bench")' in card and b"COGIP_DATASET=someone/bench " in card
        assert manifest["files"]["README.md"] == {"bytes": len(card), "sha256": hashlib.sha256(card).hexdigest()}
        assert (b"This copy is revision `v2`" in card) == (revision == "v2")
    assert (built / "README.md").read_bytes() == local_card  # the local build is left as built
