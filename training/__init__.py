"""Learning from resolved tickets: training sets, splits, retraining, promotion."""
