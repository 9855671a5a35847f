"""`fcnn bench` and what it measures with: the command (command.py), the floor over the libraries
in the run (floor.py), numpy's BLAS and OPENBLAS_CORETYPE (blas_info.py), the job's own products
timed alone (gemm_floor.py), one step broken into its parts (profile.py), the job written
without fcnn (peers.py) and what it shows (render.py)."""
