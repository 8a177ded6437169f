"""The average gradient outer product (paper B): AGOP, RFM and Deep RFM, the MLP, the theory."""
