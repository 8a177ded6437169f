"""The deep unconstrained feature model (paper A): the model, its optimum, training, collapse."""
