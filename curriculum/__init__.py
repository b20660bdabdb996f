"""curriculum: a curriculum and data-scheduling engine for LLM post-training.

This package is the spine: the catalog schema and loader, the stream, the run directory, plan
rendering and the CLI. Its low-level modules (`schema`, `seeding`, `yamlio`) import nothing from
the other packages (`tasks`, `schedulers`, `trainer`); only the orchestration (`run`, `cli`) wires
them together.
"""

__version__ = "0.1.0"
