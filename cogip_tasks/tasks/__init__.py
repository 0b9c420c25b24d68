"""lmms-eval task folders of CogIP-Bench (found via LMMS_EVAL_PLUGINS=cogip_tasks or --include_path)."""
