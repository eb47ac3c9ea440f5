"""What is built on the time loop: run configurations, Monte Carlo, write-error curves, sweeps, error estimates and cross-checks."""
