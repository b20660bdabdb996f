"""Tasks: what a task is, where its data comes from, and how its completions are graded.

- `tasks.spec`: the task specs of a catalog (sources, rewards, `TaskSpec`) and the reward-source rule.
- `tasks.base`: `Record`, the `Task`, `Reward` and `Extract` protocols, `final_answer`.
- `tasks.builtin`: synthetic tasks (4 structured, 2 creative) that need no download.
- `tasks.sources`: JSONL, CSV, Parquet, `save_to_disk` folders, hub datasets, Python generators.
- `tasks.rewards`: exact, numeric, regex, built-in verifiers, user Python functions; each with the
  answer extraction it grades by.
- `tasks.registry`: the plugin dicts; `tasks.build` imports the plugins and turns a spec into a `Task`.

This package imports only the leaves of `curriculum` (seeding, spec, errors) and itself.
"""
