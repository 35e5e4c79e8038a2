"""GitHub webhook deliveries, stored before they are processed."""
