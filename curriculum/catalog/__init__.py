"""The catalog: YAML with lines -> overrides -> the composed pydantic `Catalog` -> the cross-section checks.

`load_catalog(path, overrides)` gives a validated `Catalog` or raises `CatalogInvalid` with every error
(`file:line: yaml.path: message`); `check_catalog` returns the errors instead.
"""

from curriculum.catalog.load import check_catalog, load_catalog
from curriculum.catalog.schema import Catalog
from curriculum.catalog.yamlio import CatalogError, CatalogInvalid

__all__ = ["Catalog", "CatalogError", "CatalogInvalid", "check_catalog", "load_catalog"]
