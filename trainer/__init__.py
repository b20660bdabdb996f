"""Trainer: models and tokenizers, losses as pure tensor functions, rollouts, one training step
(`step.train_step`) and evaluation (`evaluate.run_eval`), what else measures a model (drift from
the base, update sparsity, planning tokens), checkpoints, the runtime (device, dtype, autocast). It consumes batches and
returns records; it knows nothing of schedulers, catalogs or the run (it imports only the leaves of
`curriculum`)."""
