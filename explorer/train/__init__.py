"""Quick fine-tuning: data folders, the run configuration, the training loop, checkpoints and DDP set-up."""
