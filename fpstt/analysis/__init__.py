"""What is read off a density: moments, switching observables, result files and figures."""
