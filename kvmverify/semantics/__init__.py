"""The meaning of a model, stated once (`reference`): every engine is tested against it."""
