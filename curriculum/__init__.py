"""curriculum: a curriculum and data-scheduling engine for LLM post-training.

This package holds the floors above and below the components (`tasks/`, `schedulers/`, `trainer/`);
ARCHITECTURE.md draws them. Imports only point down, and `tests/unit/test_layers.py` guards that:

- leaves (import nothing else of ours): `seeding`, `errors`, `spec`, `records`, `signals/`;
- orchestration: `catalog/` (YAML -> a validated `Catalog`), `run/` (the loop, stream, run folder,
  resume, the transfer probe, the tiny-base recipe), `report/` (what a run or a plan says, as data),
  `bench/`;
- presentation: `views/` (rich rendering: data in, renderables out), `cli/` (thin commands).
"""

__version__ = "0.1.0"
