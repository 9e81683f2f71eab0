"""The examiner: SEQR's rules and certification checklists graded over the request journal.

Pure grading, no I/O: `facts` reads journal entries, `monitor` checks the conformance rules
of `rules`, `coverage` tallies the behaviours a suite exercised, `certify` grades a
certification profile and `reports` writes its JSON, JUnit XML and HTML. The HTTP routes,
the CLI and the pytest plugin are thin layers over these.
"""
