"""CogIP-Bench leaderboard: verified submissions, comparisons with confidence, and a static report.

- :mod:`.submission`: lmms-eval output folder -> submission JSON (per-item answers, versions, metrics)
- :mod:`.verify`: re-parse every answer and recompute every metric against the test split; reject with a reason
- :mod:`.stats`: bootstrap intervals, paired bootstrap differences, reference predictors
- :mod:`.report`: Markdown table, static HTML page with embedded scatter plots, side-by-side comparison
- :mod:`.cli`: the ``cogip-leaderboard`` console script
"""

from .submission import SubmissionError, make_submission, read_submission, submission_from_output
from .verify import GroundTruth, Rejected, Verified, load_ground_truth, verify_submission

__all__ = [
    "GroundTruth",
    "Rejected",
    "SubmissionError",
    "Verified",
    "load_ground_truth",
    "make_submission",
    "read_submission",
    "submission_from_output",
    "verify_submission",
]
