"""Every per-operator TFLite model, imported and exported again: the same IR, and LiteRT computes what npuc does.

Two oracles that share no code with the export: npuc's TFLite importer reads
the exported file back into the IR it came from, and LiteRT's reference
kernels (BUILTIN_REF; the optimized SUM, `builder.OPTIMIZED_KERNEL_OPERATORS`)
run the exported file with the outputs of npuc's integer reference on the
original IR, byte for byte.
"""

from __future__ import annotations

import numpy as np
import pytest
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.ir import Operation, OpResult

import npuc
from npuc.dialects import quantized
from npuc.dialects.common import LAYER_ATTR
from npuc.emit.tflite.export import export_tflite
from npuc.importers.tflite.importer import import_tflite_bytes
from npuc.importers.tflite.model import decode_model
from npuc.ir import main_function, result_attributes, tensor_name

from support.paths import TFLITE_MODELS
from tflite_models.builder import OPTIMIZED_KERNEL_OPERATORS, reference_interpreter

MODELS = sorted(path.stem for path in TFLITE_MODELS.glob("*.tflite"))


def canonical(module: ModuleOp) -> str:
    """The module's text with every constant just before its first reader.

    Where the importer puts a constant it creates on its own (before or after
    a reshape it adds around FULLY_CONNECTED) says nothing about the model.
    """
    module = module.clone()
    block = main_function(module).body.block
    for constant in [op for op in block.ops if isinstance(op, quantized.ConstantOp)]:
        first_reader: Operation = min((use.operation for use in constant.output.uses),
                                      key=lambda op: block.get_operation_index(op))
        constant.detach()
        block.insert_op_before(constant, first_reader)
    return str(module)


def with_output_layers(module: ModuleOp) -> ModuleOp:
    """The module with the producer of each model output (its first result) named after the output.

    TFLite names an operator by its first output tensor; an UNPACK imports as
    one split and a reshape per output, all named after the first output, and
    written back each reshape is an operator of its own, named by its output.
    """
    module = module.clone()
    function = main_function(module)
    returned = function.body.block.last_op
    assert returned is not None
    for value, attributes in zip(returned.operands, result_attributes(function)):
        if isinstance(value, OpResult) and value.index == 0:
            value.owner.attributes[LAYER_ATTR] = StringAttr(tensor_name(attributes, ""))
    return module


@pytest.mark.parametrize("model", MODELS)
def test_an_exported_model_imports_as_the_ir_it_was_written_from(model: str) -> None:
    module = npuc.import_model(TFLITE_MODELS / f"{model}.tflite")
    again = import_tflite_bytes(export_tflite(module, model), model)
    assert canonical(again) == canonical(with_output_layers(module))


def _random_input(detail: dict, rng: np.random.Generator) -> np.ndarray:
    if np.issubdtype(detail["dtype"], np.floating):
        return rng.uniform(-6.0, 6.0, detail["shape"]).astype(detail["dtype"])
    info = np.iinfo(detail["dtype"])
    return rng.integers(info.min, info.max, detail["shape"], dtype=detail["dtype"], endpoint=True)


@pytest.mark.parametrize("model", MODELS)
def test_litert_runs_an_exported_model_as_npucs_reference_runs_its_ir(model: str) -> None:
    path = TFLITE_MODELS / f"{model}.tflite"
    module = npuc.import_model(path)
    operators = {operator.op_type for operator in decode_model(path.read_bytes(), model)[1]}
    special = sorted(operators & OPTIMIZED_KERNEL_OPERATORS)
    interpreter = reference_interpreter(export_tflite(module, model), special[0] if special else None)
    for seed in range(3):
        rng = np.random.default_rng(seed)
        inputs = [_random_input(detail, rng) for detail in interpreter.get_input_details()]
        for detail, value in zip(interpreter.get_input_details(), inputs):
            interpreter.set_tensor(detail["index"], value)
        interpreter.invoke()
        expected = npuc.run(module, inputs)
        for index, (want, detail) in enumerate(zip(expected, interpreter.get_output_details(), strict=True)):
            got = interpreter.get_tensor(detail["index"])
            assert got.dtype == want.dtype and got.shape == want.shape, f"output {index}"
            differing = np.count_nonzero(got.view(np.uint8) != want.view(np.uint8))
            assert differing == 0, f"seed {seed}, output {index}: {differing} bytes differ"
