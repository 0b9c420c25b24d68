"""Build CogIP-Bench from the release files into a Hugging Face dataset, audit it and publish it."""
