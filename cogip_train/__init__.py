"""Soft-label post-training of MLLMs on CogIP-Bench (see issue: cogip_train)."""
