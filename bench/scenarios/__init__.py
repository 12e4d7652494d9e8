"""The benchmarks: each ``run_*`` measures, sets figures beside ceilings, returns a report."""
