"""An njscc plugin: :class:`TinyNecst`, :class:`StraightThrough` and the ``shapes`` dataset."""

from njscc_plugin_example.datasets import load_shapes, make_shapes
from njscc_plugin_example.models import TinyNecst
from njscc_plugin_example.objectives import StraightThrough

__all__ = ["StraightThrough", "TinyNecst", "load_shapes", "make_shapes"]
