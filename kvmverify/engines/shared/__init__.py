"""What every engine shares: the result values (`result`), the limits a search honours (`limits`) and the replay
of another engine's counterexample through the explicit interpreter (`replay`)."""
