"""A real network under the UFM's linear layers: a residual feature map h(x; θ̄) followed by L
bias-free linear layers, trained with the deep UFM's objective, and paper A's measurements on it.

``model`` (the network), ``training`` (objective, training loop, cache), ``measure`` (the
theorems' quantities on the linear layers), ``experiments`` (the chapter's settings).
"""
