"""Privacy: the audit trail of who saw or changed which resident's data, a resident's data
exported on request, erasure that leaves nothing of them behind, and retention by age."""
