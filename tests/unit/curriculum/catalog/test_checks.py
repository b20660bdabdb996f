"""Cross-section checks that need the file system: a model path that cannot be a hub id must exist."""

import pytest
from helpers import TINY

from curriculum.catalog import CatalogInvalid, load_catalog


def test_a_model_path_that_is_no_hub_id_must_exist(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CatalogInvalid, match="model folder not found: models/llama/final"):
        load_catalog(TINY, ["model={kind: hf, name: models/llama/final}"])
    (tmp_path / "models" / "llama" / "final").mkdir(parents=True)
    load_catalog(TINY, ["model={kind: hf, name: models/llama/final}"])  # there now (relative to the cwd)
    load_catalog(TINY, ["model={kind: hf, name: Qwen/Qwen2.5-0.5B}"])  # owner/name: a hub id, not checked
