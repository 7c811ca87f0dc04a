"""Benchmark-only pages of ``manage.py bench_servers``, served only under ``forum.bench.urls``."""
