"""``cogip-leaderboard``: submit, verify, build and compare CogIP-Bench leaderboard submissions.

    cogip-eval --model qwen2_5_vl --model_args pretrained=... --tasks cogip --log_samples --output_path out/
    cogip-leaderboard submit out/ --name "My-VLM-7B" -o submissions/my-vlm-7b.json
    cogip-leaderboard verify submissions/my-vlm-7b.json          # exit status 1 when rejected
    cogip-leaderboard build submissions/ -o site/                # site/index.html, site/leaderboard.md
    cogip-leaderboard compare submissions/aligned.json submissions/base.json   # a - b

The ground truth is the test split of --dataset (a Hub id or a local folder; default $COGIP_DATASET, else
the Hub dataset).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from ..cli_style import CogIPArgumentParser, add_verbosity, apply_verbosity, example
from ..dataset import dataset_source, dataset_spec
from ..entry import entry_point
from ..errors import CogIPError, fail, one_line
from ..files import check_outputs_apart, output_lock, write_json, write_text
from ..metrics import N_RESAMPLES, SEED
from .cache import CACHE_ENV, VerificationCache, default_cache_dir, verification_key
from .report import fmt
from .submission import (
    SubmissionError,
    parse_submission,
    read_submission_bytes,
    run_files,
    submission_from_output,
)
from .verify import GroundTruth, Rejected, Verified, load_ground_truth, skeleton, split_scores, verify_submission

PROG = "cogip-leaderboard"  # exit status as every CogIP CLI: see cogip_tasks/entry.py


class DatasetProblem(CogIPError, RuntimeError):
    """The ground-truth dataset cannot be loaded or used; the message names it."""


class MissingDependency(CogIPError, RuntimeError):
    """A package the command needs is not installed: the environment's fault, never the submission's."""


def missing_dependency(err: ImportError) -> MissingDependency:
    return MissingDependency(
        f"missing dependency: {one_line(err)}; install the package that provides {err.name or 'it'} and rerun"
    )


def ground_truth(source: str | None) -> GroundTruth:
    """The test split, or a :class:`DatasetProblem` naming the dataset for *any* load failure.

    Broad on purpose: a missing folder, an offline Hub id, a missing or empty split, a bad row (CogIPDataError)
    and a corrupt cache all surface as different exception types from ``datasets``, the Hub client or this
    package, and each must end the CLI with one line, not a traceback.
    """
    try:
        return load_ground_truth(source)
    except ImportError as err:
        raise missing_dependency(err) from err
    except Exception as err:  # broad on purpose: see the docstring
        name, text = dataset_source(source), one_line(err, 300)
        raise DatasetProblem(text if name in text else f"dataset {name}: {type(err).__name__}: {text}") from err


def verify_bytes(data: bytes, path: Path, truth: GroundTruth) -> Verified:
    """Verify one file's content; hostile or malformed content is rejected like a bad submission.

    Anything a submission's content makes go wrong (a structure nested past the recursion limit, a type no
    check anticipated) rejects that file only, so ``build --skip-rejected`` carries on with the others. A
    missing package is not the file's fault: it ends the command (:class:`MissingDependency`).
    """
    try:
        return verify_submission(parse_submission(data, path), truth, path=path)
    except SubmissionError as err:
        raise Rejected("(file)", str(err)) from err
    except RecursionError:
        raise Rejected("(file)", "nested too deeply to be a submission") from None
    except Rejected:
        raise
    except ImportError as err:
        raise missing_dependency(err) from err
    except Exception as err:  # broad on purpose: see the docstring
        raise Rejected("(file)", f"cannot be verified ({type(err).__name__}: {one_line(err)})") from err


def verify_file(path: Path, truth: GroundTruth) -> Verified:
    """Read (the one reader of user files) and verify one submission file."""
    try:
        data = read_submission_bytes(path)
    except SubmissionError as err:
        raise Rejected("(file)", str(err)) from err
    return verify_bytes(data, path, truth)


def submission_files(paths: list[str]) -> list[Path]:
    files: list[Path] = []
    for p in map(Path, paths):
        files += sorted(p.glob("*.json")) if p.is_dir() else [p]
    return files


def verify_all(
    files: list[Path], truth: GroundTruth, cache: VerificationCache | None = None
) -> tuple[list[Verified], list[tuple[str, str]]]:
    """Verified models and ``(file, reason)`` rejections; ``cache`` answers for files verified before.

    A model name may be used once on the page (compared by the look-alike :func:`skeleton`: case, Unicode
    compatibility forms, invisible characters and look-alike letters do not make two names different): files
    are read in sorted order and a later file with a name already taken is rejected, naming the file that
    holds it.
    """
    from tqdm.auto import tqdm

    cache = cache or VerificationCache(None)
    verified: list[Verified] = []
    rejected: list[tuple[str, str]] = []
    names: dict[str, Path] = {}
    for path in tqdm(files, desc="verifying", unit="submission", disable=len(files) < 8):
        try:
            try:
                data = read_submission_bytes(path)
            except SubmissionError as err:
                raise Rejected("(file)", str(err)) from err
            key = verification_key(data, truth, N_RESAMPLES, SEED)
            result = cache.get(key)
            if result is None:
                try:
                    result = verify_bytes(data, path, truth)
                except Rejected as err:
                    result = err
                cache.put(key, result)
            if isinstance(result, Rejected):
                raise result
            model = result
            model.path = str(path)
            if skeleton(model.name) in names:
                raise Rejected("model.name", f"{model.name!r} is already used by {names[skeleton(model.name)]}")
        except Rejected as err:
            rejected.append((str(path), str(err)))
            continue
        names[skeleton(model.name)] = path
        verified.append(model)
    return verified, rejected


def train_means(source: str | None) -> dict[str, float] | None:
    """Mean human score per dimension of the training split; None when the dataset has no train split."""
    try:
        parts = split_scores(source, "train")
    except ImportError as err:
        raise missing_dependency(err) from err
    except Exception as err:  # noqa: BLE001  datasets' "Unknown split", a missing save_to_disk split, a bad row
        print(f"note: no train-set mean reference ({type(err).__name__}: {one_line(err)})", file=sys.stderr)
        return None
    if any(not scores for _, scores in parts.values()):
        return None
    return {key: sum(scores) / len(scores) for key, (_, scores) in parts.items()}


def cmd_submit(args: argparse.Namespace) -> int:
    try:
        spec = dataset_spec(args.dataset)  # the benchmark the run evaluated: tasks <spec name>_<key>
        sub = submission_from_output(args.output_path, name=args.name, results_file=args.results, spec=spec)
        check_outputs_apart([args.out], run_files(args.output_path, args.results, spec))
        write_json(args.out, sub)
    except (CogIPError, OSError) as err:
        return fail(PROG, err)
    n = sum(len(d["items"]) for d in sub["dimensions"].values())
    print(f"wrote {args.out}: model {sub['model']['name']!r}, {n} items, parser {sub['parser_version']}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    truth = ground_truth(args.dataset)
    failed = 0
    for path in submission_files(args.submissions):
        try:
            model = verify_file(path, truth)
        except Rejected as err:
            failed += 1
            print(f"REJECTED {path}: {err}")
            continue
        print(
            f"OK {path}: model {model.name!r}, {truth.n_items()} items re-parsed and every metric recomputed "
            f"(mean SRCC {fmt(model.mean['srcc'])}, parse rate {fmt(model.mean['parse_rate'])})"
        )
    return 1 if failed else 0


def cmd_build(args: argparse.Namespace) -> int:
    files = submission_files(args.submissions)
    cache_dir = None if args.no_cache else args.cache_dir or default_cache_dir()
    # the cache is read as well as written: the site may neither be it nor hold it (it would be published)
    check_outputs_apart([args.out], [*args.submissions, *files, *([cache_dir] if cache_dir else [])])
    truth = ground_truth(args.dataset)
    cache = VerificationCache(cache_dir)
    with output_lock(args.out, command="cogip-leaderboard build"):
        return build_site(args, files, truth, cache)


def build_site(args: argparse.Namespace, files: list[Path], truth: GroundTruth, cache: VerificationCache) -> int:
    from .report import build_leaderboard, write_leaderboard

    verified, rejected = verify_all(files, truth, cache)
    for path, reason in rejected:
        print(f"REJECTED {path}: {reason}", file=sys.stderr)
    if rejected and not args.skip_rejected:
        return fail(PROG, "rejected submissions (fix them, or pass --skip-rejected to list them on the page)")
    if not verified:
        return fail(PROG, "no verified submission to rank")
    means = train_means(args.dataset)
    references = cache.references(truth, means, N_RESAMPLES, SEED)
    board = build_leaderboard(verified, truth, means, rejected=rejected, references=references)
    written = write_leaderboard(board, args.out, None if cache.folder is None else cache.folder.parent)
    reused = f" ({cache.hits} verification(s) reused from the cache)" if cache.hits else ""
    print(
        f"ranked {len(verified)} model(s) with {len(board.rows) - len(verified)} reference rows{reused}; wrote "
        f"{written['markdown']}, {written['html']} and {len(written) - 3} plots under {Path(args.out) / 'plots'}"
    )
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from .report import compare_markdown

    truth = ground_truth(args.dataset)
    models = []
    for path in (args.a, args.b):
        try:
            models.append(verify_file(Path(path), truth))
        except Rejected as err:
            print(f"REJECTED {path}: {err}", file=sys.stderr)
            return 1
    text = compare_markdown(models[0], models[1], truth)
    if args.out:
        check_outputs_apart([args.out], [args.a, args.b])
        write_text(args.out, text)
    print(text, end="")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = CogIPArgumentParser(prog="cogip-leaderboard", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log why a metric is undefined (NaN)")
    sub = parser.add_subparsers(dest="command", required=True)
    dataset_help = "ground-truth dataset: Hub id or local folder (default: $COGIP_DATASET, else the Hub dataset)"

    p = sub.add_parser(
        "submit",
        help="turn an lmms-eval output folder into a submission file",
        epilog=example('cogip-leaderboard submit results/ --name "My-VLM-7B" -o submissions/my-vlm-7b.json'),
    )
    p.add_argument("output_path", help="the --output_path of an `lmms-eval --tasks cogip --log_samples` run")
    p.add_argument("-o", "--output", dest="out", required=True, aliases=["--out"], help="submission JSON to write")
    p.add_argument(
        "--name",
        help="model name shown on the leaderboard (default: the published pretrained= value: its Hub id or "
        "its folder's base name)",
    )
    p.add_argument("--results", help="a specific *_results.json (default: the newest under output_path)")
    p.add_argument(
        "--dataset",
        help="the dataset the run evaluated, for its benchmark (a folder built by cogip-upload build --spec; "
        "default: CogIP-Bench)",
    )
    p.set_defaults(run=cmd_submit)

    p = sub.add_parser(
        "verify",
        help="re-derive every number of submissions; exit 1 if any is rejected",
        epilog=example("cogip-leaderboard verify submissions/my-vlm-7b.json"),
    )
    p.add_argument("submissions", nargs="+", help="submission files or folders of them")
    p.add_argument("--dataset", help=dataset_help)
    p.set_defaults(run=cmd_verify)

    p = sub.add_parser(
        "build",
        help="rank verified submissions: leaderboard.md, index.html, plots/",
        epilog=example("cogip-leaderboard build submissions/ -o site/"),
    )
    p.add_argument("submissions", nargs="+", help="submission files or folders of them")
    p.add_argument(
        "-o", "--output-dir", dest="out", required=True, aliases=["--out"], help="folder to write the leaderboard into"
    )
    p.add_argument("--dataset", help=dataset_help)
    p.add_argument(
        "--cache-dir",
        help=f"where verifications and plots are cached by content (default: ${CACHE_ENV}, else "
        "~/.cache/cogip/leaderboard); a rebuild recomputes only what changed",
    )
    p.add_argument("--no-cache", action="store_true", help="verify and draw everything afresh (same numbers)")
    p.add_argument(
        "--skip-rejected",
        action="store_true",
        help="leave rejected submissions out (listed on the page) instead of failing",
    )
    p.set_defaults(run=cmd_build)

    p = sub.add_parser(
        "compare",
        help="two submissions side by side: per-dimension differences with CIs",
        epilog=example("cogip-leaderboard compare submissions/aligned.json submissions/base.json -o compare.md"),
    )
    p.add_argument("a", help="first submission (e.g. the aligned model)")
    p.add_argument("b", help="second submission (e.g. its base model)")
    p.add_argument("--dataset", help=dataset_help)
    p.add_argument("-o", "--output", dest="out", aliases=["--out"], help="also write the comparison (Markdown) here")
    p.set_defaults(run=cmd_compare)
    for command in sub.choices.values():
        add_verbosity(command)
    return parser


def main(argv: list[str] | None = None) -> None:
    sys.exit(run(argv))


@entry_point(
    PROG, on_interrupt="files already written are complete (each is written whole or not at all); run it again"
)
def run(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    apply_verbosity(args)
    # Undefined metrics (constant predictions) are shown as n/a; their per-metric log lines are noise here.
    logging.getLogger("cogip").setLevel(logging.DEBUG if args.verbose else logging.ERROR)
    try:
        code = args.run(args)
    except ImportError as err:  # e.g. matplotlib missing when build draws its plots
        code = fail(PROG, missing_dependency(err))
    return code


if __name__ == "__main__":
    main()
