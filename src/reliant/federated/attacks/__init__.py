"""Client-side attacks on federated learning. :mod:`.cgi`: CGI (Wei et al. 2023)."""
