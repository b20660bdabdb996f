"""Files shipped with the package: the tiny-base model's weights and tokenizer (`curriculum build-base`)."""

from pathlib import Path

TINY_BASE_DIR = Path(__file__).parent / "tiny-base"
