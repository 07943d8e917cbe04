"""Load benchmarks for LeadApp; run ``python -m bench.run`` from the project root (see README.md)."""
