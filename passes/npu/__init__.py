"""The back-end passes: legalize, tile, schedule, allocate, lower quantized IR to `npu` commands, and cost them."""
