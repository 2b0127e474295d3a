"""`python -m bench`: every benchmark as one suite (bench/suite.py)."""

import sys

from bench.suite import main

if __name__ == "__main__":
    sys.exit(main())
