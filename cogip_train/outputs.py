"""What a ``cogip-train`` run writes into ``--output-dir`` (shared by the SFT and GRPO paths)."""

from __future__ import annotations

import json
from pathlib import Path

from cogip_tasks.files import atomic_write, write_text

OUTPUT_FILES = {
    "adapter": "adapter",
    "full": "model",
    "merged": "merged",
    "log": "train_log.json",
    "plot": "loss_curve.png",
}


def use_bf16(choice: str) -> bool:
    import torch

    if choice == "auto":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return choice == "bf16"


def write_log(output_dir: Path, log_history: list[dict], settings: dict) -> None:
    """train_log.json (every logged step) and loss_curve.png, each written to a temp name then renamed."""
    payload = json.dumps({"settings": settings, "log_history": log_history}, indent=1, default=str)
    write_text(output_dir / OUTPUT_FILES["log"], payload)
    steps = [(e["step"], e["loss"]) for e in log_history if "loss" in e]
    if not steps:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2), dpi=120)
    ax.plot(*zip(*steps), marker="o", markersize=2)
    ax.set(xlabel="step", ylabel="training loss", title=f"cogip-train ({settings.get('loss')} loss)")
    fig.tight_layout()
    atomic_write(output_dir / OUTPUT_FILES["plot"], lambda handle: fig.savefig(handle, format="png"))
    plt.close(fig)
