"""Layer 4, judge: is a fit trustworthy beyond its data? Held-out validation, law
comparison and the choice of a law by nested extrapolation (``law="auto"``)."""
