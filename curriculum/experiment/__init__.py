"""Experiments: arms x seeds of one catalog, run and compared (`curriculum experiment`)."""
