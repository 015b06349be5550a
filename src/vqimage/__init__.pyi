# Type-checker view of vqimage/__init__.py: the names it serves lazily are imported here.
from vqimage import data as data
from vqimage._shared.version import __version__ as __version__
from vqimage.core import metrics as metrics
from vqimage.core import strategies as strategies
from vqimage.core.histogram import Histogram as Histogram
from vqimage.core.histogram import histogram as histogram
from vqimage.core.protocol import QuantizerProtocol as QuantizerProtocol
from vqimage.core.quantizer import Quantizer as Quantizer
from vqimage.core.quantizer import fit as fit
from vqimage.core.quantizer import fit_histogram as fit_histogram
from vqimage.errors import FewerLevelsWarning as FewerLevelsWarning
from vqimage.errors import FormatError as FormatError
from vqimage.errors import NotRegularFileError as NotRegularFileError
from vqimage.errors import VQImageWarning as VQImageWarning
from vqimage.viz import plot as plot
from vqimage.viz import report as report
from vqimage.vq.blocks import BlockQuantizer as BlockQuantizer
from vqimage.vq.blocks import fit_blocks as fit_blocks
from vqimage.vq.channels import ChannelQuantizer as ChannelQuantizer
from vqimage.vq.channels import fit_channels as fit_channels
from vqimage.vq.palette import PaletteQuantizer as PaletteQuantizer
from vqimage.vq.palette import fit_palette as fit_palette
from vqimage.vqi.compressed import CompressedImage as CompressedImage
from vqimage.vqi.compressed import compress as compress
from vqimage.vqi.compressed import load as load
from vqimage.vqi.inspection import inspect as inspect

__all__: list[str]
