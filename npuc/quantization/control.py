"""Per-layer quantization control: a JSON file of settings by layer name.

The file a user edits and re-runs with, and the file `quantize` writes back
with the choices it made::

    {"activation_bits": 8,
     "layers": {"conv1": {"strategy": "percentile", "per_channel": true, "bits": 16},
                "logits": {"strategy": "minmax"}}}

Per layer, `strategy` is the activation range strategy of the layer's output
(`npuc.quantization.options.STRATEGIES`), `per_channel` the weight scheme of a
conv-like layer and `bits` its activation width (8, or 16 for TFLite's 16x8
kernels: a `quantized.requantize` converts at each int8/int16 boundary; an
unset pool, reshape, pad or clamp keeps its input's width). Settings not given fall back to the pass options. Layer
names are the `layer` attributes of the graph ops (an argument's tensor name
for a model input; `name#i` for result i of a multi-result op; `name@k` for
the k-th of several values one layer name covers, the last keeping `name`).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from npuc.errors import InputDataError, writing
from npuc.quantization.options import STRATEGIES, SUPPORTED_ACTIVATION_BITS

LAYER_SETTINGS = {"strategy": str, "per_channel": bool, "bits": int}
"""The settings a layer entry may hold, with their JSON types."""

DOCUMENT_KEYS = ("activation_bits", "layers")
"""The keys of a control file's top-level object."""

LISTED_LAYERS = 8
"""Layer names an error about an unknown layer lists, as a reminder of the model's names."""


@dataclass
class LayerControl:
    """Per-layer settings read from a control file, and the settings used.

    `settings` holds what the file asked for; `setting(...)` answers a query
    from it (or the default) and records the answer in `used`, which `save`
    writes back. `promotion` is what the `target_sqnr` search did
    (`npuc.quantization.mixed.Promotion`), None if it did not run.
    """

    settings: dict[str, dict] = field(default_factory=dict)
    used: dict[str, dict] = field(default_factory=dict)
    activation_bits: int = 8
    promotion: object = None
    source: str = ""
    """The control file read (for errors), empty if none."""

    def setting(self, layer: str, key: str, default):
        """The `key` setting of `layer` (file value or `default`), recorded as used."""
        value = self.settings.get(layer, {}).get(key, default)
        self.used.setdefault(layer, {})[key] = value
        return value

    def save(self, path: str | Path) -> None:
        """Write the settings used, per layer, as the control file format."""
        document = {"activation_bits": self.activation_bits, "layers": self.used}
        with writing(path, "the layer control file"):
            Path(path).write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> LayerControl:
        """Read a control file; `InputDataError` naming the file and the bad entry."""
        where = str(path)
        document = _read_json(path, where)
        if not isinstance(document, dict) or not isinstance(document.get("layers", {}), dict):
            raise InputDataError(f"{where}: expected an object with a 'layers' object")
        unknown = [key for key in document if key not in DOCUMENT_KEYS]
        if unknown:
            raise InputDataError(
                f"{where}: unknown key '{unknown[0]}' (known: {', '.join(DOCUMENT_KEYS)})"
            )
        bits = document.get("activation_bits", SUPPORTED_ACTIVATION_BITS[0])
        if isinstance(bits, bool) or bits not in SUPPORTED_ACTIVATION_BITS:
            raise InputDataError(
                f"{where}: activation_bits must be {' or '.join(map(str, SUPPORTED_ACTIVATION_BITS))}, not {bits!r}"
            )
        layers = document.get("layers", {})
        for layer, entry in layers.items():
            _check_entry(where, layer, entry)
        return cls(settings=layers, activation_bits=bits, source=where)

    def check_layers(self, known: Collection[str]) -> None:
        """`InputDataError` if the file sets a layer that is not among the model's `known` layer names."""
        missing = [layer for layer in self.settings if layer not in known]
        if missing:
            listed = ", ".join(name for name in sorted(known)[:LISTED_LAYERS])
            more = ", ..." if len(known) > LISTED_LAYERS else ""
            raise InputDataError(
                f"{self.source}: layer '{missing[0]}' is not in the model (its layers: {listed}{more})"
            )


def _read_json(path: str | Path, where: str) -> Any:
    """The decoded JSON of a control file."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise InputDataError(f"{where}: cannot read layer control file: {error.strerror or error}") from None
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError
        raise InputDataError(f"{where}: not a JSON layer control file: {' '.join(str(error).split())}") from None
    except RecursionError:
        raise InputDataError(f"{where}: not a layer control file: JSON nested too deeply") from None


def _check_entry(where: str, layer: str, entry: Any) -> None:
    """`InputDataError` for a layer entry with an unknown setting, a value of the wrong type or out of range."""
    for key, value in entry.items() if isinstance(entry, dict) else [(None, entry)]:
        if key not in LAYER_SETTINGS or not isinstance(value, LAYER_SETTINGS[key]) or (
            key == "bits" and isinstance(value, bool)
        ):
            raise InputDataError(
                f"{where}: layer '{layer}': bad setting {key}={value!r} "
                f"(known: strategy (string), per_channel (bool), bits (8 or 16))"
            )
        if key == "bits" and value not in SUPPORTED_ACTIVATION_BITS:
            raise InputDataError(f"{where}: layer '{layer}': bits must be 8 or 16, not {value}")
        if key == "strategy" and value not in STRATEGIES:
            raise InputDataError(
                f"{where}: layer '{layer}': unknown strategy '{value}' "
                f"(known: {', '.join(STRATEGIES)})"
            )
