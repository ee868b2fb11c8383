"""CPU and allocator machinery of the trackers: heap policy (heap.py), logits spilled to a temporary file
(spill.py), and stopping an encoding between blocks (prefetch.py)."""
