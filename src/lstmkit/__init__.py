"""lstmkit: train, inspect and deploy LSTM and sequence-to-sequence LSTM models."""

__version__ = "0.1.0"
