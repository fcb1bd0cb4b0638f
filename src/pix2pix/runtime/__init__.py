"""How a built network runs: device, precision, compiling. Applied to plain networks by the
trainer and by inference; nothing here changes process-wide settings."""
