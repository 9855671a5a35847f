"""fcnn's SLURM launcher for Hydra (`hydra/launcher=slurm`); Hydra finds plugins under hydra_plugins."""
