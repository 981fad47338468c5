"""The sections of benchmarks/run.py: each module measures one thing on this machine
and returns a JSON-ready dict through ``measure(quick, tmp)``; speed_report.py renders
them."""
