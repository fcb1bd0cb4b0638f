"""Training loop, checkpoints, schedules, precision, logging."""
