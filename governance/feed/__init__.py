"""What the GitHub feed remembers: bursts being gathered, and CI status per workflow."""
