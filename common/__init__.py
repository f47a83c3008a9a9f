"""Project-wide helpers below every other package: artifact file I/O, error lines, the process environment."""
