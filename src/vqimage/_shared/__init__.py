"""The bottom layer: validation, dtypes, filesystem and array helpers every other layer uses.

Nothing here imports another vqimage package (only :mod:`vqimage.errors`), so any module may
import it.
"""
