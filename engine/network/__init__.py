"""Container networking: bridges, endpoints, IPAM, DNS, published ports (see README)."""
