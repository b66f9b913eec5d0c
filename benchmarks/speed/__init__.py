"""Speed benchmarks: `python -m benchmarks.speed` (training steps) and its companions."""
