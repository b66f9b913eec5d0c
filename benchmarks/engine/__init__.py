"""The run engine: config schema, one run, the training loop, the store, provenance, logging."""
