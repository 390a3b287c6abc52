"""The engine timeline as a Chrome/Perfetto trace (trace-event JSON format).

Open it in https://ui.perfetto.dev or chrome://tracing. One process (the
NPU, named after the target) with one thread per timeline lane (DMA in, DMA
out, MAC, elementwise, and CPU, named with the host core and as estimated); every command is a complete event (`"ph": "X"`)
named after its layer and kind, with start and duration in microseconds at
the target's clock and the command's numbers in `args` (`estimated` is true
for CPU work, whose duration is the host's estimate).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from npuc.report.document import LANES, number

PROCESS_ID = 1


def trace_events(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Metadata events naming process and lanes, then one complete event per command."""
    microseconds_per_cycle = 1e6 / document["summary"]["clock_hz"]
    lane_ids = {lane: index + 1 for index, lane in enumerate(LANES)}
    events: list[dict[str, Any]] = [
        {"ph": "M", "name": "process_name", "pid": PROCESS_ID, "tid": 0,
         "args": {"name": f"npuc: {document['summary']['target']}"}},
    ]
    host = document["summary"]["host_cpu"]["core"]
    names = LANES | {"cpu": f"{LANES['cpu']} ({host}, estimated)"}
    for lane, index in lane_ids.items():
        events.append({"ph": "M", "name": "thread_name", "pid": PROCESS_ID, "tid": index, "args": {"name": names[lane]}})
        events.append({"ph": "M", "name": "thread_sort_index", "pid": PROCESS_ID, "tid": index,
                       "args": {"sort_index": index}})
    for command in document["commands"]:
        events.append({
            "ph": "X",
            "name": f"{command['layer']} ({command['kind']})",
            "cat": command["lane"],
            "pid": PROCESS_ID,
            "tid": lane_ids[command["lane"]],
            "ts": number(command["start"] * microseconds_per_cycle),
            "dur": number((command["end"] - command["start"]) * microseconds_per_cycle),
            "args": {key: command[key] for key in
                     ("index", "layer", "cycles", "estimated", "macs", "bound", "bytes_read", "bytes_written", "start", "end")},
        })
    return events


def trace_json(document: Mapping[str, Any]) -> str:
    """The trace file's text (deterministic: keys sorted)."""
    trace = {"displayTimeUnit": "ns", "traceEvents": trace_events(document)}
    return json.dumps(trace, sort_keys=True, separators=(",", ":")) + "\n"
