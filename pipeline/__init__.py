"""Work that needs no database: plain data in, plain data out."""
