"""Staff and customer pages of SMT, one module per page family (smt/urls.py lists them)."""
