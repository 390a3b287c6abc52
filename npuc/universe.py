"""npuc's xDSL plug-in: its dialects and passes for `xdsl-opt` and other xDSL tools.

Registered under the `xdsl.universe` entry point in pyproject.toml.
"""

from xdsl.universe import Universe

from npuc.dialects import get_all_dialects
from npuc.passes import get_all_passes

NPUC_UNIVERSE = Universe(all_dialects=get_all_dialects(), all_passes=get_all_passes())
