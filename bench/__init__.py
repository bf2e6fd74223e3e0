"""Benchmarks (issue #7): python -m bench, or one module: python -m bench.dbt_build ..."""
