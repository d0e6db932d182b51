"""Search: the vector index, keyword search per database, and their fusion in one box."""
