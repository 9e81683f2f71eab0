"""The SEQR rules with no I/O: invoices, principals, result codes. Imports the stdlib only."""
