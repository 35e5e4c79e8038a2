"""The daily digest: which days were sent."""
