"""python -m bench: every benchmark, one table (bench/run.py)."""

from bench.run import main

raise SystemExit(main())
