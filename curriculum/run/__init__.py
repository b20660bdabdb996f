"""Orchestration: the pieces of a run built from a catalog (`setup`), the stream of batches (`stream`),
the one visible loop (`loop.train`), the run folder and its writer (`rundir`, `writer`), resume
(`resume`), the `bwt_order` transfer probe (`probe`), the tiny-base recipe (`base_model`), and the
protocol of what a run shows while it works (`display`)."""
