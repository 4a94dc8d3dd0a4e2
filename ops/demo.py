"""Demo constants the source apps share, kept here so no source app imports another's demo."""

# The three SMT demo meters; the ERCOT demo extract lists them as Active Oncor premises.
DEMO_ESIIDS = ["10443720000000101", "10443720000000102", "10443720000000103"]
