"""Layer 4, dynamics: beyond the final loss. Learning-rate schedules, loss curves under
them, downstream accuracy and repeated sampling."""
