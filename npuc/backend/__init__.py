"""What the npu passes share: planning queries, memory views, the allocator, the block search, the softmax chain."""
