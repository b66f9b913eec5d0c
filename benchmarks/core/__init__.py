"""The over-squashing suite's shared core: errors, the model contract, the edges a layer reads."""
