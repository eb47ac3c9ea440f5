"""The model: Table I inputs (Eqs. A4b, 13, 14), the magnet, the Langevin model of Eq. (17), initial states and the exact noiseless pushforward (Eqs. 15-16)."""
