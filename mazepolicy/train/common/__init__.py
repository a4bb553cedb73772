"""What every trainer shares: recipe configs, the run directory and its resume format,
seeds, and the devices/threads set-up."""
