"""Sweeps: fcnn's grid sweeper (grid), its Optuna search (search), and continuing a sweep where
it stopped (continuation). The Hydra plugins in hydra_plugins/fcnn_sweeps call these."""
