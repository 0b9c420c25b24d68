"""The launcher configs ship in the package, and a copy made from them works on its own, from any folder."""

from __future__ import annotations

import json

import pytest

from cogip_tasks.errors import CogIPError
from cogip_train.launch_configs import CONFIG_DIR, config_names, standalone_text, write_config


def test_the_configs_live_in_the_package():
    assert CONFIG_DIR.parent.name == "cogip_train"
    assert {"ddp", "fsdp", "zero2", "zero3"} <= set(config_names())


@pytest.mark.parametrize("name", ["zero2", "zero3"])
def test_a_written_copy_works_outside_the_repository(name, tmp_path, monkeypatch):
    """The copy's YAML names the JSON written beside it by absolute path, so accelerate finds it from any cwd."""
    from accelerate.commands.config.config_args import load_config_from_file

    written = write_config(name, tmp_path / "copy")
    assert [p.name for p in written] == [f"{name}.yaml", f"ds_{name}.json"]
    monkeypatch.chdir(tmp_path)
    config = load_config_from_file(str(written[0]))
    ds_file = config.deepspeed_config["deepspeed_config_file"]
    assert ds_file == str(written[1])
    assert json.loads(open(ds_file).read())["zero_optimization"]["stage"] == int(name[-1])


def test_a_printed_copy_names_the_packaged_json_by_absolute_path():
    text = standalone_text("zero3")
    assert f"deepspeed_config_file: {CONFIG_DIR / 'ds_zero3.json'}" in text
    assert standalone_text("ddp") == (CONFIG_DIR / "ddp.yaml").read_text()  # nothing to rewrite


def test_an_unknown_config_names_the_choices():
    with pytest.raises(CogIPError, match="no launcher config 'zero4'; choose one of: .*zero3"):
        standalone_text("zero4")
