"""``cogip-upload`` / ``python -m hub_upload``: build, audit and push CogIP-Bench as a Hub dataset.

Exit status: 0 done; 1 bad input, an audit with open findings in --strict mode or a refused push; 2 usage;
130 interrupted. Every error is one line on stderr naming the file, field or value; no traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

from cogip_tasks.cli_style import CogIPArgumentParser, add_verbosity, apply_verbosity, example
from cogip_tasks.entry import entry_point
from cogip_tasks.errors import EXIT_FAILURE, EXIT_OK
from cogip_tasks.files import check_outputs_apart, output_lock, write_text

from .audit import audit_release
from .build import AuditFailed, BuildOptions, build, check_images_root
from .card import LICENSE_ID, UNKNOWN_LICENSE
from .push import push
from .release import InputError, read_release
from .standin import write_standin_images
from .testsplit import DEFAULT_DRAW_ORDER, DEFAULT_SEED, TEST_PER_DIMENSION, parse_draw_order, read_test_ids

PROG = "cogip-upload"
RELEASE = "../shared/cogip_release"


def _release_args(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument(
        "--release",
        required=required,
        type=Path,
        help="release folder: cognition_scores/, cognition_training.json, test_msg_file/",
    )
    parser.add_argument(
        "--images",
        required=True,
        type=Path,
        help="image root holding <Dimension>/NNNNNN.jpg (with --spec: the folder the CSV's image paths are in)",
    )
    parser.add_argument(
        "--strict", action="store_true", help="fail (exit 1, nothing written) on any open audit finding"
    )
    add_verbosity(parser, quiet_aliases=["--no-progress"])


def build_parser() -> argparse.ArgumentParser:
    parser = CogIPArgumentParser(
        prog="cogip-upload",
        description="Build CogIP-Bench from the release files into a Hugging Face dataset folder, audit it, "
        "publish it.",
        epilog=example(f"cogip-upload build --release {RELEASE} --images images/ -o cogip_bench_built"),
    )
    sub = parser.add_subparsers(dest="command", required=True)

    b = sub.add_parser(
        "build",
        help="audit the release and write a Hub dataset folder (Parquet + dataset card)",
        epilog=example(f"cogip-upload build --release {RELEASE} --images images/ -o cogip_bench_built"),
    )
    _release_args(b, required=False)
    b.add_argument(
        "--spec",
        type=Path,
        help="build another benchmark instead of the release: its spec YAML (docs/custom-benchmarks.md); "
        "needs --scores, not --release",
    )
    b.add_argument(
        "--scores",
        type=Path,
        metavar="CSV",
        help="with --spec: the human scores, columns image, dimension, score and optionally split (train/test)",
    )
    for part, what in (("annotation", "the scores, labels and prompts"), ("image", "the images")):
        b.add_argument(
            f"--{part}-license",
            type=_license_id,
            default=None,
            metavar="ID",
            help=f"with --spec: the licence of {what}, a Hub licence id (cc-by-4.0, mit, ...), stated per part in "
            f"the card (default: {UNKNOWN_LICENSE}, said so)",
        )
    b.add_argument(
        "-o",
        "--output-dir",
        required=True,
        type=Path,
        aliases=["--out"],
        help="the dataset folder to write: new, empty, or an earlier build (only the files its manifest lists "
        "are replaced)",
    )
    b.add_argument(
        "--force",
        action="store_true",
        help="build into an --output-dir that also holds other files (.git/, your notes): they are left untouched",
    )
    sus = b.add_mutually_exclusive_group()
    sus.add_argument(
        "--keep-suspicious",
        dest="drop_suspicious",
        action="store_false",
        help="keep rows with suspicious placeholder scores (Memorability's 0.000s) as released: the "
        "default, as the paper's protocol did",
    )
    sus.add_argument(
        "--drop-suspicious",
        dest="drop_suspicious",
        action="store_true",
        help="leave those rows out (a cleaner set, no longer the paper's test items)",
    )
    b.set_defaults(drop_suspicious=False)  # keep: the paper's test items include them
    b.add_argument(
        "--allow-missing-images",
        action="store_true",
        help="build even if more than 5%% of the images are missing or unreadable (never if all are)",
    )
    b.add_argument("--seed", type=int, help=f"seed of the release's test draw (default: {DEFAULT_SEED}, the paper's)")
    b.add_argument(
        "--test-size",
        type=int,
        help=f"test items per dimension, 1 to the smallest pool (default: {TEST_PER_DIMENSION}, the paper's 480)",
    )
    b.add_argument(
        "--draw-order",
        help="dimension order of the draw, comma-separated release names (default: "
        f"{','.join(DEFAULT_DRAW_ORDER)}, the sorted folder names)",
    )
    b.add_argument(
        "--test-ids",
        type=Path,
        metavar="FILE",
        help="pin the test split to these ids (one a line, or a JSON list; e.g. Aesthetics/000800) instead of the draw",
    )

    a = sub.add_parser(
        "audit",
        help="audit the release and its images without writing a dataset",
        epilog=example(f"cogip-upload audit --release {RELEASE} --images images/ --json audit.json"),
    )
    _release_args(a)
    a.add_argument("--json", type=Path, help="also write every finding to this JSON file")

    p = sub.add_parser(
        "push",
        help="upload a built folder to a Hub dataset repo as one commit",
        epilog=example("cogip-upload push cogip_bench_built --repo-id your-name/CogIP-Bench --dry-run"),
    )
    p.add_argument("folder", type=Path, help="a folder written by `cogip-upload build`")
    p.add_argument("--repo-id", required=True, help="Hub dataset repo, e.g. your-name/CogIP-Bench")
    p.add_argument("--private", action="store_true", help="create the repo private (if it does not exist yet)")
    p.add_argument("--revision", help="branch to commit to, created if needed (default: main)")
    p.add_argument("--message", help="commit message (default: names the split sizes)")
    p.add_argument("--strict", action="store_true", help="refuse a build whose audit has open findings")
    p.add_argument(
        "--dry-run", action="store_true", help="list exactly what would be uploaded; needs no token or network"
    )

    s = sub.add_parser(
        "stand-in-images",
        help="write procedural stand-in JPEGs for every image a release names",
        epilog=example(f"cogip-upload stand-in-images --release {RELEASE} -o images/"),
    )
    s.add_argument("--release", required=True, type=Path, help="release folder (as for build)")
    s.add_argument(
        "-o",
        "--output-dir",
        required=True,
        type=Path,
        aliases=["--out"],
        help="image root to write <Dimension>/NNNNNN.jpg into",
    )
    s.add_argument("--size", type=int, default=48, help="side in pixels")

    p.add_argument(
        "--allow-stand-in",
        action="store_true",
        help="push a build whose images are procedural stand-ins (refused otherwise)",
    )
    add_verbosity(s, quiet_aliases=["--no-progress"])
    add_verbosity(p)
    return parser


def build_options(args: argparse.Namespace) -> BuildOptions:
    """The build's options from the command line; --test-ids replaces the draw, so the draw's options clash."""
    if args.test_ids is not None:
        given = [
            f"--{n}"
            for n, v in (("seed", args.seed), ("test-size", args.test_size), ("draw-order", args.draw_order))
            if v is not None
        ]
        if given:
            raise InputError(f"--test-ids pins the test split; {', '.join(given)} would have no effect: drop it")
    return BuildOptions(
        seed=DEFAULT_SEED if args.seed is None else args.seed,
        test_per_dimension=TEST_PER_DIMENSION if args.test_size is None else args.test_size,
        draw_order=parse_draw_order(args.draw_order),
        test_ids=read_test_ids(args.test_ids) if args.test_ids is not None else None,
        strict=args.strict,
        drop_suspicious=args.drop_suspicious,
        force=args.force,
        allow_missing_images=args.allow_missing_images,
        progress=not args.quiet,
    )


#: build options of the release only, as (flag, attribute, value when not given).
_RELEASE_ONLY = (
    ("--draw-order", "draw_order", None),
    ("--test-ids", "test_ids", None),
    ("--drop-suspicious", "drop_suspicious", False),
    ("--allow-missing-images", "allow_missing_images", False),
    ("--strict", "strict", False),
)


def _license_id(text: str) -> str:
    """argparse type: a Hub licence id, lowercased (``CC-BY-4.0`` is ``cc-by-4.0``)."""
    value = text.strip().lower()
    if not LICENSE_ID.fullmatch(value):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a licence id (lowercase words and versions joined by '-' or '.': cc-by-4.0, mit)"
        )
    return value


def _spec_build(args: argparse.Namespace) -> int:
    """``build --spec``: the options that apply to it, checked; then the build and its summary."""
    from cogip_tasks.dimensions import register_spec
    from cogip_tasks.spec import load_spec

    from .spec_build import SpecBuildOptions, build_from_spec

    if args.release is not None:
        raise InputError("--spec builds from --scores and --images; --release is the built-in benchmark's input")
    if args.scores is None:
        raise InputError("--spec needs --scores CSV (columns image, dimension, score, optional split)")
    given = [flag for flag, name, unset in _RELEASE_ONLY if getattr(args, name) not in (unset,)]
    if given:
        raise InputError(f"{given[0]} applies to release builds only, not to --spec builds: drop it")
    spec = register_spec(load_spec(args.spec))  # the built-in benchmark's name is reserved for it
    options = SpecBuildOptions(
        seed=DEFAULT_SEED if args.seed is None else args.seed,
        test_size=args.test_size,
        force=args.force,
        annotation_license=args.annotation_license or UNKNOWN_LICENSE,
        image_license=args.image_license or UNKNOWN_LICENSE,
    )
    result = build_from_spec(spec, args.scores, args.images, args.output_dir, options)
    _print_built(result, f" ({spec.title}: {', '.join(spec.keys)})")
    return 0


def _print_built(result, what: str = "") -> None:
    """What a build (either builder) did: its notes, the rows per config and split, the files written."""
    for note in result.notes:
        print(f"note: {note}")
    for config, splits in result.rows.items():
        print(f"{config}: " + ", ".join(f"{split} {n}" for split, n in splits.items()))
    print(f"wrote {len(result.files)} file(s) to {result.out}{what}")


def _run(args: argparse.Namespace) -> int:
    if args.command == "build" and args.spec is not None:
        return _spec_build(args)
    if args.command == "build" and args.release is None:
        raise InputError("build needs --release (CogIP-Bench) or --spec with --scores (another benchmark)")
    if args.command == "build" and args.scores is not None:
        raise InputError("--scores is the input of --spec builds; give --spec too, or drop --scores")
    if args.command == "build" and (args.annotation_license or args.image_license):
        flag = "--annotation-license" if args.annotation_license else "--image-license"
        raise InputError(f"{flag} applies to --spec builds; a release build's card states the release's licences")
    if args.command == "build":
        result = build(args.release, args.images, args.output_dir, build_options(args))
        print(f"images: {args.images}")
        print(result.report.summary())
        _print_built(result)
        return 0
    if args.command == "audit":
        release = read_release(args.release)
        check_images_root(args.images)
        report = audit_release(release, args.images, progress=not args.quiet)
        print(f"images: {args.images}")
        print(report.summary())
        if args.json:
            write_text(args.json, json.dumps(report.to_json(), indent=1) + "\n")
        return EXIT_FAILURE if args.strict and report.open_findings else EXIT_OK
    if args.command == "push":
        push(
            args.folder,
            args.repo_id,
            private=args.private,
            revision=args.revision,
            message=args.message,
            strict=args.strict,
            dry_run=args.dry_run,
            allow_stand_in=args.allow_stand_in,
        )
        return 0
    if args.command == "stand-in-images":
        n = write_standin_images(read_release(args.release), args.output_dir, size=args.size, progress=not args.quiet)
        print(f"wrote {n} stand-in images to {args.output_dir}")
        return 0
    raise AssertionError(args.command)


def outputs_and_inputs(args: argparse.Namespace) -> tuple[list[Path], list[Path], list[Path]]:
    """(paths the command writes, folders it owns while running, paths it reads): an output is never an input
    (nor inside or over one), and an owned folder has one writer at a time."""

    def given(*names: str) -> list[Path]:
        return [Path(getattr(args, n)) for n in names if getattr(args, n, None) is not None]

    if args.command == "build":
        return given("output_dir"), given("output_dir"), given("release", "images", "scores", "spec", "test_ids")
    if args.command == "audit":
        return given("json"), [], given("release", "images")
    if args.command == "stand-in-images":
        return given("output_dir"), given("output_dir"), given("release")
    return [], [], []


@entry_point(
    PROG,
    on_interrupt="nothing half-written: a build is moved into place only when complete, and the next build "
    "clears what an interrupted one left; run the command again",
)
def main(argv: list[str] | None = None) -> int:
    """Exit status as every CogIP CLI (cogip_tasks/entry.py): 1 with one ``cogip-upload: error:`` line for bad
    input, a refused push or a ``--strict`` audit with open findings; 2 for usage errors; 130 interrupted."""
    args = build_parser().parse_args(argv)
    apply_verbosity(args)
    try:
        outputs, owned, inputs = outputs_and_inputs(args)
        check_outputs_apart(outputs, inputs)
        with contextlib.ExitStack() as held:
            for folder in owned:
                held.enter_context(output_lock(folder, command=f"{PROG} {args.command}"))
            return _run(args)
    except AuditFailed as err:
        print(err.report.summary())  # the full list on stdout; the one-line reason on stderr (entry_point)
        raise


if __name__ == "__main__":
    sys.exit(main())
