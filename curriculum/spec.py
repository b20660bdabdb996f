"""The base of every catalog section, and the constrained number types the specs share.

The specs themselves live beside what they configure (`tasks/spec.py`, `schedulers/spec.py`,
`trainer/config.py`); `curriculum.catalog.schema.Catalog` composes them.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class Spec(BaseModel):
    """Base of every catalog section: unknown keys are errors, values are re-checked on assignment, and no
    float anywhere may be infinite or NaN (`.inf` / `.nan` in YAML, `1e999`), since one such learning rate,
    temperature, weight or mu turns every later number of the run into NaN."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


NonNegInt = Annotated[int, Field(ge=0)]
PosInt = Annotated[int, Field(gt=0)]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
