"""echoscp: a Verification SCP compatible with pynetdicom's echoscp, with TLS."""
