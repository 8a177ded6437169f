"""Spectra of the deep UFM: layer Hessians, their top eigenpairs, gradients and other matrices."""
