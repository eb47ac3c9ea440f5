"""The discrete operator of Eq. (E3), implicit solves and the exact transport of split schemes."""
