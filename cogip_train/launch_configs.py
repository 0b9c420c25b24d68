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


def describe(name: str) -> str:
    """The config's first comment line, without the leading ``#``."""
    first = config_path(name).read_text().splitlines()[0]
    return first.lstrip("# ").split(" (")[0].strip() if first.startswith("#") else ""


def main(argv: list[str]) -> int:
    """``cogip-train configs [NAME] [-o DIR]``: list the configs, print one, or write a copy that works alone."""
    from cogip_tasks.cli_style import CogIPArgumentParser, example

    parser = CogIPArgumentParser(
        prog="cogip-train configs",
        description="The accelerate launcher configs shipped with CogIP (DDP, DeepSpeed ZeRO-2/3, FSDP). Without "
        "NAME: list them. With NAME: print it (a DeepSpeed config then names its JSON by absolute path, so the "
        "printed copy works from any folder), or write it with -o.",
        epilog=example(
            "cogip-train configs",
            "cogip-train configs zero3 > zero3.yaml",
            "cogip-train configs zero3 -o launch/   # launch/zero3.yaml + launch/ds_zero3.json",
            "accelerate launch --config_file zero3.yaml -m cogip_train --model_args pretrained=... -o runs/x",
        ),
    )
    parser.add_argument("name", nargs="?", help="a config's name, e.g. zero3 (without NAME: list them)")
    parser.add_argument("-o", "--output-dir", type=Path, help="write the config (and its DeepSpeed JSON) here")
    args = parser.parse_args(argv)
    if args.name is None:
        width = max(map(len, config_names()))
        for name in config_names():
            print(f"{name:<{width}}  {describe(name)}")
        print(f"\nfolder: {CONFIG_DIR}\nprint one: cogip-train configs NAME  (write a copy: -o DIR)")
    elif args.output_dir is None:
        print(standalone_text(args.name), end="")
    else:
        for path in write_config(args.name, args.output_dir):
            print(f"wrote {path}")
    return 0
