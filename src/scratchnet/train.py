"""`python -m scratchnet.train ...`, the documented command: the entry point is scratchnet.cli.train."""

from scratchnet.cli.train import main

if __name__ == "__main__":
    main()
