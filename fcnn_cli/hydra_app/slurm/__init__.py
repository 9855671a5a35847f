"""SLURM through submitit: the launcher that submits a sweep as a job array and reads how each
job ended (launcher), the executor and its keys (jobs), what a job does at its time limit
(requeue), and the controller that runs jobs of the local executor (local_controller)."""
