"""The single-use recovery codes factor: generation and hashing, issuing and spending, and its pages."""
