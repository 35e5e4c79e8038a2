"""Local fakes of the platforms, serving on 127.0.0.1 only."""
