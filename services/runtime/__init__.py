"""The mesh runtime every service shares: errors, settings, the gRPC server bootstrap, clients."""
