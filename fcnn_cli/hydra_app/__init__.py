"""hydra_app"""
