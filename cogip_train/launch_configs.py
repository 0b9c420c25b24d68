"""The accelerate launcher configs shipped in the package (``cogip_train/configs/``, package data).

One home for where they are and how a copy that works on its own is made. A DeepSpeed config names its JSON
with ``deepspeed_config_file`` relative to the repository root (so ``accelerate launch --config_file
cogip_train/configs/zero3.yaml`` works from a clone); a copy printed or written elsewhere points at an absolute
path instead: the packaged JSON when printed, the JSON written beside it when written to a folder.
"""

from __future__ import annotations

import re
from pathlib import Path

from cogip_tasks.errors import CogIPError
from cogip_tasks.files import write_bytes, write_text

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
# deepspeed_config_file values are relative to the folder that holds the cogip_train package (a clone's root).
_ROOT = CONFIG_DIR.parents[1]
_DS_FILE = re.compile(r"^(?P<key>\s*deepspeed_config_file:\s*)(?P<value>\S+)\s*$", re.MULTILINE)


def config_names() -> list[str]:
    """Every launcher config by name: ``zero3`` for ``configs/zero3.yaml``, ``cpu/zero3`` for a subfolder's."""
    return sorted(p.relative_to(CONFIG_DIR).with_suffix("").as_posix() for p in CONFIG_DIR.rglob("*.yaml"))


def config_path(name: str) -> Path:
    """The packaged YAML of ``name`` (``zero3``, ``zero3.yaml`` or ``cpu/zero3``); CogIPError naming the choices."""
    name = name.removesuffix(".yaml")
    if name not in config_names():
        raise CogIPError(f"no launcher config {name!r}; choose one of: {', '.join(config_names())}")
    return CONFIG_DIR / f"{name}.yaml"


def deepspeed_file(text: str) -> Path | None:
    """The DeepSpeed JSON a config's text names, resolved against the package's root; None when it names none."""
    match = _DS_FILE.search(text)
    return None if match is None else _ROOT / match["value"]


def standalone_text(name: str, deepspeed_json: Path | None = None) -> str:
    """The config's YAML with its DeepSpeed JSON (if any) as an absolute path: ``deepspeed_json`` when given,
    else the packaged file. Comments and every other line are kept as shipped."""
    text = config_path(name).read_text()
    target = deepspeed_json or deepspeed_file(text)
    if target is None:
        return text
    return _DS_FILE.sub(lambda m: f"{m['key']}{Path(target).resolve()}", text)


def write_config(name: str, folder: Path) -> list[Path]:
    """Write ``<name>.yaml`` (and its DeepSpeed JSON, pointed at by absolute path) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    yaml_out = folder / config_path(name).name
    written = []
    source = deepspeed_file(config_path(name).read_text())
    json_out = None
    if source is not None:
        json_out = folder / source.name
        write_bytes(json_out, source.read_bytes())
        written.append(json_out)
    write_text(yaml_out, standalone_text(name, json_out))
    return [yaml_out, *written]
