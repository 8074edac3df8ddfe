"""Training for the learned ``maggie`` engine: losses, crops, the training loop, per-shot finetune."""
