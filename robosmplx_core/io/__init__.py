"""Reading frames from files/cameras and writing predictions (jsonl, npz, overlay video)."""
