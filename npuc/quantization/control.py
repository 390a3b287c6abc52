"""Per-layer quantization control: a JSON file of settings by layer name.

The file a user edits and re-runs with, and the file `quantize` writes back
with the choices it made::

    {"activation_bits": 8,
     "layers": {"conv1": {"strategy": "percentile", "per_channel": true, "bits": 16},
                "logits": {"strategy": "minmax"}}}

Per layer, `strategy` is the activation range strategy of the layer's output
(`npuc.quantization.calibration.STRATEGIES`), `per_channel` the weight scheme of a
conv-like layer and `bits` its activation width (8, or 16 for TFLite's 16x8
kernels: a `quantized.requantize` converts at each int8/int16 boundary; an
unset pool, reshape, pad or clamp keeps its input's width). Settings not given fall back to the pass options. Layer
names are the `layer` attributes of the graph ops (an argument's tensor name
for a model input; `name#i` for result i of a multi-result op).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from npuc.errors import InputDataError
from npuc.quantization.calibration import STRATEGIES

LAYER_SETTINGS = {"strategy": str, "per_channel": bool, "bits": int}
"""The settings a layer entry may hold, with their JSON types."""


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

    def setting(self, layer: str, key: str, default):
        """The `key` setting of `layer` (file value or `default`), recorded as used."""
        value = self.settings.get(layer, {}).get(key, default)
        self.used.setdefault(layer, {})[key] = value
        return value

    def save(self, path: str | Path) -> None:
        """Write the settings used, per layer, as the control file format."""
        document = {"activation_bits": self.activation_bits, "layers": self.used}
        Path(path).write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> LayerControl:
        """Read a control file; `InputDataError` naming the file and the bad entry."""
        try:
            document = json.loads(Path(path).read_text())
        except (OSError, ValueError) as error:
            raise InputDataError(f"{path}: cannot read layer control file ({error})") from error
        layers = document.get("layers", {}) if isinstance(document, dict) else None
        if not isinstance(layers, dict):
            raise InputDataError(f"{path}: expected an object with a 'layers' object")
        for layer, entry in layers.items():
            for key, value in (entry.items() if isinstance(entry, dict) else [(None, entry)]):
                if key not in LAYER_SETTINGS or not isinstance(value, LAYER_SETTINGS[key]):
                    raise InputDataError(
                        f"{path}: layer '{layer}': bad setting {key}={value!r} "
                        f"(known: strategy (string), per_channel (bool), bits (8 or 16))"
                    )
                if key == "bits" and value not in (8, 16):
                    raise InputDataError(f"{path}: layer '{layer}': bits must be 8 or 16, not {value}")
                if key == "strategy" and value not in STRATEGIES:
                    raise InputDataError(
                        f"{path}: layer '{layer}': unknown strategy '{value}' "
                        f"(known: {', '.join(STRATEGIES)})"
                    )
        return cls(settings=layers, activation_bits=int(document.get("activation_bits", 8)))
