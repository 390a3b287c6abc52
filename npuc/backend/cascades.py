"""Cascades: chains of ops computed stripe by stripe, their intermediates in rolling buffers.

A cascade is a chain of striped NPU ops, each reading the previous one's
OFM (its only reader), run as one interleaved command sequence: the last
op's stripes drive the chain; before each stripe an op asks its producer
for the IFM rows it needs, and the producer computes them first, in its own
stripes (recursively). An intermediate OFM then never exists whole: it
lives in a rolling buffer of a few rows, row y at buffer row y mod rows,
large enough that no row is overwritten before its last read. A view of
buffer rows that runs past the buffer's end wraps to its start
(`FeatureMapAttr.wrap`), as the Ethos-U feature-map tiles address it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from xdsl.dialects.builtin import DenseArrayBase, IntegerAttr
from xdsl.ir import Operation
from xdsl.utils.exceptions import PassFailedException

from npuc.backend.planning import describe, tensor_hwc, window
from npuc.backend.stripes import ifm_range
from npuc.dialects.common import UNIT_WINDOW, Window, array_values, value_shape
from npuc.dialects.npu import ROLLING_ROWS_ATTR, STRIPE_ATTR

CHAIN_OPERANDS = ("ifm", "ifm2")
"""The command property of a layer's operand 0 and 1: the one reading the previous link is its chain operand."""


@dataclass(frozen=True)
class Link:
    """One op of a cascade as its stripe schedule sees it.

    `window` is the op's window (the height axis matters), `ifm_height` the
    height of the map it reads from the previous link (or from outside, for
    the first), `ofm_height` its OFM's and `stripe_height` the rows it
    computes per command.
    """

    window: Window
    ifm_height: int
    ofm_height: int
    stripe_height: int

    def reads(self, rows: range) -> range:
        """The IFM rows computing OFM rows `rows` reads."""
        return ifm_range(self.window, rows, self.ifm_height)


@dataclass(frozen=True)
class Step:
    """One command of a cascade: link `link` computes its OFM rows `rows`."""

    link: int
    rows: range


def cascade_steps(links: Sequence[Link]) -> list[Step]:
    """The commands of a cascade in order: the last link's stripes, each preceded by what it needs.

    A link computes the rows its consumer asks for in stripes of its own
    height, from the first row it has not computed yet; a stripe first asks
    the previous link for the IFM rows it reads.
    """
    produced = [0] * len(links)
    steps: list[Step] = []

    def produce(index: int, upto: int) -> None:
        link = links[index]
        while produced[index] < upto:
            rows = range(produced[index], min(produced[index] + link.stripe_height, link.ofm_height))
            if index:
                produce(index - 1, link.reads(rows).stop)
            steps.append(Step(index, rows))
            produced[index] = rows.stop

    produce(len(links) - 1, links[-1].ofm_height)
    return steps


def rolling_rows(links: Sequence[Link], steps: Sequence[Step]) -> list[int]:
    """The rows of each intermediate's rolling buffer (one per link but the last).

    When a command reads rows [c, d) of an intermediate whose producer has
    computed rows up to p, rows [c, p) must all still be held: the buffer
    needs the most such p - c over the cascade's reads (and never more rows
    than the map has).
    """
    produced = [0] * len(links)
    rows = [0] * (len(links) - 1)
    for step in steps:
        if step.link:
            first_read = links[step.link].reads(step.rows).start
            rows[step.link - 1] = max(rows[step.link - 1], produced[step.link - 1] - first_read)
        produced[step.link] = step.rows.stop
    return [min(held, link.ofm_height) for held, link in zip(rows, links)]


def held_rows(producer: Link, consumer: Link) -> int:
    """The rows of the rolling buffer between two consecutive links, in closed form: `rolling_rows` of
    the pair, without running the schedule (the cascade search sizes every pair of stripe heights). It
    assumes the consumer computes all its rows: one whose own consumer reads fewer needs at most as many.

    The consumer computes its stripes in order; before each it reads rows
    [c, d), and the producer, computing whole stripes of its own from row 0,
    has then computed d rounded up to its stripe height (at most its OFM
    height): the buffer holds the most such rows from c on. The links before
    the producer and after the consumer do not change when these reads
    happen relative to the producer's stripes.
    """
    held = 0
    for start in range(0, consumer.ofm_height, consumer.stripe_height):
        reads = consumer.reads(range(start, min(start + consumer.stripe_height, consumer.ofm_height)))
        produced = min(-(-reads.stop // producer.stripe_height) * producer.stripe_height, producer.ofm_height)
        held = max(held, produced - reads.start)
    return min(held, producer.ofm_height)


@dataclass(frozen=True)
class Cascade:
    """A cascade's ops as links, with the rows of each intermediate's rolling buffer (`held`, one per op
    but the last) and the command property through which each op but the first reads the previous one
    (`operands`, "" for the first)."""

    links: list[Link]
    held: list[int]
    operands: list[str]


def chain_operand(ops: Sequence[Operation], index: int) -> int:
    """The operand through which op `index` of a cascade reads the previous op's result (0 for the first)."""
    return list(ops[index].operands).index(ops[index - 1].results[0]) if index else 0


def op_link(ops: Sequence[Operation], index: int, stripe_height: int) -> Link:
    """Op `index` of a cascade as a link computing `stripe_height` rows per command (at most its OFM's)."""
    op = ops[index]
    ofm_height = tensor_hwc(op.results[0])[0]
    ifm_height = tensor_hwc(op.operands[chain_operand(ops, index)])[0]
    return Link(window(op) or UNIT_WINDOW, ifm_height, ofm_height, min(stripe_height, ofm_height))


def cascade_chain(ops: Sequence[Operation], pass_name: str) -> Cascade:
    """The links of a cascade's ops, checked to form a chain: each op but the first reads the previous
    op's result (its only reader), which has `npu.rolling_rows`; every op has a stripe height."""
    links, held, operands = [], [], [""]
    for index, op in enumerate(ops):
        stripe = op.attributes.get(STRIPE_ATTR)
        if not isinstance(stripe, DenseArrayBase) or len(value_shape(op.results[0])) != 4:
            raise PassFailedException(f"{pass_name}: {describe(op)} is in a cascade without a height stripe of an NHWC OFM")
        if index:
            previous = ops[index - 1].results[0]
            if previous not in op.operands[:2] or len(list(previous.uses)) != 1:
                raise PassFailedException(
                    f"{pass_name}: {describe(op)} is in the cascade of {describe(ops[index - 1])} but is not "
                    "its result's only reader"
                )
            operands.append(CHAIN_OPERANDS[chain_operand(ops, index)])
        if index < len(ops) - 1:
            rows = op.attributes.get(ROLLING_ROWS_ATTR)
            if not isinstance(rows, IntegerAttr):
                raise PassFailedException(f"{pass_name}: {describe(op)} is in a cascade but has no {ROLLING_ROWS_ATTR}")
            held.append(rows.value.data)
        links.append(op_link(ops, index, array_values(stripe)[0]))
    return Cascade(links, held, operands)
