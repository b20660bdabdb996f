"""Tasks: what a task is and where its data comes from.

- `tasks.base`: `Record`, the `Task` and `Reward` protocols, `final_answer`.
- `tasks.builtin`: synthetic tasks (4 structured, 2 creative) that need no download.
- `tasks.sources`: JSONL, CSV, Parquet, `save_to_disk` folders, hub datasets, Python generators.
- `tasks.rewards`: exact, numeric, regex, built-in verifiers, user Python functions.
- `tasks.build`: turns a catalog's task spec into a loaded `Task`.
"""
