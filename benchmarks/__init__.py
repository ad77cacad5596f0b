"""factbot benchmarks: `make bench` (= `python -m benchmarks`) runs them all.

Modules:
- `common`: machine description, the load a run ran under, percentiles, distinct questions, a
  private workspace, subprocesses timed (and their peak RSS).
- `startup`: cold start to first answer vs a bare model load; `factbot --help`.
- `latency`: warm per-question latency, encoder ceiling, concurrent askers through the service.
- `scaling`: index build time at ~100 / 10k / 100k chunks; flat vs HNSW query latency and recall.
- `memory`: peak RSS of a process serving questions.
- `breakdown`: where a cold `factbot ask`'s memory goes (phases, smaps by library, tracemalloc).
- `report`: the JSON summary, the Markdown table and the scaling plot.
- `backends`: ONNX / OpenVINO int8 evaluation (run separately, in a throwaway venv).
- `discord_load`: end-to-end Discord load (written separately; run by the runner when present).
"""
