"""Cells and coordinates on the sphere: the (theta, phi) grid, Möbius charts, and what a grid will cost."""
