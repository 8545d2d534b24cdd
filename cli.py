"""`python cli.py ...` does exactly what the installed `loyaltyrules ...` command does."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

from loyaltyrules.cli import main

if __name__ == "__main__":
    main()
