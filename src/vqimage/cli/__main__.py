"""``python -m vqimage.cli``: the command line."""

from vqimage.cli import main

if __name__ == "__main__":
    main()
