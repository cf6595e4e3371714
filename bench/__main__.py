"""``python -m bench``: run every benchmark, print and write bench/results/latest.md."""

from bench.run import main

raise SystemExit(main())
