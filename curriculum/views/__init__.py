"""Views: rich rendering only. Data in (records, report and plan dicts), renderables or printed lines out;
a view computes nothing and imports neither the trainer nor the run.

- `charts`: text charts (mu over steps).
- `plan`: `curriculum plan`.
- `train`: what `curriculum train` shows (progress, evals, the probe, the summary).
- `report`: `curriculum inspect`.
- `listing`: `curriculum ls`.
"""
