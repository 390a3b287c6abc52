"""The quantized element type: `!quantized.uniform`, MLIR `quant.uniform` style.

    !quantized.uniform<i8:f32, 0.0235:-128>             per tensor (scale:zero point)
    !quantized.uniform<i8:f32:0, {0.01:0, 0.02:0}>      per axis (axis 0 here)

A real value is `scale * (q - zero_point)`. The type belongs to the
`quantized` dialect (registered there) and also types the feature maps of the
`npu` dialect, so it lives in a module of its own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from operator import index

import numpy as np
from xdsl.dialects.builtin import (
    ArrayAttr,
    FloatData,
    IntAttr,
    IntegerType,
    Signedness,
    TensorType,
)
from xdsl.ir import Attribute, ParametrizedAttribute, SSAValue, TypeAttribute
from xdsl.irdl import irdl_attr_definition
from xdsl.parser import AttrParser
from xdsl.printer import Printer
from xdsl.utils.exceptions import VerifyException


@lru_cache(maxsize=8192)
def int_attr(value: int) -> IntAttr:
    """The `IntAttr` of a Python int, one instance per value: attributes are immutable, and the
    same offsets, extents and zero points recur in thousands of types and feature maps (building one
    verifies it)."""
    return IntAttr(value)


@irdl_attr_definition
class UniformQuantizedType(ParametrizedAttribute, TypeAttribute):
    """Uniform affine quantization of f32 values into a signed integer storage type.

    `axis` is -1 for per-tensor quantization (one scale and zero point), else
    the tensor axis along which each slice has its own scale and zero point.
    """

    name = "quantized.uniform"

    storage_type: IntegerType
    axis: IntAttr
    scales: ArrayAttr[FloatData]
    zero_points: ArrayAttr[IntAttr]

    def __init__(
        self,
        storage_type: IntegerType,
        scales: Sequence[float],
        zero_points: Sequence[int],
        axis: int = -1,
    ):
        super().__init__(
            storage_type,
            int_attr(index(axis)),
            ArrayAttr([FloatData(float(s)) for s in scales]),
            ArrayAttr([int_attr(int(z)) for z in zero_points]),
        )

    @property
    def bits(self) -> int:
        """Storage width in bits."""
        return self.storage_type.width.data

    @property
    def qmin(self) -> int:
        """Smallest storable value."""
        return -(1 << (self.bits - 1))

    @property
    def qmax(self) -> int:
        """Largest storable value."""
        return (1 << (self.bits - 1)) - 1

    @property
    def is_per_axis(self) -> bool:
        """Whether each slice along `axis` has its own parameters."""
        return self.axis.data >= 0

    @property
    def scale(self) -> float:
        """The scale of a per-tensor type."""
        assert not self.is_per_axis, "per-axis type has no single scale"
        return self.scales.data[0].data

    @property
    def zero_point(self) -> int:
        """The zero point of a per-tensor type."""
        assert not self.is_per_axis, "per-axis type has no single zero point"
        return self.zero_points.data[0].data

    def scale_array(self) -> np.ndarray:
        """Scales as float64 (TFLite computes rescales in double)."""
        return np.array([s.data for s in self.scales.data], dtype=np.float64)

    def numpy_dtype(self) -> np.dtype:
        """The numpy dtype holding the stored integers."""
        return np.dtype(f"int{self.bits}")

    def verify(self) -> None:
        if self.storage_type.signedness.data != Signedness.SIGNLESS or self.bits not in (8, 16, 32):
            raise VerifyException("quantized storage type must be i8, i16 or i32")
        count = len(self.scales.data)
        if count == 0 or count != len(self.zero_points.data):
            raise VerifyException("quantized type needs one zero point per scale")
        if not self.is_per_axis and count != 1:
            raise VerifyException("per-tensor quantized type has exactly one scale")
        bad_scale = next((s.data for s in self.scales.data if not (s.data > 0 and math.isfinite(s.data))), None)
        if bad_scale is not None:
            raise VerifyException(f"quantization scales must be positive and finite, got {bad_scale}")
        bad_zero_point = next((z.data for z in self.zero_points.data if not self.qmin <= z.data <= self.qmax), None)
        if bad_zero_point is not None:
            raise VerifyException(
                f"zero point outside the {self.storage_type} range [{self.qmin}, {self.qmax}], got {bad_zero_point}"
            )

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> list[Attribute]:
        parser.parse_punctuation("<")
        storage = parser.parse_type()
        if not isinstance(storage, IntegerType):
            parser.raise_error("expected an integer storage type")
        parser.parse_punctuation(":")
        parser.parse_keyword("f32")
        axis = -1
        if parser.parse_optional_punctuation(":") is not None:
            axis = parser.parse_integer(allow_boolean=False, allow_negative=False)
        parser.parse_punctuation(",")

        def parse_pair() -> tuple[float, int]:
            scale = parser.parse_float()
            parser.parse_punctuation(":")
            return scale, parser.parse_integer(allow_boolean=False)

        if axis >= 0:
            pairs = parser.parse_comma_separated_list(parser.Delimiter.BRACES, parse_pair)
        else:
            pairs = [parse_pair()]
        parser.parse_punctuation(">")
        return [
            storage,
            IntAttr(axis),
            ArrayAttr([FloatData(s) for s, _ in pairs]),
            ArrayAttr([IntAttr(z) for _, z in pairs]),
        ]

    def print_parameters(self, printer: Printer) -> None:
        def print_pair(scale: FloatData, zero_point: IntAttr) -> None:
            printer.print_string(repr_float(scale.data))
            printer.print_string(f":{zero_point.data}")

        printer.print_string(f"<{self.storage_type}:f32")
        pairs = list(zip(self.scales.data, self.zero_points.data))
        if self.is_per_axis:
            printer.print_string(f":{self.axis.data}, {{")
            for index, (scale, zero_point) in enumerate(pairs):
                if index:
                    printer.print_string(", ")
                print_pair(scale, zero_point)
            printer.print_string("}>")
        else:
            printer.print_string(", ")
            print_pair(*pairs[0])
            printer.print_string(">")


def repr_float(value: float) -> str:
    """Shortest round-tripping text of a float that the MLIR lexer accepts."""
    text = repr(float(value))
    if "e" in text and "." not in text.split("e")[0]:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}.0e{exponent}"
    return text


def quant_type(value: SSAValue | Attribute) -> UniformQuantizedType | None:
    """The quantized element type of a tensor value or type, or None."""
    tensor = value.type if isinstance(value, SSAValue) else value
    if isinstance(tensor, TensorType) and isinstance(tensor.element_type, UniformQuantizedType):
        return tensor.element_type
    return None
