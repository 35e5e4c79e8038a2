"""Who runs the scheduled sweeps, and which ticks have run."""
