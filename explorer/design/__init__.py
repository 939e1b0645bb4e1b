"""What a network is and what it costs: the design file, its per-layer plan, exact params/MACs/bytes, the cost cap
and the paper's presets. Pure Python (no torch), so every number on screen is instant."""
