"""`fcnn bench` and what it measures with: the command (command.py), the job's own products timed
alone (gemm_floor.py) and one step broken into its parts (profile.py)."""
