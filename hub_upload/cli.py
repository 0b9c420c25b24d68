"""``cogip-upload`` / ``python -m hub_upload``: build, audit and push CogIP-Bench as a Hub dataset.

Exit status: 0 done, 1 the audit failed in --strict mode or the push was refused, 2 bad input or usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .audit import audit_release
from .build import DEFAULT_SEED, TEST_PER_DIMENSION, AuditFailed, BuildOptions, build
from .push import PushError, push
from .release import ReleaseError, read_release
from .standin import write_standin_images

EXIT_AUDIT = 1
EXIT_INPUT = 2


def _release_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--release", required=True, type=Path,
                        help="release folder: cognition_scores/, cognition_training.json, test_msg_file/")
    parser.add_argument("--images", required=True, type=Path, help="image root holding <Dimension>/NNNNNN.jpg")
    parser.add_argument("--strict", action="store_true", help="fail (exit 1, nothing written) on any open audit finding")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cogip-upload",
        description="Build CogIP-Bench from the release files into a Hugging Face dataset folder, audit it, publish it.",
        epilog="example: cogip-upload build --release ../shared/cogip_release --images images/ --out cogip_bench_built",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="audit the release and write a Hub dataset folder (Parquet + dataset card)")
    _release_args(b)
    b.add_argument("--out", required=True, type=Path, help="output folder (replaced only if it holds an earlier build)")
    b.add_argument("--drop-suspicious", action="store_true",
                   help="leave out rows with suspicious placeholder scores (e.g. Memorability's 0.000s)")
    b.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"seed of the test split's draw (default {DEFAULT_SEED})")
    b.add_argument("--test-size", type=int, default=TEST_PER_DIMENSION,
                   help=f"test items per dimension (default {TEST_PER_DIMENSION}, the paper's 480 in all)")

    a = sub.add_parser("audit", help="audit the release and its images without writing a dataset")
    _release_args(a)
    a.add_argument("--json", type=Path, help="also write every finding to this JSON file")

    p = sub.add_parser("push", help="upload a built folder to a Hub dataset repo as one commit")
    p.add_argument("folder", type=Path, help="a folder written by `cogip-upload build`")
    p.add_argument("--repo-id", required=True, help="Hub dataset repo, e.g. your-name/CogIP-Bench")
    p.add_argument("--private", action="store_true", help="create the repo private (if it does not exist yet)")
    p.add_argument("--revision", help="branch to commit to (created if needed; default main)")
    p.add_argument("--message", help="commit message (default: names the split sizes)")
    p.add_argument("--strict", action="store_true", help="refuse a build whose audit has open findings")
    p.add_argument("--dry-run", action="store_true", help="list exactly what would be uploaded; needs no token or network")

    s = sub.add_parser("stand-in-images", help="write procedural stand-in JPEGs for every image a release names")
    s.add_argument("--release", required=True, type=Path)
    s.add_argument("--out", required=True, type=Path, help="image root to write <Dimension>/NNNNNN.jpg into")
    s.add_argument("--size", type=int, default=48, help="side in pixels (default 48)")
    return parser


def _run(args: argparse.Namespace) -> int:
    if args.command == "build":
        options = BuildOptions(seed=args.seed, test_per_dimension=args.test_size, strict=args.strict,
                               drop_suspicious=args.drop_suspicious, progress=not args.no_progress)
        result = build(args.release, args.images, args.out, options)
        print(f"images: {args.images}")
        print(result.report.summary())
        for note in result.notes:
            print(f"note: {note}")
        for config, splits in result.rows.items():
            print(f"{config}: " + ", ".join(f"{split} {n}" for split, n in splits.items()))
        print(f"wrote {len(result.files)} file(s) to {result.out}")
        return 0
    if args.command == "audit":
        report = audit_release(read_release(args.release), args.images, progress=not args.no_progress)
        print(f"images: {args.images}")
        print(report.summary())
        if args.json:
            args.json.write_text(json.dumps(report.to_json(), indent=1) + "\n", encoding="utf-8")
        return EXIT_AUDIT if args.strict and report.open_findings else 0
    if args.command == "push":
        push(args.folder, args.repo_id, private=args.private, revision=args.revision, message=args.message,
             strict=args.strict, dry_run=args.dry_run)
        return 0
    if args.command == "stand-in-images":
        n = write_standin_images(read_release(args.release), args.out, size=args.size)
        print(f"wrote {n} stand-in images to {args.out}")
        return 0
    raise AssertionError(args.command)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except AuditFailed as err:
        print(err.report.summary(), file=sys.stderr)
        print(f"error: {err}", file=sys.stderr)
        return EXIT_AUDIT
    except PushError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_AUDIT
    except (ReleaseError, FileExistsError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_INPUT


if __name__ == "__main__":
    sys.exit(main())
