"""Signals: pure functions over a run's records (a leaf floor: imports nothing else of ours but records).

- `measurements`: `Measurements`, what a scheduler sees, folded from step and eval records.
- `phases`: least-squares slopes; the phase of a held-out score curve (shift, readapt, gain, overfit).
- `transfer`: the accuracy matrix R, ACC / BWT / FWT, forgetting, intransigence.
- `ordering`: task order from a measured transfer matrix; prerequisites.
- `stages`: runs of steps with one stage name, and where they end.
"""
