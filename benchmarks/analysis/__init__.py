"""The readers' library: a store as a table of runs, sweeps, summaries, tables, figures, anchors.

The commands (`benchmarks.report`, `benchmarks.verify`, `benchmarks.leaderboard`,
`benchmarks.compare`) are thin layers over these modules; nothing here imports a command.
"""
