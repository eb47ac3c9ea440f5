"""The integrator and the one time loop, :func:`~fpstt.integration.stepping.solve`."""
