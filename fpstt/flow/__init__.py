"""How a run follows the noiseless flow, decided once: the flow plan, its charts and the grid it implies."""
